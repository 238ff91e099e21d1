"""Tests for destination number parsing and the country allow-list."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.errors import RequestError
from gateway.numbers import (
    DEFAULT_NUMBER_TYPES,
    NUMBER_TYPES,
    NumberError,
    NumberTypeError,
    is_region,
    parse_destination,
    region_of,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+12025550123", "+12025550123"),
        ("+1 (202) 555-0123", "+12025550123"),
        ("12025550123", "+12025550123"),
        (" +44 7400 123456 ", "+447400123456"),
    ],
)
def test_normalises_to_e164(raw: str, expected: str) -> None:
    """Spaces, dashes and a missing plus are normalised to E.164."""
    assert parse_destination(raw, ["US", "GB"]) == expected


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("", "empty"),
        ("abc", "not a phone number"),
        ("+999123", "unknown country calling code"),
        ("+1900555012", "wrong length"),
        ("+15550123", "wrong length"),
        ("+15550000001", "not a valid number"),
        ("+4915112345678", "country DE is not allowed"),
        ("1" * 50, "too long"),
    ],
)
def test_errors_name_the_problem(raw: str, problem: str) -> None:
    """Each refusal says what is wrong with the number."""
    with pytest.raises(NumberError, match=problem):
        parse_destination(raw, ["US", "GB"])


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        ("+449098790000", "premium_rate"),
        ("+33899123456", "premium_rate"),
        ("+443001234567", "uan"),
        ("+447640123456", "pager"),
        ("+445612345678", "voip"),
        ("+447012345678", "personal_number"),
        ("+448001234567", "toll_free"),
        ("+442079460958", "fixed_line"),
    ],
)
def test_non_personal_number_types_are_refused(raw: str, kind: str) -> None:
    """By default only mobile and fixed-line-or-mobile numbers pass: no SMS pumping."""
    with pytest.raises(NumberTypeError, match=f"a {kind} number is not allowed"):
        parse_destination(raw, ["US", "GB", "FR"])
    assert kind in NUMBER_TYPES
    assert parse_destination(raw, ["US", "GB", "FR"], allowed_types=[kind]) == raw


def test_default_types_are_the_personal_ones() -> None:
    """The default types are mobile and fixed-line-or-mobile, and both exist."""
    assert DEFAULT_NUMBER_TYPES == ("mobile", "fixed_line_or_mobile")
    assert parse_destination("+33612345678", ["FR"]) == "+33612345678"


def test_empty_allow_list_refuses_everything() -> None:
    """With no allowed country, nothing is sent anywhere."""
    with pytest.raises(NumberError, match="allowed_countries: none"):
        parse_destination("+12025550123", [])


def test_possible_numbers_for_test_ranges() -> None:
    """require_valid=False admits unassigned but well-formed numbers like +1 555 000 0001."""
    assert parse_destination("+15550000001", ["us"], require_valid=False) == "+15550000001"


def test_region_of() -> None:
    """Regions come from the number, or the country code's main region when unassigned."""
    assert region_of("+442079460958") == "GB"
    assert region_of("+15550000001") == "US"
    assert is_region("GB")
    assert not is_region("XX")
    with pytest.raises(NumberError):
        region_of("nope")


@given(st.text(max_size=30))
def test_any_text_gives_a_number_or_our_error(raw: str) -> None:
    """Random input yields an E.164 string or a NumberError, nothing else."""
    try:
        result = parse_destination(raw, ["US", "GB", "DE", "FR"], require_valid=False)
    except NumberError as exc:
        error: RequestError = exc  # our hierarchy: a consumer's bad request
        assert str(error).startswith("destination: ")
    else:
        assert result.startswith("+")
        assert result[1:].isdigit()
        assert len(result) <= 16


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("00447400123456", None, "+447400123456"),
        ("00 44 7400 123456", "US", "+447400123456"),
        ("07400 123456", "GB", "+447400123456"),
        ("07400-123-456", "gb", "+447400123456"),
        ("(202) 555-0123", "US", "+12025550123"),
        ("202.555.0123", "US", "+12025550123"),
        ("+1 202 555 0123", "GB", "+12025550123"),
    ],
)
def test_numbers_as_people_type_them(raw: str, region: str | None, expected: str) -> None:
    """A 00 international prefix, and national numbers of the default region, are read."""
    assert parse_destination(raw, ["US", "GB"], default_region=region) == expected


def test_without_default_region_digits_are_international() -> None:
    """Without a default region, digits without + are international, as before."""
    assert parse_destination("447400123456", ["GB"]) == "+447400123456"
    with pytest.raises(NumberError, match=r"a national number needs send\.default_region"):
        parse_destination("07400123456", ["GB", "US"])


@pytest.mark.parametrize(
    ("raw", "region", "message"),
    [
        ("00447700900124", None, "read as +44 7700 900124: not a valid number"),
        ("+447700900123", None, "read as +44 7700 900123: not a valid number"),
        ("07400 123456", "GB", "read as +44 7400 123456: country GB is not allowed"),
        ("+4915112345678", None, "read as +49 1511 2345678: country DE is not allowed"),
    ],
)
def test_errors_say_what_was_understood(raw: str, region: str | None, message: str) -> None:
    """A refused number is shown as it was read, in international format."""
    with pytest.raises(NumberError, match=re.escape(message)):
        parse_destination(raw, ["US"], default_region=region)
