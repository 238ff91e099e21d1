"""Parse the origin-bound line ``@host #code [@embedded]`` out of a received SMS.

Two modes:

- ``strict`` follows WICG sms-one-time-codes §parsing (with its June 2020 host-validity
  step): only the last line counts and it must be exactly ``@host #code``.
- ``chromium`` reproduces Chromium's ``content/browser/sms/sms_parser.cc``: the first
  match of a pattern anywhere in the text, ASCII host characters only, ``#`` ends the
  code.

Pure: text in, a frozen :class:`OriginBoundCode` out, or :class:`FormatError`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, NoReturn

from gateway.webotp.errors import FormatError, InputError
from gateway.webotp.hosts import normalise_host

Mode = Literal["strict", "chromium"]
MODES: tuple[Mode, ...] = ("strict", "chromium")

#: Infra "ASCII whitespace": TAB, LF, FF, CR, SPACE (not U+000B, not NBSP).
ASCII_WHITESPACE = "\t\n\f\r "
_WS = frozenset(ASCII_WHITESPACE)

#: how many lines before the last one are searched for a misplaced code line
_FOOTER_LINES = 10
_CODE_LINE_SHAPE = re.compile(r"@[^\t\n\f\r ]+ #[^\t\n\f\r ]")

#: Chromium's pattern. RE2's ``\s`` is exactly [\t\n\f\r ], written out so Python's
#: Unicode-aware ``\s`` (which adds U+000B, NBSP, …) cannot creep in.
_CHROMIUM = re.compile(
    r"(?:^|[\t\n\f\r ])@([A-Za-z0-9.-]+) #([^#\t\n\f\r ]+)(?: @([A-Za-z0-9.-]+))?"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class OriginBoundCode:
    """A one-time code bound to ``origin`` (and, for an iframe, ``embedded_origin``).

    Hosts are normalised (lowercase ASCII, punycode, bracketed IPv6). ``scheme`` is
    ``https`` except where Chromium treats a localhost host as ``http``.
    """

    origin: str
    code: str
    embedded_origin: str | None = None
    scheme: Literal["https", "http"] = "https"

    def __post_init__(self) -> None:
        _check_host_field("origin", self.origin)
        if self.embedded_origin is not None:
            _check_host_field("embedded_origin", self.embedded_origin)
        if not isinstance(self.code, str) or not self.code:
            raise InputError("code", "empty-code", "the code must be non-empty text")
        if any(ch in _WS for ch in self.code):
            raise InputError(
                "code", "code-whitespace", "the code must not contain ASCII whitespace"
            )
        if self.scheme not in ("https", "http"):
            raise InputError("scheme", "bad-scheme", "the scheme must be 'https' or 'http'")

    @property
    def origin_url(self) -> str:
        """Return the serialised origin, e.g. ``https://example.com``."""
        return f"{self.scheme}://{self.origin}"


def _check_host_field(key: str, host: object) -> None:
    """Raise InputError unless ``host`` is already a normalised host."""
    if not isinstance(host, str):
        raise InputError(key, "bad-host", "must be text")
    try:
        normal = normalise_host(host)
    except FormatError as exc:
        raise InputError(key, exc.reason, exc.message) from exc
    if normal != host:
        raise InputError(key, "not-normalised", f"write the host as {normal!r}")


def parse(text: str, *, mode: Mode = "strict") -> OriginBoundCode:
    """Return the origin-bound code carried by the SMS ``text``.

    Raises :class:`FormatError` (``reason`` e.g. ``no-origin-line``, ``trailing-newline``,
    ``bad-separator``, ``empty-code``, a host reason, or ``embedded-`` + a host reason) when
    the text is not a valid origin-bound message, and :class:`InputError` for an unknown
    ``mode`` or a ``text`` that is not a string.
    """
    if not isinstance(text, str):
        raise InputError("text", "not-text", f"expected str, not {type(text).__name__}")
    if mode == "strict":
        return _parse_strict(text)
    if mode == "chromium":
        return _parse_chromium(text)
    raise InputError("mode", "bad-mode", f"unknown mode {mode!r}; use 'strict' or 'chromium'")


def _parse_strict(text: str) -> OriginBoundCode:
    """WICG sms-one-time-codes §parsing, step by step."""
    if not text:
        raise FormatError("empty-message", "the message is empty")
    # Step 1: normalise newlines (CRLF, then lone CR, to LF); only the last line counts.
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    head, _, line = text.rpartition("\n")
    if not line.startswith("@"):
        _raise_no_origin_line(text, head, line)
    # Step 3: the host runs to the first ASCII whitespace.
    end = _token_end(line, 1)
    host = line[1:end]
    if not host:
        raise FormatError("empty-host", "nothing follows '@' on the last line")
    _check_separator_inside(host)
    origin = _host(host, "")
    # Step 4: exactly one SPACE, then '#'.
    if end == len(line):
        raise FormatError("missing-code", "the last line has a host but no ' #code'")
    if line[end] != " ":
        raise FormatError(
            "bad-separator",
            f"the host is followed by U+{ord(line[end]):04X}; write exactly one SPACE before '#'",
        )
    if line.startswith(" ", end + 1):
        raise FormatError(
            "bad-separator", "the host is followed by two spaces; write exactly one before '#'"
        )
    if not line.startswith("#", end + 1):
        raise FormatError("missing-hash", "the host is not followed by ' #' and the code")
    # Step 5: the code runs to the next ASCII whitespace; any other character is allowed.
    code_end = _token_end(line, end + 2)
    code = line[end + 2 : code_end]
    if not code:
        raise FormatError("empty-code", "nothing follows '#'")
    # Step 6: an optional embedded host after exactly one SPACE and '@'; anything else
    # there is ignored (step 7), so the message stays valid.
    embedded = None
    if line.startswith(" @", code_end):
        token = line[code_end + 2 : _token_end(line, code_end + 2)]
        if token:
            embedded = _host(token, "embedded-")
    return OriginBoundCode(origin=origin, code=code, embedded_origin=embedded)


def _parse_chromium(text: str) -> OriginBoundCode:
    """Chromium's search: the first match anywhere, then the hosts must be valid."""
    match = _CHROMIUM.search(text)
    if match is None:
        raise FormatError(
            "no-match",
            "no '@host #code' found anywhere (Chromium: ASCII host, one SPACE, '#', "
            "code without '#' or whitespace)",
        )
    host, code, embedded_token = match.groups()
    # Chromium builds GURL("https://" + host); we hold the host to our validity rules,
    # which refuse what could not be a page's exact host (trailing dot, "..", numeric
    # shorthand) — such a code would never reach a page anyway.
    origin = _host(host, "")
    embedded = _host(embedded_token, "embedded-") if embedded_token else None
    # Chromium: net::IsLocalhost(url) -> the origin is http://, not https://.
    scheme: Literal["https", "http"] = "http" if _is_localhost(origin) else "https"
    return OriginBoundCode(origin=origin, code=code, embedded_origin=embedded, scheme=scheme)


def _is_localhost(host: str) -> bool:
    """Return True for the names and addresses Chromium's net::IsLocalhost accepts."""
    if host in ("localhost", "localhost.localdomain") or host.endswith(".localhost"):
        return True
    parts = host.split(".")
    return len(parts) == 4 and parts[0] == "127" and all(p.isdigit() for p in parts)


def _token_end(line: str, start: int) -> int:
    """Return the index of the first ASCII whitespace at or after ``start`` (or the end)."""
    for i in range(start, len(line)):
        if line[i] in _WS:
            return i
    return len(line)


def _check_separator_inside(host: str) -> None:
    """Name the common mistakes that leave the separator inside the host token."""
    for i, ch in enumerate(host):
        if ch == "#":
            raise FormatError("bad-separator", "no SPACE between the host and '#'")
        if ch.isspace() and host.startswith("#", i + 1):
            raise FormatError(
                "bad-separator",
                f"the host is followed by U+{ord(ch):04X}, which is not an ASCII space; "
                "write exactly one SPACE before '#'",
            )


def _host(token: str, prefix: str) -> str:
    """Return the normalised host; errors get ``prefix`` on their reason."""
    try:
        return normalise_host(token)
    except FormatError as exc:
        which = "embedded host" if prefix else "host"
        raise FormatError(prefix + exc.reason, f"{which}: {exc.message}") from None


def _raise_no_origin_line(text: str, head: str, line: str) -> NoReturn:
    """Raise the most helpful error for a last line that does not start with '@'."""
    stripped = text.rstrip("\n")
    if line == "" and stripped and stripped.rpartition("\n")[2].startswith("@"):
        raise FormatError(
            "trailing-newline",
            "the message ends with a line break after the code line; the last line must "
            "be the '@host #code' line",
        )
    # A diagnostic only (the message is invalid either way): look for the shape of a code
    # line among the last few lines, without validating hosts, so hostile input stays cheap.
    for earlier in stripped.split("\n")[-_FOOTER_LINES - 1 : -1] if head else []:
        if _CODE_LINE_SHAPE.match(earlier):
            raise FormatError(
                "code-line-not-last",
                "a '@host #code' line is followed by more text (a footer?); it must be last",
            )
    if line.lstrip().startswith("@"):
        raise FormatError(
            "no-origin-line", "the last line has something before '@'; '@' must come first"
        )
    if text.strip() == "":
        raise FormatError("empty-message", "the message holds only whitespace")
    raise FormatError("no-origin-line", "the last line does not start with '@host #code'")
