"""The client side of the relay codec, sans-I/O: requests out, server messages in.

Under both clients' protocol core (:mod:`gateway.relay.clientconn`):
:func:`encode_request` turns a request into a line, :class:`ServerReader` turns received
bytes into messages and :func:`expect_result` checks that a reply is one.
:class:`GetAttempts` (with :func:`get_request`) and :class:`Resume` are how both ask again
after a lost connection: the requests of a ``get`` that outlives it, the place of a
subscription; :class:`Reconnect` paces the attempts. No sockets, no clock, no asyncio
here: times are passed in.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from gateway.relay.errors import ErrorCode, Timeout, Unavailable
from gateway.relay.jsonlines import LineSplitter, dumps, loads
from gateway.relay.messages import (
    MAX_LINE,
    REQUEST_FIELDS,
    Cancel,
    Error,
    Event,
    EventKind,
    Get,
    Greeting,
    Operation,
    Request,
    RequestId,
    Result,
    Send,
    ServerMessage,
    Status,
    Subscribe,
    normalise_origin,
)
from gateway.relay.ports import CodeRecord
from gateway.relay.replies import code_from

_OPERATIONS: dict[type[Any], Operation] = {
    Get: Operation.GET,
    Cancel: Operation.CANCEL,
    Subscribe: Operation.SUBSCRIBE,
    Send: Operation.SEND,
    Status: Operation.STATUS,
}


def get_request(
    rid: RequestId,
    origin: str,
    *,
    embedded_origin: str | None,
    timeout: float | None,
    since: float | None = None,
    key: str | None = None,
) -> Get:
    """Build a ``get`` from what a caller typed (hosts are normalised first).

    Returns the :class:`Get`; raises ``BadRequest`` for an invalid host or timeout.
    """
    return Get(
        id=rid,
        origin=normalise_origin(origin),
        embedded_origin=None if embedded_origin is None else normalise_origin(embedded_origin),
        timeout=timeout,
        since=since,
        key=key,
    )


#: the server's timeout of a ``get`` that names none (seconds)
DEFAULT_GET_TIMEOUT = 120.0
#: the first and the longest pause between two attempts to reconnect (seconds)
RECONNECT_FIRST = 0.05
RECONNECT_MAX = 1.0


class Reconnect:
    """The reconnecting client's plan, sans-I/O: how long to pause, when to give up.

    Both clients use it: a lost connection (or an ``unavailable`` answer: the gateway is
    restarting) is retried after a capped exponential pause until ``deadline`` (on the
    caller's monotonic clock), so the caller's overall timeout still holds. The pause
    is a bounded backoff because a socket that is not there yet gives nothing to wait on.
    """

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.delay = RECONNECT_FIRST

    def pause(self, now: float) -> float | None:
        """Return how long to wait before the next attempt, or None: give up now."""
        if now >= self.deadline:
            return None
        delay = min(self.delay, self.deadline - now)
        self.delay = min(self.delay * 2, RECONNECT_MAX)
        return delay

    def remaining(self, now: float) -> float:
        """Return the seconds left until the deadline (0 when it passed)."""
        return max(0.0, self.deadline - now)


class GetAttempts:
    """The requests of one ``get`` that outlives lost connections, sans-I/O.

    The first asks as the caller said. Each later one (after a lost connection or an
    ``unavailable`` answer) asks with ``since`` set to when the consumer first asked and
    ``timeout`` set to what is left, with the same ``key`` (a retry, not a new consumer),
    all within the caller's overall timeout; :attr:`plan` paces the reconnects to it.
    """

    def __init__(
        self,
        rid: RequestId,
        origin: str,
        *,
        embedded_origin: str | None,
        timeout: float | None,
        since: float | None,
        key: str,
        now: float,
        wall: float,
    ) -> None:
        """Plan a ``get`` asked at ``now`` (monotonic) and ``wall`` (Unix time)."""
        self.limit = DEFAULT_GET_TIMEOUT if timeout is None else timeout
        self.plan = Reconnect(now + self.limit)
        self.left = self.limit  # what was left of the timeout when the last one was asked
        self._rid, self._origin, self._embedded = rid, origin, embedded_origin
        self._timeout, self._since, self._key = timeout, since, key
        self._asked = wall if since is None else since
        self._first = True

    def next_request(self, now: float) -> Get:
        """Return the ``get`` to send at ``now``.

        Raises ``Timeout`` once the overall timeout is spent, ``BadRequest`` for an
        invalid host or timeout.
        """
        self.left = self.plan.remaining(now)
        if self.left <= 0:
            raise Timeout(f"no code arrived within the timeout of {self.limit:g} s")
        first, self._first = self._first, False
        return get_request(
            self._rid,
            self._origin,
            embedded_origin=self._embedded,
            timeout=self._timeout if first else self.left,
            since=self._since if first else self._asked,
            key=self._key,
        )


class Resume:
    """Where a subscription is, sans-I/O: the cursor of the last code it saw, and its origin.

    Asked again after a lost connection, it resumes after that cursor, so the codes that
    arrived meanwhile are replayed and none twice, and narrowed to the same origin
    (+ embedded origin) as the first time, if it named one.
    """

    def __init__(
        self,
        after: int | None,
        *,
        origin: str | None = None,
        embedded_origin: str | None = None,
    ) -> None:
        """Plan a subscription from what a caller typed (hosts are normalised first).

        Raises ``BadRequest`` for an invalid host, or an embedded origin without origin.
        """
        self.cursor = after
        # built once, so an invalid one fails here, before any connection is made
        self._asked = Subscribe(
            id=0,
            origin=None if origin is None else normalise_origin(origin),
            embedded_origin=None if embedded_origin is None else normalise_origin(embedded_origin),
        )

    def request(self, rid: RequestId) -> Subscribe:
        """Return the ``subscribe`` that resumes here (for the same origin each time)."""
        return replace(self._asked, id=rid, after=self.cursor)

    def confirmed(self, value: object) -> None:
        """Take the ``cursor`` a subscribe result names (the place never goes back)."""
        cursor = value.get("cursor") if isinstance(value, dict) else None
        if isinstance(cursor, int) and not isinstance(cursor, bool):
            self.cursor = cursor if self.cursor is None else max(cursor, self.cursor)

    def seen(self, record: CodeRecord) -> None:
        """Move past a code handed to the subscriber."""
        if record.cursor is not None:
            self.cursor = max(self.cursor or 0, record.cursor)

    def take(self, event: Event) -> CodeRecord:
        """Return the code a ``code`` event carries, moving past it."""
        record = code_from(event.data)
        self.seen(record)
        return record


def expect_result(reply: object) -> Result:
    """Return ``reply`` if it is the result a request waits for.

    Raises :class:`Unavailable` for an event (or anything else) where the reply was due.
    """
    if not isinstance(reply, Result):
        raise Unavailable("the gateway sent an event where a reply was due")
    return reply


def encode_request(request: Request) -> bytes:
    """Encode one request as a JSON line (the client side).

    Returns the bytes to write; fields left at ``None`` are omitted.
    """
    op = _OPERATIONS[type(request)]
    obj: dict[str, object] = {"id": request.id, "op": op.value}
    for name in sorted(REQUEST_FIELDS[op]):
        value = getattr(request, name)
        if value is not None and value is not False:
            obj[name] = value
    return dumps(obj)


def _server_message(obj: dict[str, Any]) -> ServerMessage:
    if "hello" in obj:
        return Greeting(
            protocol=int(obj["protocol"]), version=str(obj["version"]), max_line=obj["max_line"]
        )
    rid = obj["id"]
    if "result" in obj:
        return Result(id=rid, value=dict(obj["result"]))
    if "error" in obj:
        err = obj["error"]
        retry = err.get("retry_after")
        return Error(
            id=rid,
            code=ErrorCode(err["code"]),
            message=str(err["message"]),
            retry_after=None if retry is None else float(retry),
        )
    return Event(id=rid, kind=EventKind(obj["event"]), data=dict(obj.get("data") or {}))


def parse_server_message(line: bytes) -> ServerMessage:
    """Parse one line the server wrote.

    Returns the message; raises :class:`Unavailable` when the line is not one of ours.
    """
    try:
        obj = loads(line)
        if not isinstance(obj, dict):
            raise TypeError("not an object")
        return _server_message(obj)
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
        raise Unavailable("the server sent a line that is not relay protocol") from exc


class ServerReader:
    """Client side: feed received bytes, get server messages back."""

    def __init__(self, *, max_line: int = 16 * MAX_LINE) -> None:
        self._lines = LineSplitter(max_line)

    def feed(self, data: bytes) -> list[ServerMessage]:
        """Consume ``data``; return the messages of its complete lines.

        Raises :class:`Unavailable` for an invalid or over-long line.
        """
        return list(self.messages(data))

    def messages(self, data: bytes) -> Iterator[ServerMessage]:
        """Consume ``data``; yield the messages of its complete lines, one at a time.

        Raises :class:`Unavailable` where a line is invalid or grows over-long, after
        the messages of the lines before it.
        """
        lines, too_long = self._lines.feed(data)
        for line in lines:
            if line.strip():
                yield parse_server_message(line)
        if too_long:
            raise Unavailable("the server sent an over-long line")
