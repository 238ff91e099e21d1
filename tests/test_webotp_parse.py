"""Tests for gateway.webotp.parse: the spec parser (strict) and Chromium's (chromium)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.errors import GatewayError
from gateway.webotp import FormatError, InputError, OriginBoundCode, parse

# (message, origin, code, embedded) for messages valid in strict mode.
STRICT_VALID: list[tuple[str, str, str, str | None]] = [
    ("Your code is 123456.\n\n@www.example.com #123456", "www.example.com", "123456", None),
    ("@example.com #1", "example.com", "1", None),
    ("Code\r\n\r\n@example.com #1", "example.com", "1", None),  # CRLF
    ("Code\r\r@example.com #1", "example.com", "1", None),  # lone CR
    ("Code\r\n\r@example.com #1", "example.com", "1", None),  # CRLF then a lone CR
    ("@EXAMPLE.COM #1", "example.com", "1", None),  # hosts are reported lowercase
    ("@bücher.example #1", "xn--bcher-kva.example", "1", None),  # IDN -> punycode
    ("@BÜCHER.example #1", "xn--bcher-kva.example", "1", None),
    ("@xn--bcher-kva.example #1", "xn--bcher-kva.example", "1", None),
    ("@example．com #1", "example.com", "1", None),  # fullwidth dot maps (UTS 46)
    ("@192.0.2.1 #1", "192.0.2.1", "1", None),
    ("@[2001:DB8:0::1] #1", "[2001:db8::1]", "1", None),  # IPv6 in brackets, compressed
    ("@[::1] #1", "[::1]", "1", None),
    ("@localhost #1", "localhost", "1", None),
    ("@example.com ##1", "example.com", "#1", None),  # '#' is allowed in the code
    ("@example.com #ab#cd", "example.com", "ab#cd", None),
    ("@example.com #@1", "example.com", "@1", None),
    ("@example.com #😀12", "example.com", "😀12", None),  # emoji in the code
    ("@example.com #12\u00a034", "example.com", "12\u00a034", None),  # NBSP is not whitespace
    ("@example.com #12\x0b34", "example.com", "12\x0b34", None),  # nor is U+000B
    ("@example.com #" + "7" * 10_000, "example.com", "7" * 10_000, None),  # no length limit
    ("@shop.example #1 @bank.example", "shop.example", "1", "bank.example"),
    ("@shop.example #1 @BANK.example", "shop.example", "1", "bank.example"),
    ("@shop.example #1 @bücher.example", "shop.example", "1", "xn--bcher-kva.example"),
    ("@shop.example #1 @[::1]", "shop.example", "1", "[::1]"),
    ("@shop.example #1 @bank.example @third.example", "shop.example", "1", "bank.example"),
    ("@shop.example #1 @bank.example and more", "shop.example", "1", "bank.example"),
    ("@shop.example #1  @bank.example", "shop.example", "1", None),  # two spaces: ignored
    ("@shop.example #1\t@bank.example", "shop.example", "1", None),  # TAB: ignored
    ("@shop.example #1 %bank.example", "shop.example", "1", None),  # iOS 14 syntax: ignored
    ("@shop.example #1 @", "shop.example", "1", None),  # bare '@': ignored
    ("@shop.example #1 @ bank.example", "shop.example", "1", None),
    ("@shop.example #1 word", "shop.example", "1", None),  # reserved for future syntax
    ("@shop.example #1 ", "shop.example", "1", None),
    ("@shop.example #1\f@x", "shop.example", "1", None),  # FF ends the code
    ("@first.example #1\n@second.example #2", "second.example", "2", None),  # last line wins
]

# (message, reason) for messages invalid in strict mode.
STRICT_INVALID: list[tuple[str, str]] = [
    ("", "empty-message"),
    ("\n\n", "empty-message"),
    ("   ", "empty-message"),
    ("x\n", "no-origin-line"),
    ("Your code is 123456.", "no-origin-line"),
    ("@example.com #1\n", "trailing-newline"),
    ("@example.com #1\r\n", "trailing-newline"),
    ("@example.com #1\r", "trailing-newline"),
    ("Code\n\n@example.com #1\n\n", "trailing-newline"),
    ("@example.com #1\nSent by Operator", "code-line-not-last"),  # footer after the code line
    ("@example.com #1\r\nSTOP to 555", "code-line-not-last"),
    ("Code: @example.com #1", "no-origin-line"),
    (" @example.com #1", "no-origin-line"),  # nothing before '@', not even a space
    ("%example.com #1", "no-origin-line"),
    ("@ #1", "empty-host"),
    ("@", "empty-host"),
    ("@example.com", "missing-code"),
    ("@example.com 123456", "missing-hash"),
    ("@example.com  #1", "bad-separator"),  # two spaces
    ("@example.com\t#1", "bad-separator"),  # TAB
    ("@example.com\f#1", "bad-separator"),  # FF
    ("@example.com\u00a0#1", "bad-separator"),  # NBSP
    ("@example.com\u2003#1", "bad-separator"),  # EM SPACE
    ("@example.com\x0b#1", "bad-separator"),  # U+000B
    ("@example.com#1", "bad-separator"),
    ("@example.com #", "empty-code"),
    ("@example.com # 1", "empty-code"),
    ("@https://example.com #1", "host-has-scheme"),
    ("@https:example.com #1", "host-has-scheme"),
    ("@example.com:443 #1", "host-has-port"),
    ("@[::1]:443 #1", "host-has-port"),
    ("@user@example.com #1", "host-has-userinfo"),
    ("@example.com/login #1", "host-has-path"),
    ("@example.com?x #1", "host-has-path"),
    ("@example.com. #1", "host-trailing-dot"),
    ("@exa<mple.com #1", "host-forbidden-code-point"),
    ("@exa%mple.com #1", "host-forbidden-code-point"),
    ("@exa\x00mple.com #1", "host-forbidden-code-point"),
    ("@::1 #1", "bad-ipv6"),
    ("@[::1 #1", "bad-ipv6"),
    ("@[fe80::1%eth0] #1", "bad-ipv6"),
    ("@1.2.3 #1", "bad-ipv4"),
    ("@0x7f.0.0.1 #1", "bad-ipv4"),
    ("@example.123 #1", "bad-ipv4"),
    ("@ex_ample.com #1", "bad-host"),
    ("@-example.com #1", "bad-host"),
    ("@a..example #1", "bad-host"),
    ("@xn--zz.example #1", "bad-idn"),
    ("@" + "a" * 64 + ".example #1", "host-too-long"),
    ("@shop.example #1 @https://bank.example", "embedded-host-has-scheme"),
    ("@shop.example #1 @bank.example:443", "embedded-host-has-port"),
    ("@shop.example #1 @bank.example.", "embedded-host-trailing-dot"),
]


@pytest.mark.parametrize(("message", "origin", "code", "embedded"), STRICT_VALID)
def test_strict_valid(message: str, origin: str, code: str, embedded: str | None) -> None:
    """Valid messages give the normalised origin, the exact code and the embedded origin."""
    result = parse(message)
    assert (result.origin, result.code, result.embedded_origin) == (origin, code, embedded)
    assert result.origin_url == f"https://{origin}"


@pytest.mark.parametrize(("message", "reason"), STRICT_INVALID)
def test_strict_invalid(message: str, reason: str) -> None:
    """Invalid messages raise FormatError with a machine-readable reason and a sentence."""
    with pytest.raises(FormatError) as info:
        parse(message, mode="strict")
    assert info.value.reason == reason
    assert info.value.message
    assert str(info.value) == info.value.message


# (message, origin, code, embedded, scheme) for messages Chromium accepts.
CHROMIUM_VALID: list[tuple[str, str, str, str | None, str]] = [
    ("Your code is 1.\n\n@example.com #123", "example.com", "123", None, "https"),
    ("@example.com #1\n", "example.com", "1", None, "https"),  # trailing newline accepted
    ("@example.com #1\nSent by Operator", "example.com", "1", None, "https"),  # footer
    ("Code: @example.com #1", "example.com", "1", None, "https"),  # text before '@'
    (" @example.com #1", "example.com", "1", None, "https"),
    ("@a.com @b.com #1", "b.com", "1", None, "https"),  # the second '@' starts the match
    ("@example.com #ab#cd", "example.com", "ab", None, "https"),  # '#' ends the code
    ("@first.example #1\n@second.example #2", "first.example", "1", None, "https"),
    ("@EXAMPLE.com #1", "example.com", "1", None, "https"),
    ("@xn--bcher-kva.example #1", "xn--bcher-kva.example", "1", None, "https"),
    ("@localhost #1", "localhost", "1", None, "http"),  # net::IsLocalhost -> http
    ("@app.localhost #1", "app.localhost", "1", None, "http"),
    ("@127.0.0.1 #1", "127.0.0.1", "1", None, "http"),
    ("@192.0.2.1 #1", "192.0.2.1", "1", None, "https"),
    ("@example.com #😀12", "example.com", "😀12", None, "https"),
    ("@a.com\r\n@b.com #1", "b.com", "1", None, "https"),
    ("@shop.example #1 @bank.example", "shop.example", "1", "bank.example", "https"),
    ("@shop.example #1 @bank.example/x", "shop.example", "1", "bank.example", "https"),
    ("@shop.example #1 @bank.example:443", "shop.example", "1", "bank.example", "https"),
    ("@shop.example #1 @bank_x.example", "shop.example", "1", "bank", "https"),  # cut
    ("@shop.example #1  @bank.example", "shop.example", "1", None, "https"),
    ("@shop.example #1 %bank.example", "shop.example", "1", None, "https"),
    ("@shop.example #1 @", "shop.example", "1", None, "https"),
    ("@shop.example #1 @bücher.example", "shop.example", "1", "b", "https"),
    ("@shop.example #ab#cd @bank.example", "shop.example", "ab", None, "https"),
]

CHROMIUM_INVALID: list[tuple[str, str]] = [
    ("", "no-match"),
    ("Your code is 123456.", "no-match"),
    ("@example.com ##1", "no-match"),  # a code cannot start with '#'
    ("@bücher.example #1", "no-match"),  # non-ASCII hosts never match
    ("@[::1] #1", "no-match"),
    ("@example.com  #1", "no-match"),
    ("@example.com\t#1", "no-match"),
    ("@example.com\u00a0#1", "no-match"),
    ("@example.com#1", "no-match"),
    ("x@example.com #1", "no-match"),  # '@' must follow whitespace or the start
    ("%example.com #1", "no-match"),
    ("@https://example.com #1", "no-match"),
    ("@example.com:443 #1", "no-match"),
    ("@example.com #", "no-match"),
    ("@example.com. #1", "host-trailing-dot"),  # matched, then refused by host validity
    ("@a..example #1", "bad-host"),
    ("@1.2.3 #1", "bad-ipv4"),
    ("@shop.example #1 @bank.example.", "embedded-host-trailing-dot"),
]


@pytest.mark.parametrize(("message", "origin", "code", "embedded", "scheme"), CHROMIUM_VALID)
def test_chromium_valid(
    message: str, origin: str, code: str, embedded: str | None, scheme: str
) -> None:
    """Chromium mode takes the first match anywhere, with Chromium's host and code classes."""
    result = parse(message, mode="chromium")
    assert (result.origin, result.code, result.embedded_origin) == (origin, code, embedded)
    assert result.scheme == scheme
    assert result.origin_url == f"{scheme}://{origin}"


@pytest.mark.parametrize(("message", "reason"), CHROMIUM_INVALID)
def test_chromium_invalid(message: str, reason: str) -> None:
    """Messages Chromium does not match (or whose host is invalid) raise FormatError."""
    with pytest.raises(FormatError) as info:
        parse(message, mode="chromium")
    assert info.value.reason == reason


def test_format_error_is_gateway_and_value_error() -> None:
    """FormatError can be caught as our base error or as ValueError."""
    with pytest.raises(GatewayError):
        parse("nothing here")
    with pytest.raises(ValueError, match="does not start"):
        parse("nothing here")


def test_error_messages_never_quote_the_code() -> None:
    """Error sentences are safe to log: they never contain the code."""
    for message in (
        "@example.com #SECRET99\nfooter",
        "@example.com  #SECRET99",
        "@e.com #SECRET99\n",
    ):
        with pytest.raises(FormatError) as info:
            parse(message)
        assert "SECRET99" not in str(info.value)


def test_unknown_mode_is_a_usage_error() -> None:
    """An unknown mode is the caller's fault: InputError naming the key."""
    with pytest.raises(InputError) as info:
        parse("@example.com #1", mode="safari")  # type: ignore[arg-type]
    assert info.value.key == "mode"


def test_non_text_is_a_usage_error() -> None:
    """Bytes instead of text raise InputError, not a TypeError."""
    with pytest.raises(InputError):
        parse(b"@example.com #1")  # type: ignore[arg-type]


def test_value_is_frozen_and_validated() -> None:
    """OriginBoundCode refuses un-normalised hosts and codes with whitespace."""
    value = OriginBoundCode(origin="example.com", code="1")
    with pytest.raises(AttributeError):
        value.code = "2"  # type: ignore[misc]
    with pytest.raises(InputError) as info:
        OriginBoundCode(origin="Example.com", code="1")
    assert (info.value.key, info.value.reason) == ("origin", "not-normalised")
    with pytest.raises(InputError):
        OriginBoundCode(origin="example.com", code="1 2")
    with pytest.raises(InputError):
        OriginBoundCode(origin="example.com", code="")
    with pytest.raises(InputError):
        OriginBoundCode(origin="example.com", code="1", embedded_origin="https://x.com")
    with pytest.raises(InputError):
        OriginBoundCode(origin="example.com", code="1", scheme="ftp")  # type: ignore[arg-type]
    with pytest.raises(InputError):
        OriginBoundCode(origin=None, code="1")  # type: ignore[arg-type]


def test_one_megabyte_message() -> None:
    """A 1 MB message is parsed in both modes without trouble."""
    body = "x" * 1_000_000
    assert parse(body + "\n@example.com #1").code == "1"
    assert parse("@example.com #1 " + body, mode="chromium").code == "1"
    with pytest.raises(FormatError):
        parse("@" + "a" * 1_000_000 + " #1")
    with pytest.raises(FormatError):
        parse(" @a" * 300_000, mode="chromium")


MESSAGE_ALPHABET = st.sampled_from(
    ["@", "#", " ", "  ", "\n", "\r", "\t", "\u00a0", ".", ":", "[", "]", "/", "%", "a", "Z",
     "1", "-", "xn--", "ü", "😀", "\x00", "\ud800", "example.com", "[::1]", "１", "．"]
)  # fmt: skip
MESSAGES = st.one_of(st.text(), st.lists(MESSAGE_ALPHABET, max_size=30).map("".join))


def _outcome(text: str, mode: str) -> OriginBoundCode | FormatError:
    """Return the parse result or the FormatError it raised."""
    try:
        return parse(text, mode="strict" if mode == "strict" else "chromium")
    except FormatError as exc:
        return exc


@settings(deadline=None)  # shared 2-core CI: no per-example deadline
@given(text=MESSAGES, mode=st.sampled_from(["strict", "chromium"]))
def test_parse_gives_value_or_format_error(text: str, mode: str) -> None:
    """Arbitrary text gives an OriginBoundCode or FormatError, never anything else."""
    outcome = _outcome(text, mode)
    if isinstance(outcome, FormatError):
        assert outcome.reason
    else:
        assert outcome.origin
        assert outcome.code


LINES = st.builds(
    "@{}{}#{}{}".format,
    st.sampled_from(["example.com", "EXAMPLE.com", "a.b-c.example", "192.0.2.1", "[::1]", "a..b"]),
    st.sampled_from([" ", " ", " ", "  ", "\t", ""]),
    st.text(st.characters(max_codepoint=127), min_size=1, max_size=8),
    st.sampled_from(["", " @bank.example", " @", "  @x.example", " %x.example", "\n"]),
)


@settings(deadline=None)  # shared 2-core CI: no per-example deadline
@given(head=MESSAGES, line=LINES)
def test_chromium_agrees_with_strict_on_plain_last_lines(head: str, line: str) -> None:
    """A strict-valid ASCII last line without '#' in its code reads the same in Chromium."""
    text = head + "\n" + line
    strict = _outcome(text, "strict")
    if isinstance(strict, FormatError):
        return
    last = text.replace("\r\n", "\n").replace("\r", "\n").rpartition("\n")[2]
    if not last.isascii() or "[" in strict.origin or "#" in strict.code:
        return
    chromium = parse(last, mode="chromium")
    assert (chromium.origin, chromium.code) == (strict.origin, strict.code)
