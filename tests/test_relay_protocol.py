"""Tests for the relay's sans-I/O JSON-lines codec."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.relay.errors import ErrorCode, Unavailable
from gateway.relay.messages import (
    Cancel,
    Error,
    Event,
    EventKind,
    Get,
    Greeting,
    Rejected,
    Request,
    Result,
    Send,
    ServerMessage,
    Status,
    Subscribe,
)
from gateway.relay.protocol import (
    RequestReader,
    ServerReader,
    encode,
    encode_request,
    parse_request,
    parse_server_message,
)

VALID: list[tuple[bytes, Request]] = [
    (b'{"id":1,"op":"get","origin":"shop.example"}', Get(id=1, origin="shop.example")),
    (
        b'{"id":"a","op":"get","origin":"Shop.Example","embedded_origin":"bank.example",'
        b'"timeout":2.5}',
        Get(id="a", origin="shop.example", embedded_origin="bank.example", timeout=2.5),
    ),
    (
        b'{"id":2,"op":"get","origin":"B\xc3\x9cCHER.example","timeout":5}',
        Get(id=2, origin="xn--bcher-kva.example", timeout=5.0),
    ),
    (b'{"id":3,"op":"cancel","target":1}', Cancel(id=3, target=1)),
    (b'{"id":4,"op":"subscribe"}', Subscribe(id=4)),
    (b'{"id":5,"op":"status"}', Status(id=5)),
    (
        b'{"id":6,"op":"send","number":"+15550001","origin":"shop.example","code":"123456",'
        b'"watch":true}',
        Send(id=6, number="+15550001", origin="shop.example", code="123456", watch=True),
    ),
    (b' {"op": "status", "id": 7} ', Status(id=7)),
    (
        b'{"id":8,"op":"get","origin":"shop.example","since":1800000000.5}',
        Get(id=8, origin="shop.example", since=1_800_000_000.5),
    ),
    (b'{"id":9,"op":"subscribe","after":42}', Subscribe(id=9, after=42)),
    (b'{"id":10,"op":"subscribe","after":null}', Subscribe(id=10)),
    (
        b'{"id":11,"op":"subscribe","origin":"B\xc3\x9cCHER.Example","after":7}',
        Subscribe(id=11, origin="xn--bcher-kva.example", after=7),
    ),
    (
        b'{"id":12,"op":"subscribe","origin":"shop.example","embedded_origin":"Bank.Example"}',
        Subscribe(id=12, origin="shop.example", embedded_origin="bank.example"),
    ),
    (b'{"id":13,"op":"subscribe","origin":null}', Subscribe(id=13)),
]

INVALID: list[tuple[bytes, object, ErrorCode, str]] = [
    (b"not json", None, ErrorCode.BAD_REQUEST, "not valid JSON"),
    (b"\xff\xfe", None, ErrorCode.BAD_REQUEST, "not valid JSON"),
    (b"[1,2]", None, ErrorCode.BAD_REQUEST, "must be an object"),
    (b'{"op":"status"}', None, ErrorCode.BAD_REQUEST, "id must be"),
    (b'{"id":true,"op":"status"}', None, ErrorCode.BAD_REQUEST, "id must be"),
    (b'{"id":"","op":"status"}', None, ErrorCode.BAD_REQUEST, "1 to 128"),
    (b'{"id":1,"op":"launch"}', 1, ErrorCode.BAD_REQUEST, "op must be one of"),
    (b'{"id":1,"op":5}', 1, ErrorCode.BAD_REQUEST, "op must be one of"),
    (b'{"id":1,"op":"status","extra":1}', 1, ErrorCode.BAD_REQUEST, "unknown field"),
    (b'{"id":1,"op":"get"}', 1, ErrorCode.BAD_REQUEST, "origin must be a string"),
    (b'{"id":1,"op":"get","origin":5}', 1, ErrorCode.BAD_REQUEST, "origin must be a string"),
    (b'{"id":1,"op":"get","origin":"https://a.example"}', 1, ErrorCode.BAD_REQUEST, "valid host"),
    (b'{"id":1,"op":"get","origin":"a.example:443"}', 1, ErrorCode.BAD_REQUEST, "valid host"),
    (
        b'{"id":1,"op":"get","origin":"a.example","timeout":"5"}',
        1,
        ErrorCode.BAD_REQUEST,
        "timeout must be a number",
    ),
    (
        b'{"id":1,"op":"get","origin":"a.example","timeout":true}',
        1,
        ErrorCode.BAD_REQUEST,
        "timeout must be a number",
    ),
    (
        b'{"id":1,"op":"get","origin":"a.example","timeout":0}',
        1,
        ErrorCode.BAD_REQUEST,
        "timeout must be",
    ),
    (
        b'{"id":1,"op":"get","origin":"a.example","timeout":NaN}',
        None,
        ErrorCode.BAD_REQUEST,
        "not valid JSON",
    ),
    (b'{"id":1,"op":"cancel"}', 1, ErrorCode.BAD_REQUEST, "target must be"),
    (b'{"id":1,"op":"get","origin":"a.example","since":"x"}', 1, ErrorCode.BAD_REQUEST, "since"),
    (b'{"id":1,"op":"get","origin":"a.example","since":-1}', 1, ErrorCode.BAD_REQUEST, "since"),
    (b'{"id":1,"op":"subscribe","after":-1}', 1, ErrorCode.BAD_REQUEST, "after must be"),
    (b'{"id":1,"op":"subscribe","after":1.5}', 1, ErrorCode.BAD_REQUEST, "after must be"),
    (b'{"id":1,"op":"subscribe","after":true}', 1, ErrorCode.BAD_REQUEST, "after must be"),
    (b'{"id":1,"op":"subscribe","after":"7"}', 1, ErrorCode.BAD_REQUEST, "after must be"),
    (
        b'{"id":1,"op":"send","number":"+1","origin":"a.example","watch":"yes"}',
        1,
        ErrorCode.BAD_REQUEST,
        "watch must be",
    ),
    (
        b'{"id":1,"op":"send","number":"+1","origin":"a.example","code":"1 2"}',
        1,
        ErrorCode.BAD_REQUEST,
        "whitespace",
    ),
    (b"[" * 100_000 + b"]" * 100_000, None, ErrorCode.BAD_REQUEST, "not valid JSON"),
    (b'{"id":1,"op":"subscribe","origin":5}', 1, ErrorCode.BAD_REQUEST, "origin must be a string"),
    (
        b'{"id":1,"op":"subscribe","origin":"https://a.example"}',
        1,
        ErrorCode.BAD_REQUEST,
        "valid host",
    ),
    (
        b'{"id":1,"op":"subscribe","origin":"a.example","embedded_origin":"a.example:1"}',
        1,
        ErrorCode.BAD_REQUEST,
        "valid host",
    ),
    (
        b'{"id":1,"op":"subscribe","embedded_origin":"a.example"}',
        1,
        ErrorCode.BAD_REQUEST,
        "embedded_origin needs origin",
    ),
]


@pytest.mark.parametrize(("line", "request_"), VALID)
def test_valid_requests(line: bytes, request_: Request) -> None:
    """Each well-formed request line parses to its value, origins normalised."""
    assert parse_request(line) == request_


@pytest.mark.parametrize(("line", "rid", "code", "fragment"), INVALID)
def test_invalid_requests(line: bytes, rid: object, code: ErrorCode, fragment: str) -> None:
    """Each bad line becomes a non-fatal rejection naming the id when one was readable."""
    result = parse_request(line)
    assert isinstance(result, Rejected)
    assert (result.id, result.error, result.fatal) == (rid, code, False)
    assert fragment in result.message


def test_reader_splits_lines_and_tolerates_crlf_and_blank_lines() -> None:
    """Two requests in one chunk, CRLF endings and blank lines yield exactly two requests."""
    reader = RequestReader()
    items = reader.feed(b'{"id":1,"op":"status"}\r\n\n  \n{"id":2,"op":"subscribe"}\n{"id":3')
    assert items == [Status(id=1), Subscribe(id=2)]
    assert reader.feed(b',"op":"status"}\n') == [Status(id=3)]


def test_over_long_line_is_fatal_and_closes_the_reader() -> None:
    """A line past the limit gives one fatal line-too-long rejection, then nothing more."""
    reader = RequestReader(max_line=100)
    items = reader.feed(b'{"id":1,"op":"status"}\n' + b"x" * 150)
    assert items[0] == Status(id=1)
    assert isinstance(items[1], Rejected)
    assert (items[1].error, items[1].fatal) == (ErrorCode.LINE_TOO_LONG, True)
    assert reader.closed
    assert reader.feed(b'\n{"id":2,"op":"status"}\n') == []


def test_line_exactly_at_the_limit_is_accepted_with_crlf() -> None:
    """A line of exactly max_line bytes passes, also fed byte by byte with a CRLF ending."""
    line = b'{"id":1,"op":"status"}'
    reader = RequestReader(max_line=len(line))
    items = [item for byte in line + b"\r\n" for item in reader.feed(bytes([byte]))]
    assert items == [Status(id=1)]


def _feed_all(chunks: list[bytes], max_line: int = 200) -> list[Request | Rejected]:
    reader = RequestReader(max_line=max_line)
    return [item for chunk in chunks for item in reader.feed(chunk)]


@given(st.binary(max_size=600))
def test_arbitrary_bytes_give_requests_or_rejections(data: bytes) -> None:
    """Any byte string yields only requests or rejections, the same whole or byte by byte."""
    whole = _feed_all([data])
    assert all(isinstance(i, Get | Cancel | Subscribe | Send | Status | Rejected) for i in whole)
    assert _feed_all([bytes([b]) for b in data]) == whole


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=10,
)
KEYS = st.sampled_from(
    [
        "id",
        "op",
        "origin",
        "embedded_origin",
        "timeout",
        "target",
        "number",
        "code",
        "text",
        "watch",
        "other",
    ]
)
OPS = st.sampled_from(["get", "cancel", "subscribe", "send", "status", "nope"])


@given(st.dictionaries(KEYS, JSONISH | OPS, max_size=8))
def test_arbitrary_request_objects_never_raise(obj: dict[str, object]) -> None:
    """Any JSON object, near-valid or not, parses to a request or a rejection."""
    line = json.dumps(obj).encode()
    result = parse_request(line)
    assert isinstance(result, Get | Cancel | Subscribe | Send | Status | Rejected)


@given(
    st.integers(min_value=0) | st.text(min_size=1, max_size=128),
    st.sampled_from(["shop.example", "a.b.example", "[2001:db8::1]", "192.0.2.1"]),
    st.none() | st.floats(min_value=0.001, max_value=3600),
)
def test_request_encoding_round_trips(rid: int | str, origin: str, timeout: float | None) -> None:
    """What the client encodes, the server parses back to the same request."""
    request = Get(id=rid, origin=origin, timeout=timeout)
    line = encode_request(request)
    assert line.endswith(b"\n")
    assert RequestReader().feed(line) == [request]


@pytest.mark.parametrize(
    "request_",
    [
        Subscribe(id=1),
        Subscribe(id=2, after=5, origin="shop.example"),
        Subscribe(id="s", origin="shop.example", embedded_origin="bank.example"),
    ],
)
def test_subscribe_encoding_round_trips(request_: Subscribe) -> None:
    """A subscription's origin, embedded origin and cursor survive the trip to the server."""
    assert parse_request(encode_request(request_)) == request_


SERVER_MESSAGES: list[ServerMessage] = [
    Greeting(version="1.2.3"),
    Result(id=1, value={"job": "j1", "status": "queued"}),
    Error(id=None, code=ErrorCode.LINE_TOO_LONG, message="too long"),
    Error(id="x", code=ErrorCode.RATE_LIMITED, message="slow down", retry_after=30.0),
    Event(id=2, kind=EventKind.CODE, data={"origin": "shop.example"}),
    Event(id=2, kind=EventKind.END),
]


@pytest.mark.parametrize("message", SERVER_MESSAGES)
def test_server_messages_round_trip(message: ServerMessage) -> None:
    """Every server message encodes to one JSON line that the client reads back equal."""
    line = encode(message)
    assert line.count(b"\n") == 1
    assert ServerReader().feed(line[:5]) == []
    assert parse_server_message(line[:-1]) == message


def test_greeting_wire_form() -> None:
    """The greeting names the protocol version and the line limit."""
    assert json.loads(encode(Greeting(version="0.1"))) == {
        "hello": "otp-gateway",
        "protocol": 1,
        "version": "0.1",
        "max_line": 65536,
    }


@pytest.mark.parametrize("line", [b"garbage\n", b'{"id":1}\n', b'{"id":1,"error":{"code":"x"}}\n'])
def test_client_reader_refuses_foreign_lines(line: bytes) -> None:
    """A line that is not relay protocol raises Unavailable on the client side."""
    with pytest.raises(Unavailable):
        ServerReader().feed(line)
