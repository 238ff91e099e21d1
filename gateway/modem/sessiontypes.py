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
    #: seconds a modem whose port is present may stay not ready before each escalation
    #: step (reopen, radio reset, give up: see gateway.modem.readiness); None: never
    not_ready_limit: float | None = 300.0
    #: the profile allows AT+CFUN=0/1 as a recovery step (a phone may not)
    radio_reset: bool = True

    def __post_init__(self) -> None:
        if self.resync_probes < 1 or self.ready_wait <= 0:
            raise UsageError("resync_probes and ready_wait must be positive")
        if self.not_ready_limit is not None and self.not_ready_limit <= 0:
            raise UsageError("not_ready_limit must be positive")

    @property
    def stall_limit(self) -> float:
        """Seconds a not-ready session may go without any progress mark and be healthy.

        Twice the longest single wait the session can be in without marking progress:
        one command (a send: prompt plus body), the resynchronisation wait, a reconnect,
        busy or registration backoff.
        """
        t = self.timeouts
        resync = self.resync_probes * (t.probe + t.drain) + t.drain
        longest = max(
            t.quick,
            t.sim,
            t.list,
            t.network,
            t.prompt + t.body,
            resync,
            self.link.backoff_max,
            self.init.busy_backoff_max,
            self.init.registration_poll_max,
        )
        return 2 * longest + 1.0
