"""The asyncio relay client: many concurrent requests on one connection.

A reader task routes each line to the request it names. Cancelling the task awaiting
:meth:`AsyncClient.get` sends a ``cancel`` for it, the way an AbortSignal aborts
``navigator.credentials.get``. Like the blocking client, a ``get`` and a subscription
survive a lost connection (a daemon restart): the client connects again with a bounded
backoff and asks again with ``since`` / resumes ``after`` the last code seen.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path
from types import TracebackType
from typing import Self

from gateway.relay.clientcodec import (
    GetAttempts,
    Reconnect,
    Resume,
    ServerReader,
    encode_request,
    expect_result,
    send_request,
)
from gateway.relay.errors import RelayError, Unavailable, error_for
from gateway.relay.messages import (
    DEFAULT_SOCKET,
    Cancel,
    Error,
    Event,
    EventKind,
    Greeting,
    Request,
    RequestId,
    Result,
    ServerMessage,
    Status,
)
from gateway.relay.ports import CodeRecord, JobEvent, SendAccepted
from gateway.relay.replies import accepted_from, code_from, job_event_from, raise_error

_Item = ServerMessage | RelayError


class AsyncClient:
    """An asyncio relay client; use ``async with AsyncClient(path) as client``."""

    def __init__(
        self,
        path: str | os.PathLike[str] = DEFAULT_SOCKET,
        *,
        reconnect: bool = True,
        reconnect_for: float = 60.0,
    ) -> None:
        self.path = Path(path)
        self.reconnect = reconnect
        self.reconnect_for = reconnect_for  # how long a subscription tries to get back
        self.reconnects = 0  # how often a lost connection was made again
        self._generation = 0  # bumped by each connect: who reconnects, and who reuses it
        self._reconnecting: asyncio.Lock | None = None
        self.greeting: Greeting | None = None
        self._ids = itertools.count(1)
        self._queues: dict[RequestId, asyncio.Queue[_Item]] = {}
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None
        self._lost: RelayError | None = None
        self._greeted: asyncio.Future[Greeting] | None = None

    async def connect(self, wait: float = 0.0) -> None:
        """Connect and wait for the greeting, trying for up to ``wait`` seconds.

        Raises ``Unavailable`` when unreachable.
        """
        await self._connect_until(Reconnect(time.monotonic() + wait))

    async def _connect_until(self, plan: Reconnect) -> None:
        """Connect, retrying an unreachable gateway with backoff until ``plan`` gives up."""
        while True:
            try:
                await self._connect_once()
                return
            except Unavailable:
                pause = plan.pause(time.monotonic())
                if pause is None:
                    raise
                await asyncio.sleep(pause)  # capped backoff: nothing to wait on yet

    async def _connect_once(self) -> None:
        await self.close()
        self._lost = None
        self._generation += 1
        try:
            reader, self._writer = await asyncio.open_unix_connection(os.fspath(self.path))
        except OSError as exc:
            raise Unavailable(f"cannot reach the gateway at {self.path}: {exc}") from exc
        self._greeted = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(self._read(reader))
        try:
            self.greeting = await self._greeted
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        """Close the connection and stop the reader task."""
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._writer = None
        self._task = None

    async def _reconnect(self, generation: int, plan: Reconnect) -> None:
        """Connect again after the connection ``generation`` was lost (once for all users).

        Raises ``Unavailable`` when ``plan`` gives up.
        """
        if self._reconnecting is None:
            self._reconnecting = asyncio.Lock()
        async with self._reconnecting:
            if self._generation != generation and self._lost is None:
                return  # another request already connected again
            await self._connect_until(plan)
            self.reconnects += 1

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def next_id(self) -> int:
        """Return a fresh request id."""
        return next(self._ids)

    async def get(
        self,
        origin: str,
        *,
        embedded_origin: str | None = None,
        timeout: float | None = None,
        request_id: RequestId | None = None,
        since: float | None = None,
    ) -> CodeRecord:
        """Wait for the next code for ``origin``; raises ``Timeout``, ``Cancelled``…

        ``since`` (Unix time): when the consumer first asked, if earlier. A lost
        connection is made again and the get asked again with ``since`` (when it was
        first asked), within ``timeout`` (default 120 s) overall; ``Unavailable`` when
        no gateway answers within it.
        """
        rid = self.next_id() if request_id is None else request_id
        attempts = GetAttempts(
            rid,
            origin,
            embedded_origin=embedded_origin,
            timeout=timeout,
            since=since,
            key=secrets.token_hex(16),  # repeated when asking again: a retry, not a new consumer
            now=time.monotonic(),
            wall=time.time(),
        )
        while True:
            request = attempts.next_request(time.monotonic())
            generation = self._generation
            try:
                return code_from((await self._call(request)).value)
            except asyncio.CancelledError:
                if self._writer is not None and not self._writer.is_closing():
                    self._writer.write(encode_request(Cancel(id=f"abort-{rid}", target=rid)))
                raise
            except Unavailable:
                if not self.reconnect:
                    raise
                await self._reconnect(generation, attempts.plan)

    async def cancel(self, request_id: RequestId) -> None:
        """Abort the pending request ``request_id``; raises ``NotFound`` if none."""
        await self._call(Cancel(id=self.next_id(), target=request_id))

    async def status(self) -> dict[str, object]:
        """Return the gateway's status snapshot; raises ``Forbidden`` when not allowed."""
        return dict((await self._call(Status(id=self.next_id()))).value)

    async def send(
        self,
        number: str,
        origin: str,
        *,
        embedded_origin: str | None = None,
        code: str | None = None,
        text: str | None = None,
    ) -> SendAccepted:
        """Queue an OTP SMS; return its job id, status and the code the SMS carries.

        Raises ``RateLimited``, ``BadRequest``, ``Forbidden``, ``Unavailable``.
        """
        request = send_request(
            self.next_id(),
            number,
            origin,
            embedded_origin=embedded_origin,
            code=code,
            text=text,
            watch=False,
        )
        return accepted_from((await self._call(request)).value)

    async def send_watch(
        self,
        number: str,
        origin: str,
        *,
        embedded_origin: str | None = None,
        code: str | None = None,
        text: str | None = None,
    ) -> AsyncJobWatch:
        """Queue an OTP SMS and follow it.

        Returns an :class:`AsyncJobWatch` (``job_id``, then ``async for`` its events).
        """
        request = send_request(
            self.next_id(),
            number,
            origin,
            embedded_origin=embedded_origin,
            code=code,
            text=text,
            watch=True,
        )
        queue, ack = await self._start_stream(request)
        return AsyncJobWatch(accepted_from(ack.value), self._events(request.id, queue))

    async def subscribe(self, *, after: int | None = None) -> AsyncIterator[CodeRecord]:
        """Subscribe; once the gateway confirmed it, return an iterator of the codes.

        ``after``: the cursor of the last code seen before. A lost connection is made
        again (for up to ``reconnect_for`` s) and the subscription resumed after the
        last code seen: none missed, none twice. Raises ``Forbidden``, ``Unavailable``.
        """
        place = Resume(after)
        request = place.request(self.next_id())
        generation = self._generation
        queue, ack = await self._start_stream(request)
        place.confirmed(ack.value)
        return self._follow(request.id, queue, place, generation)

    async def _follow(
        self,
        rid: RequestId,
        queue: asyncio.Queue[_Item],
        place: Resume,
        generation: int,
    ) -> AsyncIterator[CodeRecord]:
        while True:
            try:
                async for event in self._events(rid, queue):
                    record = code_from(event.data)
                    place.seen(record)
                    yield record
                return
            except Unavailable:
                if not self.reconnect:
                    raise
                plan = Reconnect(time.monotonic() + self.reconnect_for)
                while True:
                    await self._reconnect(generation, plan)
                    generation = self._generation
                    request = place.request(self.next_id())
                    try:
                        queue, ack = await self._start_stream(request)
                    except Unavailable:
                        continue  # lost again at once: the plan bounds how long
                    rid = request.id
                    place.confirmed(ack.value)
                    break

    # --- plumbing -------------------------------------------------------------------------

    def _open(self, request: Request) -> asyncio.Queue[_Item]:
        if self._lost is not None:
            raise self._lost
        if self._writer is None:
            raise Unavailable("not connected")
        queue: asyncio.Queue[_Item] = asyncio.Queue()
        self._queues[request.id] = queue
        self._writer.write(encode_request(request))
        return queue

    @staticmethod
    async def _next(queue: asyncio.Queue[_Item]) -> Result | Event:
        item = await queue.get()
        if isinstance(item, RelayError):
            raise item
        if isinstance(item, Error):
            raise_error(item)
        assert not isinstance(item, Greeting)
        return item

    async def _call(self, request: Request) -> Result:
        queue = self._open(request)
        try:
            reply = await self._next(queue)
        finally:
            self._queues.pop(request.id, None)
        return expect_result(reply)

    async def _start_stream(self, request: Request) -> tuple[asyncio.Queue[_Item], Result]:
        queue = self._open(request)
        try:
            ack = expect_result(await self._next(queue))
        except BaseException:
            self._queues.pop(request.id, None)
            raise
        return queue, ack

    async def _events(self, rid: RequestId, queue: asyncio.Queue[_Item]) -> AsyncIterator[Event]:
        try:
            while True:
                message = await self._next(queue)
                if isinstance(message, Event):
                    if message.kind is EventKind.END:
                        return
                    yield message
        finally:
            self._queues.pop(rid, None)

    async def _read(self, reader: asyncio.StreamReader) -> None:
        decoder = ServerReader()
        try:
            while data := await reader.read(65536):
                for message in decoder.feed(data):
                    self._route(message)
            self._lost = Unavailable("the gateway closed the connection")
        except RelayError as exc:
            self._lost = exc
        except OSError as exc:
            self._lost = Unavailable(f"lost the connection to the gateway: {exc}")
        if self._greeted is not None and not self._greeted.done():
            self._greeted.set_exception(self._lost)
        for queue in self._queues.values():
            queue.put_nowait(self._lost)

    def _route(self, message: ServerMessage) -> None:
        if isinstance(message, Greeting):
            if self._greeted is not None and not self._greeted.done():
                self._greeted.set_result(message)
            return
        greeted = self._greeted
        if greeted is not None and not greeted.done() and isinstance(message, Error):
            # refused instead of greeted (too many connections)
            greeted.set_exception(
                error_for(message.code, message.message, retry_after=message.retry_after)
            )
            return
        if message.id is None:
            for queue in self._queues.values():
                queue.put_nowait(message)
            return
        target = self._queues.get(message.id)
        if target is not None:
            target.put_nowait(message)


class AsyncJobWatch:
    """A queued send job: ``job_id``, ``code`` and an async iterator of its :class:`JobEvent`s."""

    def __init__(self, accepted: SendAccepted, events: AsyncIterator[Event]) -> None:
        self.job_id = accepted.job_id
        self.code = accepted.code
        self._events = events

    async def __aiter__(self) -> AsyncIterator[JobEvent]:
        async for event in self._events:
            yield job_event_from(event.data)
