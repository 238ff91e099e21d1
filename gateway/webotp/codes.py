"""One-time codes: generation with :mod:`secrets` and the checks a code we send must pass."""

from __future__ import annotations

import secrets
import unicodedata

from gateway.webotp.errors import InputError

DEFAULT_ALPHABET = "0123456789"
DEFAULT_LENGTH = 6
#: a generated code longer than this is a mistake (it alone would fill a third of an SMS)
MAX_LENGTH = 64


def generate_code(length: int = DEFAULT_LENGTH, alphabet: str = DEFAULT_ALPHABET) -> str:
    """Return a uniformly random code of ``length`` characters drawn from ``alphabet``.

    Uses :func:`secrets.choice`. Raises :class:`InputError` if ``length`` is not an
    integer in 1..64 or ``alphabet`` has fewer than two characters, repeats one, or holds
    a character a code must not contain (whitespace, control, ``#``).
    """
    if isinstance(length, bool) or not isinstance(length, int):
        raise InputError("length", "not-integer", "the code length must be an integer")
    if not 1 <= length <= MAX_LENGTH:
        raise InputError("length", "out-of-range", f"the code length must be 1..{MAX_LENGTH}")
    if not isinstance(alphabet, str):
        raise InputError("alphabet", "not-text", "the alphabet must be text")
    if len(set(alphabet)) != len(alphabet):
        raise InputError(
            "alphabet", "repeated-character", "the alphabet repeats a character (biased codes)"
        )
    if len(alphabet) < 2:
        raise InputError("alphabet", "too-small", "the alphabet needs at least two characters")
    if "#" in alphabet:
        raise InputError(
            "alphabet", "hash", "the alphabet must not contain '#' (Chromium ends the code there)"
        )
    problem = code_problem(alphabet)
    if problem is not None:
        raise InputError("alphabet", problem[0], problem[1].replace("the code", "the alphabet"))
    return "".join(secrets.choice(alphabet) for _ in range(length))


#: the longest code a received message may carry. The format sets no limit (WICG
#: sms-one-time-codes: every character up to the next ASCII whitespace); a real OTP is 4-10
#: characters and ours are at most :data:`MAX_LENGTH`, so anything longer is refused.
MAX_RECEIVED_LENGTH = MAX_LENGTH
#: Unicode categories a received code may not hold: controls (ESC sequences), format
#: characters (bidi overrides that reorder what the user sees, zero-width characters),
#: surrogates, private use, unassigned, and spaces/separators other than ASCII whitespace
#: (which already ends a code): a person could not type such a code back.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"})


def received_code_problem(code: str) -> tuple[str, str] | None:
    """Return ``(reason, sentence)`` if a received ``code`` is not one we relay, else None.

    The parser (:func:`gateway.webotp.parse`) accepts what the format allows: any
    characters but ASCII whitespace, any length. Relayed codes are bounded further:
    1-:data:`MAX_RECEIVED_LENGTH` characters (``code-too-long``), none of them a control,
    format, separator, private-use, unassigned or surrogate character
    (``code-bad-character``). The sentence names the position, never the code.
    """
    if len(code) > MAX_RECEIVED_LENGTH:
        return ("code-too-long", f"the code is longer than {MAX_RECEIVED_LENGTH} characters")
    for pos, ch in enumerate(code):
        if unicodedata.category(ch) in _REFUSED_CATEGORIES:
            return (
                "code-bad-character",
                f"the code holds U+{ord(ch):04X} ({unicodedata.category(ch)}) at position {pos}",
            )
    return None


def code_problem(code: str) -> tuple[str, str] | None:
    """Return ``(reason, sentence)`` if ``code`` cannot be sent as a code, else None.

    A code must be non-empty and hold no whitespace (any Unicode space ends or corrupts
    it on some receiver), no control character and no lone surrogate (not encodable).
    The sentence names the position, never the code itself.
    """
    if not code:
        return ("empty-code", "the code is empty")
    for pos, ch in enumerate(code):
        if ch.isspace():
            return ("code-whitespace", f"the code contains whitespace at position {pos}")
        category = unicodedata.category(ch)
        if category == "Cs":
            return ("code-not-unicode", f"the code is not valid Unicode at position {pos}")
        if category == "Cc":
            return ("code-control", f"the code contains a control character at position {pos}")
    return None
