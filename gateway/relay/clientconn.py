"""One client connection of the relay protocol, sans-I/O: written once, wrapped twice.

The blocking :class:`~gateway.relay.client.Client` and the asyncio
:class:`~gateway.relay.aclient.AsyncClient` are shells over :class:`ClientConnection`
(house style §1 and §8: one protocol under a sync and an async path, as httpcore runs
both over h11's ``Connection``). Three verbs: :meth:`~ClientConnection.send` turns a
request into the bytes to write and remembers it as pending;
:meth:`~ClientConnection.receive_data` takes the bytes read and files each server
message under the request it names; :meth:`~ClientConnection.next_reply` hands a request
its replies one at a time (:meth:`~ClientConnection.next_event` the events of a stream
until :data:`END`). The core knows the greeting (or the refusal sent instead of
it), the replies nobody waits for (a ``cancel`` sent on the side), an error that names no
request (every pending request's), the last reply of a request (its result, an error, or
the ``end`` of an event stream) and a lost connection (every pending request's
``Unavailable``). No sockets, no asyncio, no clock: the shells pump bytes and wait.
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass, field

from gateway.relay.clientcodec import ServerReader, encode_request
from gateway.relay.errors import RelayError, Unavailable, error_for
from gateway.relay.messages import (
    Error,
    Event,
    EventKind,
    Greeting,
    Request,
    RequestId,
    Result,
    Send,
    ServerMessage,
    Subscribe,
)
from gateway.relay.replies import raise_error


class Ended(enum.Enum):
    """What :meth:`ClientConnection.next_event` gives once a stream's ``end`` came."""

    END = "end"


#: the end of an event stream
END = Ended.END

#: who has news after some bytes came in: request ids, and ``None`` for the connection
#: itself (its greeting, refusal or loss), the way an error with ``"id": null`` names it
Woken = set[RequestId | None]


def streams(request: Request) -> bool:
    """Return whether ``request`` is answered by a result and then events until ``end``."""
    return isinstance(request, Subscribe) or (isinstance(request, Send) and request.watch)


@dataclass(slots=True)
class _Pending:
    """A request sent and not finished: its replies not yet taken."""

    stream: bool
    replies: deque[Result | Event | Error] = field(default_factory=deque)

    def ends_with(self, reply: Result | Event | Error) -> bool:
        """Return whether ``reply`` is the request's last one."""
        if isinstance(reply, Error):
            return True
        if isinstance(reply, Result):
            return not self.stream
        return reply.kind is EventKind.END


class ClientConnection:
    """The client side of one relay connection: requests out, replies routed in.

    ``greeting`` is the server's greeting once it came; ``lost`` the error every request
    gets once the connection is gone (closed, reset, refused, or not speaking the
    protocol). One connection, one core: a shell that connects again makes a new one.
    """

    def __init__(self) -> None:
        self.greeting: Greeting | None = None
        self.lost: RelayError | None = None
        self._reader = ServerReader()
        self._pending: dict[RequestId, _Pending] = {}
        self._ignored: set[RequestId] = set()

    @property
    def pending(self) -> frozenset[RequestId]:
        """Return the ids of the requests sent and not finished."""
        return frozenset(self._pending)

    def send(self, request: Request, *, ignore_reply: bool = False) -> bytes:
        """Remember ``request`` as pending (or its reply as one to drop); return its line.

        Raises the connection's loss (``Unavailable``, or the refusal) once it is lost.
        """
        if self.lost is not None:
            raise self.lost
        if ignore_reply:
            self._ignored.add(request.id)
        else:
            self._pending[request.id] = _Pending(stream=streams(request))
        return encode_request(request)

    def receive_data(self, data: bytes) -> Woken:
        """Take bytes read from the socket; ``b""`` says the server closed it.

        Returns who has news (see :data:`Woken`); never raises: a line that is not relay
        protocol or is over-long loses the connection with ``Unavailable``.
        """
        if self.lost is not None:
            return set()
        if not data:
            return self.connection_lost(Unavailable("the gateway closed the connection"))
        woken: Woken = set()
        try:
            for message in self._reader.messages(data):
                woken |= self._route(message)
                if self.lost is not None:
                    break
        except Unavailable as exc:
            woken |= self.connection_lost(exc)
        return woken

    def connection_lost(self, error: RelayError) -> Woken:
        """Say the connection is gone: ``error`` is what every pending request gets.

        Returns who to wake (every pending request and the connection); the first loss
        counts, later ones change nothing.
        """
        if self.lost is not None:
            return set()
        self.lost = error
        return {None, *self._pending}

    def greeted(self) -> Greeting | None:
        """Return the greeting once it came, None while it has not.

        Raises the refusal the server sent instead (too many connections: ``Unavailable``
        with the server's reason), or the loss of the connection.
        """
        if self.greeting is None and self.lost is not None:
            raise self.lost
        return self.greeting

    def next_reply(self, rid: RequestId) -> Result | Event | None:
        """Take the next reply to request ``rid``: a result or an event; None: none yet.

        Raises the typed error of an error reply, or the loss of the connection once the
        replies that came before it are taken. After its last reply a request is no
        longer pending.
        """
        pending = self._pending.get(rid)
        if pending is not None and pending.replies:
            reply = pending.replies.popleft()
            if pending.ends_with(reply):
                del self._pending[rid]
            if isinstance(reply, Error):
                raise_error(reply)
            return reply
        if self.lost is not None:
            self._pending.pop(rid, None)
            raise self.lost
        return None

    def next_event(self, rid: RequestId) -> Event | Ended | None:
        """Take the next event of the stream ``rid``; :data:`END` once its end came; None:
        none yet (a result in the middle of a stream is passed over).

        Raises as :meth:`next_reply` does.
        """
        while (reply := self.next_reply(rid)) is not None:
            if isinstance(reply, Event):
                return END if reply.kind is EventKind.END else reply
        return None

    def forget(self, rid: RequestId) -> None:
        """Stop waiting for request ``rid`` (given up, timed out): its replies are dropped."""
        self._pending.pop(rid, None)

    def _route(self, message: ServerMessage) -> Woken:
        if self.greeting is None:
            if isinstance(message, Greeting):
                self.greeting = message
                return {None}
            if isinstance(message, Error) and message.id is None:
                # refused instead of greeted (too many connections)
                refusal = error_for(message.code, message.message, retry_after=message.retry_after)
                return self.connection_lost(refusal)
            return self.connection_lost(Unavailable("the socket did not greet like otp-gateway"))
        if isinstance(message, Greeting):
            return set()
        if message.id in self._ignored:
            self._ignored.discard(message.id)
            return set()
        if message.id is None:  # an error about the connection: every pending request's
            for pending in self._pending.values():
                pending.replies.append(message)
            return set(self._pending)
        target = self._pending.get(message.id)
        if target is None:
            return set()  # a request given up, or none of ours
        target.replies.append(message)
        return {message.id}
