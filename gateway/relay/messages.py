"""Values exchanged on the relay socket: requests in, greeting/results/errors/events out.

Frozen, slotted, keyword-only dataclasses validated in ``__post_init__`` (house style §2):
an invalid request cannot exist, so the shell never re-checks fields.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from gateway.relay.errors import BadRequest, ErrorCode
from gateway.webotp import FormatError, normalise_host

#: where the daemon listens unless configured otherwise
DEFAULT_SOCKET = Path("/run/otp-gateway/gateway.sock")
#: the protocol version announced in the greeting; bumped on incompatible changes
PROTOCOL_VERSION = 1
#: default maximum length of one request line in bytes (newline excluded)
MAX_LINE = 64 * 1024
#: the longest ``timeout`` a ``get`` may ask for, in seconds
MAX_TIMEOUT = 3600.0

RequestId = int | str


def normalise_origin(value: str) -> str:
    """Normalise a WebOTP host (``shop.example``, IDN, IPv4, ``[v6]``) to its ASCII form.

    Returns the host as messages carry it (:func:`gateway.webotp.normalise_host`); raises
    :class:`BadRequest` for a scheme, port, path, whitespace or an otherwise invalid host.
    """
    try:
        return normalise_host(value)
    except FormatError as exc:
        raise BadRequest(f"origin is not a valid host ({exc.reason})") from None


def _check_id(value: RequestId) -> None:
    # bool is an int subclass; a JSON true is not an id
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise BadRequest("id must be an integer or a string")
    if isinstance(value, str) and not 1 <= len(value) <= 128:
        raise BadRequest("id must be a string of 1 to 128 characters")


def _check_origins(origin: str, embedded: str | None) -> None:
    if normalise_origin(origin) != origin:
        raise BadRequest("origin must be given in normalised form")
    if embedded is not None and normalise_origin(embedded) != embedded:
        raise BadRequest("embedded_origin must be given in normalised form")


class Operation(enum.Enum):
    """The operations a request can name (``op`` on the wire)."""

    GET = "get"
    CANCEL = "cancel"
    SUBSCRIBE = "subscribe"
    SEND = "send"
    STATUS = "status"


#: the fields each operation may carry besides ``id`` and ``op`` (both codec directions)
REQUEST_FIELDS: dict[Operation, frozenset[str]] = {
    Operation.GET: frozenset({"origin", "embedded_origin", "timeout", "since", "key"}),
    Operation.CANCEL: frozenset({"target"}),
    Operation.SUBSCRIBE: frozenset({"after", "origin", "embedded_origin"}),
    Operation.SEND: frozenset({"number", "origin", "embedded_origin", "code", "text", "watch"}),
    Operation.STATUS: frozenset(),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Get:
    """Wait for the next code for ``origin`` (+ ``embedded_origin``), at most ``timeout`` s.

    ``since`` (wall-clock Unix time) is when the consumer first asked: a client that
    reconnects after losing its connection asks again with it, and codes that arrived
    since then (within the daemon's resume window) still count as arriving after it.
    ``key`` (chosen by the client, repeated when it asks again) lets a get asked again
    take the code already handed to the same key, which the lost connection may have
    swallowed: a retry, never a second consumer.
    """

    id: RequestId
    origin: str
    embedded_origin: str | None = None
    timeout: float | None = None
    since: float | None = None
    key: str | None = None

    def __post_init__(self) -> None:
        _check_id(self.id)
        _check_origins(self.origin, self.embedded_origin)
        if self.timeout is not None and not (0 < self.timeout <= MAX_TIMEOUT):
            raise BadRequest(f"timeout must be a number of seconds in (0, {MAX_TIMEOUT:g}]")
        if self.since is not None and not (math.isfinite(self.since) and self.since >= 0):
            raise BadRequest("since must be a Unix time in seconds (a finite number >= 0)")
        if self.key is not None and not (
            1 <= len(self.key) <= 128 and self.key.isascii() and self.key.isprintable()
        ):
            raise BadRequest("key must be 1 to 128 printable ASCII characters")


@dataclass(frozen=True, slots=True, kw_only=True)
class Cancel:
    """Abort the pending request ``target`` of the same connection (the AbortSignal)."""

    id: RequestId
    target: RequestId

    def __post_init__(self) -> None:
        _check_id(self.id)
        _check_id(self.target)


@dataclass(frozen=True, slots=True, kw_only=True)
class Subscribe:
    """Stream every code event for the origins this peer may see.

    ``after`` is the ``cursor`` of the last code the subscriber saw (a resumed
    subscription): the later codes still in the daemon's resume window come first.
    ``origin`` (+ ``embedded_origin``) narrows the stream to the codes a ``get`` for
    that exact pair would take, and is checked as such a ``get`` is.
    """

    id: RequestId
    after: int | None = None
    origin: str | None = None
    embedded_origin: str | None = None

    def __post_init__(self) -> None:
        _check_id(self.id)
        if self.origin is not None:
            _check_origins(self.origin, self.embedded_origin)
        elif self.embedded_origin is not None:
            raise BadRequest("embedded_origin needs origin")
        if self.after is not None and (
            isinstance(self.after, bool) or not isinstance(self.after, int) or self.after < 0
        ):
            raise BadRequest("after must be a cursor (an integer >= 0)")


@dataclass(frozen=True, slots=True, kw_only=True)
class Send:
    """Send an origin-bound OTP SMS; ``watch`` streams the job's status events."""

    id: RequestId
    number: str
    origin: str
    embedded_origin: str | None = None
    code: str | None = None
    text: str | None = None
    watch: bool = False

    def __post_init__(self) -> None:
        _check_id(self.id)
        _check_origins(self.origin, self.embedded_origin)
        if not self.number or len(self.number) > 32:
            raise BadRequest("number must be a phone number of 1 to 32 characters")
        if self.code is not None and (not self.code or any(c.isspace() for c in self.code)):
            raise BadRequest("code must be non-empty and contain no whitespace")


@dataclass(frozen=True, slots=True, kw_only=True)
class Status:
    """Report modems, queue depth, counters and uptime."""

    id: RequestId

    def __post_init__(self) -> None:
        _check_id(self.id)


Request = Get | Cancel | Subscribe | Send | Status


@dataclass(frozen=True, slots=True, kw_only=True)
class Rejected:
    """A request line the codec refused; ``fatal`` means the connection must be closed."""

    id: RequestId | None
    error: ErrorCode
    message: str
    fatal: bool = False


# --- server -> client -------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Greeting:
    """The first line the server writes: protocol version and limits."""

    protocol: int = PROTOCOL_VERSION
    version: str
    max_line: int = MAX_LINE

    def __post_init__(self) -> None:
        if self.protocol < 1 or self.max_line < 1:
            raise ValueError("protocol and max_line must be positive")


@dataclass(frozen=True, slots=True, kw_only=True)
class Result:
    """The successful reply to request ``id``."""

    id: RequestId
    value: Mapping[str, object]


@dataclass(frozen=True, slots=True, kw_only=True)
class Error:
    """The error reply to request ``id`` (``None`` when the line had no usable id)."""

    id: RequestId | None
    code: ErrorCode
    message: str
    retry_after: float | None = None

    def __post_init__(self) -> None:
        if self.retry_after is not None and not (
            math.isfinite(self.retry_after) and self.retry_after >= 0
        ):
            raise ValueError("retry_after must be a finite number >= 0")


class EventKind(enum.Enum):
    """What an event line carries."""

    CODE = "code"  # a code, for a subscription
    JOB = "job"  # a send job's status change, for a watching send
    END = "end"  # the stream of request ``id`` is over


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """One item of the stream opened by request ``id``."""

    id: RequestId
    kind: EventKind
    data: Mapping[str, object] = field(default_factory=dict)


ServerMessage = Greeting | Result | Error | Event
