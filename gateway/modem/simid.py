"""Before a PIN is entered: which SIM is this (ICCID) and how many PIN attempts are left.

The ICCID names the card, so a PIN it rejected is never sent to it again, whichever port
or restart it comes back on. EF_ICCID is readable before the PIN (access ALW, TS 51.011
§10.1.1 / TS 102 221 §13.2); modems expose it as AT+CCID or AT+ICCID (vendor commands;
SIM800 answers a bare number) or through the standard restricted SIM access AT+CRSM READ
BINARY (TS 27.007 §8.18). Remaining attempts: AT+CPINR (TS 27.007 §8.65), else a vendor
command found by manufacturer. Parsers are pure; the readers take a tolerant runner.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from gateway.at import Command, Kind
from gateway.at.events import Response
from gateway.at.lines import fields, tag_of, unquote

Tolerant = Callable[[Command], Awaitable[Response | None]]

_ICCID = re.compile(r"89\d{16,18}")  # ITU-T E.118: 89 (telecom) + up to 20 digits


def parse_iccid(lines: tuple[str, ...]) -> str | None:
    """Return the ICCID in ``+CCID:``/``+ICCID:``/``^ICCID:`` or bare reply lines, or None.

    A trailing F (padding) or check character is dropped; anything not ``89`` plus 16-18
    digits is refused.
    """
    for line in lines:
        value = line.partition(":")[2] if tag_of(line) else line
        value = unquote(value.strip()).strip().upper().rstrip("F")
        if _ICCID.fullmatch(value):
            return value
    return None


def parse_crsm_iccid(lines: tuple[str, ...]) -> str | None:
    """Return the ICCID from ``+CRSM: 144,0,"<EF_ICCID hex>"`` (BCD, nibbles swapped), or None."""
    for line in lines:
        if tag_of(line) != "+CRSM":
            continue
        parts = fields(line)
        if len(parts) < 3 or parts[0].strip() != "144":  # SW1 0x90: normal ending
            continue
        data = unquote(parts[2].strip())
        if len(data) % 2 or not re.fullmatch(r"[0-9A-Fa-f]*", data):
            continue
        digits = "".join(data[i + 1] + data[i] for i in range(0, len(data), 2))
        return parse_iccid((digits,))
    return None


def _counter(value: str) -> int | None:
    value = unquote(value.strip())
    return int(value) if value.isdigit() and len(value) <= 3 else None


def parse_cpinr(lines: tuple[str, ...]) -> int | None:
    """Return <retries> of ``+CPINR: SIM PIN,<retries>,<default>`` (TS 27.007 §8.65), or None."""
    for line in lines:
        parts = fields(line)
        code = unquote(parts[0].strip()).upper()
        if tag_of(line) == "+CPINR" and len(parts) >= 2 and code == "SIM PIN":
            return _counter(parts[1])
    return None


def parse_spic(lines: tuple[str, ...]) -> int | None:
    """Return the PIN1 count of SIMCom ``+SPIC: <pin1>,<puk1>,<pin2>,<puk2>``, or None."""
    for line in lines:
        parts = fields(line)
        if tag_of(line) == "+SPIC" and parts:
            return _counter(parts[0])
    return None


def parse_qpinc(lines: tuple[str, ...]) -> int | None:
    """Return <pincounter> of Quectel ``+QPINC: "SC",<pincounter>,<pukcounter>``, or None."""
    for line in lines:
        parts = fields(line)
        if tag_of(line) == "+QPINC" and len(parts) >= 2 and unquote(parts[0].strip()) == "SC":
            return _counter(parts[1])
    return None


def parse_huawei_cpin(lines: tuple[str, ...]) -> int | None:
    """Return <pin_times> of Huawei ``^CPIN: <code>,[<times>],<puk_times>,<pin_times>,...``."""
    for line in lines:
        parts = fields(line)
        if tag_of(line) == "^CPIN" and len(parts) >= 4:
            return _counter(parts[3])
    return None


#: ICCID commands, most common first (parser per reply form)
ICCID_QUERIES: tuple[tuple[Command, Callable[[tuple[str, ...]], str | None]], ...] = (
    (Command(text="AT+CCID", prefixes=("+CCID",), bare=True, kind=Kind.SIM), parse_iccid),
    (Command(text="AT+ICCID", prefixes=("+ICCID",), bare=True, kind=Kind.SIM), parse_iccid),
    # READ BINARY (176) of EF_ICCID (2FE2 = 12258), 10 octets (TS 27.007 §8.18)
    (
        Command(text="AT+CRSM=176,12258,0,0,10", prefixes=("+CRSM",), kind=Kind.SIM),
        parse_crsm_iccid,
    ),
)

#: manufacturer substring (lower case) -> vendor PIN counter query, when AT+CPINR fails
PIN_COUNTER_QUERIES: dict[str, tuple[Command, Callable[[tuple[str, ...]], int | None]]] = {
    "simcom": (Command(text="AT+SPIC", prefixes=("+SPIC",), kind=Kind.SIM), parse_spic),
    "quectel": (
        Command(text='AT+QPINC="SC"', prefixes=("+QPINC",), kind=Kind.SIM),
        parse_qpinc,
    ),
    "huawei": (Command(text="AT^CPIN?", prefixes=("^CPIN",), kind=Kind.SIM), parse_huawei_cpin),
}

CPINR = Command(text='AT+CPINR="SIM PIN"', prefixes=("+CPINR",), kind=Kind.SIM)
CGMI = Command(text="AT+CGMI", prefixes=("+CGMI",), bare=True)


async def read_iccid(tolerant: Tolerant) -> str | None:
    """Return the SIM's ICCID from the first command that gives one, or None."""
    for command, parse in ICCID_QUERIES:
        response = await tolerant(command)
        iccid = parse(response.lines) if response is not None else None
        if iccid is not None:
            return iccid
    return None


async def read_pin_attempts(tolerant: Tolerant) -> int | None:
    """Return how many PIN attempts the SIM has left, or None when the modem cannot say."""
    response = await tolerant(CPINR)
    left = parse_cpinr(response.lines) if response is not None else None
    if left is not None:
        return left
    identity = await tolerant(CGMI)
    if identity is None or not identity.lines:
        return None
    line = identity.lines[0]
    manufacturer = (line.partition(":")[2] if tag_of(line) else line).lower()
    for key, (command, parse) in PIN_COUNTER_QUERIES.items():
        if key in manufacturer:
            vendor = await tolerant(command)
            return parse(vendor.lines) if vendor is not None else None
    return None
