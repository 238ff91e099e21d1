"""What is wrong right now, as a list of conditions for ``status`` (pure).

A :class:`Condition` names its subject (a modem, or a daemon part such as the journal),
a stable ``code`` for scripts and a ``reason`` for people. ``status`` shows every
condition, marks the modem or the daemon ``degraded`` while it has one, and
``otp-gateway status`` exits non-zero (``STATUS_EXIT`` in ``gateway.cli.client_cmds``,
docs/cli.md). A new kind of trouble
is one more code here plus whatever produces it: a modem's conditions come from
:func:`modem_conditions` (plus ``extra`` ones its caller adds, e.g. a send-only
modem), the daemon's own from whoever passes them to the snapshot (e.g. the journal).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

from gateway.daemon.storage import MemoryUse
from gateway.errors import UsageError
from gateway.modem.status import ModemStatus, SessionState


class Health(Enum):
    """The daemon's (or one modem's) overall health in ``status``."""

    OK = "ok"  # ready, nothing wrong
    DEGRADED = "degraded"  # serving, but a condition needs attention
    DOWN = "down"  # not serving: no modem ready (or this modem not ready)
    STARTING = "starting"  # no modem ready yet, each still in its first start-up


@dataclass(frozen=True, slots=True, kw_only=True)
class Condition:
    """One thing wrong: ``subject`` (``modem0``, ``journal``), stable ``code``, ``reason``."""

    subject: str
    code: str
    reason: str

    def __post_init__(self) -> None:
        if not self.subject or not self.code:
            raise UsageError("a condition needs a subject and a code")

    def as_dict(self) -> dict[str, object]:
        """Return the JSON form used in the ``status`` snapshot."""
        return {"subject": self.subject, "code": self.code, "reason": self.reason}


def modem_conditions(
    name: str,
    status: ModemStatus,
    *,
    storage_use: Sequence[MemoryUse] = (),
    unreadable: Mapping[str, str] | None = None,
) -> list[Condition]:
    """Return what is wrong with modem ``name``.

    - ``unresponsive``: the last health probe failed (shown at the first failure);
    - ``not-ready``: initialising, reconnecting or recovering (with the reason);
    - ``failed``: the session gave up (``fatal`` ones need a person);
    - ``receive-unavailable``: a send-only modem (no SMS reading over AT, e.g. a phone);
    - ``storage-full``: a memory holds as many messages as it can: new SMS are refused
      by the network or lost (TS 27.005 §3.2.2 ``AT+CPMS?`` figures);
    - ``storage-unreadable``: listing or querying a memory failed (``unreadable`` maps
      the memory, or ``*`` for the whole storage, to why).
    """
    found: list[Condition] = []
    state = status.state
    if state is SessionState.READY and status.probe_error:
        found.append(Condition(subject=name, code="unresponsive", reason=status.probe_error))
    elif state is SessionState.FAILED:
        why = status.error or "failed"
        code = "failed-fatal" if status.fatal else "failed"
        found.append(Condition(subject=name, code=code, reason=why))
    elif state is not SessionState.READY and state is not SessionState.STOPPED:
        why = f"{state.value}: {status.error}" if status.error else state.value
        if status.escalations:
            why += f" (escalation step {status.escalations})"
        found.append(Condition(subject=name, code="not-ready", reason=why))
    if status.receive_unavailable is not None:
        reason = f"send-only: receiving SMS is unavailable ({status.receive_unavailable})"
        found.append(Condition(subject=name, code="receive-unavailable", reason=reason))
    for use in storage_use:
        if use.total and use.used >= use.total:
            found.append(
                Condition(
                    subject=name,
                    code="storage-full",
                    reason=f"{use.memory} full ({use.used}/{use.total}): new SMS cannot be stored",
                )
            )
    for memory, why in sorted((unreadable or {}).items()):
        where = "storage" if memory == "*" else memory
        found.append(Condition(subject=name, code="storage-unreadable", reason=f"{where}: {why}"))
    return found


def modem_health(status: ModemStatus, conditions: Sequence[Condition]) -> Health:
    """Return one modem's health: DOWN unless ready, DEGRADED with any condition."""
    if status.state is not SessionState.READY:
        return Health.DOWN
    return Health.DEGRADED if conditions else Health.OK


def overall(
    modems: Sequence[Health], conditions: Sequence[object], *, first_start: bool = False
) -> Health:
    """Return the daemon's health: DOWN with no modem up, DEGRADED with any condition.

    ``first_start``: every modem is still in its first start-up (never ready since the
    daemon started); with no modem up and nothing but their ``not-ready`` conditions
    the daemon is STARTING, not DOWN (a start that takes too long is escalated by the
    not-ready limit like any other).
    """
    if not any(h is not Health.DOWN for h in modems):
        only_not_ready = all(
            isinstance(c, Mapping) and c.get("code") == "not-ready" for c in conditions
        )
        return Health.STARTING if modems and first_start and only_not_ready else Health.DOWN
    return Health.DEGRADED if conditions else Health.OK
