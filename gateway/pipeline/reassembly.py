"""Concatenated SMS reassembly (TS 23.040 §9.2.3.24.1, §9.2.3.24.8): pure, time passed in.

Parts are grouped by (sender, reference, total) and joined in sequence order whatever
order they arrive in. A group that is still incomplete ``timeout`` seconds after its
newest part arrived is handed out as it is, marked incomplete, so nothing waits forever
(the receive pipeline also holds it while parts may still be unread on the modem).
That deadline is kept on the clock the caller passes as ``at`` (the receive pipeline
uses the event loop's monotonic clock, so a wall-clock step neither delays nor hastens
it); ``received_at`` stays wall-clock time, for the journal.
A part repeating a sequence number already held with different content means the
reference was reused for a new message: the old group is handed out first. TP-SCTS may
be None (the SC sent an impossible one): grouping never looks at it, and a repeated part
is recognised by its raw TP-SCTS octets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from gateway.errors import UsageError
from gateway.sms import Deliver
from gateway.sms.address import SenderType, sender_type

#: (sender, TP-OA type-of-address, reference, total): parts from the alphanumeric sender
#: "72727" and from the short code 72727 are never joined
GroupKey = tuple[str, int | None, int, int]


@dataclass(frozen=True, slots=True, kw_only=True)
class Part:
    """One decoded SMS-DELIVER part, already recorded in the journal as ``pdu_id``."""

    pdu_id: int
    sender: str
    sender_toa: int | None = None  # TP-OA type-of-address octet (None: not known)
    scts: datetime | None  # None: an impossible TP-SCTS (TS 23.040 §9.2.3.11)
    scts_raw: bytes = b""  # the TP-SCTS octets as received (empty when not known)
    text: str = field(repr=False)
    reference: int | None = None  # None: a single-part message
    total: int = 1
    sequence: int = 1
    received_at: float

    def __post_init__(self) -> None:
        if self.total < 1 or not 1 <= self.sequence <= self.total:
            raise UsageError("part: need 1 <= sequence <= total")
        if self.reference is None and self.total != 1:
            raise UsageError("part: a multipart part needs its reference")

    @classmethod
    def of(cls, message: Deliver, *, pdu_id: int, received_at: float) -> Part:
        """Return the part a decoded SMS-DELIVER is (its concatenation IE, if any)."""
        concat = message.concat
        return cls(
            pdu_id=pdu_id,
            sender=message.sender,
            sender_toa=message.sender_toa,
            scts=message.scts,
            scts_raw=message.scts_raw,
            text=message.text,
            reference=concat.reference if concat else None,
            total=concat.total if concat else 1,
            sequence=concat.sequence if concat else 1,
            received_at=received_at,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Assembled:
    """A message put together from its parts (complete or given up on)."""

    sender: str
    scts: datetime | None  # TP-SCTS of the lowest part present with a valid one, if any
    text: str = field(repr=False)
    parts: int
    expected: int
    pdu_ids: tuple[int, ...]  # every journal row it came from (repeated copies included)
    received_at: float  # when its newest part arrived: the message was complete then
    sender_toa: int | None = None  # TP-OA type-of-address octet (None: not known)

    def __post_init__(self) -> None:
        if not 1 <= self.parts <= self.expected or len(self.pdu_ids) < self.parts:
            raise UsageError("assembled: need 1 <= parts <= expected, a pdu id per part")

    @property
    def sender_kind(self) -> SenderType | None:
        """Return the kind of the sender's address by its type of number, None if unknown."""
        return None if self.sender_toa is None else sender_type(self.sender, self.sender_toa)

    @property
    def complete(self) -> bool:
        """Return True when every expected part is present."""
        return self.parts == self.expected


@dataclass(slots=True)
class _Group:
    last_at: float  # when its newest part arrived, on the deadline clock
    parts: dict[int, Part] = field(default_factory=dict)
    copies: list[int] = field(default_factory=list)  # pdu ids of repeated parts


class Reassembler:
    """Holds incomplete multipart messages until they complete or time out."""

    def __init__(self, *, timeout: float) -> None:
        if timeout <= 0:
            raise UsageError("reassembly timeout must be positive")
        self.timeout = timeout
        self._groups: dict[GroupKey, _Group] = {}

    def add(self, part: Part, *, at: float | None = None) -> list[Assembled]:
        """Add ``part``, arrived at ``at`` on the deadline clock (default: its received_at).

        Returns the messages it completes (or displaces), usually 0 or 1; a single-part
        message comes straight back. Raises nothing.
        """
        arrived = part.received_at if at is None else at
        if part.reference is None or part.total == 1:
            return [_join([part], expected=1)]
        key = (part.sender, part.sender_toa, part.reference, part.total)
        out: list[Assembled] = []
        group = self._groups.get(key)
        if group is not None and part.sequence in group.parts:
            held = group.parts[part.sequence]
            if (held.text, held.scts, held.scts_raw) == (part.text, part.scts, part.scts_raw):
                # the same part again under another journal row: linked, not joined twice
                group.copies.append(part.pdu_id)
                return []
            out.append(self._flush(key))  # reference reused: hand out the old message
            group = None
        if group is None:
            group = self._groups[key] = _Group(last_at=arrived)
        group.last_at = max(group.last_at, arrived)
        group.parts[part.sequence] = part
        if len(group.parts) == part.total:
            out.append(self._flush(key))
        return out

    def expire(self, now: float) -> list[Assembled]:
        """Return (and forget) every group whose deadline is at or before ``now``.

        ``now`` is on the deadline clock of :meth:`add`'s ``at``.
        """
        due = [k for k, g in self._groups.items() if g.last_at + self.timeout <= now]
        return [self._flush(key) for key in sorted(due, key=lambda k: self._groups[k].last_at)]

    def next_deadline(self) -> float | None:
        """Return when (deadline clock) the next group times out, or None when none is held."""
        if not self._groups:
            return None
        return min(g.last_at for g in self._groups.values()) + self.timeout

    @property
    def pending(self) -> int:
        """Return how many incomplete messages are held."""
        return len(self._groups)

    @property
    def pending_parts(self) -> int:
        """Return how many parts the incomplete messages hold."""
        return sum(len(g.parts) for g in self._groups.values())

    def _flush(self, key: GroupKey) -> Assembled:
        group = self._groups.pop(key)
        parts = [group.parts[s] for s in sorted(group.parts)]
        return _join(parts, expected=key[3], copies=group.copies)


def _join(parts: list[Part], *, expected: int, copies: list[int] | None = None) -> Assembled:
    return Assembled(
        sender=parts[0].sender,
        sender_toa=parts[0].sender_toa,
        scts=next((p.scts for p in parts if p.scts is not None), None),
        text="".join(p.text for p in parts),
        parts=len(parts),
        expected=expected,
        pdu_ids=(*(p.pdu_id for p in parts), *(copies or ())),
        received_at=max(p.received_at for p in parts),
    )
