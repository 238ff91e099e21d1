"""The relay client library: a small blocking :class:`Client` and an asyncio :class:`AsyncClient`.

Both speak the JSON-lines protocol of :mod:`gateway.relay.protocol` and raise the typed
errors of :mod:`gateway.relay.errors` (``Forbidden``, ``Timeout``, ``Cancelled``…), each
carrying its stable ``code``. A socket that cannot be reached raises ``Unavailable``.

    with Client("/run/otp-gateway/gateway.sock") as client:
        code = client.get("shop.example", timeout=120).code
"""

from __future__ import annotations

import itertools
import os
import socket
import threading
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Self

from gateway.relay.aclient import AsyncClient
from gateway.relay.clientcodec import (
    ServerReader,
    encode_request,
    expect_result,
    get_request,
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
    Subscribe,
)
from gateway.relay.ports import CodeRecord, JobEvent, SendAccepted
from gateway.relay.replies import accepted_from, code_from, job_event_from, raise_error

__all__ = ["AsyncClient", "Client", "JobWatch", "connect", "connect_async"]


class Client:
    """A blocking relay client; one request at a time (``cancel`` may come from any thread)."""

    def __init__(self, path: str | os.PathLike[str] = DEFAULT_SOCKET, *, timeout: float = 30.0):
        self.path = Path(path)
        self.timeout = timeout
        self._ids = itertools.count(1)
        self._write_lock = threading.Lock()
        self._reader = ServerReader()
        self._backlog: deque[ServerMessage] = deque()
        self._ignored: set[RequestId] = set()
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.settimeout(timeout)
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
        self.greeting = first

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
    ) -> CodeRecord:
        """Wait for the next code for ``origin`` (``navigator.credentials.get``).

        Returns the :class:`CodeRecord`; raises ``Timeout``, ``Cancelled``, ``Forbidden``…
        """
        rid = self.next_id() if request_id is None else request_id
        request = get_request(rid, origin, embedded_origin=embedded_origin, timeout=timeout)
        reply = self._call(request, wait=None if timeout is None else timeout + self.timeout)
        return code_from(reply.value)

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

    def subscribe(self) -> Iterator[CodeRecord]:
        """Subscribe; once confirmed, return an iterator of every code this peer may see.

        Use a dedicated client: the iterator owns the connection. Raises ``Forbidden``.
        """
        rid = self.next_id()
        self._call(Subscribe(id=rid))
        return (code_from(event.data) for event in self._events(rid, None))

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
        self._client = client
        self._request_id = request_id

    def __iter__(self) -> Iterator[JobEvent]:
        for event in self._client._events(self._request_id, None):
            yield job_event_from(event.data)


def connect(path: str | os.PathLike[str] = DEFAULT_SOCKET, *, timeout: float = 30.0) -> Client:
    """Connect a blocking client to the gateway at ``path``.

    Returns the greeted :class:`Client`; raises ``Unavailable`` when unreachable.
    """
    return Client(path, timeout=timeout)


async def connect_async(path: str | os.PathLike[str] = DEFAULT_SOCKET) -> AsyncClient:
    """Connect an asyncio client to the gateway at ``path``.

    Returns the greeted :class:`AsyncClient`; raises ``Unavailable`` when unreachable.
    """
    client = AsyncClient(path)
    await client.connect()
    return client
