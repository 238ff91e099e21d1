"""SMS storage use for ``status``: the ``AT+CPMS?`` reply, parsed, cached per modem.

``AT+CPMS?`` (TS 27.005 §3.2.2, read command) answers
``+CPMS: <mem1>,<used1>,<total1>,<mem2>,<used2>,<total2>[,<mem3>,<used3>,<total3>]``:
the memory selected for reading/deleting, for writing/sending and for receiving, each
with how many messages it holds and how many it can. ``status`` answers at once from the
last known figure and starts a background query per modem whose figure is older than
:data:`STORAGE_TTL` (never two in flight for one modem, each bounded by
:data:`STORAGE_TIMEOUT`), so polling ``status`` neither waits on a slow modem nor puts AT
traffic on it each time; a failed or late query keeps the last figure.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

import structlog

from gateway.at.lines import tag_of
from gateway.errors import GatewayError, ModemFault
from gateway.tracebacks import frames

log = structlog.get_logger("gateway.daemon")

#: Seconds a storage-use figure is served from the cache before ``AT+CPMS?`` again.
STORAGE_TTL = 30.0
#: Seconds an ``AT+CPMS?`` query may take before its figure is given up for this round.
STORAGE_TIMEOUT = 2.0


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
    """The last known storage use per modem, refreshed in the background at most per ``ttl``."""

    def __init__(self, *, ttl: float = STORAGE_TTL, timeout: float = STORAGE_TIMEOUT) -> None:
        self.ttl = ttl
        self.timeout = timeout
        self._known: dict[str, tuple[MemoryUse, ...]] = {}
        self._errors: dict[str, str] = {}  # why the last query failed, per modem
        self._asked: dict[str, float] = {}  # when each modem was last asked
        self._inflight: dict[str, asyncio.Task[None]] = {}

    def get(self, name: str) -> tuple[MemoryUse, ...]:
        """Return the last figure for modem ``name`` (empty when never read)."""
        return self._known.get(name, ())

    def error(self, name: str) -> str | None:
        """Return why the last ``AT+CPMS?`` of modem ``name`` failed (None: it worked)."""
        return self._errors.get(name)

    def refresh(self, queries: Mapping[str, Query], now: Callable[[], float]) -> None:
        """Start a background query for each modem in ``queries`` whose figure is stale.

        ``queries`` maps a modem name to a coroutine function returning the reply lines
        of ``AT+CPMS?`` (only modems able to answer now). Returns at once: a modem asked
        less than ``ttl`` seconds ago (failed queries included) or with a query still in
        flight is skipped; a query that fails or takes longer than ``timeout`` keeps the
        last figure (logged). Call it in the event loop; never raises.
        """
        loop = asyncio.get_running_loop()
        for name, query in queries.items():
            asked = self._asked.get(name)
            if name in self._inflight or (asked is not None and now() - asked < self.ttl):
                continue
            self._asked[name] = now()
            task = loop.create_task(self._query(name, query), name=f"storage-use:{name}")
            self._inflight[name] = task
            task.add_done_callback(functools.partial(self._done, name))

    async def settle(self) -> None:
        """Return once every query in flight has ended (for tests and shutdown)."""
        while self._inflight:
            await asyncio.wait(list(self._inflight.values()))

    async def close(self) -> None:
        """Cancel the queries in flight and wait for them to end."""
        for task in self._inflight.values():
            task.cancel()
        await self.settle()

    def _done(self, name: str, task: asyncio.Task[None]) -> None:
        if self._inflight.get(name) is task:
            del self._inflight[name]

    async def _query(self, name: str, query: Query) -> None:
        # a modem in trouble keeps its last figure and is not asked again before the TTL
        try:
            async with asyncio.timeout(self.timeout):
                use = parse_cpms_read(await query())
        except TimeoutError:
            error = f"no reply to AT+CPMS? within {self.timeout:g} s"
            self._errors[name] = error
            log.warning("modem.storage_use_failed", modem=name, error=error)
            return
        except GatewayError as exc:
            self._errors[name] = f"AT+CPMS? failed: {exc}"
            log.warning("modem.storage_use_failed", modem=name, error=str(exc))
            return
        except Exception as exc:  # a bug must not end as "Task exception never retrieved"
            log.error(
                "modem.storage_use_failed", modem=name, error=type(exc).__name__, frames=frames(exc)
            )
            return
        self._known[name] = use
        self._errors.pop(name, None)
