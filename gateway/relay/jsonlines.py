"""JSON lines for the relay, both directions: framing, strict decoding, compact encoding.

One JSON object per line, UTF-8, ``\\n``-terminated (a ``\\r`` before it is tolerated).
Sans-I/O: bytes in, lines and objects out. Used by the server side
(:mod:`gateway.relay.protocol`) and the client side (:mod:`gateway.relay.clientcodec`).
"""

from __future__ import annotations

import datetime as dt
import enum
import json
from collections.abc import Mapping


class LineSplitter:
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


def _reject_constant(name: str) -> object:
    # JSON (RFC 8259) has no NaN/Infinity; Python's decoder would accept them.
    raise ValueError(f"{name} is not JSON")


def loads(line: bytes) -> object:
    """Decode one line as strict JSON.

    Returns the value; raises ValueError (also for bad UTF-8, NaN or Infinity) or
    RecursionError for absurd nesting.
    """
    return json.loads(line.decode("utf-8"), parse_constant=_reject_constant)


def _default(value: object) -> object:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


def dumps(obj: Mapping[str, object]) -> bytes:
    """Encode ``obj`` as one compact JSON line.

    Returns UTF-8 bytes, newline included; datetimes, enums and sets are converted,
    anything else unknown becomes its ``str``. Never raises for such values: a string
    holding a lone surrogate, which UTF-8 cannot carry, makes the line ASCII with
    ``\\uXXXX`` escapes (valid JSON, RFC 8259 §8.2) instead of failing the reply.
    """
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False, default=_default)
    try:
        return text.encode("utf-8") + b"\n"
    except UnicodeEncodeError:
        escaped = json.dumps(obj, separators=(",", ":"), ensure_ascii=True, default=_default)
        return escaped.encode("ascii") + b"\n"
