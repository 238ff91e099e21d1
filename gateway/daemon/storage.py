"""SMS storage use for ``status``: the ``AT+CPMS?`` reply, parsed, cached per modem.

``AT+CPMS?`` (TS 27.005 §3.2.2, read command) answers
``+CPMS: <mem1>,<used1>,<total1>,<mem2>,<used2>,<total2>[,<mem3>,<used3>,<total3>]``:
the memory selected for reading/deleting, for writing/sending and for receiving, each
with how many messages it holds and how many it can. A ``status`` request refreshes the
figure at most once per :data:`STORAGE_TTL` seconds per modem, so polling ``status``
does not put AT traffic on the modem each time; a failed query keeps the last figure.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

import structlog

from gateway.at.lines import tag_of
from gateway.errors import GatewayError, ModemFault

log = structlog.get_logger("gateway.daemon")

#: Seconds a storage-use figure is served from the cache before ``AT+CPMS?`` again.
STORAGE_TTL = 30.0


@dataclass(frozen=True, slots=True, kw_only=True)
class MemoryUse:
    """One message memory (``SM``, ``ME``, ``MT``, ``SR``…): messages held and capacity."""

    memory: str
    used: int
    total: int

    def __post_init__(self) -> None:
        if not self.memory or not self.memory.isalnum():
            raise ModemFault(f"memory name {self.memory!r} is not a +CPMS memory")
        if not 0 <= self.used <= self.total:
            raise ModemFault(f"{self.memory}: used {self.used} of {self.total} is impossible")

    def as_dict(self) -> dict[str, object]:
        """Return the JSON form used in the ``status`` snapshot."""
        return {"memory": self.memory, "used": self.used, "total": self.total}


def parse_cpms_read(lines: Sequence[str]) -> tuple[MemoryUse, ...]:
    """Parse the information lines of ``AT+CPMS?``: each memory once, in slot order.

    Returns one :class:`MemoryUse` per distinct memory (a memory selected for several
    slots appears once). Raises :class:`ModemFault` when there is no well-formed
    ``+CPMS`` line.
    """
    for line in lines:
        if tag_of(line) != "+CPMS":
            continue
        fields = [field.strip() for field in line.partition(":")[2].split(",")]
        if not fields or len(fields) % 3 != 0:
            raise ModemFault("+CPMS? reply needs <mem>,<used>,<total> per slot")
        seen: dict[str, MemoryUse] = {}
        for start in range(0, len(fields), 3):
            name, used, total = fields[start : start + 3]
            memory = name.strip('"')
            if not (_digits(used) and _digits(total)):
                raise ModemFault("+CPMS? reply slot is not <mem>,<used>,<total>")
            seen.setdefault(memory, MemoryUse(memory=memory, used=int(used), total=int(total)))
        return tuple(seen.values())
    raise ModemFault("no +CPMS line in the reply to AT+CPMS?")


def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= 9


Query = Callable[[], Awaitable[Sequence[str]]]


class StorageUse:
    """The last known storage use per modem, refreshed at most once per ``ttl`` seconds."""

    def __init__(self, *, ttl: float = STORAGE_TTL) -> None:
        self.ttl = ttl
        self._known: dict[str, tuple[float, tuple[MemoryUse, ...]]] = {}
        self._lock = asyncio.Lock()  # concurrent status requests share one query

    def get(self, name: str) -> tuple[MemoryUse, ...]:
        """Return the last figure for modem ``name`` (empty when never read)."""
        return self._known.get(name, (0.0, ()))[1]

    async def refresh(self, queries: Mapping[str, Query], now: Callable[[], float]) -> None:
        """Query every modem in ``queries`` whose figure is older than ``ttl``.

        ``queries`` maps a modem name to a coroutine function returning the reply lines
        of ``AT+CPMS?`` (only modems able to answer now). A modem that fails keeps its
        last figure (logged) and is asked again only after ``ttl``. Never raises our
        errors.
        """
        async with self._lock:
            for name, query in queries.items():
                known = self._known.get(name)
                if known is not None and now() - known[0] < self.ttl:
                    continue
                try:
                    use = parse_cpms_read(await query())
                except GatewayError as exc:
                    # keep the last figure, and do not ask again before the TTL either:
                    # a modem in trouble gets no extra traffic from status polling
                    log.warning("modem.storage_use_failed", modem=name, error=str(exc))
                    use = self.get(name)
                self._known[name] = (now(), use)
