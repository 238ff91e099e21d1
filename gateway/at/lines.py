"""Pure helpers on decoded response lines: final results, tags and parameter fields."""

from __future__ import annotations

import re
from dataclasses import dataclass

from gateway.at.errors import cme_code_from_text, cms_code_from_text
from gateway.at.events import Final

#: whole-line final results (V.250 §5.7.1; TS 27.007 §5.7). Some firmwares spell the
#: error differently; those spellings are listed as plain ERROR.
_PLAIN_FINALS = {
    "OK": Final.OK,
    "ERROR": Final.ERROR,
    "COMMAND NOT SUPPORT": Final.ERROR,
    "NO CARRIER": Final.NO_CARRIER,
    "BUSY": Final.BUSY,
    "NO ANSWER": Final.NO_ANSWER,
    "NO DIALTONE": Final.NO_DIALTONE,
    "NO DIAL TONE": Final.NO_DIALTONE,
}

_HEX = re.compile(r"(?:[0-9A-Fa-f]{2})+")
_INT = re.compile(r"\d{1,9}")


@dataclass(frozen=True, slots=True, kw_only=True)
class FinalResult:
    """A parsed final result line."""

    final: Final
    code: int | None = None
    text: str | None = None


def parse_final(line: str) -> FinalResult | None:
    """Return the final result ``line`` carries, or ``None`` if it is not one."""
    plain = _PLAIN_FINALS.get(line.upper())
    if plain is not None:
        return FinalResult(final=plain)
    for label, final in (("+CME ERROR", Final.CME_ERROR), ("+CMS ERROR", Final.CMS_ERROR)):
        if line.upper().startswith(label):
            rest = line[len(label) :].lstrip(": ").strip()
            if _INT.fullmatch(rest):
                return FinalResult(final=final, code=int(rest))
            lookup = cme_code_from_text if final is Final.CME_ERROR else cms_code_from_text
            return FinalResult(final=final, code=lookup(rest), text=rest or None)
    return None


def tag_of(line: str) -> str | None:
    """Return the ``+XYZ``/``^XYZ`` tag before the colon, or ``None`` for untagged lines."""
    if line[:1] not in ("+", "^", "*", "$", "#"):
        return None
    head, colon, _ = line.partition(":")
    if not colon and " " in head:
        return None
    return head.strip().upper()


def fields(line: str) -> list[str]:
    """Split the parameters after ``TAG:`` at commas outside quotes (quotes are kept)."""
    _, _, rest = line.partition(":")
    out: list[str] = []
    current: list[str] = []
    quoted = False
    for char in rest.strip():
        if char == '"':
            quoted = not quoted
        if char == "," and not quoted:
            out.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    out.append("".join(current).strip())
    return out


def unquote(field: str) -> str:
    """Return ``field`` without surrounding double quotes."""
    if len(field) >= 2 and field[0] == field[-1] == '"':
        return field[1:-1]
    return field


def is_int(field: str) -> bool:
    """True when ``field`` is an unquoted decimal integer."""
    return bool(_INT.fullmatch(field))


def is_hex(line: str) -> bool:
    """True when ``line`` is an even-length run of hex digits (a PDU line)."""
    return bool(_HEX.fullmatch(line))


def pdu_text(line: str) -> str | None:
    """Return the PDU hex a ``+CMGR``/``+CMGL`` PDU line carries, or ``None`` if it is none.

    Tolerates one stray ``"`` after the hex: a real modem's ``AT+CMGR`` reply recorded in
    gammu's test data (tests/at-sms/04.dump) ends its PDU line so. A quote cannot be part
    of a PDU (TS 27.005 §3.1: <pdu> is hex digits only), so dropping it loses nothing;
    anything else that is not hex is still refused.
    """
    text = line[:-1] if line.endswith('"') else line
    return text if is_hex(text) else None
