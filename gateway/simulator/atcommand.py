"""Split one AT command line into its commands and their arguments (V.250 §5.3-5.4).

``ATE0V1`` chains basic commands; ``AT+CMEE=1;+CREG=2`` joins extended commands with ``;``.
Extended names start with ``+``, ``^``, ``$``, ``%`` or ``#``; each has one of the four forms
of V.250 §5.4.2: execute (``AT+X``), set (``AT+X=...``), read (``AT+X?``), test (``AT+X=?``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from gateway.errors import ModemFault

EXTENDED_PREFIXES = "+^$%#"
DIGITS = frozenset("0123456789")
LETTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
NAME_CHARS = DIGITS | LETTERS | frozenset("_-.")
# ASCII only: str.isdigit() accepts "²", which int() then refuses (lines arrive as latin-1)
ARG_CHARS = DIGITS | LETTERS | frozenset("+-_.:")


def is_number(token: str) -> bool:
    """Return True if ``token`` is one or more ASCII digits."""
    return bool(token) and all(c in DIGITS for c in token)


class Form(enum.Enum):
    """Which of the V.250 command forms was used."""

    EXEC = "exec"
    SET = "set"
    READ = "read"
    TEST = "test"


class CommandSyntaxError(ModemFault, ValueError):
    """The command line is not valid V.250 syntax; the modem answers ``ERROR``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Command:
    """One command of a line: upper-case ``name`` (``E``, ``&F``, ``+CMGS``), form and raw args."""

    name: str
    form: Form
    args: str = ""

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("empty command name")


def split_line(line: str) -> list[Command]:
    """Return the commands of a line starting with ``AT``.

    Raises CommandSyntaxError for a line V.250 cannot parse.
    """
    if line[:2].upper() != "AT":
        raise CommandSyntaxError("line does not start with AT")
    body = line[2:]
    commands: list[Command] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch in " ;":
            i += 1
            continue
        extended = ch in EXTENDED_PREFIXES
        i = _extended(body, i, commands) if extended else _basic(body, i, commands)
    return commands


def _extended(body: str, i: int, out: list[Command]) -> int:
    j = i + 1
    while j < len(body) and body[j] in NAME_CHARS:
        j += 1
    name = body[i:j].upper()
    if len(name) < 2:
        raise CommandSyntaxError("extended command without a name")
    end = _end_of_args(body, j)
    rest = body[j:end].strip()
    if rest == "":
        out.append(Command(name=name, form=Form.EXEC))
    elif rest == "?":
        out.append(Command(name=name, form=Form.READ))
    elif rest == "=?":
        out.append(Command(name=name, form=Form.TEST))
    elif rest.startswith("="):
        out.append(Command(name=name, form=Form.SET, args=rest[1:]))
    else:
        raise CommandSyntaxError("unexpected text after an extended command name")
    return end + 1


def _end_of_args(body: str, j: int) -> int:
    """Index of the ``;`` ending this command's arguments (quotes may contain ``;``)."""
    quoted = False
    while j < len(body):
        if body[j] == '"':
            quoted = not quoted
        elif body[j] == ";" and not quoted:
            return j
        j += 1
    if quoted:
        raise CommandSyntaxError("unterminated string")
    return j


def _basic(body: str, i: int, out: list[Command]) -> int:
    ch = body[i].upper()
    if ch == "D":
        # dial takes the rest of the line (V.250 §6.3.1)
        out.append(Command(name="D", form=Form.SET, args=body[i + 1 :]))
        return len(body)
    if ch == "&":
        if i + 1 >= len(body) or body[i + 1] not in LETTERS:
            raise CommandSyntaxError("& without a command letter")
        name, j = "&" + body[i + 1].upper(), i + 2
    elif ch in LETTERS:
        name, j = ch, i + 1
    else:
        raise CommandSyntaxError("unexpected character in a basic command")
    if name == "S":
        k = j
        while k < len(body) and body[k] in DIGITS:
            k += 1
        name, j = "S" + body[j:k], k
        if j < len(body) and body[j] == "?":
            out.append(Command(name=name, form=Form.READ))
            return j + 1
        if j < len(body) and body[j] == "=":
            k = j + 1
            while k < len(body) and body[k] in DIGITS:
                k += 1
            out.append(Command(name=name, form=Form.SET, args=body[j + 1 : k]))
            return k
    k = j
    while k < len(body) and body[k] in DIGITS:
        k += 1
    out.append(Command(name=name, form=Form.SET if k > j else Form.EXEC, args=body[j:k]))
    return k


def parse_args(raw: str) -> list[str | int | None]:
    """Return the comma-separated arguments: quoted -> str, digits -> int, empty -> None.

    Raises CommandSyntaxError for unterminated strings or bare words.
    """
    if raw.strip() == "":
        return []
    values: list[str | int | None] = []
    i = 0
    n = len(raw)
    while True:
        while i < n and raw[i] == " ":
            i += 1
        if i < n and raw[i] == '"':
            end = raw.find('"', i + 1)
            if end < 0:
                raise CommandSyntaxError("unterminated string")
            values.append(raw[i + 1 : end])
            i = end + 1
            while i < n and raw[i] == " ":
                i += 1
        else:
            end = raw.find(",", i)
            end = n if end < 0 else end
            token = raw[i:end].strip()
            if token == "":
                values.append(None)
            elif is_number(token):
                values.append(int(token))
            else:
                # unquoted strings are tolerated by real modems for memory names etc.
                if not all(c in ARG_CHARS for c in token):
                    raise CommandSyntaxError("invalid argument")
                values.append(token)
            i = end
        if i >= n:
            return values
        if raw[i] != ",":
            raise CommandSyntaxError("expected a comma between arguments")
        i += 1
