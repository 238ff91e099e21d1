"""Observable session state: the state enum, counters and a frozen status snapshot."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from enum import Enum

from gateway.errors import UsageError


class SessionState(Enum):
    """Where the modem session is."""

    STARTING = "starting"
    INITIALISING = "initialising"
    READY = "ready"
    RECONNECTING = "reconnecting"  # the port vanished; waiting for it to come back
    RECOVERING = "recovering"  # watchdog escalation in progress
    FAILED = "failed"  # gave up (wrong PIN, recovery failed); needs a restart
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True, kw_only=True)
class ModemIdentity:
    """What the modem says it is (AT+CGMI/CGMM/CGMR/CGSN, AT+CIMI)."""

    manufacturer: str
    model: str
    revision: str
    imei: str
    imsi: str | None


@dataclass(slots=True, kw_only=True)
class Counters:
    """Running totals (mutable inside the session; published as :class:`CounterSnapshot`)."""

    commands: int = 0
    timeouts: int = 0
    consecutive_timeouts: int = 0
    resyncs: int = 0
    stalled_probes: int = 0
    discarded_lines: int = 0
    urcs: int = 0
    inits: int = 0
    link_downs: int = 0
    reconnects: int = 0
    reboots: int = 0
    reopens: int = 0
    radio_resets: int = 0
    busy_retries: int = 0
    pings: int = 0
    dropped_events: int = 0  # URC/state events dropped: nobody read the stream

    def snapshot(self) -> CounterSnapshot:
        """Return a frozen copy."""
        return CounterSnapshot(**{f.name: getattr(self, f.name) for f in fields(self)})


@dataclass(frozen=True, slots=True, kw_only=True)
class CounterSnapshot:
    """Frozen copy of :class:`Counters`."""

    commands: int = 0
    timeouts: int = 0
    consecutive_timeouts: int = 0
    resyncs: int = 0
    stalled_probes: int = 0
    discarded_lines: int = 0
    urcs: int = 0
    inits: int = 0
    link_downs: int = 0
    reconnects: int = 0
    reboots: int = 0
    reopens: int = 0
    radio_resets: int = 0
    busy_retries: int = 0
    pings: int = 0
    dropped_events: int = 0  # URC/state events dropped: nobody read the stream

    def __post_init__(self) -> None:
        if any(getattr(self, f.name) < 0 for f in fields(self)):
            raise UsageError("counters cannot be negative")


@dataclass(frozen=True, slots=True, kw_only=True)
class ModemStatus:
    """A snapshot of the session for ``status`` and health checks."""

    state: SessionState
    device: str
    identity: ModemIdentity | None = None
    sim: str | None = None  # last +CPIN state (READY, SIM PIN, SIM PUK...)
    registration: int | None = None  # last +CREG/+CEREG <stat> (1 home, 5 roaming)
    signal: int | None = None  # last +CSQ <rssi> (0-31, 99 unknown)
    memories: tuple[str, ...] = ()  # read memories to sweep (AT+CPMS=? first slot)
    smsc: str | None = None
    operator: str | None = None  # AT+COPS? long name (TS 27.007 §7.3), read at init
    cnmi: str | None = None  # the AT+CNMI setting in force
    dialect: str | None = None  # the dialect in force (gateway.modem.dialects), once known
    #: why this modem cannot receive SMS (it is send-only), None when it can (or unknown yet)
    receive_unavailable: str | None = None
    counters: CounterSnapshot = field(default_factory=CounterSnapshot)
    error: str | None = None  # why the session failed, or the last recovery reason
    fatal: bool = False  # failed for good: wrong PIN, SIM locked (never retry: TS 31.102 §9)
    pending: str | None = None  # log-safe text of the command in flight
    phase: str | None = None  # what it waits for (engine state, e.g. "await-send-result")
    #: why the last health probe failed (None once the modem answers again)
    probe_error: str | None = None
    #: escalation steps taken since the modem (present) stopped being ready
    escalations: int = 0

    @property
    def ready(self) -> bool:
        """True when operations can run."""
        return self.state is SessionState.READY
