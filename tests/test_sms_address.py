"""Tests for the PDU address fields (TS 23.040 §9.1.2.5) and number normalisation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.errors import UsageError
from gateway.sms import gsm7
from gateway.sms.address import (
    SenderType,
    decode_address,
    decode_smsc,
    encode_address,
    encode_smsc,
    normalise_number,
    parse_sender_entry,
    sender_matches,
    sender_type,
)
from gateway.sms.octets import PduError, Reader


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+1 555-000", "+1555000"),
        ("+1 (555) 765-4321", "+15557654321"),
        ("  0049 30.1234/56 ", "004930123456"),
        ("5557654321", "5557654321"),
        ("Google", "Google"),
        (" My Bank ", "My Bank"),
        ("+", "+"),
    ],
)
def test_normalise_number(raw: str, expected: str) -> None:
    """Separators vanish from numbers; alphanumeric senders are only stripped."""
    assert normalise_number(raw) == expected


def test_normalise_empty_is_usage_error() -> None:
    """An empty address is our caller's mistake, reported as a UsageError."""
    with pytest.raises(UsageError, match="empty"):
        normalise_number("   ")


@pytest.mark.parametrize(
    ("address", "field_hex", "toa"),
    [
        ("+15557654321", "0B915155674523F1", 0x91),
        ("+1 555-765-4321", "0B915155674523F1", 0x91),
        ("5557654321", "0A815575563412", 0x81),
        ("12345", "05812143F5", 0x81),
        ("Google", "0BD0C7F7FBCC2E03", 0xD0),
        ("Twilio1", "0DD0D47B9A9D7EC700", 0xD0),
    ],
)
def test_encode_address(address: str, field_hex: str, toa: int) -> None:
    """Numbers become BCD with TOA 0x91/0x81; text becomes packed GSM-7 with TOA 0xD0."""
    field, got_toa = encode_address(address)
    assert (field.hex().upper(), got_toa) == (field_hex, toa)


@pytest.mark.parametrize(
    ("field_hex", "address", "toa"),
    [
        ("0B915155674523F1", "+15557654321", 0x91),
        ("0A815575563412", "5557654321", 0x81),
        ("0BC87238880900F1", "27838890001", 0xC8),
        ("0BD0C7F7FBCC2E03", "Google", 0xD0),
        ("0CD0C7F7FBCC2E03", "Google", 0xD0),  # length counted as whole octets
        ("0ED0D47B9A9D7EC700", "Twilio1", 0xD0),  # gsmmodem-style length: no phantom '@'
        ("00910000", "", 0x91),
    ],
)
def test_decode_address(field_hex: str, address: str, toa: int) -> None:
    """Addresses decode back, tolerating alphanumeric lengths counted in whole octets."""
    assert decode_address(Reader(bytes.fromhex(field_hex)), "TP-OA") == (address, toa)


@pytest.mark.parametrize("address", ["+" + "1" * 21, "ABCDEFGHIJKL", "Ключ"])
def test_encode_address_rejects(address: str) -> None:
    """Over-long numbers, over-long or non-GSM-7 text are refused with a UsageError."""
    with pytest.raises(UsageError):
        encode_address(address)


@pytest.mark.parametrize("field_hex", ["0B9151556745", "15911111111111111111111111", "05"])
def test_decode_address_malformed(field_hex: str) -> None:
    """A truncated or over-long address field is a PduError."""
    with pytest.raises(PduError):
        decode_address(Reader(bytes.fromhex(field_hex)), "TP-OA")


@pytest.mark.parametrize(
    ("smsc", "field_hex"),
    [(None, "00"), ("+15550000000", "07915155000000F0"), ("+49 171 0760000", "0791947101670000")],
)
def test_smsc_round_trip(smsc: str | None, field_hex: str) -> None:
    """The SCA length counts octets including the TOA, and '00' means no SMSC."""
    assert encode_smsc(smsc).hex().upper() == field_hex
    expected = None if smsc is None else normalise_number(smsc)
    assert decode_smsc(Reader(bytes.fromhex(field_hex))) == expected


@pytest.mark.parametrize("smsc", ["Operator", "+" + "1" * 21])
def test_encode_smsc_rejects(smsc: str) -> None:
    """An alphanumeric or over-long SMSC cannot be encoded."""
    with pytest.raises(UsageError):
        encode_smsc(smsc)


@pytest.mark.parametrize(
    ("field_hex", "reason"), [("0C91", "exceeds"), ("0791515500", "truncated")]
)
def test_decode_smsc_malformed(field_hex: str, reason: str) -> None:
    """An SCA longer than 11 octets or cut short is a PduError; a TOA alone means no SMSC."""
    with pytest.raises(PduError, match=reason):
        decode_smsc(Reader(bytes.fromhex(field_hex)))
    assert decode_smsc(Reader(bytes.fromhex("0191"))) is None


@given(st.from_regex(r"\+?[0-9]{1,20}", fullmatch=True))
def test_number_round_trip(number: str) -> None:
    """Every number of up to 20 digits decodes to itself."""
    field, _ = encode_address(number)
    assert decode_address(Reader(field), "TP-DA")[0] == number


@given(st.text(alphabet="ABCXYZabcxyz0123456789 -!?", min_size=1, max_size=11))
def test_alphanumeric_round_trip(text: str) -> None:
    """Alphanumeric senders of up to 11 septets decode to their stripped form."""
    value = normalise_number(text) if text.strip() else None
    if value is None:
        return
    field, toa = encode_address(value)
    assert decode_address(Reader(field), "TP-OA") == (value, toa)


@pytest.mark.parametrize(
    ("address", "toa", "kind"),
    [
        ("+15550000123", 0x91, SenderType.INTERNATIONAL),
        ("07700900123", 0xA1, SenderType.NATIONAL),  # TON 010
        ("72727", 0xD0, SenderType.ALPHANUMERIC),  # a name made of digits
        ("SHOPCO", 0xD0, SenderType.ALPHANUMERIC),
        ("72727", 0x81, SenderType.SHORT_CODE),  # TON unknown, 5 digits
        ("72727", 0xB1, SenderType.SHORT_CODE),  # TON 011 network specific
        ("72727", 0xE1, SenderType.SHORT_CODE),  # TON 110 abbreviated
        ("12345678", 0x81, SenderType.SHORT_CODE),
        ("123456789", 0x81, SenderType.NATIONAL),  # longer than a short code
        ("0301234567", 0xC1, SenderType.NATIONAL),  # TON 100 subscriber, long
    ],
)
def test_sender_type_follows_the_type_of_number(address: str, toa: int, kind: SenderType) -> None:
    """The kind of a sender comes from its TON (TS 23.040 §9.1.2.5), the length only if unknown."""
    assert sender_type(address, toa) is kind


def test_decoded_alphanumeric_digits_keep_their_type() -> None:
    """A TP-OA holding the name "72727" (TON 101) decodes with its TOA, not as a number."""
    field = bytes([9, 0xD0]) + gsm7.pack(gsm7.encode("72727"))
    address, toa = decode_address(Reader(field), "TP-OA")
    assert (address, sender_type(address, toa)) == ("72727", SenderType.ALPHANUMERIC)


@pytest.mark.parametrize(
    ("entry", "kind", "value"),
    [
        ("+15550000123", SenderType.INTERNATIONAL, "+15550000123"),
        ("72727", SenderType.SHORT_CODE, "72727"),
        ("07700900123", SenderType.NATIONAL, "07700900123"),
        ("SHOPCO", SenderType.ALPHANUMERIC, "SHOPCO"),
        ("short:72727", SenderType.SHORT_CODE, "72727"),
        ("alphanumeric:72727", SenderType.ALPHANUMERIC, "72727"),
        ("national:72727", SenderType.NATIONAL, "72727"),
        ("international:+15550000123", SenderType.INTERNATIONAL, "+15550000123"),
        ("alphanumeric:a:b", SenderType.ALPHANUMERIC, "a:b"),
        ("Shop:Co", SenderType.ALPHANUMERIC, "Shop:Co"),  # not a known prefix: a name
    ],
)
def test_sender_entries_name_their_kind(entry: str, kind: SenderType, value: str) -> None:
    """An allow-list entry says its kind with a prefix, or its shape decides."""
    assert parse_sender_entry(entry) == (kind, value)


@pytest.mark.parametrize(
    "entry",
    ["+12ab", "short:+1555", "short:", "international:15550000123", "national:7a",
     "alphanumeric:TWELVECHARSX", "+1234567890123456", "1" * 21],
)  # fmt: skip
def test_bad_sender_entries_are_refused(entry: str) -> None:
    """An entry that cannot be an address of its kind is a ValueError naming the problem."""
    with pytest.raises(ValueError, match="sender"):
        parse_sender_entry(entry)


def test_sender_matches_needs_the_same_kind() -> None:
    """Kinds must agree; names compare case-insensitively, numbers exactly."""
    assert sender_matches("72727", "72727", SenderType.SHORT_CODE)
    assert not sender_matches("72727", "72727", SenderType.ALPHANUMERIC)
    assert sender_matches("alphanumeric:72727", "72727", SenderType.ALPHANUMERIC)
    assert sender_matches("ShopCo", "SHOPCO", SenderType.ALPHANUMERIC)
    assert not sender_matches("+15550000123", "15550000123", SenderType.NATIONAL)
    assert not sender_matches("short:+1", "+1", SenderType.SHORT_CODE)  # invalid entry
