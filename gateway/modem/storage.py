"""Pure parsers for the SMS storage replies: +CPMS, +CMGL, +CMGR, +CMGS, +CSCA (TS 27.005)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from gateway.at.lines import fields, is_hex, is_int, tag_of, unquote
from gateway.errors import ModemFault

#: read memories in order of preference (TS 27.005 §3.2.2): SIM first, then phone memory
PREFERRED_MEMORIES = ("SM", "ME", "MT")


class ReplyError(ModemFault):
    """The modem's reply to a command did not have the form the spec gives it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredMessage:
    """One stored message as listed/read in PDU mode (the PDU is never in the repr)."""

    memory: str
    index: int
    status: int  # 0 received unread, 1 received read, 2 stored unsent, 3 stored sent
    length: int  # TPDU octets (without the SMSC address)
    pdu: str = field(repr=False)

    def __post_init__(self) -> None:
        if self.index < 0 or not 0 <= self.status <= 3 or self.length < 0:
            raise ReplyError("stored message fields out of range")
        if not is_hex(self.pdu):
            raise ReplyError("stored message PDU is not hex")


def parse_cpms_test(lines: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
    """Parse ``AT+CPMS=?``: one tuple of memories per slot (1, 2 or 3 slots).

    Raises ReplyError if there is no +CPMS line.
    """
    for line in lines:
        if tag_of(line) == "+CPMS":
            body = line.partition(":")[2]
            groups = re.findall(r"\(([^)]*)\)", body) or [body]
            slots = tuple(
                tuple(unquote(m.strip()).upper() for m in group.split(",") if m.strip())
                for group in groups
            )
            if slots and all(slots):
                return slots
    raise ReplyError("no +CPMS memory list in the reply to AT+CPMS=?")


def choose_memories(
    slots: tuple[tuple[str, ...], ...], preferred: tuple[str, ...] = ()
) -> tuple[str, ...]:
    """Pick one memory per slot: the first of ``preferred`` the slot offers, else SM,
    then ME, then MT, else the first offered."""
    chosen = []
    for offered in slots:
        order = (*preferred, *PREFERRED_MEMORIES)
        pick = next((m for m in order if m in offered), offered[0])
        chosen.append(pick)
    return tuple(chosen)


def sweep_memories(offered: tuple[str, ...], wanted: tuple[str, ...]) -> tuple[str, ...]:
    """Return the read memories to sweep: ``wanted`` (in its order) that the modem offers.

    An empty ``wanted`` means every offered memory. ``SR`` is kept whenever offered:
    modems that store status reports there (TS 27.005 §3.1) may announce them in another
    memory. Returns an empty tuple when none of ``wanted`` is offered (the caller warns).
    """
    if not wanted:
        return offered
    picked = tuple(m for m in dict.fromkeys(wanted) if m in offered)
    if picked and "SR" in offered and "SR" not in picked:
        picked = (*picked, "SR")
    return picked


def parse_listing(memory: str, lines: tuple[str, ...]) -> tuple[list[StoredMessage], int]:
    """Parse ``AT+CMGL=4`` lines; return the messages and how many entries were malformed.

    Indexes come from each header, so one bad entry never shifts the others.
    """
    messages: list[StoredMessage] = []
    bad = 0
    header: list[str] | None = None
    for line in lines:
        if tag_of(line) == "+CMGL":
            if header is not None:
                bad += 1
            header = fields(line)
            continue
        if header is None:
            bad += 1
            continue
        message = _message(memory, header[0], header, line)
        header = None
        if message is None:
            bad += 1
        else:
            messages.append(message)
    if header is not None:
        bad += 1
    return messages, bad


def parse_read(memory: str, index: int, lines: tuple[str, ...]) -> StoredMessage | None:
    """Parse ``AT+CMGR=<index>``; return None for an empty slot.

    Raises ReplyError for a header without its PDU line.
    """
    header = next((fields(line) for line in lines if tag_of(line) == "+CMGR"), None)
    if header is None:
        return None
    pdus = [line for line in lines if is_hex(line)]
    if not pdus:
        raise ReplyError("+CMGR header without a PDU line")
    message = _message(memory, str(index), [str(index), *header], pdus[0])
    if message is None:
        raise ReplyError("malformed +CMGR reply")
    return message


def _message(memory: str, index: str, header: list[str], pdu: str) -> StoredMessage | None:
    # +CMGL: <index>,<stat>,[<alpha>],<length>   (+CMGR without index, prefixed above)
    if len(header) < 3 or not (is_int(index) and is_int(header[1]) and is_int(header[-1])):
        return None
    try:
        return StoredMessage(
            memory=memory, index=int(index), status=int(header[1]), length=int(header[-1]), pdu=pdu
        )
    except ReplyError:
        return None


def parse_reference(lines: tuple[str, ...]) -> int:
    """Parse ``+CMGS: <mr>[,<scts>]``; return the message reference (TS 27.005 §3.5.1).

    Raises ReplyError when the reference is missing.
    """
    for line in lines:
        if tag_of(line) == "+CMGS":
            first = fields(line)[0]
            if is_int(first) and int(first) <= 255:
                return int(first)
    raise ReplyError("no message reference in the +CMGS reply")


def parse_smsc(lines: tuple[str, ...]) -> str | None:
    """Parse ``+CSCA: "<address>",<toa>``; return the address or None if empty."""
    for line in lines:
        if tag_of(line) == "+CSCA":
            return unquote(fields(line)[0]) or None
    return None
