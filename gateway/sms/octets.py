"""Errors and a bounds-checked octet reader shared by the PDU codec modules.

Every decoding step reads through :class:`Reader`, so a truncated PDU surfaces as
:class:`PduError` at the exact field that is missing, never as an ``IndexError``.
"""

from __future__ import annotations

from gateway.errors import ModemFault, UsageError


class PduError(ModemFault, ValueError):
    """A PDU from the modem (or a peer) is malformed or cannot be decoded; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PduEncodeError(UsageError, ValueError):
    """We were asked to encode something a PDU cannot carry (bad number, too long, bad time)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def parse_hex(pdu_hex: str) -> bytes:
    """Return the octets of ``pdu_hex`` (whitespace and lower case allowed); raise PduError."""
    if not isinstance(pdu_hex, str):
        raise PduError(f"PDU must be a hex string, not {type(pdu_hex).__name__}")
    compact = "".join(pdu_hex.split())
    if not compact:
        raise PduError("empty PDU")
    if len(compact) % 2:
        raise PduError(f"odd number of hex digits ({len(compact)})")
    try:
        return bytes.fromhex(compact)
    except ValueError as exc:
        raise PduError("PDU is not hexadecimal") from exc


class Reader:
    """A cursor over PDU octets that raises PduError naming the field that runs past the end."""

    __slots__ = ("_data", "_pos")

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    @property
    def position(self) -> int:
        """Return how many octets have been consumed."""
        return self._pos

    @property
    def remaining(self) -> int:
        """Return how many octets are left."""
        return len(self._data) - self._pos

    def octet(self, field: str) -> int:
        """Return the next octet; raise PduError if the PDU ends before ``field``."""
        if self._pos >= len(self._data):
            raise PduError(f"PDU truncated: missing {field}")
        value = self._data[self._pos]
        self._pos += 1
        return value

    def take(self, count: int, field: str) -> bytes:
        """Return the next ``count`` octets; raise PduError if fewer are left."""
        if count > self.remaining:
            raise PduError(f"PDU truncated: {field} needs {count} octets, {self.remaining} left")
        chunk = self._data[self._pos : self._pos + count]
        self._pos += count
        return chunk

    def rest(self) -> bytes:
        """Return every octet not consumed yet."""
        chunk = self._data[self._pos :]
        self._pos = len(self._data)
        return chunk
