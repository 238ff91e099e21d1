"""The relay client library: a small blocking :class:`Client` and an asyncio :class:`AsyncClient`.

Both speak the JSON-lines protocol of :mod:`gateway.relay.protocol` and raise the typed
errors of :mod:`gateway.relay.errors` (``Forbidden``, ``Timeout``, ``Cancelled``…), each
carrying its stable ``code``. A socket that cannot be reached raises ``Unavailable``.

Both reconnect on their own (issue 13.2): a ``get`` whose connection is lost (or is
answered ``unavailable``: the gateway restarts) connects again with a bounded backoff and
asks again with ``since`` set to when it first asked, within its overall timeout; a
subscription resumes after the cursor of the last code it saw, so codes that arrived
meanwhile are replayed, none twice. ``reconnect=False`` turns this off.

    with Client("/run/otp-gateway/gateway.sock") as client:
        code = client.get("shop.example", timeout=120).code
"""

from __future__ import annotations

import itertools
import os
import secrets
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Self

from gateway.relay.aclient import AsyncClient
from gateway.relay.clientcodec import (
    GetAttempts,
    Reconnect,
    Resume,
    ServerReader,
    encode_request,
    expect_result,
    send_request,
)
from gateway.relay.errors import RelayError, Unavailable
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

__all__ = ["AsyncClient", "Client", "JobWatch", "connect", "connect_async"]


class Client:
    """A blocking relay client; one request at a time (``cancel`` may come from any thread)."""

    def __init__(
        self,
        path: str | os.PathLike[str] = DEFAULT_SOCKET,
        *,
        timeout: float = 30.0,
        reconnect: bool = True,
        reconnect_for: float = 60.0,
        connect_wait: float = 0.0,
    ):
        """Connect (trying again for up to ``connect_wait`` s); raises ``Unavailable``.

        ``timeout`` bounds each wait for a reply; ``reconnect_for`` how long a
        subscription tries to get its connection back before it raises ``Unavailable``.
        """
        self.path = Path(path)
        self.timeout = timeout
        self.reconnect = reconnect
        self.reconnect_for = reconnect_for
        self.reconnects = 0  # how often a lost connection was made again
        self._ids = itertools.count(1)
        self._write_lock = threading.Lock()
        self._reader = ServerReader()
        self._backlog: deque[ServerMessage] = deque()
        self._ignored: set[RequestId] = set()
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.greeting = self._connect_until(Reconnect(time.monotonic() + connect_wait))

    def _connect_once(self) -> Greeting:
        self._sock.close()
        self._reader = ServerReader()
        self._backlog.clear()
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.settimeout(self.timeout)
        try:
            self._sock.connect(os.fspath(self.path))
            first = self._next_message()
            if isinstance(first, Error) and first.id is None:
                raise_error(first)  # refused, e.g. too many connections
            if not isinstance(first, Greeting):
                raise Unavailable("the socket did not greet like otp-gateway")
        except OSError as exc:
            self._sock.close()
            raise Unavailable(f"cannot reach the gateway at {self.path}: {exc}") from exc
        except RelayError:
            self._sock.close()
            raise
        return first

    def _connect_until(self, plan: Reconnect) -> Greeting:
        """Connect, retrying an unreachable gateway with backoff until ``plan`` gives up."""
        while True:
            try:
                return self._connect_once()
            except Unavailable:
                pause = plan.pause(time.monotonic())
                if pause is None:
                    raise
                # capped backoff: a socket that is not there yet gives nothing to wait on
                time.sleep(pause)  # capped backoff: nothing to wait on yet

    def _reconnect(self, plan: Reconnect) -> None:
        self.greeting = self._connect_until(plan)
        self.reconnects += 1

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection."""
        self._sock.close()

    def next_id(self) -> int:
        """Return a fresh request id (pass it to :meth:`get` to :meth:`cancel` it later)."""
        return next(self._ids)

    def get(
        self,
        origin: str,
        *,
        embedded_origin: str | None = None,
        timeout: float | None = None,
        request_id: RequestId | None = None,
        since: float | None = None,
    ) -> CodeRecord:
        """Wait for the next code for ``origin`` (``navigator.credentials.get``).

        ``since`` (Unix time) is when the consumer first asked, if earlier than now. A
        lost connection is made again and the get asked again with ``since`` (when it
        was first asked), all within ``timeout`` (default 120 s).
        Returns the :class:`CodeRecord`; raises ``Timeout``, ``Cancelled``, ``Forbidden``,
        ``Unavailable`` (no gateway within the timeout)…
        """
        attempts = GetAttempts(
            self.next_id() if request_id is None else request_id,
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
            try:
                reply = self._call(request, wait=attempts.left + self.timeout)
                return code_from(reply.value)
            except Unavailable:
                if not self.reconnect:
                    raise
                self._reconnect(attempts.plan)  # raises Unavailable once the timeout is spent

    def cancel(self, request_id: RequestId) -> None:
        """Abort the pending request ``request_id`` (safe to call from another thread)."""
        rid = f"cancel-{self.next_id()}"
        self._ignored.add(rid)
        self._write(Cancel(id=rid, target=request_id))

    def status(self) -> dict[str, object]:
        """Return the gateway's status snapshot; raises ``Forbidden`` when not allowed."""
        return dict(self._call(Status(id=self.next_id())).value)

    def send(
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
        return accepted_from(self._call(request).value)

    def send_watch(
        self,
        number: str,
        origin: str,
        *,
        embedded_origin: str | None = None,
        code: str | None = None,
        text: str | None = None,
    ) -> JobWatch:
        """Queue an OTP SMS and follow it; returns a :class:`JobWatch` to iterate."""
        request = send_request(
            self.next_id(),
            number,
            origin,
            embedded_origin=embedded_origin,
            code=code,
            text=text,
            watch=True,
        )
        reply = self._call(request)
        return JobWatch(self, request.id, accepted_from(reply.value))

    def subscribe(self, *, after: int | None = None) -> Iterator[CodeRecord]:
        """Subscribe; once confirmed, return an iterator of every code this peer may see.

        ``after``: the cursor of the last code seen before (``record.cursor``); the later
        codes still in the gateway's resume window come first. A lost connection is
        made again (for up to ``reconnect_for`` s) and the subscription resumed after
        the last code seen, so none is missed or repeated. Use a dedicated client: the
        iterator owns the connection. Raises ``Forbidden``, ``Unavailable``.
        """
        rid = self.next_id()
        place = Resume(after)
        place.confirmed(self._call(place.request(rid)).value)
        return self._follow(rid, place)

    def _follow(self, rid: RequestId, place: Resume) -> Iterator[CodeRecord]:
        while True:
            try:
                for event in self._events(rid, None):
                    record = code_from(event.data)
                    place.seen(record)
                    yield record
                return
            except Unavailable:
                if not self.reconnect:
                    raise
                plan = Reconnect(time.monotonic() + self.reconnect_for)
                while True:
                    self._reconnect(plan)
                    rid = self.next_id()
                    try:
                        reply = self._call(place.request(rid))
                    except Unavailable:
                        continue  # lost again at once: the plan bounds how long
                    place.confirmed(reply.value)
                    break

    # --- plumbing -------------------------------------------------------------------------

    def _write(self, request: Request) -> None:
        with self._write_lock:
            try:
                self._sock.sendall(encode_request(request))
            except OSError as exc:
                raise Unavailable(f"lost the connection to the gateway: {exc}") from exc

    def _next_message(self) -> ServerMessage:
        while not self._backlog:
            data = self._sock.recv(65536)
            if not data:
                raise Unavailable("the gateway closed the connection")
            self._backlog.extend(self._reader.feed(data))
        return self._backlog.popleft()

    def _receive(self, rid: RequestId, wait: float | None) -> Result | Event:
        self._sock.settimeout(wait)
        try:
            while True:
                message = self._next_message()
                if isinstance(message, Greeting):
                    continue
                if message.id in self._ignored:
                    self._ignored.discard(message.id)
                    continue
                if isinstance(message, Error) and message.id in (rid, None):
                    raise_error(message)
                if not isinstance(message, Error) and message.id == rid:
                    return message
        except TimeoutError as exc:
            raise Unavailable("the gateway did not answer in time") from exc
        except OSError as exc:
            raise Unavailable(f"lost the connection to the gateway: {exc}") from exc
        finally:
            self._sock.settimeout(self.timeout)

    def _call(self, request: Request, wait: float | None = -1.0) -> Result:
        self._write(request)
        return expect_result(self._receive(request.id, self.timeout if wait == -1.0 else wait))

    def _events(self, rid: RequestId, wait: float | None) -> Iterator[Event]:
        while True:
            message = self._receive(rid, wait)
            if isinstance(message, Event):
                if message.kind is EventKind.END:
                    return
                yield message


class JobWatch:
    """A queued send job: ``job_id``, ``code`` and an iterator of its :class:`JobEvent`s."""

    def __init__(self, client: Client, request_id: RequestId, accepted: SendAccepted) -> None:
        self.job_id = accepted.job_id
        self.code = accepted.code
        # how long to wait for each event (a function: what is left of a deadline); None:
        # as long as it takes. Past it, iteration raises Unavailable or Timeout.
        self.wait: Callable[[], float] | None = None
        self._client = client
        self._request_id = request_id

    def __iter__(self) -> Iterator[JobEvent]:
        while True:
            wait = None if self.wait is None else self.wait()
            event = next(self._client._events(self._request_id, wait), None)
            if event is None:
                return
            yield job_event_from(event.data)


def connect(
    path: str | os.PathLike[str] = DEFAULT_SOCKET, *, timeout: float = 30.0, wait: float = 0.0
) -> Client:
    """Connect a blocking client to the gateway at ``path``, trying for up to ``wait`` s.

    Returns the greeted :class:`Client`; raises ``Unavailable`` when unreachable.
    """
    return Client(path, timeout=timeout, connect_wait=wait)


async def connect_async(path: str | os.PathLike[str] = DEFAULT_SOCKET) -> AsyncClient:
    """Connect an asyncio client to the gateway at ``path``.

    Returns the greeted :class:`AsyncClient`; raises ``Unavailable`` when unreachable.
    """
    client = AsyncClient(path)
    await client.connect()
    return client
