"""The code broker: ``navigator.credentials.get`` semantics, sans-I/O (house style §1).

A ``get`` waits for the first code for its exact (origin, embedded origin) pair that
arrived **after** the request (WICG sms-one-time-codes: the user agent only considers
messages received after the call). "Arrived" is the code's ``received_at``: when the SMS
reached the modem (its ``+CMTI`` time, or for a message read late its service-centre
timestamp within the skew tolerance, see :mod:`gateway.pipeline.arrival`), not when the
daemon got round to reading it. A configurable grace window also admits a code that
arrived at most ``grace`` seconds before the request and has not been claimed yet.

A ``get`` may name ``since``, the wall-clock time its consumer first asked (a client that
lost its connection and asks again): it then takes codes that arrived after that time,
reaching back at most ``window`` seconds. Each code is handed to exactly one ``get``:
the oldest waiting one whose request time it follows (FIFO); a code nobody waited for is
kept unclaimed for ``max(grace, window)`` seconds. A ``get`` names its claimant (the
peer and the key it repeats when it asks again): the one exception to "once" is the same
claimant asking again, which gets the code handed to it before — its connection may
have been lost before the answer was written. ``cancel`` is the AbortSignal; a ``get``
whose deadline passes ends with :class:`Expired`.

A code is handed over, not just assigned: the shell passes a ``hand`` callback that
writes a :class:`Delivered` to its consumer and says whether that worked (the connection
was still open). A ``get`` whose hand-over fails is dropped (its consumer has gone) and
the code goes to the next waiting ``get``, so a closed consumer never takes a code and
none is lost; the code counts as taken only once handed over.

Subscribers see every code they are permitted to see, claimed or not; a subscription
that names an (origin, embedded origin) pair sees only the codes a ``get`` for that pair
would match (:func:`pair_of`, the same exact-pair rule). Every code has a ``cursor``
(the journal's id for it, increasing): a subscription that names the cursor of the last
code it saw is first replayed the later codes still in the window, filtered the same way.

Time is data: deadlines run on a monotonic clock (``now``, any monotonic seconds, come
back from :meth:`Broker.next_deadline` for the shell to schedule); arrival and request
times are wall-clock seconds (``wall``), the clock ``received_at`` and ``since`` are on.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, replace

from gateway.relay.ports import CodeRecord

Ticket = Hashable
OriginKey = tuple[str, str | None]

#: the most codes the broker keeps for late gets and resuming subscribers
MAX_KEPT = 10_000
#: the claimant of a code handed to a get that named none (no retry can take it again)
ANONYMOUS = "relay"


def pair_of(record: CodeRecord) -> OriginKey:
    """Return the (origin, embedded origin) pair a ``get`` must name to match ``record``.

    The match is exact: a get (or subscription) without an embedded origin does not
    match a code that names one, and vice versa.
    """
    return (record.origin, record.embedded_origin)


@dataclass(frozen=True, slots=True, kw_only=True)
class Delivered:
    """The code ``record`` resolves the ``get`` named ``ticket``.

    ``record.claimed_by`` names the claimant it was handed to.
    """

    ticket: Ticket
    record: CodeRecord
    cursor: int = 0


#: writes a code to the consumer of a ticket; returns whether it reached a live connection
Hand = Callable[[Delivered], bool]


@dataclass(frozen=True, slots=True, kw_only=True)
class Notified:
    """The code ``record`` is an event for the subscription named ``ticket``."""

    ticket: Ticket
    record: CodeRecord
    cursor: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Expired:
    """The ``get`` named ``ticket`` reached its deadline without a code."""

    ticket: Ticket
    timeout: float


@dataclass(frozen=True, slots=True, kw_only=True)
class _Waiter:
    key: OriginKey
    since: float  # wall clock: codes that arrived at or after since - grace resolve it
    deadline: float  # monotonic
    timeout: float
    claimant: str | None


@dataclass(slots=True, kw_only=True)
class _Kept:
    cursor: int
    record: CodeRecord
    at: float  # wall-clock arrival
    claimant: str | None  # None: unclaimed

    def takes(self, key: OriginKey, asked: float, grace: float, claimant: str | None) -> bool:
        """Whether a get for ``key`` asked at ``asked`` by ``claimant`` may take this code."""
        record = self.record
        mine = self.claimant is None or (claimant is not None and self.claimant == claimant)
        return mine and pair_of(record) == key and self.at >= asked - grace

    def offered_to(self, claimant: str | None) -> CodeRecord:
        """Return the record as handed to ``claimant`` (naming it); nothing is claimed yet."""
        return replace(self.record, claimed_by=claimant or ANONYMOUS)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Subscription:
    visible: Callable[[CodeRecord], bool]  # the peer's rules, asked at each code
    key: OriginKey | None  # None: every code the peer may see

    def sees(self, record: CodeRecord) -> bool:
        """Whether this subscription is told about ``record``."""
        return (self.key is None or pair_of(record) == self.key) and self.visible(record)


class Broker:
    """Pending ``get`` requests, recent codes and subscriptions."""

    def __init__(
        self, *, grace: float = 0.0, default_timeout: float = 120.0, window: float = 0.0
    ) -> None:
        if grace < 0 or default_timeout <= 0 or window < 0:
            raise ValueError("grace and window must be >= 0 and default_timeout > 0")
        self.grace = grace
        self.default_timeout = default_timeout
        self.window = window
        self._waiters: dict[Ticket, _Waiter] = {}
        self._queues: dict[OriginKey, deque[Ticket]] = {}
        self._deadlines: list[tuple[float, int, Ticket]] = []
        self._seq = 0
        self._kept: deque[_Kept] = deque()
        self._subscribers: dict[Ticket, _Subscription] = {}
        self.cursor = 0  # the newest cursor seen (offered or preloaded)

    @property
    def pending(self) -> int:
        """Return the number of waiting ``get`` requests."""
        return len(self._waiters)

    @property
    def subscriptions(self) -> int:
        """Return the number of active subscriptions."""
        return len(self._subscribers)

    @property
    def kept(self) -> int:
        """Return how many recent codes are kept for late gets and resuming subscribers."""
        return len(self._kept)

    def request_time(self, wall: float, since: float | None) -> float:
        """Return the request time a ``get`` counts from: ``since`` within the window, else now.

        ``since`` is clamped to ``[wall - window, wall]``. Raises nothing.
        """
        if since is None:
            return wall
        return min(wall, max(since, wall - self.window))

    def get(
        self,
        ticket: Ticket,
        *,
        origin: str,
        embedded_origin: str | None = None,
        now: float,
        wall: float,
        timeout: float | None = None,
        since: float | None = None,
        claimant: str | None = None,
        hand: Hand | None = None,
    ) -> Delivered | None:
        """Start a ``get``: claim a kept code that arrived after it asked, or wait for one.

        ``since`` is when the consumer first asked (wall clock), clamped to the window;
        ``claimant`` names who asks (None: nobody who could ask again).
        Returns :class:`Delivered` when a kept code for the pair, unclaimed or already
        handed to ``claimant``, arrived at or after the request time less ``grace`` and
        ``hand`` (if given) delivered it, else ``None`` (the ticket now waits; a failed
        hand-over leaves the code for others). Raises ``ValueError`` when ``ticket`` is
        already pending.
        """
        if ticket in self._waiters:
            raise ValueError("ticket is already pending")
        key: OriginKey = (origin, embedded_origin)
        self._prune(wall)
        asked = self.request_time(wall, since)
        for kept in self._kept:
            if kept.takes(key, asked, self.grace, claimant):
                record = kept.offered_to(claimant)
                delivered = Delivered(ticket=ticket, record=record, cursor=kept.cursor)
                if hand is not None and not hand(delivered):
                    break  # the consumer has gone; its connection's end cancels the ticket
                kept.claimant = record.claimed_by
                return delivered
        limit = self.default_timeout if timeout is None else timeout
        waiter = _Waiter(
            key=key, since=asked, deadline=now + limit, timeout=limit, claimant=claimant
        )
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

    def subscribe(
        self,
        ticket: Ticket,
        visible: Callable[[CodeRecord], bool],
        *,
        after: int | None = None,
        wall: float | None = None,
        origin: str | None = None,
        embedded_origin: str | None = None,
    ) -> list[Notified]:
        """Start a subscription that sees each offered code for which ``visible`` is true.

        With ``origin``, only the codes for the exact pair (``origin``,
        ``embedded_origin``) are seen, as a ``get`` for it matches them. With ``after``
        (the cursor of the last code the subscriber saw), returns the kept codes with a
        later cursor that it may see, oldest first (replay); else ``[]``.
        """
        key: OriginKey | None = None if origin is None else (origin, embedded_origin)
        subscription = _Subscription(visible=visible, key=key)
        self._subscribers[ticket] = subscription
        if after is None:
            return []
        if wall is not None:
            self._prune(wall)
        return [
            Notified(ticket=ticket, record=kept.record, cursor=kept.cursor)
            for kept in sorted(self._kept, key=lambda k: k.cursor)
            if kept.cursor > after and subscription.sees(kept.record)
        ]

    def subscribed_to(self, ticket: Ticket) -> OriginKey | None:
        """Return the (origin, embedded origin) a subscription narrowed itself to, or ``None``."""
        subscription = self._subscribers.get(ticket)
        return None if subscription is None else subscription.key

    def unsubscribe(self, ticket: Ticket) -> bool:
        """End a subscription.

        Returns whether ``ticket`` was subscribed.
        """
        return self._subscribers.pop(ticket, None) is not None

    def preload(
        self, record: CodeRecord, *, cursor: int, claimant: str | None, wall: float
    ) -> None:
        """Keep a code received before this broker existed (the daemon's previous run).

        Nobody is told: a ``get`` with ``since`` may take it if unclaimed (or its own
        claimant's), a resuming subscription may replay it. ``claimant``: who it was
        handed to, None if nobody. Codes that arrived before the window are ignored.
        """
        at = record.received_at.timestamp()
        if at < wall - self._keep():
            return
        self._kept.append(_Kept(cursor=cursor, record=record, at=at, claimant=claimant))
        self.cursor = max(self.cursor, cursor)
        self._cap()

    def offer(
        self, record: CodeRecord, wall: float, hand: Hand | None = None
    ) -> list[Delivered | Notified]:
        """A code arrived: hand it to the oldest matching ``get`` and notify subscribers.

        ``wall`` is the wall-clock time now; ``hand`` delivers it, and a waiting ``get``
        whose hand-over fails is dropped and the next one tried. The code's cursor is its
        ``record_id`` when that is an integer, else the next number. Returns at most one
        :class:`Delivered` and one :class:`Notified` per permitted subscriber. A code no
        ``get`` took is kept for ``max(grace, window)`` seconds after it arrived.
        """
        self._prune(wall)
        rid = record.record_id
        cursor = rid if isinstance(rid, int) and not isinstance(rid, bool) else self.cursor + 1
        self.cursor = max(self.cursor, cursor)
        at = record.received_at.timestamp()
        out: list[Delivered | Notified] = []
        key = pair_of(record)
        kept = _Kept(cursor=cursor, record=record, at=at, claimant=None)
        for ticket in list(self._queues.get(key, ())):
            waiter = self._waiters[ticket]
            if at < waiter.since - self.grace:
                continue  # it arrived before this get asked (read late): not for it
            self.cancel(ticket)
            handed = kept.offered_to(waiter.claimant)
            delivered = Delivered(ticket=ticket, record=handed, cursor=cursor)
            if hand is None or hand(delivered):
                kept.claimant = handed.claimed_by
                out.append(delivered)
                break
        if at >= wall - self._keep():
            self._kept.append(kept)
            self._cap()
        out.extend(
            Notified(ticket=ticket, record=record, cursor=cursor)
            for ticket, subscription in self._subscribers.items()
            if subscription.sees(record)
        )
        return out

    def expire(self, now: float) -> list[Expired]:
        """End every ``get`` whose deadline is at or before ``now`` (monotonic).

        Returns one :class:`Expired` per ended ticket, oldest deadline first.
        """
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

    def _keep(self) -> float:
        return max(self.grace, self.window)

    def _prune(self, wall: float) -> None:
        oldest = wall - self._keep()
        if self._kept and any(k.at < oldest for k in self._kept):
            self._kept = deque(k for k in self._kept if k.at >= oldest)

    def _cap(self) -> None:
        while len(self._kept) > MAX_KEPT:
            self._kept.popleft()
