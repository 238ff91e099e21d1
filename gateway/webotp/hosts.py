"""Host validation and normalisation for origin-bound messages.

The host of ``@host #code`` is the host of an ``https`` origin: a domain (IDN allowed,
compared in its ASCII form), an IPv4 address or a bracketed IPv6 address — never a
scheme, port, path, query, userinfo or trailing dot (WICG sms-one-time-codes §parsing,
the host-validity step of June 2020 that Chromium enforces). Domains are held to the
WHATWG URL "valid domain" rules: UTS 46 mapping (IDNA 2008, non-transitional), then
letters, digits and hyphens per label, 63 octets per label, 253 in all.
"""

from __future__ import annotations

import ipaddress
import re

import idna

from gateway.webotp.errors import FormatError, show

#: WHATWG URL "forbidden host code points" plus the extra "forbidden domain code points"
#: (C0 controls, '%', DEL); whitespace and the URL delimiters get their own reasons first.
_FORBIDDEN = frozenset("\x00\t\n\r #/:<>?@[\\]^|%\x7f") | frozenset(map(chr, range(0x20)))
_LDH_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\Z")
_SCHEME_PREFIX = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
_DECIMAL = re.compile(r"(?:0|[1-9][0-9]{0,2})\Z")
_IPV4_LIKE_LAST = re.compile(r"(?:[0-9]+|0[xX][0-9A-Fa-f]*)\Z")
_MAX_LABEL = 63
_MAX_HOST = 253
#: refuse before UTS 46 mapping (which can drop characters such as U+00AD) to bound work
_MAX_RAW = 1024


def normalise_host(host: str) -> str:
    """Return ``host`` in the form an origin-bound message carries it.

    Domains come back lowercase ASCII with IDN labels in punycode, IPv4 as dotted decimal,
    IPv6 compressed in brackets (``[2001:db8::1]``). Raises :class:`FormatError` whose
    ``reason`` names the problem: ``empty-host``, ``host-whitespace``, ``host-has-scheme``,
    ``host-has-userinfo``, ``host-has-path``, ``host-has-port``, ``host-trailing-dot``,
    ``host-forbidden-code-point``, ``bad-ipv4``, ``bad-ipv6``, ``bad-idn``,
    ``host-too-long`` or ``bad-host``.
    """
    if not isinstance(host, str):
        raise FormatError("bad-host", f"a host must be text, not {type(host).__name__}")
    if not host:
        raise FormatError("empty-host", "the host is empty")
    if len(host) > _MAX_RAW:
        raise FormatError(
            "host-too-long", f"the host is {len(host)} characters long; DNS allows {_MAX_HOST}"
        )
    _check_delimiters(host)
    if host.startswith("["):
        return _normalise_ipv6(host)
    if ":" in host:
        _raise_for_colon(host)
    mapped = _map(host)
    for ch in mapped:
        if ch in _FORBIDDEN or ch.isspace():
            raise FormatError(
                "host-forbidden-code-point",
                f"the host {show(host)} contains the forbidden code point U+{ord(ch):04X}",
            )
    if mapped.endswith("."):
        raise FormatError(
            "host-trailing-dot",
            f"the host {show(host)} ends with a dot; the origin of a page has none",
        )
    labels = mapped.split(".")
    if _IPV4_LIKE_LAST.match(labels[-1]):
        return _normalise_ipv4(host, labels)
    ascii_labels = [_label_to_ascii(host, label) for label in labels]
    result = ".".join(ascii_labels)
    if len(result) > _MAX_HOST:
        raise FormatError(
            "host-too-long", f"the host is {len(result)} octets long; DNS allows {_MAX_HOST}"
        )
    return result


def is_ip_literal(host: str) -> bool:
    """Return True if the normalised ``host`` is an IPv4 address or a bracketed IPv6 one."""
    if host.startswith("["):
        return True
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        return False
    return True


def _check_delimiters(host: str) -> None:
    """Raise for whitespace, invalid Unicode and URL parts around or inside the host."""
    for ch in host:
        if ch.isspace():
            raise FormatError(
                "host-whitespace", f"the host {show(host)} contains whitespace U+{ord(ch):04X}"
            )
        if 0xD800 <= ord(ch) <= 0xDFFF:
            raise FormatError("bad-host", f"the host {show(host)} is not valid Unicode")
    if "://" in host or (
        (m := _SCHEME_PREFIX.match(host)) and m.group().lower() in {"http:", "https:"}
    ):
        raise FormatError(
            "host-has-scheme",
            f"{show(host)} has a scheme; write the bare host (the origin is always https)",
        )
    if "@" in host:
        raise FormatError(
            "host-has-userinfo", f"{show(host)} has userinfo ('@'); write the bare host"
        )
    for ch in "/?#\\":
        if ch in host:
            raise FormatError(
                "host-has-path",
                f"{show(host)} contains {ch!r} (a path, query or fragment); write the bare host",
            )


def _raise_for_colon(host: str) -> None:
    """Raise the right error for an unbracketed host containing ':'."""
    left, _, right = host.rpartition(":")
    if ":" not in left and (right == "" or right.isdigit()):
        raise FormatError(
            "host-has-port", f"{show(host)} has a port; origin-bound hosts never carry one"
        )
    if host.count(":") >= 2:
        raise FormatError(
            "bad-ipv6", f"{show(host)} looks like an IPv6 address; write it in brackets"
        )
    raise FormatError(
        "host-forbidden-code-point", f"the host {show(host)} contains the forbidden code point ':'"
    )


def _normalise_ipv6(host: str) -> str:
    """Return the bracketed, compressed, lowercase form of an IPv6 literal."""
    if "]:" in host:
        raise FormatError(
            "host-has-port", f"{show(host)} has a port; origin-bound hosts never carry one"
        )
    inner = host[1:-1] if host.endswith("]") else None
    if inner is None or not inner.isascii() or "%" in inner or "[" in inner or "]" in inner:
        raise FormatError("bad-ipv6", f"{show(host)} is not a bracketed IPv6 address")
    try:
        address = ipaddress.IPv6Address(inner)
    except ValueError:
        raise FormatError("bad-ipv6", f"{show(host)} is not a valid IPv6 address") from None
    return f"[{address.compressed}]"


def _normalise_ipv4(host: str, labels: list[str]) -> str:
    """Return a dotted-decimal IPv4 host; shorthand, octal and hex forms are refused."""
    # WHATWG URL would rewrite "0x7f.1" or "010.0.0.1" to another address; an origin-bound
    # message must name the page's exact host, so only the canonical form is accepted.
    if len(labels) != 4 or not all(_DECIMAL.match(p) and int(p) <= 255 for p in labels):
        raise FormatError(
            "bad-ipv4",
            f"{show(host)} ends in a number but is not an IPv4 address in dotted decimal "
            "(four numbers 0-255, no leading zeros)",
        )
    return ".".join(labels)


def _map(host: str) -> str:
    """Return the UTS 46 mapping of ``host`` (lowercase, width-folded)."""
    if host.isascii():
        return host.lower()
    try:
        return idna.uts46_remap(host, std3_rules=False, transitional=False)
    except (idna.IDNAError, UnicodeError, ValueError):
        raise FormatError(
            "bad-idn", f"the host {show(host)} is not a valid internationalised domain name"
        ) from None


def _label_to_ascii(host: str, label: str) -> str:
    """Return one domain label in ASCII (punycode for IDN) after checking its form."""
    if not label:
        raise FormatError("bad-host", f"the host {show(host)} has an empty label ('..')")
    if not label.isascii():
        try:
            label = idna.alabel(label).decode("ascii")
        except (idna.IDNAError, UnicodeError, ValueError):
            raise FormatError(
                "bad-idn", f"the host {show(host)} is not a valid internationalised domain name"
            ) from None
    elif label.startswith("xn--"):
        # An A-label must decode and encode back to itself (RFC 5891 §5.4), so that one
        # name has one spelling and allow-list comparison stays exact.
        try:
            canonical = idna.alabel(idna.ulabel(label)).decode("ascii")
        except (idna.IDNAError, UnicodeError, ValueError):
            canonical = ""
        if canonical != label:
            raise FormatError(
                "bad-idn", f"the host {show(host)} has an invalid punycode label"
            ) from None
    if len(label) > _MAX_LABEL:
        raise FormatError(
            "host-too-long", f"a label of {show(host)} is longer than {_MAX_LABEL} octets"
        )
    if not _LDH_LABEL.match(label):
        raise FormatError(
            "bad-host",
            f"the host {show(host)} is not a valid domain: labels are letters, digits and "
            "hyphens, not starting or ending with a hyphen",
        )
    return label
