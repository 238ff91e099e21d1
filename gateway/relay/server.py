"""The relay's asyncio shell: a Unix stream server pumping bytes through the sans-I/O core.

Lifecycle (house style §7): :meth:`RelayServer.bind` claims the socket (bound and
listening, nothing accepted yet: connecting clients wait in the backlog) so a daemon
learns of a missing directory or a socket in use before slow start-up work;
:meth:`RelayServer.start` binds if needed and starts accepting (either raises
:class:`~gateway.errors.UsageError`); :meth:`RelayServer.close` stops accepting,
ends pending requests with ``unavailable``, closes every connection and unlinks the
socket file if we created it. Time is the event loop's monotonic clock; the broker's
next deadline is the only timer.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

import structlog

from gateway import __version__
from gateway.errors import UsageError
from gateway.relay.acceptor import Acceptor
from gateway.relay.access import AccessControl, Peer
from gateway.relay.broker import Broker, Delivered, Notified, Ticket
from gateway.relay.errors import Timeout, Unavailable
from gateway.relay.hangup import HangupWatch
from gateway.relay.listener import Listener, open_listener
from gateway.relay.messages import DEFAULT_SOCKET, MAX_LINE, EventKind, RequestId, Result
from gateway.relay.ports import CodeRecord, SendPort, StatusPort
from gateway.relay.requests import record_data
from gateway.relay.session import Session
from gateway.tracebacks import frames

log = structlog.get_logger("gateway.relay")


@dataclass(frozen=True, slots=True, kw_only=True)
class RelayConfig:
    """Where the socket lives, who may connect, and the per-connection limits."""

    path: Path = DEFAULT_SOCKET
    group: str | int | None = None  # group owner of the socket file (mode 0660)
    mode: int = 0o660
    max_line: int = MAX_LINE
    max_pending_gets: int = 16  # per connection
    max_connections: int = 1024  # open connections; one more is told unavailable, closed
    max_connections_per_uid: int = 64  # open connections of one peer uid, likewise
    idle_timeout: float = 600.0  # seconds a connection with nothing pending stays; 0: forever
    write_high_water: int = 256 * 1024  # bytes queued before a consumer counts as stalled
    write_hard_limit: int = 1024 * 1024  # bytes queued that disconnect it at once
    drain_timeout: float = 10.0  # seconds a consumer may stay stalled
    grace: float = 0.0  # seconds before a get whose unclaimed codes it may still take
    resume_window: float = 300.0  # how far back a get's since / a subscription's after reach
    default_timeout: float = 120.0  # of a get that names none
    backlog: int = 4096

    def __post_init__(self) -> None:
        if not 0 <= self.mode <= 0o777:
            raise UsageError("socket mode must be a permission mode like 0o660")
        if self.max_line < 64 or self.max_pending_gets < 1 or self.max_connections < 1:
            raise UsageError("max_line must be >= 64, max_pending_gets and max_connections >= 1")
        if self.max_connections_per_uid < 1 or self.idle_timeout < 0:
            raise UsageError("max_connections_per_uid must be >= 1 and idle_timeout >= 0")
        if not 0 < self.write_high_water <= self.write_hard_limit:
            raise UsageError("write_high_water must be > 0 and <= write_hard_limit")
        if self.drain_timeout <= 0 or self.grace < 0 or self.default_timeout <= 0:
            raise UsageError("drain_timeout and default_timeout must be > 0, grace >= 0")
        if self.resume_window < 0:
            raise UsageError("resume_window must be >= 0")


class RelayServer:
    """Serves the relay protocol on a Unix socket for the daemon's ports."""

    def __init__(
        self,
        config: RelayConfig,
        *,
        access: AccessControl,
        send: SendPort | None = None,
        status: StatusPort | None = None,
        on_claim: Callable[[CodeRecord], bool | None] | None = None,
        on_release: Callable[[CodeRecord], None] | None = None,
        clock: Callable[[], float] = time.time,
        refuses_origin: Callable[[str, str | None], str | None] | None = None,
    ) -> None:
        """Compose the relay; ``on_claim`` records each code about to be handed to a ``get``.

        ``on_claim`` (the journal's claim mark) runs before the answer is written and
        returns whether it newly claimed the code; when the write then fails,
        ``on_release`` undoes such a fresh claim and the code goes to the next get.
        ``clock`` is the wall clock codes' arrival times and a get's ``since`` are on.
        ``refuses_origin(origin, embedded_origin)`` returns why codes for that pair will
        never be offered (the daemon's receive allow-list), or None: such a ``get`` is
        answered ``forbidden`` with that reason at once instead of waiting out its
        timeout.
        """
        self.config = config
        self.wall = clock
        self.on_claim = on_claim
        self.on_release = on_release
        self.refuses_origin = refuses_origin
        self.access = access
        self.send_port = send
        self.status_port = status
        self.version = __version__
        self.broker = Broker(
            grace=config.grace,
            default_timeout=config.default_timeout,
            window=config.resume_window,
        )
        self.counters: collections.Counter[str] = collections.Counter()
        self.listener: Listener | None = None
        self._sessions: dict[int, Session] = {}
        self._per_uid: collections.Counter[int] = collections.Counter()
        self._all_closed = asyncio.Event()
        self._change = asyncio.Event()  # replaced and set on every change (wait_until)
        self._next_number = 0
        self._acceptor: Acceptor | None = None
        self._hangups: HangupWatch | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._started = time.monotonic()

    async def bind(self) -> None:
        """Bind (or take the socket-activated socket) and listen, without accepting yet.

        Idempotent. Raises :class:`UsageError` when the socket cannot be had.
        """
        if self._acceptor is not None:
            return
        self.listener = open_listener(
            self.config.path, mode=self.config.mode, group=self.config.group
        )
        try:
            # An unlistened socket refuses connections (ECONNREFUSED), which makes clients
            # fail during start-up and lets a second daemon take it for stale. Listening
            # now queues clients in the backlog until start() accepts them.
            self.listener.sock.listen(self.config.backlog)
            self._acceptor = Acceptor(self.listener.sock, self._session, counters=self.counters)
        except OSError as exc:
            self.listener.sock.close()
            self.listener.unlink()
            self.listener = None
            raise UsageError(f"cannot listen on the relay socket: {exc}") from exc
        log.info("relay.bound", path=str(self.config.path), activated=self.listener.activated)

    async def start(self) -> None:
        """Bind if :meth:`bind` was not called, then accept connections.

        Raises :class:`UsageError` when the socket cannot be had.
        """
        await self.bind()
        assert self._acceptor is not None
        assert self.listener is not None
        self._hangups = HangupWatch(asyncio.get_running_loop())
        self._acceptor.start()
        self._started = time.monotonic()
        log.info("relay.listening", path=str(self.config.path), activated=self.listener.activated)

    async def close(self) -> None:
        """Stop accepting, end pending requests, close connections, unlink our socket."""
        if self._acceptor is not None:
            self._acceptor.close()
            await self._acceptor.wait_closed()  # connections accepted just before: closed below
            self._acceptor = None
        if self._timer is not None:
            self._timer.cancel()
        for session in list(self._sessions.values()):
            for request_id in list(session.gets):
                session.fail(request_id, Unavailable("the gateway is shutting down"))
            if session.transport is not None:
                session.transport.close()
        if self._sessions:
            # transport.close() flushes what is buffered; a reader that does not take it
            # within the bound is cut off, so shutdown never hangs on a stuck consumer.
            self._all_closed.clear()
            try:
                await asyncio.wait_for(self._all_closed.wait(), self.config.drain_timeout)
            except TimeoutError:
                for session in list(self._sessions.values()):
                    if session.transport is not None:
                        session.transport.abort()
                await self._all_closed.wait()
        if self._hangups is not None:
            self._hangups.close()
            self._hangups = None
        if self.listener is not None:
            self.listener.unlink()
            self.listener = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # --- codes from the daemon -----------------------------------------------------------

    def offer(self, record: CodeRecord) -> bool:
        """Hand a received code to the oldest matching ``get`` and to subscribers.

        Call it from the event loop's thread. Returns whether a ``get`` took it now; a
        code kept for the grace window and taken later is reported through ``on_claim``.
        """
        taken = False
        # subscribers first: a daemon killed while the claim is committed has told them
        outcomes = sorted(
            self.broker.offer(record, self.wall(), hand=self.hand), key=_delivered_last
        )
        for outcome in outcomes:
            session = self._sessions.get(_connection(outcome.ticket))
            if session is None:
                continue
            request_id = outcome.ticket[1]  # type: ignore[index]
            if isinstance(outcome, Delivered):
                # claimed and written to a live connection by hand()
                taken = True
                session.gets.discard(request_id)
                self.claimed(outcome.record)
                session.settle()
            elif isinstance(outcome, Notified):
                session.event(
                    request_id, EventKind.CODE, record_data(outcome.record, outcome.cursor)
                )
        self.reschedule()
        return taken

    def preload(self, record: CodeRecord, *, cursor: int) -> None:
        """Keep a code from before this start (the journal) for resuming consumers.

        ``record.claimed_by`` says who it was handed to (None: nobody). Nobody is told
        now: a ``get`` with ``since`` may take it if it is unclaimed (or is its own
        claimant asking again), a subscription resuming with ``after`` is replayed it.
        Call before accepting.
        """
        self.broker.preload(record, cursor=cursor, claimant=record.claimed_by, wall=self.wall())

    def replace_access(self, access: AccessControl) -> int:
        """Apply new access rules (a reload) to new requests and to pending ones alike.

        Denial counters carry over. Each open connection's peer is identified again
        (user name and groups re-read from the system), so a membership removed since it
        connected no longer grants anything. Pending gets and subscriptions the new rules
        forbid end with ``forbidden``; running subscriptions see only what the new rules
        allow. Returns how many pending requests were ended.
        """
        access.denials.update(self.access.denials)
        self.access = access
        resolved: dict[tuple[int, int], Peer] = {}  # one lookup per user, not per connection
        for session in list(self._sessions.values()):
            session.reidentify(resolved)
        ended = sum(session.revoke() for session in list(self._sessions.values()))
        self.reschedule()
        return ended

    # --- used by sessions ----------------------------------------------------------------

    def hand(self, outcome: Delivered) -> bool:
        """Write the code of ``outcome`` as the answer to the ``get`` it names.

        Returns whether it reached a live connection (the broker's hand-over): False when
        the connection is gone, closing, hung up, or the write failed or overflowed it.
        The claim is recorded before the write: a daemon killed between the two leaves
        the code to this get's claimant (its key, asking again), never to another
        consumer, so a code is never handed to two. A write that fails releases a claim
        this hand-over made, and the code goes to the next get.
        """
        session = self._sessions.get(_connection(outcome.ticket))
        request_id: RequestId = outcome.ticket[1]  # type: ignore[index]
        if session is not None and session.can_answer():
            fresh = self._record_claim(outcome.record)
            answer = Result(id=request_id, value=record_data(outcome.record, outcome.cursor))
            if session.deliver(answer):
                return True
            if fresh:
                self._release_claim(outcome.record)
        if session is not None:
            session.gets.discard(request_id)
        self.counters["codes_not_handed"] += 1  # to a gone consumer: the next get gets it
        return False

    def claimed(self, record: CodeRecord) -> None:
        """Count a code handed to a ``get`` (its claim was recorded by :meth:`hand`)."""
        del record
        self.counters["codes_delivered"] += 1

    def _record_claim(self, record: CodeRecord) -> bool:
        """Tell the daemon a code is about to be handed out; return whether it was fresh."""
        if self.on_claim is None:
            return False
        try:
            return bool(self.on_claim(record))
        except Exception as exc:  # the daemon's callback must not break delivery
            log.error("relay.on_claim_failed", error=type(exc).__name__, frames=frames(exc))
            return False

    def _release_claim(self, record: CodeRecord) -> None:
        """Undo a fresh claim whose answer never reached the consumer."""
        if self.on_release is None:
            return
        try:
            self.on_release(record)
        except Exception as exc:  # as above
            log.error("relay.on_release_failed", error=type(exc).__name__, frames=frames(exc))

    def now(self) -> float:
        """Return the broker's clock: the event loop's monotonic time."""
        return asyncio.get_running_loop().time()

    @property
    def hangups(self) -> HangupWatch | None:
        """Return the watch that tells sessions when the peer of a half-closed socket goes.

        None before :meth:`start` and after :meth:`close`.
        """
        return self._hangups

    def attach(self, session: Session) -> str | None:
        """Register a new connection.

        Returns None when admitted; else, registering nothing, why not (``max_connections``
        open, or ``max_connections_per_uid`` for the peer's uid): the session refuses it.
        """
        config = self.config
        refusal = None
        if len(self._sessions) >= config.max_connections:
            refusal = f"too many connections (at most {config.max_connections})"
        elif self._per_uid[session.peer.uid] >= config.max_connections_per_uid:
            refusal = (
                f"too many connections for uid {session.peer.uid} "
                f"(at most {config.max_connections_per_uid})"
            )
            self.counters["connections_refused_uid"] += 1
        if refusal is not None:
            self.counters["connections_refused"] += 1
            return refusal
        self._sessions[session.number] = session
        self._per_uid[session.peer.uid] += 1
        self.counters["connections_total"] += 1
        self.changed()
        return None

    def detach(self, session: Session) -> None:
        """Forget a closed connection and everything it had pending."""
        if self._sessions.pop(session.number, None) is None:
            return  # refused at the limit: it never had anything
        self._per_uid[session.peer.uid] -= 1
        if self._per_uid[session.peer.uid] <= 0:
            del self._per_uid[session.peer.uid]
        if not self._sessions:
            self._all_closed.set()
        for request_id in session.gets:
            self.broker.cancel((session.number, request_id))
        for request_id in session.subscriptions:
            self.broker.unsubscribe((session.number, request_id))
        session.gets.clear()
        session.subscriptions.clear()
        self.reschedule()

    def changed(self) -> None:
        """Wake every :meth:`wait_until`: connections, gets or subscriptions changed."""
        change, self._change = self._change, asyncio.Event()
        change.set()

    async def wait_until(self, predicate: Callable[[RelayServer], bool]) -> None:
        """Return once ``predicate(self)`` holds, woken by each change (no polling).

        For tests and tools: e.g. ``lambda s: s.broker.pending >= 1``.
        """
        while not predicate(self):
            await self._change.wait()

    @property
    def connections(self) -> int:
        """Return the number of open (admitted) connections."""
        return len(self._sessions)

    def reschedule(self) -> None:
        """Arm the one timer at the broker's next deadline (and report the change)."""
        self.changed()
        deadline = self.broker.next_deadline()
        if deadline == self._timer_at:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = deadline
        self._timer = (
            None if deadline is None else asyncio.get_running_loop().call_at(deadline, self._expire)
        )

    def status(self) -> dict[str, object]:
        """Return the daemon's snapshot plus the relay's own section."""
        snapshot: Mapping[str, object] = {}
        if self.status_port is not None:
            snapshot = self.status_port.snapshot()
        listener = self.listener
        relay = {
            "connections": len(self._sessions),
            "pending_gets": self.broker.pending,
            "subscriptions": self.broker.subscriptions,
            "denials": dict(self.access.denials),
            "counters": dict(self.counters),
            "uptime": round(time.monotonic() - self._started, 3),
            "socket": {
                "path": str(
                    listener.sock.getsockname()
                    if listener and listener.activated
                    else self.config.path
                ),
                "activated": bool(listener and listener.activated),
                "fd": listener.sock.fileno() if listener else None,
            },
        }
        return {**snapshot, "relay": relay}

    def _session(self) -> Session:
        self._next_number += 1
        return Session(self, self._next_number)

    def _expire(self) -> None:
        self._timer = None
        self._timer_at = None
        for expired in self.broker.expire(self.now()):
            session = self._sessions.get(_connection(expired.ticket))
            request_id = expired.ticket[1]  # type: ignore[index]
            if session is not None:
                session.gets.discard(request_id)
                session.fail(
                    request_id,
                    Timeout(f"no code arrived within the timeout of {expired.timeout:g} s"),
                )
                session.settle()
        self.reschedule()


def _delivered_last(outcome: Delivered | Notified) -> bool:
    return isinstance(outcome, Delivered)


def _connection(ticket: Ticket) -> int:
    number: int = ticket[0]  # type: ignore[index]
    return number
