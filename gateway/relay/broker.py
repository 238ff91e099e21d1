"""The code broker: ``navigator.credentials.get`` semantics, sans-I/O (house style §1).

A ``get`` waits for the first code for its exact (origin, embedded origin) pair that
arrives **after** the request (WICG sms-one-time-codes: the user agent only considers
messages received after the call). A configurable grace window also admits a code that
arrived at most ``grace`` seconds before the request and has not been claimed yet. Each
code is handed to exactly one ``get``: the oldest waiting one (FIFO). ``cancel`` is the
AbortSignal; a ``get`` whose deadline passes ends with :class:`Expired`. Subscribers see
every code they are permitted to see, claimed or not.

A code is handed over, not just assigned: the shell passes a ``hand`` callback that writes
a :class:`Delivered` to its consumer and says whether that worked (the connection was
still open).
A ``get`` whose hand-over fails is dropped (its consumer has gone) and the code goes to
the next waiting ``get``, so a closed consumer never takes a code and none is lost.

Time is data: every call takes ``now`` (any monotonic clock, seconds) and deadlines come
back from :meth:`Broker.next_deadline` for the shell to schedule. "Arrived" means the
``now`` passed to :meth:`Broker.offer`.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from gateway.relay.ports import CodeRecord

Ticket = Hashable
OriginKey = tuple[str, str | None]


@dataclass(frozen=True, slots=True, kw_only=True)
class Delivered:
    """The code ``record`` resolves the ``get`` named ``ticket``."""

    ticket: Ticket
    record: CodeRecord


#: writes a code to the consumer of a ticket; returns whether it reached a live connection
Hand = Callable[[Delivered], bool]


@dataclass(frozen=True, slots=True, kw_only=True)
class Notified:
    """The code ``record`` is an event for the subscription named ``ticket``."""

    ticket: Ticket
    record: CodeRecord


@dataclass(frozen=True, slots=True, kw_only=True)
class Expired:
    """The ``get`` named ``ticket`` reached its deadline without a code."""

    ticket: Ticket
    timeout: float


@dataclass(frozen=True, slots=True, kw_only=True)
class _Waiter:
    key: OriginKey
    since: float
    deadline: float
    timeout: float


@dataclass(frozen=True, slots=True, kw_only=True)
class _Arrival:
    at: float
    record: CodeRecord


class Broker:
    """Pending ``get`` requests, recent unclaimed codes and subscriptions."""

    def __init__(self, *, grace: float = 0.0, default_timeout: float = 120.0) -> None:
        if grace < 0 or default_timeout <= 0:
            raise ValueError("grace must be >= 0 and default_timeout > 0")
        self.grace = grace
        self.default_timeout = default_timeout
        self._waiters: dict[Ticket, _Waiter] = {}
        self._queues: dict[OriginKey, deque[Ticket]] = {}
        self._deadlines: list[tuple[float, int, Ticket]] = []
        self._seq = 0
        self._recent: deque[_Arrival] = deque()
        self._subscribers: dict[Ticket, Callable[[CodeRecord], bool]] = {}

    @property
    def pending(self) -> int:
        """Return the number of waiting ``get`` requests."""
        return len(self._waiters)

    @property
    def subscriptions(self) -> int:
        """Return the number of active subscriptions."""
        return len(self._subscribers)

    def get(
        self,
        ticket: Ticket,
        *,
        origin: str,
        embedded_origin: str | None = None,
        now: float,
        timeout: float | None = None,
        hand: Hand | None = None,
    ) -> Delivered | None:
        """Start a ``get``: claim a code from the grace window or wait for one.

        Returns :class:`Delivered` when an unclaimed code that arrived within ``grace``
        seconds matches and ``hand`` (if given) delivered it, else ``None`` (the ticket
        now waits; a failed hand-over leaves the code for others). Raises ``ValueError``
        when ``ticket`` is already pending.
        """
        if ticket in self._waiters:
            raise ValueError("ticket is already pending")
        key: OriginKey = (origin, embedded_origin)
        self._prune(now)
        for arrival in self._recent:
            if (arrival.record.origin, arrival.record.embedded_origin) == key:
                delivered = Delivered(ticket=ticket, record=arrival.record)
                if hand is not None and not hand(delivered):
                    break  # the consumer has gone; its connection's end cancels the ticket
                self._recent.remove(arrival)
                return delivered
        limit = self.default_timeout if timeout is None else timeout
        waiter = _Waiter(key=key, since=now, deadline=now + limit, timeout=limit)
        self._waiters[ticket] = waiter
        self._queues.setdefault(key, deque()).append(ticket)
        self._seq += 1
        heapq.heappush(self._deadlines, (waiter.deadline, self._seq, ticket))
        return None

    def cancel(self, ticket: Ticket) -> bool:
        """Abort a waiting ``get``.

        Returns whether ``ticket`` was waiting.
        """
        waiter = self._waiters.pop(ticket, None)
        if waiter is None:
            return False
        queue = self._queues[waiter.key]
        queue.remove(ticket)
        if not queue:
            del self._queues[waiter.key]
        return True

    def waiting_for(self, ticket: Ticket) -> OriginKey | None:
        """Return the (origin, embedded origin) a waiting ``get`` asked for, or ``None``."""
        waiter = self._waiters.get(ticket)
        return None if waiter is None else waiter.key

    def subscribe(self, ticket: Ticket, visible: Callable[[CodeRecord], bool]) -> None:
        """Start a subscription that sees each offered code for which ``visible`` is true."""
        self._subscribers[ticket] = visible

    def unsubscribe(self, ticket: Ticket) -> bool:
        """End a subscription.

        Returns whether ``ticket`` was subscribed.
        """
        return self._subscribers.pop(ticket, None) is not None

    def offer(
        self, record: CodeRecord, now: float, hand: Hand | None = None
    ) -> list[Delivered | Notified]:
        """A code arrived: hand it to the oldest matching ``get`` and notify subscribers.

        ``hand`` delivers it; a waiting ``get`` whose hand-over fails is dropped and the
        next one is tried. Returns at most one :class:`Delivered` and one
        :class:`Notified` per permitted subscriber. A code no ``get`` took is kept for
        ``grace`` seconds.
        """
        self._prune(now)
        out: list[Delivered | Notified] = []
        key: OriginKey = (record.origin, record.embedded_origin)
        queue = self._queues.get(key)
        while queue:
            ticket = queue.popleft()
            if not queue:
                del self._queues[key]
            del self._waiters[ticket]
            delivered = Delivered(ticket=ticket, record=record)
            if hand is None or hand(delivered):
                out.append(delivered)
                break
        else:
            if self.grace > 0:
                self._recent.append(_Arrival(at=now, record=record))
        out.extend(
            Notified(ticket=ticket, record=record)
            for ticket, visible in self._subscribers.items()
            if visible(record)
        )
        return out

    def expire(self, now: float) -> list[Expired]:
        """End every ``get`` whose deadline is at or before ``now``.

        Returns one :class:`Expired` per ended ticket, oldest deadline first.
        """
        self._prune(now)
        out: list[Expired] = []
        while self._deadlines and self._deadlines[0][0] <= now:
            deadline, _, ticket = heapq.heappop(self._deadlines)
            waiter = self._waiters.get(ticket)
            if waiter is not None and waiter.deadline == deadline:
                self.cancel(ticket)
                out.append(Expired(ticket=ticket, timeout=waiter.timeout))
        return out

    def next_deadline(self) -> float | None:
        """Return when :meth:`expire` next has work, or ``None`` when nothing waits."""
        while self._deadlines:
            deadline, _, ticket = self._deadlines[0]
            waiter = self._waiters.get(ticket)
            if waiter is not None and waiter.deadline == deadline:
                return deadline
            heapq.heappop(self._deadlines)  # cancelled or already resolved
        return None

    def _prune(self, now: float) -> None:
        while self._recent and self._recent[0].at < now - self.grace:
            self._recent.popleft()
