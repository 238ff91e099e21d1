"""Compose the SMS we send: human text, a blank line, then ``@host #code [@embedded]``.

The origin-bound line is always last, single-spaced, with no trailing newline (WICG
sms-one-time-codes §format). The result reports its GSM-7 or UCS-2 size (TS 23.038,
TS 23.040 §9.2.3.24.1) and warns about what breaks delivery or autofill in practice.

Template language (``text``): ``{code}`` becomes the code, ``{origin}`` the ASCII host,
``{{`` and ``}}`` a literal brace; any other brace is an error. ``text=None`` uses
:data:`DEFAULT_TEMPLATE`; ``text=""`` sends the origin-bound line alone.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

from gateway.sms import gsm7
from gateway.webotp.codes import code_problem
from gateway.webotp.errors import FormatError, InputError
from gateway.webotp.hosts import normalise_host
from gateway.webotp.parse import MODES, Mode, parse

DEFAULT_TEMPLATE = "Your code is {code}."
#: Chrome's guidance for the whole message; Android's SMS Retriever wants <= 140 bytes.
MAX_RECOMMENDED_CHARS = 140

Encoding = Literal["gsm7", "ucs2"]
_TEMPLATE_TOKEN = re.compile(r"\{\{|\}\}|\{code\}|\{origin\}|[{}]")
#: Android SMS User Consent passes a message on only if it holds a 4-10 character
#: alphanumeric string with at least one digit.
_ALNUM_RUN = re.compile(r"[A-Za-z0-9]+")
_ALLOWED_CONTROLS = frozenset("\t\n\r\f")


@dataclass(frozen=True, slots=True, kw_only=True)
class ComposeWarning:
    """Something about a composed message that may stop it working: a token and a sentence."""

    reason: str
    message: str

    def __post_init__(self) -> None:
        if not self.reason or not self.message:
            raise InputError("warning", "empty", "a warning needs a reason and a message")


@dataclass(frozen=True, slots=True, kw_only=True)
class SmsSize:
    """How an SMS text travels: encoding, length in its units, parts, user-data octets."""

    encoding: Encoding
    length: int
    segments: int
    byte_size: int

    def __post_init__(self) -> None:
        if self.encoding not in ("gsm7", "ucs2"):
            raise InputError("encoding", "bad-encoding", "must be 'gsm7' or 'ucs2'")
        if self.length < 0 or self.segments < 1 or self.byte_size < 0:
            raise InputError("size", "negative", "sizes must be >= 0 and segments >= 1")


@dataclass(frozen=True, slots=True, kw_only=True)
class ComposedMessage:
    """An SMS text ready to send, with its size and warnings.

    ``length`` is in septets (``gsm7``) or UTF-16 code units (``ucs2``); ``byte_size``
    is the octets of the encoded text (packed septets or UCS-2), without concatenation
    headers.
    """

    text: str
    origin: str
    code: str
    embedded_origin: str | None
    encoding: Encoding
    length: int
    segments: int
    byte_size: int
    warnings: tuple[ComposeWarning, ...] = ()

    def __post_init__(self) -> None:
        SmsSize(
            encoding=self.encoding,
            length=self.length,
            segments=self.segments,
            byte_size=self.byte_size,
        )
        if not self.text.endswith(_origin_line(self.origin, self.code, self.embedded_origin)):
            raise InputError("text", "no-origin-line", "the text must end with its origin line")


def measure(text: str, *, reference_bits: int = 8) -> SmsSize:
    """Return the encoding, length, segment count and user-data octets of ``text``.

    GSM-7 when every character is in the default alphabet or its extension (which cost 2
    septets), else UCS-2 (an emoji costs 2 units). Segments follow the one splitting rule,
    :func:`gateway.sms.gsm7.split_parts`, that :func:`gateway.sms.encode_submit` uses: each
    part carries a concatenation header with a ``reference_bits`` (8 or 16) reference
    (TS 23.040 §9.2.3.24.1 / .8); the send dispatcher uses 8-bit references, the default.
    So the count equals the PDUs encode_submit makes (tests/test_webotp_compose.py checks
    it). Raises :class:`InputError` for text that is not valid Unicode, ValueError for
    ``reference_bits`` other than 8 or 16.
    """
    if reference_bits not in (8, 16):
        raise ValueError("a concatenation reference has 8 or 16 bits")
    udh = gsm7.CONCAT_UDH_8 if reference_bits == 8 else gsm7.CONCAT_UDH_16
    septets = gsm7.septet_length(text)
    if septets is not None:
        costs = [gsm7.char_septets(ch) or 0 for ch in text]
        segments = len(gsm7.split_parts(costs, "gsm7", udh))
        return SmsSize(
            encoding="gsm7", length=septets, segments=segments, byte_size=(septets * 7 + 7) // 8
        )
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in text):
        raise InputError("text", "text-not-unicode", "the text holds a lone surrogate")
    units = gsm7.ucs2_units(text)
    costs = [2 if ord(ch) > 0xFFFF else 1 for ch in text]
    segments = len(gsm7.split_parts(costs, "ucs2", udh))
    return SmsSize(encoding="ucs2", length=units, segments=segments, byte_size=units * 2)


def render_template(template: str, *, code: str, origin: str) -> str:
    """Return ``template`` with ``{code}``, ``{origin}``, ``{{`` and ``}}`` replaced.

    Raises :class:`InputError` (key ``text``) for any other brace, a control character
    other than TAB, LF, CR and FF, or a lone surrogate.
    """
    if not isinstance(template, str):
        raise InputError("text", "not-text", "the template must be text")
    for pos, ch in enumerate(template):
        category = unicodedata.category(ch)
        if category == "Cs":
            raise InputError("text", "text-not-unicode", f"not valid Unicode at position {pos}")
        if category == "Cc" and ch not in _ALLOWED_CONTROLS:
            raise InputError(
                "text", "text-control", f"control character U+{ord(ch):04X} at position {pos}"
            )
    values = {"{{": "{", "}}": "}", "{code}": code, "{origin}": origin}

    def replace(match: re.Match[str]) -> str:
        token = match.group()
        if token in values:
            return values[token]
        raise InputError(
            "text",
            "bad-placeholder",
            f"stray {token!r} at position {match.start()}; placeholders are {{code}} and "
            "{origin}, and '{{' / '}}' write a literal brace",
        )

    return _TEMPLATE_TOKEN.sub(replace, template)


def compose(
    *,
    origin: str,
    code: str,
    embedded_origin: str | None = None,
    text: str | None = None,
) -> ComposedMessage:
    """Return the SMS carrying ``code`` for ``origin`` (and ``embedded_origin``).

    ``text`` is a template (see the module docstring); None means
    :data:`DEFAULT_TEMPLATE`. The result parses back, in every mode of
    :func:`gateway.webotp.parse` (the spec's ``strict`` reader and Chromium's search), to
    exactly this origin, embedded origin and code: a message some reader would take for
    another origin or code is refused, never only warned about (see
    :func:`_check_read_back`). Raises :class:`InputError` naming the key (``origin``,
    ``embedded_origin``, ``code``, ``text``) and the problem; the refusals of that check
    have the reasons in :data:`MISREAD_REASONS`.
    """
    host = _checked_host("origin", origin)
    embedded = (
        None if embedded_origin is None else _checked_host("embedded_origin", embedded_origin)
    )
    if not isinstance(code, str):
        raise InputError("code", "not-text", "the code must be text")
    problem = code_problem(code)
    if problem is not None:
        raise InputError("code", *problem)
    human = render_template(DEFAULT_TEMPLATE if text is None else text, code=code, origin=host)
    line = _origin_line(host, code, embedded)
    message = f"{human}\n\n{line}" if human else line
    size = measure(message)
    _check_read_back(message, line, origin=host, code=code, embedded=embedded)
    return ComposedMessage(
        text=message,
        origin=host,
        code=code,
        embedded_origin=embedded,
        encoding=size.encoding,
        length=size.length,
        segments=size.segments,
        byte_size=size.byte_size,
        warnings=_warnings(message, human=human, size=size),
    )


def _origin_line(origin: str, code: str, embedded: str | None) -> str:
    """Return ``@origin #code`` with `` @embedded`` when there is one."""
    return f"@{origin} #{code}" + ("" if embedded is None else f" @{embedded}")


#: the reasons :func:`compose` gives when a reader would not read back the request: the
#: human text carries another origin (or embedded origin) or another code, or a field of
#: the request itself is read differently by one reader (a '#' in the code, an IPv6 host)
MISREAD_REASONS = ("text-forges-origin", "text-forges-code", "code-misread", "host-misread")

_Read = tuple[str, str, str | None] | None


def _read(text: str, mode: Mode) -> _Read:
    """Return (origin, code, embedded) as a ``mode`` reader reads ``text``, None if it cannot."""
    try:
        bound = parse(text, mode=mode)
    except FormatError:
        return None
    # The host is compared, not the scheme: Chromium reads a localhost host as http://,
    # which is how a page served from localhost is reached; the host is the same one.
    return (bound.origin, bound.code, bound.embedded_origin)


def _check_read_back(
    message: str, line: str, *, origin: str, code: str, embedded: str | None
) -> None:
    """Raise InputError unless every reader reads ``message`` as exactly the request.

    Compose, then parse in both modes and compare: no list of dangerous patterns to keep
    up to date. Whose fault a difference is comes from reading the origin line alone:
    when that already differs, a field of the request is the problem (``code-misread``:
    Chromium ends a code at '#'; ``host-misread``: Chromium reads only ASCII
    letters/digits/'.'/'-' hosts, so not an IPv6 literal); otherwise the human text
    carries a line a reader takes instead (``text-forges-origin`` /
    ``text-forges-code``, WICG sms-one-time-codes: Chromium takes the first
    ``@host #code`` anywhere in the text).
    """
    expected = (origin, code, embedded)
    for mode in MODES:
        got = _read(message, mode)
        if got == expected:
            continue
        alone = _read(line, mode)
        if alone != expected:
            if code.startswith("#") or (alone is not None and alone[1] != code):
                raise InputError(
                    "code",
                    "code-misread",
                    f"a {mode} reader would not read this code back (Chromium ends a code "
                    "at '#'); use letters and digits",
                )
            key = "origin" if alone is None or alone[0] != origin else "embedded_origin"
            if alone is None and embedded is not None and _read(line.rsplit(" @", 1)[0], mode):
                key = "embedded_origin"
            raise InputError(
                key,
                "host-misread",
                f"a {mode} reader would not read this host back (Chromium reads only ASCII "
                "letters, digits, '.' and '-' in a host: no IPv6 literal)",
            )
        if got is None or got[0] != origin or got[2] != embedded:
            raise InputError(
                "text",
                "text-forges-origin",
                f"a {mode} reader would read another origin from this text (it holds an "
                "'@host #code' of its own); remove it from the template",
            )
        raise InputError(
            "text",
            "text-forges-code",
            f"a {mode} reader would read another code from this text (it holds an "
            "'@host #code' of its own); remove it from the template",
        )


def _checked_host(key: str, host: object) -> str:
    """Return the normalised host or raise InputError naming ``key``."""
    if not isinstance(host, str):
        raise InputError(key, "not-text", "the host must be text")
    try:
        return normalise_host(host)
    except FormatError as exc:
        raise InputError(key, exc.reason, exc.message) from exc


def _warnings(message: str, *, human: str, size: SmsSize) -> tuple[ComposeWarning, ...]:
    """Return the warnings for a composed message, in a stable order."""
    out: list[ComposeWarning] = []

    def warn(reason: str, sentence: str) -> None:
        out.append(ComposeWarning(reason=reason, message=sentence))

    if size.segments > 1:
        unit = "septets" if size.encoding == "gsm7" else "UCS-2 units"
        warn(
            "multi-segment",
            f"the message needs {size.segments} SMS ({size.length} {unit}); parts can arrive "
            "late or out of order, and the origin line is in the last one",
        )
    if len(message) > MAX_RECOMMENDED_CHARS:
        warn(
            "over-140-characters",
            f"the message is {len(message)} characters; keep it to {MAX_RECOMMENDED_CHARS} "
            "(Chrome's guidance, Android SMS Retriever's byte limit)",
        )
    if not any(
        4 <= len(m.group()) <= 10 and any(c.isdigit() for c in m.group())
        for m in _ALNUM_RUN.finditer(message)
    ):
        warn(
            "no-consent-token",
            "no 4-10 character letters-and-digits string with a digit; Android's SMS User "
            "Consent API will not pass the message on",
        )
    if any(line.lstrip().startswith("@") for line in human.replace("\r", "\n").split("\n")):
        warn(
            "text-has-origin-line",
            "the human text has a line starting with '@'; no reader takes it for the origin "
            "line now, but a carrier that rewrites the text might make one",
        )
    return tuple(out)
