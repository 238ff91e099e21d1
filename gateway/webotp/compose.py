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

from gateway import gsm7
from gateway.webotp.codes import code_problem
from gateway.webotp.errors import FormatError, InputError
from gateway.webotp.hosts import normalise_host
from gateway.webotp.parse import parse

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
    :func:`gateway.gsm7.split_parts`, that :func:`gateway.sms.encode_submit` uses: each
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
    :data:`DEFAULT_TEMPLATE`. The result always parses back (strict mode) to the same
    origin, code and embedded origin. Raises :class:`InputError` naming the key
    (``origin``, ``embedded_origin``, ``code``, ``text``) and the problem.
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
    try:
        parsed = parse(message)
    except FormatError as exc:  # pragma: no cover - every input was checked above
        raise InputError("text", "not-reparseable", exc.message) from exc
    expected = (host, code, embedded)
    if (parsed.origin, parsed.code, parsed.embedded_origin) != expected:  # pragma: no cover
        raise InputError("text", "not-reparseable", "the message does not parse back")
    return ComposedMessage(
        text=message,
        origin=host,
        code=code,
        embedded_origin=embedded,
        encoding=size.encoding,
        length=size.length,
        segments=size.segments,
        byte_size=size.byte_size,
        warnings=_warnings(
            message, human=human, code=code, origin=host, embedded=embedded, size=size
        ),
    )


def _origin_line(origin: str, code: str, embedded: str | None) -> str:
    """Return ``@origin #code`` with `` @embedded`` when there is one."""
    return f"@{origin} #{code}" + ("" if embedded is None else f" @{embedded}")


def _checked_host(key: str, host: object) -> str:
    """Return the normalised host or raise InputError naming ``key``."""
    if not isinstance(host, str):
        raise InputError(key, "not-text", "the host must be text")
    try:
        return normalise_host(host)
    except FormatError as exc:
        raise InputError(key, exc.reason, exc.message) from exc


def _warnings(
    message: str, *, human: str, code: str, origin: str, embedded: str | None, size: SmsSize
) -> tuple[ComposeWarning, ...]:
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
    if code.startswith("#"):
        warn("code-starts-with-hash", "the code starts with '#'; Chromium rejects the message")
    elif "#" in code:
        warn("code-contains-hash", "the code contains '#'; Chromium cuts the code there")
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
            "the human text has a line starting with '@'; only the last line is the origin "
            "line, but search-based readers (Chromium) may take the first",
        )
    if "#" not in code:
        try:
            chromium = parse(message, mode="chromium")
        except FormatError:
            chromium = None
        if chromium is None or (chromium.origin, chromium.code, chromium.embedded_origin) != (
            origin,
            code,
            embedded,
        ):
            warn(
                "chromium-differs",
                "Chromium would not read this origin and code (it needs an ASCII host without "
                "brackets and takes the first '@host #code' anywhere in the text)",
            )
    return tuple(out)
