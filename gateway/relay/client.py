"""The relay client library: a small blocking :class:`Client` and an asyncio :class:`AsyncClient`.

Both speak the JSON-lines protocol of :mod:`gateway.relay.protocol` through one sans-I/O
core, :class:`~gateway.relay.clientconn.ClientConnection`, and only pump bytes and wait
(this one on a blocking socket); they raise the typed errors of
:mod:`gateway.relay.errors` (``Forbidden``, ``Timeout``, ``Cancelled``…), each carrying
its stable ``code``. A socket that cannot be reached raises ``Unavailable``.

Both reconnect on their own (issue 13.2): a ``get`` whose connection is lost (or is
answered ``unavailable``: the gateway restarts) connects again with a bounded backoff and
asks again with ``since`` set to when it first asked, within its overall timeout; a
subscription resumes after the cursor of the last code it saw, so codes that arrived
meanwhile are replayed, none twice. ``reconnect=False`` turns this off.

    with Client("/run/otp-gateway/gateway.sock") as client:
        code = client.get("shop.example", timeout=120).code
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Self

from gateway.relay.aclient import AsyncClient
from gateway.relay.clientcodec import Reconnect, Resume, expect_result
from gateway.relay.clientconn import ClientConnection
from gateway.relay.clientshell import ClientShell
from gateway.relay.errors import RelayError, Unavailable
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

__all__ = ["AsyncClient", "Client", "JobWatch", "connect", "connect_async"]


class Client(ClientShell):
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
        super().__init__(path, reconnect=reconnect, reconnect_for=reconnect_for)
        self.timeout = timeout
        # cancel() may write from another thread while a request waits: the protocol core
        # and the socket's write side are used under this lock (reading is the waiter's)
        self._lock = threading.Lock()
        self._conn = ClientConnection()
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.greeting = self._connect_until(Reconnect(time.monotonic() + connect_wait))

    def _connect_once(self) -> Greeting:
        self.close()
        self._conn = ClientConnection()
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.settimeout(self.timeout)
        try:
            self._sock.connect(os.fspath(self.path))
            while (greeting := self._conn.greeted()) is None:
                self._pump(self._conn)
        except OSError as exc:
            self.close()
            raise Unavailable(f"cannot reach the gateway at {self.path}: {exc}") from exc
        except RelayError:
            self.close()
            raise
        return greeting

    def _connect_until(self, plan: Reconnect) -> Greeting:
        """Connect, retrying an unreachable gateway with backoff until ``plan`` gives up."""
        while True:
            try:
                return self._connect_once()
            except Unavailable:
                pause = plan.pause(time.monotonic())
                if pause is None:
                    raise
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
        with self._lock:
            self._conn.connection_lost(Unavailable("the connection was closed"))

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
        attempts = self._get_attempts(origin, embedded_origin, timeout, request_id, since)
        while True:
            request = attempts.next_request(time.monotonic())
            try:
                return code_from(self._call(request, wait=attempts.left + self.timeout).value)
            except Unavailable:
                if not self.reconnect:
                    raise
                self._reconnect(attempts.plan)  # raises Unavailable once the timeout is spent

    def cancel(self, request_id: RequestId) -> None:
        """Abort the pending request ``request_id`` (safe to call from another thread)."""
        self._write(Cancel(id=f"cancel-{self.next_id()}", target=request_id), ignore_reply=True)

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
        request = self._send_request(number, origin, embedded_origin, code, text, watch=False)
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
        request = self._send_request(number, origin, embedded_origin, code, text, watch=True)
        return JobWatch(self, request.id, accepted_from(self._call(request).value))

    def subscribe(
        self,
        *,
        after: int | None = None,
        origin: str | None = None,
        embedded_origin: str | None = None,
    ) -> Iterator[CodeRecord]:
        """Subscribe; once confirmed, return an iterator of every code this peer may see.

        ``after``: the cursor of the last code seen before (``record.cursor``); the later
        codes still in the gateway's resume window come first. ``origin`` (+
        ``embedded_origin``): only the codes a ``get`` for that exact pair would take,
        refused at once as such a get is. A lost connection is made again (for up to
        ``reconnect_for`` s) and the subscription resumed after the last code seen, for
        the same origin, so none is missed or repeated. Use a dedicated client: the
        iterator owns the connection. Raises ``Forbidden``, ``BadRequest``,
        ``Unavailable``.
        """
        place = Resume(after, origin=origin, embedded_origin=embedded_origin)
        return self._follow(place, *self._subscribe(place))

    def _subscribe(self, place: Resume) -> tuple[ClientConnection, RequestId]:
        request = place.request(self.next_id())
        place.confirmed(self._call(request).value)
        return self._conn, request.id

    def _follow(
        self, place: Resume, conn: ClientConnection, rid: RequestId
    ) -> Iterator[CodeRecord]:
        while True:
            try:
                for event in self._events(conn, rid, None):
                    yield place.take(event)
                return
            except Unavailable:
                if not self.reconnect:
                    raise
                conn, rid = self._resubscribe(place)

    def _resubscribe(self, place: Resume) -> tuple[ClientConnection, RequestId]:
        plan = self._resubscribe_plan()
        while True:
            self._reconnect(plan)
            try:
                return self._subscribe(place)
            except Unavailable:
                continue  # lost again at once: the plan bounds how long

    # --- plumbing: pump bytes between the socket and the core, wait on the socket ------

    def _write(self, request: Request, *, ignore_reply: bool = False) -> ClientConnection:
        with self._lock:
            conn = self._conn
            data = conn.send(request, ignore_reply=ignore_reply)
            try:
                self._sock.sendall(data)
            except OSError as exc:
                error = Unavailable(f"lost the connection to the gateway: {exc}")
                conn.connection_lost(error)
                raise error from exc
        return conn

    def _pump(self, conn: ClientConnection) -> None:
        """Read once from the socket (waiting up to its timeout) into ``conn``."""
        data = self._sock.recv(65536)
        with self._lock:
            conn.receive_data(data)

    def _until(
        self, conn: ClientConnection, take: Callable[[], object], wait: float | None
    ) -> object:
        """Return what ``take`` gives, pumping the socket into ``conn`` while it gives None.

        Raises what ``take`` raises (a connection replaced since is lost), ``Unavailable``
        when nothing came within ``wait`` s or the socket failed.
        """
        self._sock.settimeout(wait)
        try:
            while True:
                with self._lock:
                    value = take()
                if value is not None:
                    return value
                self._pump(conn)
        except TimeoutError as exc:
            raise Unavailable("the gateway did not answer in time") from exc
        except OSError as exc:
            error = Unavailable(f"lost the connection to the gateway: {exc}")
            with self._lock:
                conn.connection_lost(error)
            raise error from exc
        finally:
            self._sock.settimeout(self.timeout)

    def _call(self, request: Request, wait: float | None = -1.0) -> Result:
        """Send ``request``; return its result (a stream's first reply).

        Raises the typed error of its error reply, ``Unavailable`` when the connection
        is lost or no reply came within ``wait`` s (default: ``timeout``; None: forever).
        """
        conn, rid = self._write(request), request.id
        wait = self.timeout if wait == -1.0 else wait
        try:
            return expect_result(self._until(conn, lambda: conn.next_reply(rid), wait))
        except BaseException:
            with self._lock:
                conn.forget(rid)
            raise

    def _events(
        self, conn: ClientConnection, rid: RequestId, wait: float | None
    ) -> Iterator[Event]:
        # next_event gives the stream's events, then END (not an Event): the end
        while isinstance(event := self._until(conn, lambda: conn.next_event(rid), wait), Event):
            yield event


class JobWatch:
    """A queued send job: ``job_id``, ``code`` and an iterator of its :class:`JobEvent`s."""

    def __init__(self, client: Client, request_id: RequestId, accepted: SendAccepted) -> None:
        self.job_id = accepted.job_id
        self.code = accepted.code
        # how long to wait for each event (a function: what is left of a deadline); None:
        # as long as it takes. Past it, iteration raises Unavailable or Timeout.
        self.wait: Callable[[], float] | None = None
        self._client = client
        self._conn = client._conn  # the connection it was asked on
        self._request_id = request_id

    def __iter__(self) -> Iterator[JobEvent]:
        while True:
            wait = None if self.wait is None else self.wait()
            event = next(self._client._events(self._conn, self._request_id, wait), None)
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
