"""Tests for gateway.webotp.allowlist: which origins a gateway accepts codes for."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.errors import UsageError
from gateway.webotp import AllowList, InputError, parse

ALLOW = AllowList.from_entries(
    ["example.com", "*.example.org", "Bücher.example", "192.0.2.1", "[2001:db8::1]"]
)


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("example.com", True),
        ("EXAMPLE.com", True),  # case-insensitive
        ("www.example.com", False),  # exact by default, as Chrome matches the exact origin
        ("evil-example.com", False),
        ("example.com.evil.net", False),
        ("shop.example.org", True),  # the wildcard admits subdomains
        ("a.b.example.org", True),  # at any depth
        ("example.org", False),  # but not the apex
        ("badexample.org", False),
        ("xn--bcher-kva.example", True),  # IDN entries compare in punycode
        ("bücher.example", True),
        ("192.0.2.1", True),
        ("192.0.2.2", False),
        ("[2001:DB8:0::1]", True),
        ("example.com.", False),  # invalid hosts are never allowed
        ("https://example.com", False),
        ("", False),
    ],
)
def test_allows_origin(origin: str, allowed: bool) -> None:
    """Exact entries match the host only; wildcard entries match subdomains only."""
    assert ALLOW.allows(origin) is allowed


@pytest.mark.parametrize(
    ("origin", "embedded", "allowed"),
    [
        ("example.com", None, True),
        ("example.com", "pay.example.org", True),
        ("example.com", "evil.example", False),  # the embedded origin is checked too
        ("evil.example", "example.com", False),
        ("example.com", "example.org", False),
    ],
)
def test_allows_embedded_origin(origin: str, embedded: str | None, allowed: bool) -> None:
    """Both the top-level and the embedded origin must be on the list."""
    assert ALLOW.allows(origin, embedded) is allowed


def test_allows_parsed_message() -> None:
    """A parsed message's origins feed straight into the allow-list."""
    code = parse("Code 123456\n\n@shop.example.org #123456 @example.com")
    assert ALLOW.allows(code.origin, code.embedded_origin)


def test_entries_are_normalised() -> None:
    """The list reports its entries normalised and sorted."""
    assert AllowList.from_entries(["B.example", "*.A.example", "b.example"]).entries == (
        "*.a.example",
        "b.example",
    )


def test_empty_list_allows_nothing() -> None:
    """An empty allow-list refuses every origin."""
    assert not AllowList.from_entries([]).allows("example.com")


@pytest.mark.parametrize(
    ("entries", "reason"),
    [
        (["https://example.com"], "host-has-scheme"),
        (["example.com:443"], "host-has-port"),
        (["example.com."], "host-trailing-dot"),
        ([" example.com"], "host-whitespace"),
        ([""], "empty-host"),
        (["*"], "bad-wildcard"),
        (["*.com"], "wildcard-too-broad"),
        (["*.*.example.com"], "bad-wildcard"),
        (["a.*.example.com"], "bad-wildcard"),
        (["*example.com"], "bad-wildcard"),
        (["*.192.0.2.1"], "bad-wildcard"),
        (["*."], "empty-host"),
        (["example.com", 7], "not-text"),
    ],
)
def test_invalid_entries_name_the_entry(entries: list[Any], reason: str) -> None:
    """Invalid entries raise InputError (a UsageError) naming the entry and the problem."""
    with pytest.raises(InputError) as info:
        AllowList.from_entries(entries)
    assert info.value.reason == reason
    assert isinstance(info.value, UsageError)
    bad = entries[-1]
    if isinstance(bad, str) and bad:
        assert repr(bad) in str(info.value)


def test_a_single_string_is_refused() -> None:
    """Passing one string instead of a list is caught, not read character by character."""
    with pytest.raises(InputError):
        AllowList.from_entries("example.com")


def test_direct_construction_is_validated() -> None:
    """The value refuses hosts that are not normalised."""
    with pytest.raises(InputError):
        AllowList(exact=frozenset({"Example.com"}))


@settings(deadline=None)  # shared 2-core CI: no per-example deadline
@given(host=st.text(max_size=30), embedded=st.one_of(st.none(), st.text(max_size=30)))
def test_allows_never_raises(host: str, embedded: str | None) -> None:
    """Any text as origin gives True or False, never an exception."""
    assert ALLOW.allows(host, embedded) in (True, False)
