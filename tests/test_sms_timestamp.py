"""Tests for SCTS/DT timestamps and validity periods (TS 23.040 §9.2.3.11, §9.2.3.12)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.errors import UsageError
from gateway.sms.octets import PduError, Reader
from gateway.sms.timestamp import (
    decode_enhanced_validity,
    decode_lenient_timestamp,
    decode_relative_validity,
    decode_timestamp,
    encode_relative_validity,
    encode_timestamp,
    parse_timestamp,
    semi_octet_text,
)


def _tz(minutes: int) -> timezone:
    return timezone(timedelta(minutes=minutes))


@pytest.mark.parametrize(
    ("when", "raw_hex"),
    [
        (datetime(2026, 11, 27, 2, 30, 15, tzinfo=UTC), "62117220035100"),
        (datetime(2099, 3, 29, 15, 16, 59, tzinfo=_tz(120)), "99309251619580"),
        (datetime(2026, 11, 27, 2, 30, 15, tzinfo=_tz(-300)), "6211722003510A"),
        (datetime(2026, 1, 2, 3, 4, 5, tzinfo=_tz(-(5 * 60 + 45))), "6210203040503A"),
        (datetime(2026, 1, 2, 3, 4, 5, tzinfo=_tz(13 * 60 + 45)), "62102030405055"),
    ],
)
def test_timestamp_vectors(when: datetime, raw_hex: str) -> None:
    """Semi-octets are swapped; the zone is quarter hours with the sign in bit 3."""
    assert encode_timestamp(when).hex().upper() == raw_hex
    decoded = decode_timestamp(Reader(bytes.fromhex(raw_hex)), "TP-SCTS")
    assert decoded == when
    assert decoded.utcoffset() == when.utcoffset()


@pytest.mark.parametrize(
    "raw_hex",
    [
        "62317220035100",  # month 13
        "62113320035100",  # day 33
        "6211722003A100",  # second nibble 0xA is not BCD
        "621172200351F0",  # zone nibble 0xF is not BCD
        "00000000000000",  # month 0: some SMSCs send all zeros
    ],
)
def test_invalid_timestamp_is_pdu_error(raw_hex: str) -> None:
    """Decision: an impossible SCTS raises PduError instead of inventing a time."""
    with pytest.raises(PduError, match="TP-SCTS"):
        decode_timestamp(Reader(bytes.fromhex(raw_hex)), "TP-SCTS")


@pytest.mark.parametrize(
    "raw_hex",
    ["62317220035100", "62113320035100", "6211722003A100", "00000000000000", "FFFFFFFFFFFFFF"],
)
def test_lenient_timestamp_keeps_raw(raw_hex: str) -> None:
    """The lenient TP-SCTS/TP-DT reader gives None and the 7 octets for an impossible time."""
    reader = Reader(bytes.fromhex(raw_hex + "AB"))
    assert decode_lenient_timestamp(reader, "TP-SCTS") == (None, bytes.fromhex(raw_hex))
    assert reader.octet("next") == 0xAB  # exactly 7 octets consumed


def test_lenient_timestamp_valid_and_truncated() -> None:
    """A valid time decodes as usual; fewer than 7 octets is still a truncated PDU."""
    raw = bytes.fromhex("62117220035100")
    assert decode_lenient_timestamp(Reader(raw), "TP-DT") == (
        datetime(2026, 11, 27, 2, 30, 15, tzinfo=UTC),
        raw,
    )
    with pytest.raises(PduError, match="truncated"):
        decode_lenient_timestamp(Reader(raw[:3]), "TP-DT")


def test_parse_timestamp_needs_seven_octets() -> None:
    """parse_timestamp refuses anything but 7 octets."""
    with pytest.raises(PduError, match="7 octets"):
        parse_timestamp(bytes(6), "TP-SCTS")


@pytest.mark.parametrize(
    ("raw_hex", "text"),
    [
        ("62117220035100", "26/11/27,02:30:15+00"),
        ("6211722003510A", "26/11/27,02:30:15-20"),
        ("00000000000000", "00/00/00,00:00:00+00"),
        ("62317220035100", "26/13/27,02:30:15+00"),
        ("FFFFFFFFFFFFFF", "FF/FF/FF,FF:FF:FF-7F"),
    ],
)
def test_semi_octet_text(raw_hex: str, text: str) -> None:
    """Raw semi-octets render as yy/MM/dd,hh:mm:ss±zz (TS 27.005 §3.3.1), valid or not."""
    assert semi_octet_text(bytes.fromhex(raw_hex)) == text


def test_semi_octet_text_needs_seven_octets() -> None:
    """semi_octet_text refuses anything but 7 octets."""
    with pytest.raises(PduError):
        semi_octet_text(bytes(8))


def test_truncated_timestamp() -> None:
    """Fewer than 7 octets is a truncated PDU."""
    with pytest.raises(PduError, match="truncated"):
        decode_timestamp(Reader(bytes.fromhex("621172")), "TP-DT")


@pytest.mark.parametrize(
    "when",
    [
        datetime(2026, 1, 1),  # naive
        datetime(1999, 12, 31, tzinfo=UTC),
        datetime(2026, 1, 1, tzinfo=_tz(7)),  # not a quarter hour
    ],
)
def test_encode_timestamp_rejects(when: datetime) -> None:
    """Naive times, other centuries and odd offsets are refused as UsageError."""
    with pytest.raises(UsageError):
        encode_timestamp(when)


@pytest.mark.parametrize(
    ("period", "octet"),
    [
        (timedelta(minutes=5), 0),
        (timedelta(minutes=10), 1),
        (timedelta(minutes=7), 1),  # rounds up: never shorter than asked
        (timedelta(hours=12), 143),
        (timedelta(hours=12, minutes=30), 144),
        (timedelta(hours=24), 167),
        (timedelta(days=2), 168),
        (timedelta(days=30), 196),
        (timedelta(days=31), 197),
        (timedelta(weeks=63), 255),
    ],
)
def test_relative_validity(period: timedelta, octet: int) -> None:
    """TP-VP relative values follow the four ranges of §9.2.3.12.1."""
    assert encode_relative_validity(period) == octet
    assert decode_relative_validity(octet) >= period


@pytest.mark.parametrize("period", [timedelta(0), timedelta(weeks=64)])
def test_relative_validity_out_of_range(period: timedelta) -> None:
    """Zero and over 63 weeks cannot be encoded."""
    with pytest.raises(UsageError):
        encode_relative_validity(period)


@pytest.mark.parametrize(
    ("raw_hex", "period"),
    [
        ("00000000000000", None),
        ("01AA0000000000", timedelta(days=4)),
        ("421E0000000000", timedelta(seconds=30)),  # single-shot bit set, integer seconds
        ("03103254000000", timedelta(hours=1, minutes=23, seconds=45)),
    ],
)
def test_enhanced_validity(raw_hex: str, period: timedelta | None) -> None:
    """Enhanced TP-VP formats 0-3 decode; the single-shot bit is ignored."""
    assert decode_enhanced_validity(bytes.fromhex(raw_hex)) == period


def test_enhanced_validity_reserved() -> None:
    """A reserved enhanced format is a PduError."""
    with pytest.raises(PduError, match="reserved"):
        decode_enhanced_validity(bytes.fromhex("07000000000000"))


@given(
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)),
    st.integers(min_value=-79, max_value=79),
)
def test_timestamp_round_trip(naive: datetime, quarters: int) -> None:
    """Any second in 2000-2099 with any quarter-hour offset round-trips."""
    when = naive.replace(microsecond=0, tzinfo=_tz(15 * quarters))
    assert decode_timestamp(Reader(encode_timestamp(when)), "TP-SCTS") == when


@given(st.integers(min_value=0, max_value=255))
def test_relative_validity_round_trip(octet: int) -> None:
    """Every TP-VP octet maps back to itself."""
    assert encode_relative_validity(decode_relative_validity(octet)) == octet
