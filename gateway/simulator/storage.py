"""SMS storage of the simulated ME: memories ``SM``, ``ME``, ``SR`` with capacity (TS 27.005 §3.1).

A stored message is its PDU hex (with SCA, as ``AT+CMGR`` shows it) and its ``<stat>``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Stat(enum.IntEnum):
    """``<stat>`` of TS 27.005 §3.1 (PDU mode integers; text mode strings in ``label``)."""

    REC_UNREAD = 0
    REC_READ = 1
    STO_UNSENT = 2
    STO_SENT = 3

    @property
    def label(self) -> str:
        """Return the text-mode name, e.g. ``REC UNREAD``."""
        return self.name.replace("_", " ")


STAT_BY_LABEL: dict[str, int] = {s.label: int(s) for s in Stat} | {"ALL": 4}


@dataclass(slots=True, kw_only=True)
class Stored:
    """One occupied storage slot (mutable: reading flips REC UNREAD to REC READ)."""

    pdu: str
    stat: Stat
    is_report: bool = False


class Memory:
    """One preferred-storage memory with a fixed number of slots."""

    __slots__ = ("capacity", "first_index", "name", "slots")

    def __init__(self, name: str, capacity: int, first_index: int) -> None:
        self.name = name
        self.capacity = capacity
        self.first_index = first_index
        self.slots: dict[int, Stored] = {}

    @property
    def used(self) -> int:
        """Return the number of occupied slots."""
        return len(self.slots)

    def valid_index(self, index: int) -> bool:
        """Return True if ``index`` names a slot of this memory (occupied or not)."""
        return self.first_index <= index < self.first_index + self.capacity

    def store(self, pdu: str, stat: Stat, *, is_report: bool = False) -> int | None:
        """Store in the lowest free slot and return its index, or None when full."""
        for index in range(self.first_index, self.first_index + self.capacity):
            if index not in self.slots:
                self.slots[index] = Stored(pdu=pdu, stat=stat, is_report=is_report)
                return index
        return None

    def delete_flagged(self, flag: int) -> None:
        """Bulk delete per ``AT+CMGD`` <delflag> 1-4 (TS 27.005 §3.5.4)."""
        kinds = {
            1: {Stat.REC_READ},
            2: {Stat.REC_READ, Stat.STO_SENT},
            3: {Stat.REC_READ, Stat.STO_SENT, Stat.STO_UNSENT},
            4: set(Stat),
        }[flag]
        for index in [i for i, s in self.slots.items() if s.stat in kinds]:
            del self.slots[index]


def make_memories(names: set[str], capacity: int, first_index: int) -> dict[str, Memory]:
    """Return one empty :class:`Memory` per name."""
    return {name: Memory(name, capacity, first_index) for name in sorted(names)}
