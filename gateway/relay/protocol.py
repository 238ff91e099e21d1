"""The relay's JSON-lines codec, server side, sans-I/O (house style §1, after h11).

One JSON object per line (:mod:`gateway.relay.jsonlines`). Three verbs, as h11 has:
:meth:`RequestReader.feed` bytes in and take requests (or
:class:`~gateway.relay.messages.Rejected` lines) out; :func:`encode` turns a server
message into bytes. The client side mirrors it in :mod:`gateway.relay.clientcodec`
(:class:`ServerReader`, :func:`encode_request`, re-exported here). No sockets, no clock,
no asyncio here.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping

from gateway.relay.clientcodec import ServerReader, encode_request, parse_server_message
from gateway.relay.errors import BadRequest, ErrorCode, RelayError
from gateway.relay.jsonlines import LineSplitter, dumps, loads
from gateway.relay.messages import (
    MAX_LINE,
    REQUEST_FIELDS,
    Cancel,
    Error,
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

__all__ = [
    "RequestReader",
    "ServerReader",
    "encode",
    "encode_request",
    "parse_request",
    "parse_server_message",
]


def _shown(name: str) -> str:
    """Return a field name safe to quote in a reply: ASCII-escaped, at most 64 characters."""
    return json.dumps(name[:64])[1:-1]


def _unicode(key: str, value: str) -> str:
    # JSON may carry a lone surrogate (\ud800) that no UTF-8 reply, log line or SMS can hold
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BadRequest(f"{key} must be valid Unicode (no lone surrogates)") from None
    return value


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
        return _unicode(key, value)

    def number(self, key: str) -> float | None:
        value = self._obj.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise BadRequest(f"{key} must be a number")
        try:
            number = float(value)  # an integer beyond ~1.8e308 overflows
        except OverflowError:
            raise BadRequest(f"{key} is out of range") from None
        if not math.isfinite(number):
            raise BadRequest(f"{key} must be finite")
        return number

    def cursor(self, key: str) -> int | None:
        value = self._obj.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
            raise BadRequest(f"{key} must be a cursor (an integer >= 0)")
        return value

    def flag(self, key: str) -> bool:
        value = self._obj.get(key, False)
        if not isinstance(value, bool):
            raise BadRequest(f"{key} must be true or false")
        return value

    def request_id(self, key: str) -> RequestId:
        value = self._obj.get(key)
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise BadRequest(f"{key} must be an integer or a string")
        return _unicode(key, value) if isinstance(value, str) else value

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
            since=f.number("since"),
            key=f.text("key", optional=True),
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
        return Subscribe(
            id=rid,
            after=f.cursor("after"),
            origin=f.origin("origin", optional=True),
            embedded_origin=f.origin("embedded_origin", optional=True),
        )
    return Status(id=rid)


def parse_request(line: bytes) -> Request | Rejected:
    """Parse one request line (without its newline).

    Returns the request, or :class:`Rejected` naming the id when one could be read.
    Never raises.
    """
    try:
        obj = loads(line)
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
        unknown = set(obj) - REQUEST_FIELDS[op] - {"id", "op"}
        if unknown:
            raise BadRequest(f"unknown field for {op.value}: {_shown(sorted(unknown)[0])}")
        return _build(op, rid, _Fields(obj))
    except RelayError as exc:
        return Rejected(id=rid, error=exc.code, message=exc.message)


class RequestReader:
    """Server side: feed received bytes, get requests or rejections back."""

    def __init__(self, *, max_line: int = MAX_LINE) -> None:
        self._lines = LineSplitter(max_line)
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


def encode(message: ServerMessage) -> bytes:
    """Encode one server message as a JSON line.

    Returns the bytes to write, newline included.
    """
    if isinstance(message, Greeting):
        return dumps(
            {
                "hello": "otp-gateway",
                "protocol": message.protocol,
                "version": message.version,
                "max_line": message.max_line,
            }
        )
    if isinstance(message, Result):
        return dumps({"id": message.id, "result": message.value})
    if isinstance(message, Error):
        error: dict[str, object] = {"code": message.code.value, "message": message.message}
        if message.retry_after is not None:
            error["retry_after"] = message.retry_after
        return dumps({"id": message.id, "error": error})
    return dumps({"id": message.id, "event": message.kind.value, "data": message.data})
