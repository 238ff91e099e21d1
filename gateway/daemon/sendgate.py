"""The relay's send port while modems start and fail: queue, or refuse when none can send.

A ``send`` that comes while the modems are still starting (waiting for the SIM or the
network) is queued like any other: the send workers wait for a ready modem. Only when
no configured modem can ever send in this run (each one failed for good: wrong PIN,
locked SIM — never retried) is the request refused at once with ``unavailable`` and
the reason, instead of a job that would wait until it expires (issue 13.3).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping

from gateway.modem.status import ModemStatus, SessionState
from gateway.relay.errors import Unavailable
from gateway.relay.ports import JobEvent, SendAccepted, SendPort, SendRequest


def why_none_can_send(modems: Mapping[str, ModemStatus]) -> str | None:
    """Return why no modem can send in this run, or None while one still may.

    Pure: a modem that failed for good (``fatal``) never comes back without a restart;
    any other state (starting, waiting, reconnecting, failed and retried) still may.
    """
    if not modems:
        return "no modem is configured"
    if all(s.state is SessionState.FAILED and s.fatal for s in modems.values()):
        reasons = "; ".join(f"{name}: {s.error or 'failed'}" for name, s in modems.items())
        return f"no modem can send ({reasons})"
    return None


class GatedSend:
    """A :class:`SendPort` that refuses with ``unavailable`` when no modem can send."""

    def __init__(self, port: SendPort, modems: Callable[[], Mapping[str, ModemStatus]]) -> None:
        self._port = port
        self._modems = modems

    async def submit(self, request: SendRequest) -> SendAccepted:
        """Queue ``request`` through the wrapped port, unless no modem can send.

        Raises ``Unavailable`` with the reason then, else what the port raises.
        """
        reason = why_none_can_send(self._modems())
        if reason is not None:
            raise Unavailable(reason)
        return await self._port.submit(request)

    def watch(self, job_id: str) -> AsyncIterator[JobEvent]:
        """Iterate the job's status changes (the wrapped port's)."""
        return self._port.watch(job_id)
