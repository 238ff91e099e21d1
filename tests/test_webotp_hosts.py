"""Tests for gateway.webotp.hosts: host validation and normalisation."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.webotp import FormatError, is_ip_literal, normalise_host

VALID: list[tuple[str, str]] = [
    ("example.com", "example.com"),
    ("WWW.Example.COM", "www.example.com"),
    ("bücher.example", "xn--bcher-kva.example"),  # IDNA 2008 via UTS 46
    ("BÜCHER.example", "xn--bcher-kva.example"),
    ("faß.de", "xn--fa-hia.de"),  # non-transitional: ß is kept, not mapped to ss
    ("xn--bcher-kva.example", "xn--bcher-kva.example"),
    ("XN--BCHER-KVA.example", "xn--bcher-kva.example"),
    ("例え.テスト", "xn--r8jz45g.xn--zckzah"),
    ("example。com", "example.com"),  # ideographic full stop maps to '.'
    ("localhost", "localhost"),
    ("a-b.example", "a-b.example"),
    ("a" * 63 + ".example", "a" * 63 + ".example"),
    ("192.0.2.1", "192.0.2.1"),
    ("10.0.0.255", "10.0.0.255"),
    ("[2001:DB8:0:0:0:0:0:1]", "[2001:db8::1]"),
    ("[::1]", "[::1]"),
    ("[::ffff:192.0.2.1]", "[::ffff:c000:201]"),
]

INVALID: list[tuple[str, str]] = [
    ("", "empty-host"),
    (" example.com", "host-whitespace"),
    ("example.com ", "host-whitespace"),
    ("exa mple.com", "host-whitespace"),
    ("example.com\t", "host-whitespace"),
    ("example.com\u00a0", "host-whitespace"),
    ("https://example.com", "host-has-scheme"),
    ("HTTP://example.com", "host-has-scheme"),
    ("https:example.com", "host-has-scheme"),
    ("ftp://example.com", "host-has-scheme"),
    ("user@example.com", "host-has-userinfo"),
    ("user:pw@example.com", "host-has-userinfo"),
    ("example.com/", "host-has-path"),
    ("example.com/login", "host-has-path"),
    ("example.com?q", "host-has-path"),
    ("example.com#x", "host-has-path"),
    ("example.com\\x", "host-has-path"),
    ("example.com:443", "host-has-port"),
    ("example.com:", "host-has-port"),
    ("[::1]:8443", "host-has-port"),
    ("example.com.", "host-trailing-dot"),
    ("example.com。", "host-trailing-dot"),
    ("exa<mple.com", "host-forbidden-code-point"),
    ("exa|mple.com", "host-forbidden-code-point"),
    ("exa%41mple.com", "host-forbidden-code-point"),
    ("exa^mple.com", "host-forbidden-code-point"),
    ("exa\x00mple.com", "host-forbidden-code-point"),
    ("exa\x7fmple.com", "host-forbidden-code-point"),
    ("a:b", "host-forbidden-code-point"),
    ("ab／c", "host-forbidden-code-point"),  # fullwidth solidus maps to '/'
    ("::1", "bad-ipv6"),
    ("2001:db8::1", "bad-ipv6"),
    ("[::1", "bad-ipv6"),
    ("[::g]", "bad-ipv6"),
    ("[fe80::1%eth0]", "bad-ipv6"),
    ("[192.0.2.1]", "bad-ipv6"),
    ("1.2.3", "bad-ipv4"),
    ("256.0.0.1", "bad-ipv4"),
    ("01.2.3.4", "bad-ipv4"),  # WHATWG would read octal: not the exact host
    ("0x7f.0.0.1", "bad-ipv4"),
    ("1.2.3.4.5", "bad-ipv4"),
    ("2130706433", "bad-ipv4"),
    ("example.123", "bad-ipv4"),
    ("ex_ample.com", "bad-host"),
    ("ex!ample.com", "bad-host"),
    ("-example.com", "bad-host"),
    ("example-.com", "bad-host"),
    ("a..example", "bad-host"),
    (".example", "bad-host"),
    ("\ud800.example", "bad-host"),
    ("xn--zz.example", "bad-idn"),
    ("xn--abc-.example", "bad-idn"),  # decodes to ASCII: not a canonical A-label
    ("a\u200db.example", "bad-idn"),  # ZWJ outside its CONTEXTJ rule
    ("a" * 64 + ".example", "host-too-long"),
    (".".join(["a" * 60] * 5), "host-too-long"),
    ("a" * 2000, "host-too-long"),
]


@pytest.mark.parametrize(("host", "expected"), VALID)
def test_valid_hosts_normalise(host: str, expected: str) -> None:
    """Valid hosts come back lowercase ASCII, punycode for IDN, compressed IPv6 in brackets."""
    assert normalise_host(host) == expected
    assert normalise_host(expected) == expected


@pytest.mark.parametrize(("host", "reason"), INVALID)
def test_invalid_hosts_name_the_reason(host: str, reason: str) -> None:
    """Every refusal carries the reason that names the problem."""
    with pytest.raises(FormatError) as info:
        normalise_host(host)
    assert info.value.reason == reason
    assert info.value.message


def test_error_message_cuts_long_hosts() -> None:
    """A hostile long host is quoted in part, so an error line stays readable."""
    with pytest.raises(FormatError) as info:
        normalise_host("https://" + "a" * 1000)
    assert len(info.value.message) < 300


def test_non_text_host() -> None:
    """A host that is not text is refused with FormatError, not TypeError."""
    with pytest.raises(FormatError):
        normalise_host(42)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("host", "expected"),
    [("192.0.2.1", True), ("[::1]", True), ("example.com", False), ("1.2.3.4.example", False)],
)
def test_is_ip_literal(host: str, expected: bool) -> None:
    """IPv4 and bracketed IPv6 hosts are IP literals; domains are not."""
    assert is_ip_literal(host) is expected


HOSTISH = st.one_of(
    st.text(max_size=40),
    st.lists(
        st.sampled_from(["a", "Z", "0", "9", "-", ".", ":", "[", "]", "@", "/", "ü", "ß", "xn--",
                         "١", "。", "\u200d", "%", "_", " ", "\ud800", "0x", "255", "::"]),
        max_size=20,
    ).map("".join),
)  # fmt: skip


def _outcome(host: str) -> str | FormatError:
    """Return the normalised host or the FormatError raised."""
    try:
        return normalise_host(host)
    except FormatError as exc:
        return exc


@settings(deadline=None)  # shared 2-core CI: no per-example deadline
@given(host=HOSTISH)
def test_normalise_host_gives_host_or_format_error(host: str) -> None:
    """Arbitrary text gives a normalised host (idempotent) or FormatError, nothing else."""
    outcome = _outcome(host)
    if isinstance(outcome, FormatError):
        assert outcome.reason
    else:
        assert outcome.isascii()
        assert outcome == outcome.lower()
        assert normalise_host(outcome) == outcome


@settings(deadline=None)  # shared 2-core CI: no per-example deadline
@given(address=st.ip_addresses())
def test_ip_addresses_round_trip(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    """Every IPv4 address and every bracketed IPv6 address is accepted as its canonical form."""
    if address.version == 4:
        assert normalise_host(str(address)) == str(address)
    else:
        assert normalise_host(f"[{address.exploded.upper()}]") == f"[{address.compressed}]"
