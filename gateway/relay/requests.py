"""Serving ``get``, ``send`` and ``status`` for a session: the broker and the daemon's ports.

Each handler is given the server as a :class:`RequestHost` and the asking connection as
a :class:`Requester`: what it uses of each, declared here, so this module imports
neither the session that calls it nor the server that owns both (house style §8).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, Protocol

import structlog

from gateway.relay.access import Peer
from gateway.relay.broker import Broker, Delivered
from gateway.relay.errors import Forbidden, RelayError, TooManyPending, Unavailable
from gateway.relay.messages import (
    EventKind,
    Get,
    RequestId,
    Result,
    Send,
    ServerMessage,
    Status,
)
from gateway.relay.ports import CodeRecord, SendPort, SendRequest, StatusPort
from gateway.tracebacks import frames

log = structlog.get_logger("gateway.relay")


class RequestLimits(Protocol):
    """The per-connection limit a handler enforces (``RelayConfig`` has it)."""

    @property
    def max_pending_gets(self) -> int:
        """Pending ``get`` requests one connection may have."""


class RequestHost(Protocol):
    """What the handlers use of the relay server: the broker, the ports, the clocks."""

    @property
    def config(self) -> RequestLimits:
        """The relay's limits."""

    broker: Broker
    send_port: SendPort | None  # None: this gateway does not send
    status_port: StatusPort | None
    wall: Callable[[], float]  # the clock codes' arrival times and a get's since are on
    # why codes for (origin, embedded_origin) are never offered (the daemon's allow-list)
    refuses_origin: Callable[[str, str | None], str | None] | None

    def now(self) -> float:
        """Return the broker's (monotonic) clock."""

    def hand(self, outcome: Delivered) -> bool:
        """Write the code of ``outcome`` to the ``get`` it names; False if it cannot go."""

    def claimed(self, record: CodeRecord) -> None:
        """Count a code handed to a ``get`` and tell the daemon."""

    def reschedule(self) -> None:
        """Arm the timer at the broker's next deadline."""

    def status(self) -> dict[str, object]:
        """Return the daemon's snapshot plus the relay's own section."""


class Requester(Protocol):
    """What the handlers use of the connection that asked."""

    number: int
    peer: Peer
    gets: set[RequestId]
    tasks: dict[RequestId, asyncio.Task[None]]

    def send(self, message: ServerMessage) -> None:
        """Write one message to the peer."""

    def event(self, request_id: RequestId, kind: EventKind, data: Mapping[str, Any]) -> None:
        """Write one event of the request ``request_id``."""

    def fail(self, request_id: RequestId | None, exc: RelayError) -> None:
        """Answer the request ``request_id`` with the error ``exc``."""

    def settle(self) -> None:
        """Note that a request task ended (the idle timer may start)."""


def record_data(record: CodeRecord, cursor: int | None = None) -> dict[str, object]:
    """Return the wire form of a code record (the ``get`` result, the ``code`` event).

    ``cursor`` (the code's place in the gateway's sequence) is what a subscriber passes
    as ``after`` to resume; it is left out when not known.
    """
    data: dict[str, object] = {
        "origin": record.origin,
        "embedded_origin": record.embedded_origin,
        "code": record.code,
        "sender": record.sender,
        "received_at": record.received_at.isoformat(),
    }
    if cursor is not None:
        data["cursor"] = cursor
    return data


def answer_internal_error(
    session: Requester,
    request_id: RequestId,
    exc: Exception,
    *,
    event: str = "relay.internal_error",
    reply: str = "the gateway failed to serve this request",
) -> None:
    """Answer a request that failed on the gateway's side (a bug, a failing port).

    Logs ``event`` with the exception's type and frames, never its message (it may hold
    a code or a number), and answers ``Unavailable``: the consumer's fault it was not.
    """
    log.error(event, error=type(exc).__name__, uid=session.peer.uid, frames=frames(exc))
    session.fail(request_id, Unavailable(reply))


def refuse_unrelayed(server: RequestHost, origin: str, embedded_origin: str | None) -> None:
    """Refuse a request for a pair whose codes the daemon never relays (its allow-list).

    A ``get`` (or a subscription narrowed to the pair) would wait for nothing: it is
    told at once instead. Raises :class:`Forbidden` with the daemon's reason.
    """
    if server.refuses_origin is not None:
        reason = server.refuses_origin(origin, embedded_origin)
        if reason is not None:
            raise Forbidden(reason)


def handle_get(server: RequestHost, session: Requester, request: Get) -> None:
    """Start a ``get``: answer at once from the grace window or leave it pending.

    Raises :class:`Forbidden` for a pair the daemon never relays codes for,
    :class:`TooManyPending` when the connection is at its limit.
    """
    refuse_unrelayed(server, request.origin, request.embedded_origin)
    if len(session.gets) >= server.config.max_pending_gets:
        raise TooManyPending(
            f"at most {server.config.max_pending_gets} pending get requests per connection"
        )
    outcome = server.broker.get(
        (session.number, request.id),
        origin=request.origin,
        embedded_origin=request.embedded_origin,
        now=server.now(),
        wall=server.wall(),
        timeout=request.timeout,
        since=request.since,
        # a key is the peer's own: another uid repeating it claims nothing of this one
        claimant=None if request.key is None else f"relay uid={session.peer.uid} key={request.key}",
        hand=server.hand,
    )
    if outcome is None:
        session.gets.add(request.id)
        server.reschedule()
        # who waits for which origin (never a code): also the cue tests and tools wait on
        log.info(
            "relay.get_pending",
            origin=request.origin,
            embedded_origin=request.embedded_origin,
            uid=session.peer.uid,
        )
    else:
        server.claimed(outcome.record)  # claimed and written by server.hand


def handle_send(server: RequestHost, session: Requester, request: Send) -> None:
    """Submit a send job in a task owned by the session (cancelled when it goes away).

    Raises :class:`Unavailable` when the daemon gave the relay no send port.
    """
    port = server.send_port
    if port is None:
        raise Unavailable("sending is not available on this gateway")
    _own(session, request.id, _run_send(session, request, port))


def handle_status(server: RequestHost, session: Requester, request: Status) -> None:
    """Answer ``status`` in a task: the daemon may refresh cached figures first."""
    _own(session, request.id, _run_status(server, session, request))


def _own(session: Requester, request_id: RequestId, work: Coroutine[Any, Any, None]) -> None:
    task = asyncio.get_running_loop().create_task(work)
    session.tasks[request_id] = task

    def forget(done: asyncio.Task[None]) -> None:
        if session.tasks.get(request_id) is done:
            del session.tasks[request_id]
            session.settle()

    task.add_done_callback(forget)


async def _run_status(server: RequestHost, session: Requester, request: Status) -> None:
    port = server.status_port
    try:
        if port is not None:
            await port.refresh()
        session.send(Result(id=request.id, value=server.status()))
    except Exception as exc:  # the port is the daemon's code: never let it kill the session
        answer_internal_error(session, request.id, exc)


async def _run_send(session: Requester, request: Send, port: SendPort) -> None:
    try:
        accepted = await port.submit(
            SendRequest(
                number=request.number,
                origin=request.origin,
                embedded_origin=request.embedded_origin,
                code=request.code,
                text=request.text,
                peer_uid=session.peer.uid,
            )
        )
        value: dict[str, object] = {"job": accepted.job_id, "status": accepted.status.value}
        if accepted.code is not None:
            value["code"] = accepted.code  # the requester must know it to check the user's entry
        session.send(Result(id=request.id, value=value))
        if not request.watch:
            return
        async for event in port.watch(accepted.job_id):
            data = {"job": event.job_id, "status": event.status.value, "at": event.at.isoformat()}
            if event.detail is not None:
                data["detail"] = event.detail
            session.event(request.id, EventKind.JOB, data)
        session.event(request.id, EventKind.END, {})
    except RelayError as exc:
        log.info("relay.send_refused", error=exc.code.value, uid=session.peer.uid)
        session.fail(request.id, exc)
    except Exception as exc:  # the port is the daemon's code: never let it kill the session
        answer_internal_error(
            session,
            request.id,
            exc,
            event="relay.send_port_failed",
            reply="the send queue failed to accept the request",
        )
