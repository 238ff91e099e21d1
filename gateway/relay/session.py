"""One client connection of the relay: bytes in through the codec, replies out.

An ``asyncio.Protocol`` (no per-connection task), so hundreds of idle clients cost a few
kilobytes each. Writes go straight to the transport; a consumer that stops reading is
disconnected once its backlog passes ``write_hard_limit`` or stays above the high-water
mark for ``drain_timeout`` seconds, so one stuck reader never grows the daemon's memory.

A peer that has gone is dropped at once, with everything it had pending: end-of-file with
nothing left to answer closes the connection; end-of-file while requests are pending is a
half-close (``printf … | socat``) only as long as the peer can still read, which the
socket's ``POLLHUP`` tells (:mod:`gateway.relay.hangup`). A code is written to a ``get``
only through :meth:`Session.deliver`, which says whether the connection took it, so a
gone consumer never claims one. A connection with nothing pending for ``idle_timeout``
seconds is told so and closed.

The server owns its sessions; a session reaches back only through the
:class:`SessionHost` it was given (declared here), so it never imports the server.
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import struct
from collections import Counter
from collections.abc import Mapping
from typing import Any, Protocol

import structlog

from gateway.relay.access import AccessControl, Peer, Permission
from gateway.relay.errors import (
    BadRequest,
    ErrorCode,
    Forbidden,
    NotFound,
    RelayError,
    Unavailable,
)
from gateway.relay.hangup import HangupWatch, hung_up
from gateway.relay.messages import (
    Cancel,
    Error,
    Event,
    EventKind,
    Get,
    Greeting,
    Rejected,
    Request,
    RequestId,
    Result,
    Send,
    ServerMessage,
    Status,
    Subscribe,
)
from gateway.relay.ports import CodeRecord
from gateway.relay.protocol import RequestReader, encode
from gateway.relay.requests import (
    RequestHost,
    RequestLimits,
    answer_internal_error,
    handle_get,
    handle_send,
    handle_status,
    record_data,
    refuse_unrelayed,
)

log = structlog.get_logger("gateway.relay")
_PEERCRED = struct.Struct("3i")  # struct ucred {pid_t pid; uid_t uid; gid_t gid;}, socket(7)


class SessionLimits(RequestLimits, Protocol):
    """The per-connection limits a session keeps (``RelayConfig`` has them)."""

    @property
    def max_line(self) -> int:
        """The longest request line, in bytes."""

    @property
    def write_high_water(self) -> int:
        """Bytes queued before a consumer counts as stalled."""

    @property
    def write_hard_limit(self) -> int:
        """Bytes queued that disconnect it at once."""

    @property
    def drain_timeout(self) -> float:
        """Seconds a consumer may stay stalled."""

    @property
    def idle_timeout(self) -> float:
        """Seconds a connection with nothing pending stays (0: forever)."""


class SessionHost(RequestHost, Protocol):
    """What a session uses of the server that owns it (``RelayServer``)."""

    @property
    def config(self) -> SessionLimits:
        """The relay's limits."""

    access: AccessControl
    counters: Counter[str]
    version: str  # sent in the greeting

    @property
    def hangups(self) -> HangupWatch | None:
        """The watch that tells when the peer of a half-closed socket goes."""

    def attach(self, session: Session) -> str | None:
        """Register a new connection; return why it is refused, or None."""

    def detach(self, session: Session) -> None:
        """Forget a closed connection and everything it had pending."""

    def changed(self) -> None:
        """Wake those waiting for connections, gets or subscriptions to change."""


class Session(asyncio.Protocol):
    """The relay's side of one connection."""

    def __init__(self, server: SessionHost, number: int) -> None:
        self.server = server
        self.number = number
        self.reader = RequestReader(max_line=server.config.max_line)
        self.transport: asyncio.Transport | None = None
        self.peer = Peer(uid=-1, gid=-1, pid=0)
        self.gets: set[RequestId] = set()
        self.subscriptions: set[RequestId] = set()
        self.tasks: dict[RequestId, asyncio.Task[None]] = {}
        self._stall: asyncio.TimerHandle | None = None
        self._idle: asyncio.TimerHandle | None = None
        self._idle_at = 0.0
        self._fd = -1
        self.half_closed = False

    # --- asyncio callbacks ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        sock: socket.socket = transport.get_extra_info("socket")
        self._fd = sock.fileno()
        pid, uid, gid = _PEERCRED.unpack(
            sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEERCRED.size)
        )
        self.peer = self.server.access.identify(uid, gid, pid)
        config = self.server.config
        transport.set_write_buffer_limits(high=config.write_high_water)
        refusal = self.server.attach(self)
        if refusal is not None:
            # over max_connections or the per-uid cap: one error line instead of the
            # greeting, then close, so descriptors stay bounded and the listener keeps going
            log.warning("relay.too_many_connections", uid=self.peer.uid, pid=self.peer.pid)
            self.fail(None, Unavailable(refusal))
            transport.close()
            return
        self.send(Greeting(version=self.server.version, max_line=config.max_line))
        self._arm_idle()

    def data_received(self, data: bytes) -> None:
        self._arm_idle()
        for item in self.reader.feed(data):
            if self.transport is None or self.transport.is_closing():
                return
            if isinstance(item, Rejected):
                self.server.counters["rejected"] += 1
                log.warning("relay.rejected", error=item.error.value, uid=self.peer.uid)
                self.send(Error(id=item.id, code=item.error, message=item.message))
                if item.fatal:
                    self.transport.close()
                continue
            try:
                self.handle(item)
            except RelayError as exc:
                self.fail(item.id, exc)
            except Exception as exc:  # a bug or a failing port must not kill the connection
                answer_internal_error(self, item.id, exc)

    def eof_received(self) -> bool:
        # A half-close (``printf ... | socat``) still wants its pending answers: keep the
        # write side open until they are out, then close. A peer that closed entirely
        # (POLLHUP) can read nothing: drop it and what it had pending at once.
        self.half_closed = True
        if not self.busy:
            return False
        watch = self.server.hangups
        if watch is None or hung_up(self._fd):
            self.gone()
            return False
        watch.watch(self._fd, self.gone)
        return True

    @property
    def busy(self) -> bool:
        """Return whether a get, subscription, send or status is pending on the connection."""
        return bool(self.gets or self.subscriptions or self.tasks)

    def settle(self) -> None:
        """Close a half-closed connection once nothing is pending, or start its idle clock."""
        if self.busy or self.transport is None:
            return
        if self.half_closed:
            self.transport.close()
        else:
            self._arm_idle()

    def gone(self) -> None:
        """Drop the connection of a peer that has gone, with everything it had pending."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        self.server.counters["peers_gone"] += 1
        log.info(
            "relay.peer_gone",
            uid=self.peer.uid,
            pid=self.peer.pid,
            gets=len(self.gets),
            subscriptions=len(self.subscriptions),
        )
        transport.abort()  # connection_lost follows: the server forgets every request

    def pause_writing(self) -> None:
        loop = asyncio.get_running_loop()
        self._stall = loop.call_later(self.server.config.drain_timeout, self._too_slow)

    def resume_writing(self) -> None:
        if self._stall is not None:
            self._stall.cancel()
            self._stall = None

    def connection_lost(self, exc: Exception | None) -> None:
        self.resume_writing()
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        watch = self.server.hangups
        if self.half_closed and watch is not None:
            watch.unwatch(self._fd)  # before asyncio closes the descriptor
        self.server.detach(self)
        for task in self.tasks.values():
            task.cancel()
        self.transport = None

    # --- requests -------------------------------------------------------------------------

    def handle(self, request: Request) -> None:
        """Serve one request, raising :class:`RelayError` to answer with an error."""
        if request.id in self.gets or request.id in self.subscriptions or request.id in self.tasks:
            raise BadRequest("id is already used by a pending request")
        if isinstance(request, Get):
            self._checked(Permission.GET, request.origin, request.embedded_origin)
            handle_get(self.server, self, request)
        elif isinstance(request, Send):
            self._checked(Permission.SEND, request.origin, request.embedded_origin)
            handle_send(self.server, self, request)
        elif isinstance(request, Subscribe):
            # narrowed to an origin, it is checked as a get for that origin is: a pair the
            # peer may not see or the daemon never relays is refused now, not left silent
            self._checked(Permission.SUBSCRIBE, request.origin, request.embedded_origin)
            if request.origin is not None:
                refuse_unrelayed(self.server, request.origin, request.embedded_origin)
            self.subscriptions.add(request.id)
            # the filter reads the server's rules at each offer: a reload applies at once
            broker = self.server.broker
            ticket = (self.number, request.id)
            replay = broker.subscribe(
                ticket,
                self.may_see,
                after=request.after,
                wall=self.server.wall(),
                origin=request.origin,
                embedded_origin=request.embedded_origin,
            )
            self.server.changed()
            # where to resume from if the connection is lost now: the newest code so far,
            # or the subscriber's own cursor while its replay is still to come
            cursor = broker.cursor if request.after is None else request.after
            self.send(Result(id=request.id, value={"subscribed": True, "cursor": cursor}))
            for item in replay:
                self.event(request.id, EventKind.CODE, record_data(item.record, item.cursor))
        elif isinstance(request, Status):
            self._checked(Permission.STATUS)
            handle_status(self.server, self, request)
        elif isinstance(request, Cancel):
            self._cancel(request)

    def reidentify(self, resolved: dict[tuple[int, int], Peer]) -> None:
        """Resolve the peer's user and groups again (a reload: memberships may have changed).

        The uid, gid and pid are those ``SO_PEERCRED`` gave at connect time; only what the
        system databases say about them is read again. ``resolved`` memoises the lookups
        of one reload by (uid, gid), so many connections of one user cost one lookup.
        """
        peer = self.peer
        if peer.uid < 0:
            return  # not connected yet
        key = (peer.uid, peer.gid)
        if key not in resolved:
            resolved[key] = self.server.access.identify(peer.uid, peer.gid, peer.pid)
        self.peer = dataclasses.replace(resolved[key], pid=peer.pid)

    def may_see(self, record: CodeRecord) -> bool:
        """Return whether this peer's subscriptions may see ``record`` under today's rules."""
        return self.server.access.may_see(self.peer, record)

    def revoke(self) -> int:
        """End the pending gets and subscriptions the server's current rules forbid.

        Each ends with a ``forbidden`` error. Returns how many were ended.
        """
        access, broker = self.server.access, self.server.broker
        ended = 0
        for request_id in sorted(self.gets, key=str):
            key = broker.waiting_for((self.number, request_id))
            if key is None or access.allowed(self.peer, Permission.GET, *key):
                continue
            broker.cancel((self.number, request_id))
            self.gets.discard(request_id)
            self.fail(request_id, Forbidden("get is no longer allowed for this peer and origin"))
            ended += 1
        for request_id in sorted(self.subscriptions, key=str):
            # one narrowed to an origin the peer may no longer see would wait for nothing
            narrowed = broker.subscribed_to((self.number, request_id))
            if access.allowed(self.peer, Permission.SUBSCRIBE, *(narrowed or (None, None))):
                continue
            broker.unsubscribe((self.number, request_id))
            self.subscriptions.discard(request_id)
            target = "" if narrowed is None else " and origin"
            self.fail(
                request_id, Forbidden(f"subscribe is no longer allowed for this peer{target}")
            )
            ended += 1
        if ended:
            log.warning("relay.revoked", requests=ended, uid=self.peer.uid, pid=self.peer.pid)
            self.settle()
        return ended

    def _checked(
        self, permission: Permission, origin: str | None = None, embedded: str | None = None
    ) -> None:
        try:
            self.server.access.check(self.peer, permission, origin, embedded)
        except RelayError:
            log.warning(
                "relay.denied",
                op=permission.value,
                origin=origin,
                embedded_origin=embedded,
                uid=self.peer.uid,
                user=self.peer.user,
                pid=self.peer.pid,
            )
            raise

    def _cancel(self, request: Cancel) -> None:
        target = request.target
        ticket = (self.number, target)
        if target in self.gets:
            self.gets.discard(target)
            self.server.broker.cancel(ticket)
            self.server.reschedule()
            self.send(Error(id=target, code=ErrorCode.CANCELLED, message="get cancelled"))
        elif target in self.subscriptions:
            self.subscriptions.discard(target)
            self.server.broker.unsubscribe(ticket)
            self.server.changed()
            self.send(Event(id=target, kind=EventKind.END))
        elif target in self.tasks:
            self.tasks.pop(target).cancel()
            self.send(Event(id=target, kind=EventKind.END))
        else:
            raise NotFound("no pending request with that id on this connection")
        self.send(Result(id=request.id, value={"cancelled": target}))
        self.settle()

    # --- output ---------------------------------------------------------------------------

    def send(self, message: ServerMessage) -> None:
        """Write one message; disconnect a consumer whose backlog passed the hard limit."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        transport.write(encode(message))
        if transport.get_write_buffer_size() > self.server.config.write_hard_limit:
            self._too_slow()

    def can_answer(self) -> bool:
        """Return whether an answer written now would reach a live peer whole.

        False when the connection is gone, closing or hung up, or when a line would wait
        in this process's memory because the consumer stopped reading (the kernel's
        buffer is full): a line queued there is lost if the connection dies and cannot
        be taken back, so that stalled consumer is dropped instead.
        """
        transport = self.transport
        if transport is None or transport.is_closing():
            return False
        if hung_up(self._fd):
            self.gone()
            return False
        if transport.get_write_buffer_size() != 0:
            self._too_slow()  # never half a line out and the code to another get too
            return False
        return True

    def deliver(self, message: Result) -> bool:
        """Write the answer to a ``get`` if the connection can take all of it now.

        Returns True once the whole line is in the kernel's socket buffer for a live peer
        (:meth:`can_answer`). Returns False, and the code goes to the next waiting get,
        when it cannot or the write failed (EPIPE, reset) or would be left queued here.
        """
        if not self.can_answer():
            return False
        transport = self.transport
        assert transport is not None  # can_answer checked it
        self.send(message)  # a failed write (EPIPE, reset) closes the transport
        if transport.is_closing():
            return False
        if transport.get_write_buffer_size() == 0:
            return True
        self._too_slow()
        return False

    def fail(self, request_id: RequestId | None, exc: RelayError) -> None:
        """Answer ``request_id`` with the error ``exc``."""
        retry = getattr(exc, "retry_after", None)
        self.send(Error(id=request_id, code=exc.code, message=exc.message, retry_after=retry))

    def event(self, request_id: RequestId, kind: EventKind, data: Mapping[str, Any]) -> None:
        """Write one event of the stream opened by ``request_id``."""
        self.send(Event(id=request_id, kind=kind, data=data))

    def _arm_idle(self) -> None:
        # one timer per connection, moved lazily: activity only pushes _idle_at forward
        timeout = self.server.config.idle_timeout
        if not timeout or self.transport is None:
            return
        loop = asyncio.get_running_loop()
        self._idle_at = loop.time() + timeout
        if self._idle is None:
            self._idle = loop.call_at(self._idle_at, self._idle_check)

    def _idle_check(self) -> None:
        self._idle = None
        transport = self.transport
        if self.busy or transport is None or transport.is_closing():
            return  # settle() starts the clock again when the pending work ends
        loop = asyncio.get_running_loop()
        if loop.time() < self._idle_at:
            self._idle = loop.call_at(self._idle_at, self._idle_check)
            return
        timeout = self.server.config.idle_timeout
        self.server.counters["idle_closed"] += 1
        log.info("relay.idle_closed", uid=self.peer.uid, pid=self.peer.pid, idle=timeout)
        self.fail(None, Unavailable(f"closed after {timeout:g} s idle with nothing pending"))
        transport.close()

    def _too_slow(self) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        self.server.counters["slow_consumers_dropped"] += 1
        log.warning("relay.slow_consumer", uid=self.peer.uid, pid=self.peer.pid)
        self.transport.abort()
