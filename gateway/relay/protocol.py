"""The relay's JSON-lines codec, sans-I/O (house style §1, after h11).

One JSON object per line, UTF-8, ``\\n``-terminated (a ``\\r`` before it is tolerated).
Three verbs, as h11 has: :meth:`RequestReader.feed` bytes in and take requests (or
:class:`~gateway.relay.messages.Rejected` lines) out; :func:`encode` turns a server
message into bytes. The client side mirrors it with :class:`ServerReader` and
:func:`encode_request`. No sockets, no clock, no asyncio here.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import math
from collections.abc import Callable, Mapping
from typing import Any

from gateway.relay.errors import BadRequest, ErrorCode, RelayError, Unavailable
from gateway.relay.messages import (
    MAX_LINE,
    Cancel,
    Error,
    Event,
    EventKind,
    Get,
    Greeting,
    Operation,
    Rejected,
    Request,
    RequestId,
    Result,
    Send,
    ServerMessage,
    Status,
    Subscribe,
    normalise_origin,
)

_FIELDS: dict[Operation, frozenset[str]] = {
    Operation.GET: frozenset({"origin", "embedded_origin", "timeout"}),
    Operation.CANCEL: frozenset({"target"}),
    Operation.SUBSCRIBE: frozenset(),
    Operation.SEND: frozenset({"number", "origin", "embedded_origin", "code", "text", "watch"}),
    Operation.STATUS: frozenset(),
}


def _reject_constant(name: str) -> object:
    # JSON (RFC 8259) has no NaN/Infinity; Python's decoder would accept them.
    raise ValueError(f"{name} is not JSON")


def _loads(line: bytes) -> object:
    return json.loads(line.decode("utf-8"), parse_constant=_reject_constant)


class _Fields:
    """Typed access to one request object; every wrong type is a :class:`BadRequest`."""

    def __init__(self, obj: Mapping[str, object]) -> None:
        self._obj = obj

    def text(self, key: str, *, optional: bool = False) -> str | None:
        value = self._obj.get(key)
        if value is None and optional:
            return None
        if not isinstance(value, str):
            raise BadRequest(f"{key} must be a string")
        return value

    def number(self, key: str) -> float | None:
        value = self._obj.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise BadRequest(f"{key} must be a number")
        if not math.isfinite(float(value)):
            raise BadRequest(f"{key} must be finite")
        return float(value)

    def flag(self, key: str) -> bool:
        value = self._obj.get(key, False)
        if not isinstance(value, bool):
            raise BadRequest(f"{key} must be true or false")
        return value

    def request_id(self, key: str) -> RequestId:
        value = self._obj.get(key)
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise BadRequest(f"{key} must be an integer or a string")
        return value

    def origin(self, key: str, *, optional: bool = False) -> str | None:
        value = self.text(key, optional=optional)
        return None if value is None else normalise_origin(value)


def _build(op: Operation, rid: RequestId, f: _Fields) -> Request:
    if op is Operation.GET:
        return Get(
            id=rid,
            origin=f.origin("origin") or "",
            embedded_origin=f.origin("embedded_origin", optional=True),
            timeout=f.number("timeout"),
        )
    if op is Operation.CANCEL:
        return Cancel(id=rid, target=f.request_id("target"))
    if op is Operation.SEND:
        return Send(
            id=rid,
            number=f.text("number") or "",
            origin=f.origin("origin") or "",
            embedded_origin=f.origin("embedded_origin", optional=True),
            code=f.text("code", optional=True),
            text=f.text("text", optional=True),
            watch=f.flag("watch"),
        )
    if op is Operation.SUBSCRIBE:
        return Subscribe(id=rid)
    return Status(id=rid)


def parse_request(line: bytes) -> Request | Rejected:
    """Parse one request line (without its newline).

    Returns the request, or :class:`Rejected` naming the id when one could be read.
    Never raises.
    """
    try:
        obj = _loads(line)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return Rejected(id=None, error=ErrorCode.BAD_REQUEST, message="line is not valid JSON")
    if not isinstance(obj, dict):
        return Rejected(id=None, error=ErrorCode.BAD_REQUEST, message="request must be an object")
    rid: RequestId | None = None
    try:
        rid = _Fields(obj).request_id("id")
        if isinstance(rid, str) and not 1 <= len(rid) <= 128:
            rid = None
            raise BadRequest("id must be a string of 1 to 128 characters")
        op_name = obj.get("op")
        try:
            op = Operation(op_name) if isinstance(op_name, str) else None
        except ValueError:
            op = None
        if op is None:
            raise BadRequest("op must be one of: " + ", ".join(o.value for o in Operation))
        unknown = set(obj) - _FIELDS[op] - {"id", "op"}
        if unknown:
            raise BadRequest(f"unknown field for {op.value}: {sorted(unknown)[0]}")
        return _build(op, rid, _Fields(obj))
    except RelayError as exc:
        return Rejected(id=rid, error=exc.code, message=exc.message)


class _LineSplitter:
    """Split a byte stream into lines no longer than ``max_line`` bytes."""

    def __init__(self, max_line: int) -> None:
        if max_line < 1:
            raise ValueError("max_line must be positive")
        self.max_line = max_line
        self._buffer = bytearray()
        self._scanned = 0

    def feed(self, data: bytes) -> tuple[list[bytes], bool]:
        """Return the complete lines in ``data`` and whether the limit was exceeded."""
        self._buffer += data
        lines: list[bytes] = []
        while True:
            end = self._buffer.find(b"\n", self._scanned)
            if end < 0:
                self._scanned = len(self._buffer)
                # +1: the line may still end in "\r\n", and the "\r" does not count
                return lines, len(self._buffer) > self.max_line + 1
            line = bytes(self._buffer[:end])
            del self._buffer[: end + 1]
            self._scanned = 0
            if line.endswith(b"\r"):
                line = line[:-1]
            if len(line) > self.max_line:
                return lines, True
            lines.append(line)


class RequestReader:
    """Server side: feed received bytes, get requests or rejections back."""

    def __init__(self, *, max_line: int = MAX_LINE) -> None:
        self._lines = _LineSplitter(max_line)
        self.closed = False

    def feed(self, data: bytes) -> list[Request | Rejected]:
        """Consume ``data``; return what complete lines it finished, in order.

        An over-long line yields a fatal :class:`Rejected` and closes the reader: later
        bytes are ignored. Blank lines are skipped. Never raises.
        """
        if self.closed:
            return []
        lines, too_long = self._lines.feed(data)
        out: list[Request | Rejected] = [parse_request(line) for line in lines if line.strip()]
        if too_long:
            self.closed = True
            out.append(
                Rejected(
                    id=None,
                    error=ErrorCode.LINE_TOO_LONG,
                    message=f"request line longer than {self._lines.max_line} bytes",
                    fatal=True,
                )
            )
        return out


def _default(value: object) -> object:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


def _dumps(obj: Mapping[str, object]) -> bytes:
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False, default=_default)
    return text.encode("utf-8") + b"\n"


def encode(message: ServerMessage) -> bytes:
    """Encode one server message as a JSON line.

    Returns the bytes to write, newline included.
    """
    if isinstance(message, Greeting):
        return _dumps(
            {
                "hello": "otp-gateway",
                "protocol": message.protocol,
                "version": message.version,
                "max_line": message.max_line,
            }
        )
    if isinstance(message, Result):
        return _dumps({"id": message.id, "result": message.value})
    if isinstance(message, Error):
        error: dict[str, object] = {"code": message.code.value, "message": message.message}
        if message.retry_after is not None:
            error["retry_after"] = message.retry_after
        return _dumps({"id": message.id, "error": error})
    return _dumps({"id": message.id, "event": message.kind.value, "data": message.data})


def encode_request(request: Request) -> bytes:
    """Encode one request as a JSON line (the client side).

    Returns the bytes to write; fields left at ``None`` are omitted.
    """
    ops: dict[type[Any], Operation] = {
        Get: Operation.GET,
        Cancel: Operation.CANCEL,
        Subscribe: Operation.SUBSCRIBE,
        Send: Operation.SEND,
        Status: Operation.STATUS,
    }
    obj: dict[str, object] = {"id": request.id, "op": ops[type(request)].value}
    for name in sorted(_FIELDS[ops[type(request)]]):
        value = getattr(request, name)
        if value is not None and value is not False:
            obj[name] = value
    return _dumps(obj)


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
        obj = _loads(line)
        if not isinstance(obj, dict):
            raise TypeError("not an object")
        return _server_message(obj)
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
        raise Unavailable("the server sent a line that is not relay protocol") from exc


class ServerReader:
    """Client side: feed received bytes, get server messages back."""

    def __init__(self, *, max_line: int = 16 * MAX_LINE) -> None:
        self._lines = _LineSplitter(max_line)

    def feed(self, data: bytes) -> list[ServerMessage]:
        """Consume ``data``; return the messages of its complete lines.

        Raises :class:`Unavailable` for an invalid or over-long line.
        """
        lines, too_long = self._lines.feed(data)
        if too_long:
            raise Unavailable("the server sent an over-long line")
        parse: Callable[[bytes], ServerMessage] = parse_server_message
        return [parse(line) for line in lines if line.strip()]
