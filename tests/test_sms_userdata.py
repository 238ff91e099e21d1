"""Tests for DCS alphabets, the UDH and user-data splitting (TS 23.038 §4, TS 23.040 §9.2.3.24)."""

from __future__ import annotations

import pytest

from gateway.errors import UsageError
from gateway.sms import gsm7
from gateway.sms.octets import PduError, Reader
from gateway.sms.userdata import (
    Concat,
    Encoding,
    dcs_encoding,
    decode_user_data,
    encode_user_data,
)


@pytest.mark.parametrize(
    ("dcs", "encoding"),
    [
        (0x00, "gsm7"),
        (0x04, "8bit"),
        (0x08, "ucs2"),
        (0x0C, "gsm7"),  # reserved alphabet: assume GSM-7
        (0x10, "gsm7"),  # class 0 (flash)
        (0x18, "ucs2"),  # UCS-2 flash
        (0x48, "ucs2"),  # automatic-deletion group, UCS-2
        (0x44, "8bit"),
        (0x80, "gsm7"),  # reserved coding group
        (0xC0, "gsm7"),  # MWI discard
        (0xD1, "gsm7"),  # MWI store
        (0xE0, "ucs2"),  # MWI store, UCS-2
        (0xF0, "gsm7"),
        (0xF4, "8bit"),
        (0xF5, "8bit"),
        (0xF2, "gsm7"),
    ],
)
def test_dcs_encoding(dcs: int, encoding: Encoding) -> None:
    """Every coding group maps to its alphabet, not only group 00xx (gsmmodem bug)."""
    assert dcs_encoding(dcs) == encoding


@pytest.mark.parametrize("dcs", [0x20, 0x28, 0x64, 0x7F])
def test_compressed_dcs_is_pdu_error(dcs: int) -> None:
    """The compressed flag of groups 00xx/01xx is honoured: we refuse rather than misread."""
    with pytest.raises(PduError, match="compressed"):
        dcs_encoding(dcs)


def test_concat_headers() -> None:
    """References up to 255 use IE 0x00, larger ones IE 0x08 with two octets."""
    assert Concat(reference=0x2A, total=3, sequence=1).header().hex() == "0500032a0301"
    assert Concat(reference=300, total=2, sequence=2).header().hex() == "060804012c0202"


@pytest.mark.parametrize(
    ("reference", "total", "sequence"),
    [(-1, 1, 1), (65536, 1, 1), (1, 0, 1), (1, 2, 3), (1, 256, 1)],
)
def test_concat_validation(reference: int, total: int, sequence: int) -> None:
    """An impossible concatenation IE cannot be constructed."""
    with pytest.raises(UsageError):
        Concat(reference=reference, total=total, sequence=sequence)


@pytest.mark.parametrize(
    ("ud_hex", "encoding", "udhi", "text", "concat"),
    [
        ("0AE8329BFD4697D9EC37", "gsm7", False, "hellohello", None),
        ("0861F1985C369F01", "gsm7", False, "abcdefg@", None),  # final '@' kept
        ("02C10D", "gsm7", False, "A ", None),  # trailing ESC: a space, no exception
        ("021B05", "gsm7", False, "\f", None),  # ESC 0x0A is form feed, not 'ÿ'
        ("0A050003070201C2E231", "gsm7", True, "abc", Concat(reference=7, total=2, sequence=1)),
        (
            "0B0608040102030361626364",
            "8bit",
            True,
            "abcd",
            Concat(reference=0x102, total=3, sequence=3),
        ),
        ("08D83DDE000031D83D", "ucs2", False, "😀1\ufffd", None),  # lone surrogate replaced
        ("0A050003070001D83DDE00", "ucs2", True, "😀", None),  # total 0 voids the IE
        ("0A05000307020300610062", "ucs2", True, "ab", None),  # sequence past total
        ("07032401AA616263", "8bit", True, "abc", None),  # unknown IE skipped
    ],
)
def test_decode_user_data(
    ud_hex: str, encoding: Encoding, udhi: bool, text: str, concat: Concat | None
) -> None:
    """User data decodes per alphabet, skipping the UDH and its fill bits."""
    ud = decode_user_data(Reader(bytes.fromhex(ud_hex)), encoding, udhi=udhi)
    assert (ud.text, ud.concat) == (text, concat)
    assert (ud.data is not None) == (encoding == "8bit")


@pytest.mark.parametrize(
    ("ud_hex", "encoding", "udhi", "reason"),
    [
        ("0AE8329BFD4697D9EC", "gsm7", False, "truncated"),
        ("05AABBCC", "8bit", False, "truncated"),
        ("00", "gsm7", True, "empty"),
        ("0307000000", "8bit", True, "exceeds"),
        ("050400030102", "8bit", True, "overruns"),
        ("0403000003", "8bit", True, "ends inside"),
        ("050400020101", "gsm7", True, "septets"),
    ],
)
def test_decode_user_data_malformed(
    ud_hex: str, encoding: Encoding, udhi: bool, reason: str
) -> None:
    """Short user data and broken headers raise PduError naming the problem."""
    with pytest.raises(PduError, match=reason):
        decode_user_data(Reader(bytes.fromhex(ud_hex)), encoding, udhi=udhi)


def test_single_part_limits() -> None:
    """160 septets, 70 UCS-2 units or 140 octets still fit one part without a UDH."""
    assert [(u, h) for u, _, h in encode_user_data("a" * 160, "gsm7", reference=0)] == [
        (160, False)
    ]
    assert [(u, h) for u, _, h in encode_user_data("é😀" * 23 + "x", "ucs2", reference=0)] == [
        (140, False)
    ]
    assert len(encode_user_data("\xff" * 141, "8bit", reference=0)) == 2


def test_gsm7_parts_hold_153_septets_with_fill_bit() -> None:
    """Concatenated GSM-7 parts carry 153 septets after a 6-octet UDH and one fill bit."""
    parts = encode_user_data("a" * 307, "gsm7", reference=0x2A)
    assert [(udl, udhi) for udl, _, udhi in parts] == [(160, True), (160, True), (8, True)]
    assert parts[0][1][:7].hex().upper() == "0500032A0301C2"  # 'a' << 1 after the fill bit


def test_gsm7_escape_pair_not_split() -> None:
    """An extension character never straddles two parts."""
    parts = encode_user_data("a" * 152 + "€" + "b" * 10, "gsm7", reference=1)
    first = decode_user_data(Reader(bytes([parts[0][0]]) + parts[0][1]), "gsm7", udhi=True)
    assert first.text == "a" * 152
    assert gsm7.septet_length(first.text) == 152


def test_ucs2_surrogate_pair_not_split() -> None:
    """A non-BMP character is never cut in half at a part boundary of 67 units."""
    parts = encode_user_data("a" * 66 + "😀" + "b" * 10, "ucs2", reference=1)
    texts = [decode_user_data(Reader(bytes([u]) + d), "ucs2", udhi=True).text for u, d, _ in parts]
    assert texts == ["a" * 66, "😀" + "b" * 10]


def test_ucs2_parts_hold_67_units() -> None:
    """Full UCS-2 parts are 140 octets: a 6-octet UDH and 67 units."""
    parts = encode_user_data("ж" * 135, "ucs2", reference=0)
    assert [udl for udl, _, _ in parts] == [140, 140, 8]


def test_sixteen_bit_reference_parts() -> None:
    """A reference above 255 uses the 7-octet header and 152 septets per part."""
    parts = encode_user_data("a" * 305, "gsm7", reference=0x1234)
    assert [udl for udl, _, _ in parts] == [160, 160, 9]
    assert parts[0][1][:7].hex() == "06080412340301"


@pytest.mark.parametrize(
    ("text", "encoding"), [("ж", "gsm7"), ("😀", "8bit"), ("a" * 40000, "8bit")]
)
def test_encode_user_data_rejects(text: str, encoding: Encoding) -> None:
    """Text outside the alphabet, or needing over 255 parts, is a UsageError."""
    with pytest.raises(UsageError):
        encode_user_data(text, encoding, reference=0)
