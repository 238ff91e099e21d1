"""A send is queued while modems start, refused only when no modem can ever send."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from gateway.daemon.sendgate import GatedSend, why_none_can_send
from gateway.modem.status import ModemStatus, SessionState
from gateway.relay.errors import Unavailable
from gateway.relay.ports import JobEvent, SendAccepted, SendRequest


def modem(state: SessionState, *, fatal: bool = False, error: str | None = None) -> ModemStatus:
    """A modem status in ``state``."""
    return ModemStatus(state=state, device="/dev/x", fatal=fatal, error=error)


@pytest.mark.parametrize(
    ("modems", "refused"),
    [
        ({"a": modem(SessionState.INITIALISING)}, False),
        ({"a": modem(SessionState.STARTING)}, False),
        ({"a": modem(SessionState.FAILED, error="timeout")}, False),  # retried later
        ({"a": modem(SessionState.FAILED, fatal=True, error="wrong PIN")}, True),
        (
            {
                "a": modem(SessionState.FAILED, fatal=True, error="wrong PIN"),
                "b": modem(SessionState.RECONNECTING),
            },
            False,
        ),
        ({}, True),
    ],
)
def test_only_modems_failed_for_good_refuse_sends(
    modems: dict[str, ModemStatus], refused: bool
) -> None:
    """Starting, waiting or retried modems may still send; only all-fatal refuses."""
    assert (why_none_can_send(modems) is not None) is refused


class Port:
    """A send port that accepts every request."""

    async def submit(self, request: SendRequest) -> SendAccepted:
        """Accept with a fixed job id."""
        return SendAccepted(job_id="j-1")

    async def watch(self, job_id: str) -> AsyncIterator[JobEvent]:
        """No events."""
        for _ in ():
            yield _


def test_gated_send_refuses_with_the_reason_and_passes_otherwise() -> None:
    """The gate names each modem's failure; with a modem still starting it queues."""
    request = SendRequest(number="+15557654321", origin="shop.example")
    states = {"a": modem(SessionState.FAILED, fatal=True, error="wrong PIN")}
    gate = GatedSend(Port(), lambda: states)
    with pytest.raises(Unavailable, match="no modem can send \\(a: wrong PIN\\)"):
        asyncio.run(gate.submit(request))
    states["a"] = modem(SessionState.INITIALISING)
    assert asyncio.run(gate.submit(request)).job_id == "j-1"
