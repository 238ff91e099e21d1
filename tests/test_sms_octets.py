"""Tests for hex parsing and the bounds-checked octet reader of the PDU codec."""

from __future__ import annotations

import pytest

from gateway.errors import ModemFault, UsageError
from gateway.sms.octets import PduEncodeError, PduError, Reader, parse_hex


@pytest.mark.parametrize(
    ("text", "octets"),
    [("00 11\n22", b"\x00\x11\x22"), ("abCD", b"\xab\xcd"), ("\tff ", b"\xff")],
)
def test_parse_hex(text: str, octets: bytes) -> None:
    """Whitespace and lower case are accepted."""
    assert parse_hex(text) == octets


@pytest.mark.parametrize(
    ("text", "reason"), [("", "empty"), ("ABC", "odd"), ("ZZ", "hex"), ("é1", "hex")]
)
def test_parse_hex_rejects(text: str, reason: str) -> None:
    """Empty, odd-length or non-hex input raises PduError."""
    with pytest.raises(PduError, match=reason):
        parse_hex(text)


def test_parse_hex_rejects_bytes() -> None:
    """Bytes instead of a hex string are refused with PduError, not TypeError."""
    with pytest.raises(PduError, match="hex string"):
        parse_hex(b"0011")  # type: ignore[arg-type]


def test_error_classes() -> None:
    """PduError is the modem's fault and a ValueError; PduEncodeError is ours."""
    assert issubclass(PduError, ModemFault)
    assert issubclass(PduError, ValueError)
    assert issubclass(PduEncodeError, UsageError)
    assert PduError("x").reason == "x"


def test_reader_bounds() -> None:
    """Reading past the end names the missing field."""
    reader = Reader(b"\x01\x02\x03")
    assert reader.octet("a") == 1
    assert reader.take(2, "b") == b"\x02\x03"
    assert (reader.position, reader.remaining, reader.rest()) == (3, 0, b"")
    with pytest.raises(PduError, match="missing TP-PID"):
        reader.octet("TP-PID")
    with pytest.raises(PduError, match="TP-UD needs 1 octets"):
        reader.take(1, "TP-UD")
