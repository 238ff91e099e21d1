"""AT commands as values: text, what the reply looks like, and which timeout applies."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from gateway.at.errors import AtUsageError


class Kind(Enum):
    """Timeout class of a command (see :class:`Timeouts`)."""

    QUICK = "quick"  # local queries and settings
    SIM = "sim"  # +CPIN and friends: the SIM may take seconds
    LIST = "list"  # +CMGL: many messages
    NETWORK = "network"  # +COPS, +CFUN: the radio may take minutes
    SEND = "send"  # +CMGS: prompt, then body


@dataclass(frozen=True, slots=True, kw_only=True)
class Timeouts:
    """Seconds to wait per phase; ``probe`` and ``drain`` drive resynchronisation."""

    quick: float = 3.0
    sim: float = 10.0
    list: float = 30.0
    network: float = 180.0
    prompt: float = 5.0
    body: float = 60.0
    probe: float = 1.0  # first probe; each unanswered one doubles it, up to ``quick``
    drain: float = 0.25  # pause before probing again after a probe was refused

    def __post_init__(self) -> None:
        for name in ("quick", "sim", "list", "network", "prompt", "body", "probe", "drain"):
            if not getattr(self, name) > 0:
                raise AtUsageError(f"timeout {name} must be positive")

    def response(self, kind: Kind) -> float:
        """Return the response timeout for ``kind`` (for SEND: the prompt timeout)."""
        return {
            Kind.QUICK: self.quick,
            Kind.SIM: self.sim,
            Kind.LIST: self.list,
            Kind.NETWORK: self.network,
            Kind.SEND: self.prompt,
        }[kind]


_COMMAND = re.compile(r"AT[\x20-\x7e]*", re.IGNORECASE)
_HEX = re.compile(r"(?:[0-9A-Fa-f]{2})+")


@dataclass(frozen=True, slots=True, kw_only=True)
class Command:
    """One AT command line.

    ``prefixes`` are the information-line tags that belong to this command (``+CMGR``);
    ``bare`` accepts untagged lines (``AT+CGSN`` answers a bare IMEI); ``pdu`` accepts hex
    lines (the PDU after a ``+CMGR:``/``+CMGL:`` header); ``body`` is the PDU hex sent after
    the ``> `` prompt; ``secret`` hides the argument in logs (``AT+CPIN=<redacted>``);
    ``info_final`` lets a ``prefixes`` line complete the command when no final result
    follows it within the drain period (a dialect quirk: Wavecom's ``+CPIN: READY``
    comes without ``OK``; only for commands whose information response is one line).
    ``needs`` is the tag an ``OK`` reply must carry to be this command's (``+CMGR`` for a
    read, ``+CMGS`` for a send; with ``pdu``, a PDU line must follow it): a bare ``OK``
    is then taken for a late answer to something else, never for this command's.
    """

    text: str
    prefixes: tuple[str, ...] = ()
    bare: bool = False
    pdu: bool = False
    kind: Kind = Kind.QUICK
    body: str | None = None
    secret: bool = False
    info_final: bool = False
    needs: str | None = None

    def __post_init__(self) -> None:
        if not _COMMAND.fullmatch(self.text):
            raise AtUsageError("an AT command starts with AT and holds printable ASCII only")
        for prefix in self.prefixes:
            if not prefix or ":" in prefix:
                raise AtUsageError(f"bad information prefix {prefix!r}")
        if self.needs is not None and self.needs not in self.prefixes:
            raise AtUsageError("a needed reply tag must be one of the command's prefixes")
        if (self.body is None) != (self.kind is not Kind.SEND):
            raise AtUsageError("a body goes with Kind.SEND and only with it")
        if self.body is not None and not _HEX.fullmatch(self.body):
            raise AtUsageError("a command body must be PDU hex")
        if self.info_final and (not self.prefixes or self.bare or self.pdu or self.body):
            raise AtUsageError("info_final needs a tagged one-line reply (prefixes only)")

    def __repr__(self) -> str:
        # never the PIN or the PDU body, whatever ends up printing a command
        body = ", body=<redacted>" if self.body is not None else ""
        return f"Command(text={self.log_text!r}, kind={self.kind.value}{body})"

    @property
    def log_text(self) -> str:
        """The command as it may appear in logs (secret arguments masked)."""
        if self.secret:
            head = self.text.split("=", 1)[0]
            return f"{head}=<redacted>"
        return self.text

    def encode(self) -> bytes:
        """Return the bytes to write: the command line terminated by CR (TS 27.007 §4.1)."""
        return self.text.encode("ascii") + b"\r"


def query(text: str, *prefixes: str, kind: Kind = Kind.QUICK) -> Command:
    """Return a command whose reply lines carry ``prefixes`` (e.g. ``+CSQ``)."""
    return Command(text=text, prefixes=prefixes, kind=kind)


def bare(text: str, kind: Kind = Kind.QUICK) -> Command:
    """Return a command answered by an untagged value line (``+CGMI``, ``+CGSN``...)."""
    return Command(text=text, bare=True, kind=kind)


def action(text: str, kind: Kind = Kind.QUICK) -> Command:
    """Return a command answered by a final result only."""
    return Command(text=text, kind=kind)
