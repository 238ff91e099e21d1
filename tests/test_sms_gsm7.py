"""Tests for the GSM 7-bit alphabet module."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.sms import gsm7

ALPHABET = "".join(c for c in gsm7.BASIC if c is not None) + "".join(gsm7.EXTENSION.values())


@pytest.mark.parametrize(
    ("text", "septets"),
    [
        ("", 0),
        ("Your code is 123456", 19),
        ("€", 2),
        ("{}[]~\\|^", 16),
        ("@", 1),
        ("é", 1),
        ("ç", None),  # only capital Ç is in the table
        ("😀", None),
    ],
)
def test_septet_length(text: str, septets: int | None) -> None:
    """Extension characters cost two septets; anything outside the tables needs UCS-2."""
    assert gsm7.septet_length(text) == septets


def test_ucs2_units_counts_surrogates() -> None:
    """An emoji outside the BMP costs two UCS-2 units."""
    assert gsm7.ucs2_units("a😀") == 3


def test_pack_known_vector() -> None:
    """'hellohello' packs to the TS 23.038 worked example E8329BFD4697D9EC37."""
    assert gsm7.pack(gsm7.encode("hellohello")).hex().upper() == "E8329BFD4697D9EC37"


def test_unpack_keeps_trailing_at() -> None:
    """A final '@' (septet 0) survives unpacking because the count is honoured."""
    septets = gsm7.encode("code @")
    data = gsm7.pack(septets)
    assert gsm7.decode(gsm7.unpack(data, len(septets))) == "code @"


def test_unpack_too_short() -> None:
    """Asking for more septets than the octets hold is a ValueError."""
    with pytest.raises(ValueError, match="cannot hold"):
        gsm7.unpack(b"\x00", 3)


def test_encode_rejects_names_character() -> None:
    """The error names the first character GSM-7 cannot carry."""
    with pytest.raises(ValueError, match="position 1"):
        gsm7.encode("a😀")


def test_decode_bad_escape_and_trailing_escape() -> None:
    """ESC before a non-extension septet gives the basic character; a lone ESC a space."""
    assert gsm7.decode([0x1B, 0x41, 0x1B]) == "A "


@given(st.text(alphabet=ALPHABET, max_size=200), st.integers(min_value=0, max_value=6))
def test_roundtrip(text: str, fill: int) -> None:
    """Encode, pack, unpack and decode return the original text for any fill."""
    septets = gsm7.encode(text)
    assert gsm7.decode(gsm7.unpack(gsm7.pack(septets, fill), len(septets), fill)) == text


@given(st.lists(st.integers(min_value=0, max_value=127), max_size=100))
def test_decode_never_raises(septets: list[int]) -> None:
    """Any septet sequence decodes to some text."""
    assert isinstance(gsm7.decode(septets), str)


@pytest.mark.parametrize(
    ("encoding", "udh", "units"),
    [("gsm7", 6, 153), ("gsm7", 7, 152), ("ucs2", 6, 67), ("ucs2", 7, 66), ("8bit", 6, 134)],
)
def test_part_units(encoding: str, udh: int, units: int) -> None:
    """A part holds 140 octets less the header (GSM-7 padded to a septet boundary)."""
    assert gsm7.part_units(encoding, udh) == units


def test_split_parts_refuses_unknown_encodings() -> None:
    """Only gsm7, ucs2 and 8bit user data exist (TS 23.038 §4)."""
    with pytest.raises(ValueError, match="unknown SMS encoding"):
        gsm7.split_parts([1], "utf8", 6)


@given(
    costs=st.lists(st.integers(1, 2), max_size=700),
    encoding=st.sampled_from(["gsm7", "ucs2", "8bit"]),
    udh=st.sampled_from([gsm7.CONCAT_UDH_8, gsm7.CONCAT_UDH_16]),
)
def test_split_parts_keeps_every_character_within_capacity(
    costs: list[int], encoding: str, udh: int
) -> None:
    """Parts cover every character in order; each fits its part, greedily filled."""
    sizes = gsm7.split_parts(costs, encoding, udh)
    assert sum(sizes) == len(costs)
    if len(sizes) == 1:
        assert sum(costs) <= gsm7.single_units(encoding) or len(costs) == 0
        return
    capacity = gsm7.part_units(encoding, udh)
    at = 0
    for size in sizes:
        used = sum(costs[at : at + size])
        assert used <= capacity
        if at + size < len(costs):
            assert used + costs[at + size] > capacity  # the next character did not fit
        at += size
