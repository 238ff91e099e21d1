"""Text from outside, made safe for a terminal: control and format characters escaped.

A code, an origin, a sender or an operator name comes from an SMS or a modem; printed
raw, an ESC sequence in it could move the cursor, rewrite earlier lines or set the
window title, and a bidi override (U+202E) could make "1234" display as "4321". Every
CLI command prints such text through :func:`printable` in its human output (JSON
output is escaped by ``json.dumps`` already).
"""

from __future__ import annotations


def printable(value: str) -> str:
    """Return ``value`` with every non-printable character as a Python escape.

    Non-printable is what :meth:`str.isprintable` says (C0/C1 controls, DEL, format
    characters such as U+202E, line and paragraph separators, lone surrogates), except
    the plain SPACE: ``"12\\x1b[2J"`` becomes ``12\\x1b[2J`` with a literal backslash.
    Printable text comes back unchanged, so a script reading a code gets the code.
    Raises nothing.
    """
    if value.isprintable():
        return value
    return "".join(
        ch
        if ch.isprintable() or ch == " "
        else ch.encode("unicode_escape", "backslashreplace").decode("ascii")
        for ch in value
    )
