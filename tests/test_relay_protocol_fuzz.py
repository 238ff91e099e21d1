"""Property tests of the request decoder with hostile input, and the same input on a real socket."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from relay_helpers import Raw, relay, run

from gateway.relay.messages import Error, Rejected, Request, Result
from gateway.relay.protocol import RequestReader, encode, parse_request

# every code point, lone surrogates included (JSON can carry them as \ud800 escapes)
ANY_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=40)
NUMBERS = (
    st.integers()
    | st.integers(min_value=10**300, max_value=10**1000)  # past float: OverflowError
    | st.integers(max_value=-(10**300), min_value=-(10**1000))
    | st.floats(allow_nan=False, allow_infinity=False)
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | NUMBERS | ANY_TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(ANY_TEXT, inner, max_size=4),
    max_leaves=12,
)
FIELDS = st.sampled_from(
    ["id", "op", "origin", "embedded_origin", "timeout", "target", "number", "code", "text"]
)
OPS = st.sampled_from(["get", "cancel", "subscribe", "send", "status"])
ORIGINS = st.sampled_from(["shop.example", "xn--bcher-kva.example", "[2001:db8::1]"])


def answer(result: Request | Rejected) -> bytes:
    """Return the bytes the server would write for a decoded line (a result or an error)."""
    if isinstance(result, Rejected):
        return encode(Error(id=result.id, code=result.error, message=result.message))
    return encode(Result(id=result.id, value={"ok": True}))


def check(line: bytes) -> None:
    """Decode ``line``: a request or a rejection, whose reply is one valid UTF-8 JSON line."""
    result = parse_request(line)
    assert isinstance(result, Request | Rejected)
    reply = answer(result)
    assert reply.endswith(b"\n")
    json.loads(reply.decode("utf-8"))


@settings(max_examples=400, deadline=None)
@given(JSON_VALUES)
def test_any_json_value_gives_a_request_or_a_rejection(value: object) -> None:
    """Any JSON value at all decodes to a request or a protocol error, never an exception."""
    check(json.dumps(value).encode())


@settings(max_examples=600, deadline=None)
@given(
    st.one_of(st.integers(), ANY_TEXT, st.none()),
    OPS,
    st.dictionaries(FIELDS | ANY_TEXT, JSON_VALUES | ORIGINS, max_size=6),
)
def test_near_valid_requests_give_a_request_or_a_rejection(
    rid: object, op: str, fields: dict[str, object]
) -> None:
    """Requests with a real op and arbitrary field values decode without an exception."""
    check(json.dumps({**fields, "id": rid, "op": op}).encode())


@settings(deadline=None)
@given(st.binary(max_size=300), st.integers(min_value=1, max_value=17))
def test_any_bytes_in_any_chunks_never_raise(data: bytes, chunk: int) -> None:
    """Arbitrary bytes fed in arbitrary pieces give requests or rejections only."""
    reader = RequestReader(max_line=128)
    for start in range(0, len(data), chunk):
        for item in reader.feed(data[start : start + chunk]):
            assert isinstance(item, Request | Rejected)
            answer(item)


HOSTILE = [
    # (line, id the error names, field the message names)
    (b'{"id":1,"op":"get","origin":"shop.example","timeout":1' + b"0" * 400 + b"}", 1, "timeout"),
    (b'{"id":2,"op":"get","origin":"shop.example","timeout":-1' + b"0" * 400 + b"}", 2, "timeout"),
    (b'{"id":"\\ud800","op":"status"}', None, "id"),
    (b'{"id":"ok\\udfff","op":"status"}', None, "id"),
    (b'{"id":3,"op":"get","origin":"shop\\ud800.example"}', 3, "origin"),
    (b'{"id":4,"op":"get","origin":"shop.example","embedded_origin":"\\udc00"}', 4, "embedded"),
    (b'{"id":5,"op":"cancel","target":"\\ud800"}', 5, "target"),
    (b'{"id":6,"op":"send","number":"+1555\\ud800","origin":"shop.example"}', 6, "number"),
    (
        b'{"id":7,"op":"send","number":"+15550001111","origin":"shop.example","code":"\\ud800"}',
        7,
        "code",
    ),
    (b'{"id":8,"op":"status","\\ud800":1}', 8, "unknown field"),
    (b"[" * 30000 + b"]" * 30000, None, "not valid JSON"),  # nesting past the recursion limit
]


@pytest.mark.parametrize(("line", "rid", "field"), HOSTILE)
def test_hostile_request_gets_an_error_naming_the_field_and_the_connection_goes_on(
    tmp_path: Path, line: bytes, rid: object, field: str
) -> None:
    """A huge number or a lone surrogate is a bad-request naming the field; the socket stays."""

    async def scenario() -> None:
        async with relay(tmp_path / "g.sock") as server:
            raw = await Raw.open(server.config.path)
            raw.writer.write(line + b"\n")
            error = (await raw.reply(rid))["error"]
            assert error["code"] == "bad-request"
            assert field in error["message"]
            await raw.sync()  # the same connection is still served
            assert server.connections == 1
            await raw.close()

    run(scenario())


def test_huge_integer_ids_are_echoed(tmp_path: Path) -> None:
    """An integer id far past 64 bits is a valid id: the reply names it exactly."""
    big = 10**200

    async def scenario() -> None:
        async with relay(tmp_path / "g.sock") as server:
            raw = await Raw.open(server.config.path)
            raw.write({"id": big, "op": "status"})
            assert "result" in await raw.reply(big)
            raw.write({"id": 1, "op": "cancel", "target": big})
            assert (await raw.reply(1))["error"]["code"] == "not-found"
            await raw.close()

    run(scenario())
