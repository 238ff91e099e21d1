"""Events the AT engine emits: responses, prompts, timeouts, URCs and noise (all values)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from gateway.at.errors import AtError, AtUsageError, CmeError, CmsError, CommandFailed


class Final(Enum):
    """Final result codes (TS 27.007 §5.7, TS 27.005 §3.2.5, V.250 §5.7.1 call results)."""

    OK = "OK"
    ERROR = "ERROR"
    CME_ERROR = "+CME ERROR"
    CMS_ERROR = "+CMS ERROR"
    NO_CARRIER = "NO CARRIER"
    BUSY = "BUSY"
    NO_ANSWER = "NO ANSWER"
    NO_DIALTONE = "NO DIALTONE"


class Phase(Enum):
    """What a timed-out command was waiting for."""

    RESPONSE = "response"
    PROMPT = "prompt"
    BODY = "result after the message body"  # outcome unknown: it may have been sent


class Event:
    """Base class of everything :class:`gateway.at.engine.AtEngine` emits."""

    __slots__ = ()


class Urc(Event):
    """Base class of unsolicited result codes."""

    __slots__ = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Response(Event):
    """A command completed: its information lines and final result."""

    command: str  # log-safe text of the command
    final: Final
    lines: tuple[str, ...] = ()
    code: int | None = None  # +CME/+CMS code
    text: str | None = None  # verbose error text (CMEE=2) when given
    #: the engine's synchronisation generation the reply was matched in (see
    #: :attr:`gateway.at.engine.AtEngine.generation`); not part of equality
    generation: int = field(default=0, compare=False)

    def __post_init__(self) -> None:
        coded = self.final in (Final.CME_ERROR, Final.CMS_ERROR)
        if self.code is not None and not coded:
            raise AtUsageError("only +CME/+CMS results carry a code")

    @property
    def ok(self) -> bool:
        """True for ``OK``."""
        return self.final is Final.OK

    def error(self) -> AtError | None:
        """Return the typed error for a failure result, ``None`` for ``OK``."""
        if self.final is Final.OK:
            return None
        if self.final is Final.CME_ERROR:
            return CmeError(self.code, text=self.text, command=self.command)
        if self.final is Final.CMS_ERROR:
            return CmsError(self.code, text=self.text, command=self.command)
        return CommandFailed(self.command, self.final.value)

    def raise_for_error(self) -> Response:
        """Return self when ``OK``; raises CmeError, CmsError or CommandFailed otherwise."""
        error = self.error()
        if error is not None:
            raise error
        return self


@dataclass(frozen=True, slots=True, kw_only=True)
class Prompt(Event):
    """The ``> `` prompt arrived; the engine has queued the body and Ctrl-Z."""

    command: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Timeout(Event):
    """The pending command timed out; the engine is resynchronising."""

    command: str
    phase: Phase


@dataclass(frozen=True, slots=True, kw_only=True)
class Misfit(Event):
    """A final result came whose reply does not fit the pending command; resynchronising.

    E.g. a bare ``OK`` to ``AT+CMGR`` or ``AT+CMGS``: most likely a late answer to an
    earlier command, so the command's own answer may still come (and is discarded).
    """

    command: str
    phase: Phase


@dataclass(frozen=True, slots=True, kw_only=True)
class Resynced(Event):
    """Resynchronisation finished: the modem answered a probe and then stayed quiet."""

    probes: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ResyncStalled(Event):
    """A resynchronisation probe went unanswered (the modem may be gone)."""

    probes: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ResyncFailed(Event):
    """Every probe of a resynchronisation went unanswered: the modem is not answering."""

    probes: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Unrecognised(Event):
    """A line that belongs to no command and is no known URC (garbage, noise)."""

    line: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Stray(Event):
    """A final result or reply line with no command waiting for it (a late reply)."""

    line: str


# ----------------------------------------------------------------------------- URCs


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredIndication(Urc):
    """Base of the "stored at ``<mem>,<index>``" indications (TS 27.005 §3.4.1)."""

    memory: str
    index: int

    def __post_init__(self) -> None:
        if self.index < 0:
            raise AtUsageError("index must not be negative")


@dataclass(frozen=True, slots=True, kw_only=True)
class NewMessage(StoredIndication):
    """``+CMTI: <mem>,<index>``: an SMS was stored (TS 27.005 §3.4.1)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class NewReport(StoredIndication):
    """``+CDSI: <mem>,<index>``: a status report was stored (TS 27.005 §3.4.1)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RoutedIndication(Urc):
    """Base of the routed indications: a TPDU ``length`` header, then the PDU line."""

    length: int
    pdu: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RoutedMessage(RoutedIndication):
    """``+CMT: [<alpha>],<length>`` and its PDU line: an SMS routed to us, not stored."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RoutedReport(RoutedIndication):
    """``+CDS: <length>`` and its PDU line: a status report routed to us."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MalformedUrc(Urc):
    """A line that starts like a known URC but does not parse (kept for diagnosis)."""

    line: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Ring(Urc):
    """``RING``: an incoming call (V.250)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CallerId(Urc):
    """``+CLIP: <number>,<type>``: the caller of an incoming call (TS 27.007 §7.6)."""

    number: str
    toa: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Registration(Urc):
    """Unsolicited ``+CREG``/``+CGREG``/``+CEREG`` (TS 27.007 §7.2, §10.1.20, §10.1.22)."""

    domain: str  # "CREG", "CGREG" or "CEREG"
    stat: int
    area: str | None = None
    cell: str | None = None

    @property
    def registered(self) -> bool:
        """True for home (1) or roaming (5) registration."""
        return self.stat in (1, 5)


@dataclass(frozen=True, slots=True, kw_only=True)
class SimState(Urc):
    """Unsolicited ``+CPIN: <code>`` (e.g. READY after a restart)."""

    state: str


class NoticeKind(Enum):
    """Vendor notices; see :data:`gateway.at.urc.VENDOR_NOTICES`."""

    SIGNAL = "signal"
    MODE = "mode"
    SERVICE = "service"
    BOOT = "boot"
    READY = "ready"  # the module (or a subsystem of it) finished starting
    INDICATION = "indication"


@dataclass(frozen=True, slots=True, kw_only=True)
class VendorNotice(Urc):
    """A known vendor noise line (``^RSSI``, ``SMS Ready``, ``+QIND``...), typed by kind."""

    kind: NoticeKind
    tag: str
    line: str
    restart: bool = False  # this notice means the module has (re)started
