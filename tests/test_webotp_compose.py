"""Tests for gateway.webotp.compose and gateway.webotp.codes: what we send."""

from __future__ import annotations

import ipaddress
import pickle
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.errors import UsageError
from gateway.sms import encode_submit
from gateway.webotp import (
    MODES,
    ComposedMessage,
    ComposeWarning,
    FormatError,
    InputError,
    Mode,
    SmsSize,
    compose,
    generate_code,
    measure,
    normalise_host,
    parse,
    render_template,
)
from gateway.webotp.compose import MISREAD_REASONS


def test_default_message() -> None:
    """The default message is the human sentence, a blank line, then the origin line."""
    message = compose(origin="example.com", code="123456")
    assert message.text == "Your code is 123456.\n\n@example.com #123456"
    assert (message.encoding, message.length, message.segments, message.byte_size) == (
        "gsm7",
        42,
        1,
        37,
    )
    assert message.warnings == ()


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        ({"origin": "Example.COM", "code": "1234"}, "Your code is 1234.\n\n@example.com #1234"),
        (
            {"origin": "bücher.example", "code": "1234", "text": "{code} für {origin}"},
            "1234 für xn--bcher-kva.example\n\n@xn--bcher-kva.example #1234",
        ),
        (
            {"origin": "shop.example", "code": "42ab", "embedded_origin": "Bank.example"},
            "Your code is 42ab.\n\n@shop.example #42ab @bank.example",
        ),
        ({"origin": "example.com", "code": "1234", "text": ""}, "@example.com #1234"),
        (
            {"origin": "example.com", "code": "1234", "text": "{{literal}} {code}"},
            "{literal} 1234\n\n@example.com #1234",
        ),
        (
            {"origin": "example.com", "code": "1234", "text": "No placeholder"},
            "No placeholder\n\n@example.com #1234",
        ),
    ],
)
def test_compose_text(kwargs: dict[str, Any], text: str) -> None:
    """Templates fill {code} and {origin}; hosts are normalised; the origin line is last."""
    message = compose(**kwargs)
    assert message.text == text
    parsed = parse(message.text)
    assert (parsed.origin, parsed.code, parsed.embedded_origin) == (
        message.origin,
        message.code,
        message.embedded_origin,
    )


@pytest.mark.parametrize(
    ("kwargs", "key", "reason"),
    [
        ({"origin": "https://example.com", "code": "1234"}, "origin", "host-has-scheme"),
        ({"origin": "example.com:443", "code": "1234"}, "origin", "host-has-port"),
        ({"origin": "example.com/x", "code": "1234"}, "origin", "host-has-path"),
        ({"origin": "u@example.com", "code": "1234"}, "origin", "host-has-userinfo"),
        ({"origin": "example.com.", "code": "1234"}, "origin", "host-trailing-dot"),
        ({"origin": " example.com", "code": "1234"}, "origin", "host-whitespace"),
        ({"origin": "", "code": "1234"}, "origin", "empty-host"),
        ({"origin": 5, "code": "1234"}, "origin", "not-text"),
        (
            {"origin": "a.example", "code": "1234", "embedded_origin": "b.example:1"},
            "embedded_origin",
            "host-has-port",
        ),
        ({"origin": "example.com", "code": ""}, "code", "empty-code"),
        ({"origin": "example.com", "code": "12 34"}, "code", "code-whitespace"),
        ({"origin": "example.com", "code": "12\u00a034"}, "code", "code-whitespace"),
        ({"origin": "example.com", "code": "12\n34"}, "code", "code-whitespace"),
        ({"origin": "example.com", "code": "12\x0034"}, "code", "code-control"),
        ({"origin": "example.com", "code": "12\ud80034"}, "code", "code-not-unicode"),
        ({"origin": "example.com", "code": 1234}, "code", "not-text"),
        ({"origin": "example.com", "code": "1234", "text": "{cod}"}, "text", "bad-placeholder"),
        ({"origin": "example.com", "code": "1234", "text": "a } b"}, "text", "bad-placeholder"),
        ({"origin": "example.com", "code": "1234", "text": "{0}"}, "text", "bad-placeholder"),
        ({"origin": "example.com", "code": "1234", "text": "a\x00b"}, "text", "text-control"),
        ({"origin": "example.com", "code": "1234", "text": "\ud800"}, "text", "text-not-unicode"),
    ],
)
def test_compose_rejects_bad_input(kwargs: dict[str, Any], key: str, reason: str) -> None:
    """Every bad argument raises InputError (a UsageError) naming the key and the problem."""
    with pytest.raises(InputError) as info:
        compose(**kwargs)
    assert (info.value.key, info.value.reason) == (key, reason)
    assert isinstance(info.value, UsageError)
    assert str(info.value).startswith(f"{key}: ")
    if isinstance(kwargs.get("code"), str) and len(kwargs["code"]) > 2:
        assert kwargs["code"] not in str(info.value)


@pytest.mark.parametrize(
    ("text", "encoding", "length", "segments", "byte_size"),
    [
        ("a" * 160, "gsm7", 160, 1, 140),
        ("a" * 161, "gsm7", 161, 2, 141),
        ("a" * 306, "gsm7", 306, 2, 268),
        ("a" * 307, "gsm7", 307, 3, 269),
        ("€" * 80, "gsm7", 160, 1, 140),  # extension characters cost two septets
        ("a" * 159 + "€", "gsm7", 161, 2, 141),
        ("a" * 152 + "€" + "a" * 152, "gsm7", 306, 3, 268),  # an escape pair is never split
        ("@", "gsm7", 1, 1, 1),
        ("ç" * 70, "ucs2", 70, 1, 140),
        ("ç" * 71, "ucs2", 71, 2, 142),
        ("😀" * 35, "ucs2", 70, 1, 140),  # an emoji is two UCS-2 units
        ("x" * 66 + "😀" + "x" * 66, "ucs2", 134, 3, 268),  # a surrogate pair is never split
        ("", "gsm7", 0, 1, 0),
    ],
)
def test_measure(text: str, encoding: str, length: int, segments: int, byte_size: int) -> None:
    """Length, segments and user-data octets follow TS 23.038 / TS 23.040 limits."""
    size = measure(text)
    assert (size.encoding, size.length, size.segments, size.byte_size) == (
        encoding,
        length,
        segments,
        byte_size,
    )


def _reasons(message: ComposedMessage) -> list[str]:
    """Return the warning reasons of a composed message."""
    return [w.reason for w in message.warnings]


@pytest.mark.parametrize(
    ("kwargs", "reasons"),
    [
        ({"origin": "example.com", "code": "123456"}, []),
        ({"origin": "example.com", "code": "123456", "text": "x" * 170}, ["multi-segment",
          "over-140-characters"]),
        ({"origin": "example.com", "code": "123456", "text": "x" * 130}, ["over-140-characters"]),
        ({"origin": "example.com", "code": "123456", "text": "😀" * 30}, ["multi-segment"]),
        ({"origin": "example.com", "code": "abcdef"}, ["no-consent-token"]),
        ({"origin": "example.com", "code": "123"}, ["no-consent-token"]),
        ({"origin": "example.com", "code": "12345678901"}, ["no-consent-token"]),
        ({"origin": "example.com", "code": "abc", "text": "Ref A1B2. Code {code}"}, []),
        (
            {"origin": "example.com", "code": "123456", "text": "@everyone: {code}"},
            ["text-has-origin-line"],
        ),
        ({"origin": "bücher.example", "code": "123456"}, []),  # punycode: Chromium reads it
    ],
)  # fmt: skip
def test_compose_warnings(kwargs: dict[str, Any], reasons: list[str]) -> None:
    """Warnings name what may stop delivery or autofill, each with a sentence."""
    message = compose(**kwargs)
    assert _reasons(message) == reasons
    assert all(w.message for w in message.warnings)


def test_composed_message_is_frozen() -> None:
    """A composed message is an immutable value."""
    message = compose(origin="example.com", code="123456")
    with pytest.raises(AttributeError):
        message.text = "x"  # type: ignore[misc]


def test_render_template_alone() -> None:
    """render_template replaces only the two placeholders and doubled braces."""
    assert render_template("{code}{{}}{origin}", code="1", origin="a.b") == "1{}a.b"


def test_generate_code_defaults() -> None:
    """The default code is six decimal digits."""
    code = generate_code()
    assert len(code) == 6
    assert code.isdigit()


def test_generate_code_alphabet_and_length() -> None:
    """Codes use only the alphabet given and vary between calls."""
    codes = {generate_code(32, "ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(5)}
    assert len(codes) == 5
    assert all(set(c) <= set("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for c in codes)


@pytest.mark.parametrize(
    ("length", "alphabet", "key", "reason"),
    [
        (0, "0123456789", "length", "out-of-range"),
        (65, "0123456789", "length", "out-of-range"),
        (True, "0123456789", "length", "not-integer"),
        (6.0, "0123456789", "length", "not-integer"),
        (6, "0", "alphabet", "too-small"),
        (6, "", "alphabet", "too-small"),
        (6, "0012", "alphabet", "repeated-character"),
        (6, "01#", "alphabet", "hash"),
        (6, "01 ", "alphabet", "code-whitespace"),
        (6, "01\x00", "alphabet", "code-control"),
        (6, 12, "alphabet", "not-text"),
    ],
)
def test_generate_code_rejects_bad_arguments(
    length: Any, alphabet: Any, key: str, reason: str
) -> None:
    """Bad lengths and alphabets raise InputError naming the argument."""
    with pytest.raises(InputError) as info:
        generate_code(length, alphabet)
    assert (info.value.key, info.value.reason) == (key, reason)


LABEL = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True)
TLD = st.from_regex(r"[a-z]{2,6}", fullmatch=True)
DOMAINS = st.builds(lambda labels, tld: ".".join([*labels, tld]), st.lists(LABEL, max_size=3), TLD)
IDN = st.sampled_from(["bücher.example", "例え.テスト", "faß.de", "ÉCOLE.fr", "пример.рф"])
IPS = st.ip_addresses().map(lambda a: str(a) if isinstance(a, ipaddress.IPv4Address) else f"[{a}]")
HOSTS = st.one_of(DOMAINS, IDN, IPS)
CODES = st.text(
    st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp")), min_size=1, max_size=24
)
TEMPLATES = st.one_of(
    st.none(),
    st.lists(
        st.one_of(
            st.sampled_from(
                ["{code}", "{origin}", "{{", "}}", "\n", "\r", "\r\n", "@", "#", " ", "  "]
            ),
            st.sampled_from(["bank.example", "shop.example", "999999", "123456", "\t", "##"]),
            st.builds(lambda h: "@" + h, DOMAINS),
            # whole origin lines of their own, another host or ours, another code or ours
            st.builds(
                lambda host, code, tail: f"@{host} #{code}{tail}",
                st.one_of(DOMAINS, st.sampled_from(["{origin}", "bank.example"])),
                st.one_of(st.from_regex(r"[0-9]{1,8}", fullmatch=True), st.just("{code}")),
                st.sampled_from(["", " @shop.example", " @{origin}", "\n", "\r", " tail"]),
            ),
            st.from_regex(r"[0-9]{1,8}", fullmatch=True),
            st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="{}")),
        ),
        max_size=10,
    ).map("".join),
)


def _read(text: str, mode: Mode) -> tuple[str, str, str | None]:
    """Return what a ``mode`` reader reads from ``text`` (origin, code, embedded origin)."""
    bound = parse(text, mode=mode)
    return (bound.origin, bound.code, bound.embedded_origin)


def _read_or_none(text: str, mode: Mode) -> tuple[str, str, str | None] | None:
    """Return what a ``mode`` reader reads from ``text``, None when it reads nothing."""
    try:
        return _read(text, mode)
    except FormatError:
        return None


@settings(deadline=None, max_examples=400)  # shared 2-core CI: no per-example deadline
@given(origin=HOSTS, code=CODES, embedded=st.one_of(st.none(), HOSTS), template=TEMPLATES)
def test_compose_parse_round_trip(
    origin: str, code: str, embedded: str | None, template: str | None
) -> None:
    """parse(compose(x)) is the request in strict and Chromium mode, or compose refuses."""
    refusal: InputError | None = None
    try:
        message = compose(origin=origin, code=code, embedded_origin=embedded, text=template)
    except InputError as exc:
        refusal = exc
    if refusal is not None:
        assert refusal.reason in MISREAD_REASONS
        return
    expected = (
        normalise_host(origin),
        code,
        None if embedded is None else normalise_host(embedded),
    )
    for mode in MODES:
        assert _read(message.text, mode) == expected
    assert not message.text.endswith(("\n", "\r"))
    size = measure(message.text)
    assert (size.length, size.segments) == (message.length, message.segments)


@settings(deadline=None)  # shared 2-core CI: no per-example deadline
@given(origin=DOMAINS, code=st.from_regex(r"[A-Za-z0-9]{1,12}", fullmatch=True), text=TEMPLATES)
def test_refusals_are_the_text_and_only_when_a_reader_differs(
    origin: str, code: str, text: str | None
) -> None:
    """With a plain request, only the template can be refused, and only when a reader differs."""
    refusal: InputError | None = None
    try:
        compose(origin=origin, code=code, text=text)
    except InputError as exc:
        refusal = exc
    if refusal is not None:
        assert refusal.key == "text"
        assert refusal.reason in {"text-forges-origin", "text-forges-code"}
        assert text is not None
        human = render_template(text, code=code, origin=origin)
        full = f"{human}\n\n@{origin} #{code}" if human else f"@{origin} #{code}"
        assert any(_read_or_none(full, mode) != (origin, code, None) for mode in MODES)


FORGERIES = [
    ("@bank.example #999999", "text-forges-origin"),  # first line
    ("Your code: @bank.example #999999 thanks", "text-forges-origin"),  # mid-line
    ("Hello\r@bank.example #999999", "text-forges-origin"),  # after a lone CR
    ("Hi\r\n@bank.example #999999\r\n", "text-forges-origin"),
    ("@bank.example #999999 @shop.example", "text-forges-origin"),  # a trailing @shop.example
    ("@shop.example #999999", "text-forges-code"),  # right origin, attacker's code
    ("@shop.example #{code} @bank.example", "text-forges-origin"),  # an iframe of its own
    ("\t@bank.example #999999", "text-forges-origin"),  # any ASCII whitespace before '@'
    ("x\f@bank.example #1", "text-forges-origin"),
]


@pytest.mark.parametrize(("template", "reason"), FORGERIES)
def test_compose_refuses_a_template_carrying_another_origin_line(
    template: str, reason: str
) -> None:
    """A template holding its own '@host #code' that a reader would take is refused."""
    with pytest.raises(InputError) as info:
        compose(origin="shop.example", code="123456", text=template)
    assert (info.value.key, info.value.reason) == ("text", reason)
    assert "123456" not in str(info.value)
    assert "999999" not in str(info.value)


@pytest.mark.parametrize(
    "template",
    [
        "mail us at help@bank.example #1",  # not at the start of a word: no reader takes it
        "@shop.example #{code}",  # the same origin and code again: every reader agrees
        "@ bank.example #999999",
        "@bank.example  #999999",  # two spaces: Chromium's pattern needs exactly one
    ],
)
def test_compose_accepts_a_template_no_reader_misreads(template: str) -> None:
    """Text that looks like an origin line but reads back as the request is accepted."""
    message = compose(origin="shop.example", code="123456", text=template)
    for mode in MODES:
        assert _read(message.text, mode) == ("shop.example", "123456", None)


@pytest.mark.parametrize(
    ("kwargs", "key", "reason"),
    [
        ({"origin": "example.com", "code": "#123456"}, "code", "code-misread"),
        ({"origin": "example.com", "code": "1234#5678"}, "code", "code-misread"),
        ({"origin": "[::1]", "code": "123456"}, "origin", "host-misread"),
        (
            {"origin": "example.com", "code": "123456", "embedded_origin": "[2001:db8::1]"},
            "embedded_origin",
            "host-misread",
        ),
    ],
)
def test_compose_refuses_fields_a_reader_misreads(
    kwargs: dict[str, Any], key: str, reason: str
) -> None:
    """A code or host that Chromium would read differently is refused, naming the field."""
    with pytest.raises(InputError) as info:
        compose(**kwargs)
    assert (info.value.key, info.value.reason) == (key, reason)


def test_localhost_reads_back_as_its_host() -> None:
    """Chromium reads localhost as http://localhost: the host is the request's, so it passes."""
    message = compose(origin="localhost", code="123456")
    assert parse(message.text, mode="chromium").origin_url == "http://localhost"


@settings(deadline=None)  # shared 2-core CI: no per-example deadline
@given(origin=DOMAINS, code=st.from_regex(r"[A-Za-z0-9]{1,12}", fullmatch=True))
def test_plain_messages_read_the_same_in_chromium(origin: str, code: str) -> None:
    """With an ASCII domain and an alphanumeric code, Chromium reads what the spec reads."""
    message = compose(origin=origin, code=code)
    parsed = parse(message.text, mode="chromium")
    assert (parsed.origin, parsed.code) == (origin, code)


def test_values_refuse_inconsistent_fields() -> None:
    """ComposedMessage, SmsSize and ComposeWarning cannot be built in an invalid state."""
    good = compose(origin="example.com", code="123456")
    with pytest.raises(InputError):
        ComposedMessage(
            text="no origin line",
            origin=good.origin,
            code=good.code,
            embedded_origin=None,
            encoding="gsm7",
            length=14,
            segments=1,
            byte_size=13,
        )
    with pytest.raises(InputError):
        SmsSize(encoding="latin1", length=1, segments=1, byte_size=1)  # type: ignore[arg-type]
    with pytest.raises(InputError):
        SmsSize(encoding="gsm7", length=1, segments=0, byte_size=1)
    with pytest.raises(InputError):
        ComposeWarning(reason="", message="")


def test_measure_refuses_lone_surrogates() -> None:
    """Text that is not valid Unicode cannot be measured as UCS-2."""
    with pytest.raises(InputError):
        measure("a\ud800")


def test_render_template_refuses_non_text() -> None:
    """A template that is not text raises InputError."""
    with pytest.raises(InputError):
        render_template(b"{code}", code="1", origin="a.b")  # type: ignore[arg-type]


def test_errors_pickle() -> None:
    """Codec errors survive pickling with their fields (process pools, multiprocessing)."""
    format_error = FormatError("no-origin-line", "the last line does not start with '@'")
    input_error = InputError("code", "empty-code", "the code is empty")
    again_f = pickle.loads(pickle.dumps(format_error))  # noqa: S301 (bytes we just made)
    again_i = pickle.loads(pickle.dumps(input_error))  # noqa: S301 (bytes we just made)
    assert (again_f.reason, again_f.message) == (format_error.reason, format_error.message)
    assert (again_i.key, again_i.reason, again_i.problem) == (
        "code",
        "empty-code",
        "the code is empty",
    )


#: the kinds of character a part boundary can fall on: GSM-7 basic, GSM-7 extension (an
#: escape pair each, TS 23.038 §6.2.1.1), UCS-2 in the BMP, emoji (a UTF-16 surrogate pair)
_GSM7_BASIC = st.sampled_from("aZ09 @$\n.#")
_GSM7_EXTENSION = st.sampled_from("€{}[]~^|\\")
_UCS2 = st.sampled_from("çжй中")
_EMOJI = st.sampled_from("😀🔑👍🏽")


def _runs(alphabet: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Texts made of runs of one character, so part boundaries fall inside long texts."""
    runs = st.lists(st.tuples(alphabet, st.integers(1, 170)), max_size=5)
    return runs.map(lambda rs: "".join(ch * n for ch, n in rs))


SEGMENT_TEXTS = st.one_of(
    _runs(st.one_of(_GSM7_BASIC, _GSM7_EXTENSION)),
    _runs(st.one_of(_GSM7_BASIC, _GSM7_EXTENSION, _UCS2, _EMOJI)),
)


@settings(deadline=None)  # shared 2-core CI: no per-example deadline
@given(
    text=SEGMENT_TEXTS,
    kind=st.one_of(
        st.tuples(st.just(8), st.integers(0, 255)),
        st.tuples(st.just(16), st.integers(256, 0xFFFF)),
    ),
)
def test_measured_segments_equal_the_pdus_sent(text: str, kind: tuple[int, int]) -> None:
    """measure() counts exactly the PDUs encode_submit makes, for 8- and 16-bit references."""
    bits, reference = kind
    pdus = encode_submit("+15551234567", text, concat_reference=reference)
    assert measure(text, reference_bits=bits).segments == len(pdus)
    if bits == 8:
        assert measure(text).segments == len(pdus)  # the default is the dispatcher's kind


@pytest.mark.parametrize(
    ("text", "bits", "reference", "segments"),
    [
        ("a" * 306, 8, 7, 2),  # 2 x 153 septets
        ("a" * 306, 16, 300, 3),  # 2 x 152 septets and 2 more
        ("a" * 304, 16, 300, 2),
        ("ж" * 134, 8, 7, 2),  # 2 x 67 UCS-2 units
        ("ж" * 134, 16, 300, 3),  # 2 x 66 units and 2 more
    ],
)
def test_segments_at_the_16_bit_boundary(
    text: str, bits: int, reference: int, segments: int
) -> None:
    """A 16-bit reference costs one septet (GSM-7) or one unit (UCS-2) per part."""
    assert measure(text, reference_bits=bits).segments == segments
    assert len(encode_submit("+15551234567", text, concat_reference=reference)) == segments


def test_measure_refuses_other_reference_sizes() -> None:
    """Only 8- and 16-bit concatenation references exist (TS 23.040 §9.2.3.24.1/.8)."""
    with pytest.raises(ValueError, match="8 or 16"):
        measure("a", reference_bits=12)
