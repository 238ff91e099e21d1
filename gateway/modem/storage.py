"""Pure parsers for the SMS storage replies: +CPMS, +CMGL, +CMGR, +CMGS, +CSCA (TS 27.005)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from gateway.at.lines import fields, is_hex, is_int, pdu_text, tag_of, unquote
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
    #: 0 received unread, 1 received read, 2 stored unsent, 3 stored sent; None when the
    #: modem left <stat> out (ZTE K3565-Z answers ``+CMGR: ,,56``)
    status: int | None
    length: int  # TPDU octets (without the SMSC address)
    pdu: str = field(repr=False)
    #: (initialisations, engine generation) the reply was matched in; set by the session
    #: (gateway.modem.operations), compared before a delete. None: not from a session
    epoch: tuple[int, int] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        stat_ok = self.status is None or 0 <= self.status <= 3
        if self.index < 0 or not stat_ok or self.length < 0:
            raise ReplyError("stored message fields out of range")
        if not is_hex(self.pdu):
            raise ReplyError("stored message PDU is not hex")

    @property
    def outgoing(self) -> bool:
        """True for a stored outgoing message (<stat> 2/3): not ours to read or delete.

        Without a <stat> the PDU tells: TP-MTI 01 is an SMS-SUBMIT, i.e. a message
        written to be sent (TS 23.040 §9.2.3.1); an undecidable PDU counts as incoming,
        as a received message is what the modem announced.
        """
        if self.status is not None:
            return self.status in (2, 3)
        return _tp_mti(self.pdu) == 1


def _tp_mti(pdu: str) -> int | None:
    """Return TP-MTI of a stored PDU (SMSC address first, TS 27.005 §3.1), or None."""
    smsc = int(pdu[:2], 16) if len(pdu) >= 2 else 0
    start = 2 + 2 * smsc
    if len(pdu) < start + 2:
        return None
    return int(pdu[start : start + 2], 16) & 0x03


def parse_cpms_test(lines: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
    """Parse ``AT+CPMS=?``: one tuple of memories per slot (1, 2 or 3 slots).

    TS 27.005 §3.2.2 gives ``+CPMS: (<mem1>s),(<mem2>s),(<mem3>s)``; real devices vary it:
    a Wavecom wraps the groups in one more list (``(("SM","BM","SR"),("SM"))``), a Huawei
    MU609 leaves the parentheses out with one memory per slot (``"ME","MT","SM"``, as
    ModemManager's test table records it), a phone offers nothing (``(),(),()``, Nokia
    N79). A parenless list of exactly three memories is read as one per slot, any other
    parenless list as the memories of one slot. A slot may come back empty: a first slot
    without memories means the device gives no SMS storage over AT.

    Raises ReplyError if there is no +CPMS line or it is not such a list.
    """
    for line in lines:
        if tag_of(line) != "+CPMS":
            continue
        tree = _cpms_tree(line.partition(":")[2])
        while (
            len(tree) == 1
            and isinstance(tree[0], list)
            and all(isinstance(item, list) for item in tree[0])
            and tree[0]
        ):
            tree = tree[0]  # one outer list around the groups (Wavecom)
        if tree and all(isinstance(item, str) for item in tree):
            # no parentheses: three names are one per slot (MU609), others one slot
            groups: _Tree = [[m] for m in tree] if len(tree) == 3 else [tree]
        else:
            groups = [item if isinstance(item, list) else [item] for item in tree]
        slots: list[tuple[str, ...]] = []
        for group in groups:
            names = tuple(m for m in group if isinstance(m, str))
            if isinstance(group, str) or len(names) != len(group):
                raise ReplyError("+CPMS memory lists nested too deeply")
            slots.append(names)
        if not 1 <= len(slots) <= 3:
            raise ReplyError(f"+CPMS offers {len(slots)} slots, not 1 to 3")
        return tuple(slots)
    raise ReplyError("no +CPMS memory list in the reply to AT+CPMS=?")


_Tree = list["str | _Tree"]
_MEMORY_NAME = re.compile(r"[A-Z0-9]{2}")


def _cpms_tree(body: str) -> _Tree:
    """Split ``("SM","ME"),("SM")`` into nested lists of memory names (upper case).

    Raises ReplyError for unbalanced parentheses, an unterminated string or a word that
    is no memory name (TS 27.005 §3.1: two characters such as SM, ME, MT, BM, SR).
    """
    stack: list[_Tree] = [[]]
    token: list[str] = []
    quoted = False
    pending = False  # a token was started (quotes may hold an empty name)

    def flush() -> None:
        nonlocal pending
        if pending or token:
            name = "".join(token).strip().upper()
            if not _MEMORY_NAME.fullmatch(name):
                raise ReplyError(f"+CPMS lists {name[:8]!r}, not a memory name")
            stack[-1].append(name)
        token.clear()
        pending = False

    for char in body:
        if quoted:
            if char == '"':
                quoted = False
            else:
                token.append(char)
        elif char == '"':
            quoted = pending = True
        elif char == "(":
            flush()
            group: _Tree = []
            stack[-1].append(group)
            stack.append(group)
        elif char == ")":
            flush()
            if len(stack) == 1:
                raise ReplyError("unbalanced ')' in +CPMS")
            stack.pop()
        elif char == ",":
            flush()
        elif not char.isspace():
            token.append(char)
    if quoted or len(stack) != 1:
        raise ReplyError("unterminated +CPMS memory list")
    flush()
    return stack[0]


def choose_memories(
    slots: tuple[tuple[str, ...], ...], preferred: tuple[str, ...] = ()
) -> tuple[str, ...]:
    """Pick one memory per slot: the first of ``preferred`` the slot offers, else SM,
    then ME, then MT, else the first offered."""
    chosen = []
    for offered in slots:
        if not offered:
            break  # an empty slot and the ones after it are left to the modem's default
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
        message = _message(memory, header[0], header, pdu_text(line))
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
    pdus = [pdu for line in lines if (pdu := pdu_text(line)) is not None]
    if not pdus:
        raise ReplyError("+CMGR header without a PDU line")
    message = _message(memory, str(index), [str(index), *header], pdus[0])
    if message is None:
        raise ReplyError("malformed +CMGR reply")
    return message


def _message(memory: str, index: str, header: list[str], pdu: str | None) -> StoredMessage | None:
    # +CMGL: <index>,<stat>,[<alpha>],<length>   (+CMGR without index, prefixed above).
    # An empty <stat> is accepted as unknown: the ZTE K3565-Z answers "+CMGR: ,,56".
    if pdu is None or len(header) < 3 or not (is_int(index) and is_int(header[-1])):
        return None
    stat = header[1]
    if stat and not is_int(stat):
        return None
    try:
        return StoredMessage(
            memory=memory,
            index=int(index),
            status=int(stat) if stat else None,
            length=int(header[-1]),
            pdu=pdu,
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
