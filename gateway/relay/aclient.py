"""The asyncio relay client: many concurrent requests on one connection.

A shell over :class:`~gateway.relay.clientconn.ClientConnection`: a reader task feeds it
what the socket gives, and it files each line under the request it names; each waiting
request is woken by a future of its own. Cancelling the task awaiting
:meth:`AsyncClient.get` sends a ``cancel`` for it, the way an AbortSignal aborts
``navigator.credentials.get``. Like the blocking client, a ``get`` and a subscription
survive a lost connection (a daemon restart): the client connects again with a bounded
backoff and asks again with ``since`` / resumes ``after`` the last code seen.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Callable, Iterable
from types import TracebackType
from typing import Self, TypeVar

from gateway.relay.clientcodec import Reconnect, Resume, expect_result
from gateway.relay.clientconn import ClientConnection, Ended
from gateway.relay.clientshell import ClientShell
from gateway.relay.errors import Unavailable
from gateway.relay.messages import (
    DEFAULT_SOCKET,
    Cancel,
    Event,
    Greeting,
    Request,
    RequestId,
    Result,
    Status,
)
from gateway.relay.ports import CodeRecord, JobEvent, SendAccepted
from gateway.relay.replies import accepted_from, code_from, job_event_from

T = TypeVar("T")


class _Link:
    """One connection of the asyncio client: its core, its writer, its reader task, its waiters.

    The reader task feeds what it reads to the core and wakes the requests it has news
    for; a request waits on a future of its own (never on every line that comes in).
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.conn = ClientConnection()
        self.writer = writer
        self._waiting: dict[RequestId | None, list[asyncio.Future[None]]] = {}
        self._task = asyncio.create_task(self._read(reader))

    def write(self, request: Request, *, ignore_reply: bool = False) -> None:
        """Send ``request``; raises the loss of the connection once it is lost."""
        self.writer.write(self.conn.send(request, ignore_reply=ignore_reply))

    async def greeting(self) -> Greeting:
        """Wait for the greeting; raises the refusal or the loss of the connection."""
        return await self._until(None, self.conn.greeted)

    async def reply(self, rid: RequestId) -> Result | Event:
        """Wait for the next reply to ``rid``; raises its error or the connection's loss."""
        return await self._until(rid, lambda: self.conn.next_reply(rid))

    async def event(self, rid: RequestId) -> Event | Ended:
        """Wait for the next event of the stream ``rid`` (:data:`END` at its end)."""
        return await self._until(rid, lambda: self.conn.next_event(rid))

    def abort(self, rid: RequestId) -> None:
        """Give up ``rid`` and tell the gateway so, not waiting for the cancel's reply."""
        self.conn.forget(rid)
        if self.conn.lost is None and not self.writer.is_closing():
            self.write(Cancel(id=f"abort-{rid}", target=rid), ignore_reply=True)

    async def close(self) -> None:
        """Close the connection (what is pending on it is told so) and stop the reader."""
        self._wake(self.conn.connection_lost(Unavailable("the connection was closed")))
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _until(self, rid: RequestId | None, take: Callable[[], T | None]) -> T:
        """Return what ``take`` gives, waiting for news of ``rid`` while it gives None."""
        while (value := take()) is None:
            await self._wait(rid)
        return value

    async def _wait(self, rid: RequestId | None) -> None:
        future = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(rid, []).append(future)
        try:
            await future
        finally:  # woken, or the waiter was cancelled
            waiters = self._waiting.get(rid, [])
            if future in waiters:
                waiters.remove(future)
                if not waiters:
                    del self._waiting[rid]

    def _wake(self, woken: Iterable[RequestId | None]) -> None:
        for rid in woken:
            for future in self._waiting.pop(rid, []):
                if not future.done():
                    future.set_result(None)

    async def _read(self, reader: asyncio.StreamReader) -> None:
        lost = Unavailable("the connection was closed")
        try:
            while self.conn.lost is None:
                self._wake(self.conn.receive_data(await reader.read(65536)))
        except OSError as exc:
            lost = Unavailable(f"lost the connection to the gateway: {exc}")
        finally:  # however the reader ends, who waits is told (a no-op once lost)
            self._wake(self.conn.connection_lost(lost))


class AsyncClient(ClientShell):
    """An asyncio relay client; use ``async with AsyncClient(path) as client``."""

    def __init__(
        self,
        path: str | os.PathLike[str] = DEFAULT_SOCKET,
        *,
        reconnect: bool = True,
        reconnect_for: float = 60.0,
    ) -> None:
        super().__init__(path, reconnect=reconnect, reconnect_for=reconnect_for)
        self.greeting: Greeting | None = None
        self._reconnecting: asyncio.Lock | None = None
        self._link: _Link | None = None

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
        try:
            reader, writer = await asyncio.open_unix_connection(os.fspath(self.path))
        except OSError as exc:
            raise Unavailable(f"cannot reach the gateway at {self.path}: {exc}") from exc
        link = self._link = _Link(reader, writer)
        try:
            self.greeting = await link.greeting()
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        """Close the connection and stop the reader task."""
        link, self._link = self._link, None
        if link is not None:
            await link.close()

    async def _reconnect(self, lost: _Link | None, plan: Reconnect) -> None:
        """Connect again after the connection ``lost`` failed (once for all its users).

        Raises ``Unavailable`` when ``plan`` gives up.
        """
        if self._reconnecting is None:
            self._reconnecting = asyncio.Lock()
        async with self._reconnecting:
            link = self._link
            if link is not None and link is not lost and link.conn.lost is None:
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
        attempts = self._get_attempts(origin, embedded_origin, timeout, request_id, since)
        while True:
            request = attempts.next_request(time.monotonic())
            link = self._link
            try:
                return code_from((await self._call(link, request)).value)
            except asyncio.CancelledError:
                if link is not None:
                    link.abort(request.id)
                raise
            except Unavailable:
                if not self.reconnect:
                    raise
                await self._reconnect(link, attempts.plan)

    async def cancel(self, request_id: RequestId) -> None:
        """Abort the pending request ``request_id``; raises ``NotFound`` if none."""
        await self._call(self._link, Cancel(id=self.next_id(), target=request_id))

    async def status(self) -> dict[str, object]:
        """Return the gateway's status snapshot; raises ``Forbidden`` when not allowed."""
        return dict((await self._call(self._link, Status(id=self.next_id()))).value)

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
        request = self._send_request(number, origin, embedded_origin, code, text, watch=False)
        return accepted_from((await self._call(self._link, request)).value)

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
        request = self._send_request(number, origin, embedded_origin, code, text, watch=True)
        link = self._connected()
        ack = await self._call(link, request)
        return AsyncJobWatch(accepted_from(ack.value), self._events(link, request.id))

    async def subscribe(
        self,
        *,
        after: int | None = None,
        origin: str | None = None,
        embedded_origin: str | None = None,
    ) -> AsyncIterator[CodeRecord]:
        """Subscribe; once the gateway confirmed it, return an iterator of the codes.

        ``after``: the cursor of the last code seen before. ``origin`` (+
        ``embedded_origin``): only the codes a ``get`` for that exact pair would take,
        refused at once as such a get is. A lost connection is made again (for up to
        ``reconnect_for`` s) and the subscription resumed after the last code seen, for
        the same origin: none missed, none twice. Raises ``Forbidden``, ``BadRequest``,
        ``Unavailable``.
        """
        place = Resume(after, origin=origin, embedded_origin=embedded_origin)
        return self._follow(place, *await self._subscribe(place))

    async def _subscribe(self, place: Resume) -> tuple[_Link, RequestId]:
        request = place.request(self.next_id())
        link = self._connected()
        place.confirmed((await self._call(link, request)).value)
        return link, request.id

    async def _follow(
        self, place: Resume, link: _Link, rid: RequestId
    ) -> AsyncIterator[CodeRecord]:
        while True:
            try:
                async for event in self._events(link, rid):
                    yield place.take(event)
                return
            except Unavailable:
                if not self.reconnect:
                    raise
                link, rid = await self._resubscribe(place, link)

    async def _resubscribe(self, place: Resume, lost: _Link | None) -> tuple[_Link, RequestId]:
        plan = self._resubscribe_plan()
        while True:
            await self._reconnect(lost, plan)
            lost = self._link
            try:
                return await self._subscribe(place)
            except Unavailable:
                continue  # lost again at once: the plan bounds how long

    # --- plumbing: the shell only writes and waits; the core routes --------------------

    def _connected(self) -> _Link:
        if self._link is None:
            raise Unavailable("not connected")
        return self._link

    async def _call(self, link: _Link | None, request: Request) -> Result:
        """Send ``request`` on ``link``; return its result (a stream's first reply).

        Raises the typed error of its error reply, ``Unavailable`` when not connected or
        the connection is lost.
        """
        if link is None:
            raise Unavailable("not connected")
        link.write(request)
        try:
            return expect_result(await link.reply(request.id))
        except BaseException:
            link.conn.forget(request.id)
            raise

    async def _events(self, link: _Link, rid: RequestId) -> AsyncIterator[Event]:
        try:
            # the stream's events, then END (not an Event): the end
            while isinstance(event := await link.event(rid), Event):
                yield event
        finally:
            link.conn.forget(rid)


class AsyncJobWatch:
    """A queued send job: ``job_id``, ``code`` and an async iterator of its :class:`JobEvent`s."""

    def __init__(self, accepted: SendAccepted, events: AsyncIterator[Event]) -> None:
        self.job_id = accepted.job_id
        self.code = accepted.code
        self._events = events

    async def __aiter__(self) -> AsyncIterator[JobEvent]:
        async for event in self._events:
            yield job_event_from(event.data)
