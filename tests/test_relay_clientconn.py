"""The sans-I/O client connection: server lines in (whole, byte by byte), replies out."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.relay.clientconn import END, ClientConnection, Woken, streams
from gateway.relay.errors import (
    Cancelled,
    ErrorCode,
    RateLimited,
    RelayError,
    Timeout,
    Unavailable,
)
from gateway.relay.messages import (
    Cancel,
    Error,
    Event,
    EventKind,
    Get,
    Greeting,
    RequestId,
    Result,
    Send,
    ServerMessage,
    Status,
    Subscribe,
)
from gateway.relay.protocol import encode, parse_request

HELLO = encode(Greeting(version="0.1"))
CODE = {
    "origin": "shop.example",
    "code": "123456",
    "sender": "+15557654321",
    "received_at": "2026-01-01T12:00:00+00:00",
}

Feed = Callable[[ClientConnection, bytes], Woken]


def whole(conn: ClientConnection, data: bytes) -> Woken:
    """Feed ``data`` in one piece."""
    return conn.receive_data(data)


def bytewise(conn: ClientConnection, data: bytes) -> Woken:
    """Feed ``data`` one byte at a time, gathering who was woken."""
    woken: Woken = set()
    for i in range(len(data)):
        woken |= conn.receive_data(data[i : i + 1])
    return woken


FEEDS = [pytest.param(whole, id="whole"), pytest.param(bytewise, id="byte-by-byte")]


def lines(*messages: ServerMessage) -> bytes:
    """The server's encoding of ``messages``, one line each."""
    return b"".join(encode(m) for m in messages)


def greeted(feed: Feed = whole) -> ClientConnection:
    """A connection that received the greeting."""
    conn = ClientConnection()
    feed(conn, HELLO)
    return conn


def replies(conn: ClientConnection, rid: RequestId) -> Iterator[Result | Event | str]:
    """Take the replies to ``rid`` so far, up to its last; an error or the loss as ``!code``."""
    while True:
        try:
            reply = conn.next_reply(rid)
        except RelayError as exc:
            yield f"!{exc.code.value}"
            return
        if reply is None:
            return
        yield reply
        if rid not in conn.pending:
            return


@pytest.mark.parametrize("feed", FEEDS)
def test_the_greeting_is_known_once_its_line_is_complete(feed: Feed) -> None:
    """greeted() is None until the greeting's line ends, then the greeting; the
    connection itself (None) is woken."""
    conn = ClientConnection()
    assert conn.receive_data(HELLO[:-1]) == set()
    assert conn.greeted() is None
    assert feed(conn, HELLO[-1:]) == {None}
    greeting = conn.greeted()
    assert greeting is not None
    assert (greeting.protocol, greeting.version, greeting.max_line) == (1, "0.1", 65536)
    # a second greeting says nothing new
    assert feed(conn, HELLO) == set()
    assert conn.lost is None


@pytest.mark.parametrize("feed", FEEDS)
def test_a_refusal_instead_of_the_greeting_is_raised(feed: Feed) -> None:
    """An error naming no request before the greeting (too many connections) is the
    refusal: greeted() and send() raise it, typed."""
    conn = ClientConnection()
    refusal = Error(id=None, code=ErrorCode.UNAVAILABLE, message="too many connections (at most 2)")
    assert feed(conn, lines(refusal)) == {None}
    with pytest.raises(Unavailable, match=r"too many connections \(at most 2\)"):
        conn.greeted()
    with pytest.raises(Unavailable, match="too many connections"):
        conn.send(Status(id=1))


@pytest.mark.parametrize(
    "first",
    [
        lines(Result(id=1, value={})),
        lines(Error(id=1, code=ErrorCode.FORBIDDEN, message="no")),
        b"220 smtp.example ESMTP\r\n",
    ],
    ids=["result", "error-with-id", "smtp"],
)
def test_anything_else_before_the_greeting_is_not_our_gateway(first: bytes) -> None:
    """A first line that is neither greeting nor refusal loses the connection: Unavailable."""
    conn = ClientConnection()
    assert conn.receive_data(first) == {None}
    with pytest.raises(Unavailable):
        conn.greeted()


@pytest.mark.parametrize("feed", FEEDS)
def test_interleaved_replies_go_each_to_its_request(feed: Feed) -> None:
    """Replies to concurrent requests, interleaved on the wire, are handed to each
    request in its own order; who had news is woken; finished requests stop pending."""
    conn = greeted()
    conn.send(Get(id=1, origin="shop.example"))
    conn.send(Status(id="s"))
    conn.send(Subscribe(id=3))
    assert conn.pending == {1, "s", 3}
    wire = lines(
        Result(id=3, value={"cursor": 4}),
        Event(id=3, kind=EventKind.CODE, data=CODE),
        Result(id="s", value={"relay": {}}),
        Error(id=1, code=ErrorCode.TIMEOUT, message="no code"),
        Event(id=3, kind=EventKind.CODE, data={**CODE, "code": "654321"}),
    )
    assert feed(conn, wire) == {1, "s", 3}
    assert list(replies(conn, "s")) == [Result(id="s", value={"relay": {}})]
    with pytest.raises(Timeout, match="no code"):
        conn.next_reply(1)
    assert [type(r).__name__ for r in replies(conn, 3)] == ["Result", "Event", "Event"]
    assert conn.pending == {3}  # a subscription goes on


@pytest.mark.parametrize("feed", FEEDS)
def test_an_event_stream_ends_with_end(feed: Feed) -> None:
    """A watched send is pending through its result and events until its end event;
    next_event passes over the result and gives END at the end."""
    conn = greeted()
    watch = Send(id=7, number="+15550001", origin="shop.example", watch=True)
    assert streams(watch)
    assert not streams(Send(id=8, number="+15550001", origin="shop.example"))
    conn.send(watch)
    job = {"job": "j", "status": "sent", "at": "2026-01-01T12:00:00+00:00"}
    feed(conn, lines(Result(id=7, value={"job": "j"}), Event(id=7, kind=EventKind.JOB, data=job)))
    assert conn.next_event(7) == Event(id=7, kind=EventKind.JOB, data=job)  # the result passed over
    assert conn.next_event(7) is None
    assert conn.pending == {7}
    feed(conn, lines(Event(id=7, kind=EventKind.END, data={})))
    assert conn.next_event(7) is END
    assert conn.pending == set()
    # later lines for a finished request are nobody's
    assert feed(conn, lines(Event(id=7, kind=EventKind.JOB, data=job))) == set()
    assert conn.next_reply(7) is None


def test_next_reply_hands_over_the_end_event_itself() -> None:
    """next_reply gives every reply as it came, the end event included, after which the
    stream is finished."""
    conn = greeted()
    conn.send(Subscribe(id=1))
    conn.receive_data(lines(Result(id=1, value={}), Event(id=1, kind=EventKind.END, data={})))
    assert list(replies(conn, 1)) == [
        Result(id=1, value={}),
        Event(id=1, kind=EventKind.END, data={}),
    ]
    assert conn.pending == set()


def test_an_error_reply_raises_its_typed_error() -> None:
    """An error reply raises the matching RelayError subclass with its retry_after."""
    conn = greeted()
    conn.send(Send(id=1, number="+15550001", origin="shop.example"))
    refusal = Error(id=1, code=ErrorCode.RATE_LIMITED, message="slow down", retry_after=30.0)
    conn.receive_data(lines(refusal))
    with pytest.raises(RateLimited) as refused:
        conn.next_reply(1)
    assert refused.value.retry_after == 30.0
    assert conn.pending == set()


@pytest.mark.parametrize("feed", FEEDS)
def test_an_error_naming_no_request_is_every_pending_ones(feed: Feed) -> None:
    """An error with id null after the greeting goes to every pending request, after
    what they had already received."""
    conn = greeted()
    conn.send(Get(id=1, origin="shop.example"))
    conn.send(Subscribe(id=2))
    wire = lines(
        Result(id=2, value={}),
        Error(id=None, code=ErrorCode.BAD_REQUEST, message="line is not valid JSON"),
    )
    assert feed(conn, wire) == {1, 2}
    assert list(replies(conn, 1)) == ["!bad-request"]
    assert list(replies(conn, 2)) == [Result(id=2, value={}), "!bad-request"]
    assert conn.pending == set()
    assert conn.lost is None  # the connection itself goes on
    conn.send(Status(id=3))
    assert conn.pending == {3}


@pytest.mark.parametrize("feed", FEEDS)
def test_a_lost_connection_fails_every_pending_request(feed: Feed) -> None:
    """The server closing the connection wakes every pending request and the connection;
    each first takes what came before, then raises Unavailable; no request can be sent."""
    conn = greeted()
    conn.send(Get(id=1, origin="shop.example"))
    conn.send(Status(id=2))
    feed(conn, lines(Result(id=2, value={"relay": {}})))
    assert conn.receive_data(b"") == {None, 1, 2}
    assert list(replies(conn, 2)) == [Result(id=2, value={"relay": {}})]
    assert list(replies(conn, 1)) == ["!unavailable"]
    assert conn.pending == set()
    with pytest.raises(Unavailable, match="closed the connection"):
        conn.send(Status(id=3))
    assert conn.receive_data(HELLO) == set()  # nothing comes after the loss
    assert conn.connection_lost(Unavailable("again")) == set()  # the first loss counts
    assert conn.greeted() is not None  # it was greeted before


@pytest.mark.parametrize(
    ("bad", "reason"),
    [(b'{"id": 1, "result": 5}\n', "not relay protocol"), (b"x" * (16 * 65536 + 2), "over-long")],
    ids=["foreign-line", "over-long"],
)
def test_a_line_that_breaks_the_protocol_loses_the_connection(bad: bytes, reason: str) -> None:
    """A line that is not relay protocol, or over-long, loses the connection with
    Unavailable; the replies of the lines before it still count."""
    conn = greeted()
    conn.send(Status(id=1))
    conn.send(Get(id=2, origin="shop.example"))
    woken = conn.receive_data(lines(Result(id=1, value={})) + bad)
    assert woken == {None, 1, 2}
    assert list(replies(conn, 1)) == [Result(id=1, value={})]
    with pytest.raises(Unavailable, match=reason):
        conn.next_reply(2)


@pytest.mark.parametrize("feed", FEEDS)
def test_an_ignored_cancel_reply_reaches_nobody(feed: Feed) -> None:
    """A cancel sent without waiting for its reply: that reply is dropped (once), the
    cancelled get gets its Cancelled."""
    conn = greeted()
    conn.send(Get(id="g1", origin="shop.example"))
    line = conn.send(Cancel(id="cancel-2", target="g1"), ignore_reply=True)
    assert parse_request(line.rstrip(b"\n")) == Cancel(id="cancel-2", target="g1")
    assert conn.pending == {"g1"}
    wire = lines(
        Result(id="cancel-2", value={}),
        Error(id="g1", code=ErrorCode.CANCELLED, message="cancelled"),
    )
    assert feed(conn, wire) == {"g1"}
    with pytest.raises(Cancelled):
        conn.next_reply("g1")
    # the drop was for one reply: a later request with that id is answered
    conn.send(Status(id="cancel-2"))
    assert feed(conn, lines(Result(id="cancel-2", value={}))) == {"cancel-2"}


def test_a_forgotten_request_drops_its_replies() -> None:
    """forget() (a caller gave up) makes the request's later replies nobody's, as are
    replies to ids never sent."""
    conn = greeted()
    conn.send(Get(id=1, origin="shop.example"))
    conn.forget(1)
    assert conn.receive_data(lines(Result(id=1, value=CODE), Result(id=9, value={}))) == set()
    assert conn.next_reply(1) is None
    assert conn.pending == set()


@given(cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=12))
def test_any_split_of_the_stream_gives_the_same_replies(cuts: list[int]) -> None:
    """However the bytes are cut into reads, each request gets the same replies."""
    wire = HELLO + lines(
        Result(id=2, value={"cursor": 1}),
        Event(id=2, kind=EventKind.CODE, data=CODE),
        Result(id=1, value={"relay": {}}),
        Event(id=2, kind=EventKind.END, data={}),
    )
    conn = ClientConnection()
    conn.send(Status(id=1))
    conn.send(Subscribe(id=2))
    edges = sorted({0, len(wire), *(c for c in cuts if c < len(wire))})
    for start, end in itertools.pairwise(edges):
        conn.receive_data(wire[start:end])
    assert conn.greeted() is not None
    assert list(replies(conn, 1)) == [Result(id=1, value={"relay": {}})]
    assert [type(r).__name__ for r in replies(conn, 2)] == ["Result", "Event", "Event"]
    assert conn.pending == set()


@given(data=st.binary(max_size=300))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    """Whatever the server sends, receive_data does not raise, and a pending request gets
    replies, then nothing yet or a typed error (the loss, once lost)."""
    conn = greeted()
    conn.send(Get(id=1, origin="shop.example"))
    conn.receive_data(data)
    taken = list(replies(conn, 1))  # anything but a RelayError would fail here
    assert conn.lost is None or isinstance(taken[-1], str)
