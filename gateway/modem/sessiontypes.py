"""The modem session's values: its configuration, its state-change event and its errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from gateway.at import Timeouts
from gateway.at.events import Event
from gateway.errors import ModemFault, UsageError
from gateway.modem.health import HealthConfig
from gateway.modem.init import InitConfig
from gateway.modem.link import LinkConfig
from gateway.modem.status import SessionState


class ModemUnavailable(ModemFault):
    """The session is not ready (reconnecting, recovering, failed or stopped)."""


class ModemFailed(ModemUnavailable):
    """Recovery gave up: the modem stays unresponsive after reopen and radio reset."""


class ReceiveUnavailable(ModemFault):
    """The modem is send-only: it gives no SMS storage over AT (a phone, e.g. Nokia N79)."""


class SendOutcomeUnknown(ModemFault):
    """The PDU and Ctrl-Z were written but no result came: it may or may not be sent.

    Not a failure: resending may duplicate the message (TS 27.005 §3.5.1 gives no way
    to ask afterwards). The caller decides, e.g. by waiting for a status report.
    """


@dataclass(frozen=True, slots=True, kw_only=True)
class StateChanged(Event):
    """The session moved to ``state`` (also delivered on the event stream)."""

    state: SessionState
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionConfig:
    """Everything the session needs; timeouts are short in tests, long in the field."""

    link: LinkConfig
    timeouts: Timeouts = field(default_factory=Timeouts)
    init: InitConfig = field(default_factory=InitConfig)
    health: HealthConfig = field(default_factory=HealthConfig)
    resync_probes: int = 5
    ready_wait: float = 30.0  # how long an operation waits for READY
    #: where rejected SIM PINs are remembered across restarts (pinguard.FILENAME in the
    #: state directory); None keeps them for this session's lifetime only
    pin_record: Path | None = None

    def __post_init__(self) -> None:
        if self.resync_probes < 1 or self.ready_wait <= 0:
            raise UsageError("resync_probes and ready_wait must be positive")
