"""Tests for the relay server's handling of peers that go: hang-ups, resets, idle, per-uid cap."""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path

import pytest
import structlog
from relay_helpers import Raw, record, relay, run

from gateway.relay.client import Client
from gateway.relay.errors import Unavailable
from gateway.relay.ports import CodeRecord

GET = b'{"id":1,"op":"get","origin":"shop.example","timeout":60}\n'


def ghost(path: Path, request: bytes = GET, until: bytes = b"") -> socket.socket:
    """Connect a plain socket, read the greeting, send ``request``, read up to ``until``."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(os.fspath(path))
    seen = sock.recv(4096)
    assert seen.startswith(b'{"hello"')
    sock.sendall(request)
    while until and until not in seen:
        seen += sock.recv(4096)
    return sock


def test_client_that_closes_after_get_is_dropped_and_takes_no_code(tmp_path: Path) -> None:
    """A get whose client closed is cleaned up; the next code goes to a live get, claimed once."""
    claims: list[CodeRecord] = []

    async def scenario() -> None:
        async with relay(tmp_path / "g.sock", on_claim=claims.append) as server:
            sock = await asyncio.to_thread(ghost, server.config.path)
            await server.wait_until(lambda s: s.broker.pending == 1)
            live = await Raw.open(server.config.path)
            live.write({"id": 7, "op": "get", "origin": "shop.example"})
            await server.wait_until(lambda s: s.broker.pending == 2)
            sock.close()
            await server.wait_until(lambda s: s.connections == 1 and s.broker.pending == 1)
            assert server.counters["peers_gone"] == 1
            assert server.offer(record("135790")) is True
            assert (await live.reply(7))["result"]["code"] == "135790"
            assert [c.code for c in claims] == ["135790"]
            await live.close()

    run(scenario())


def test_code_offered_before_the_hang_up_is_seen_goes_to_the_next_get(tmp_path: Path) -> None:
    """A code offered right after the oldest get's client closed (EOF not read yet) skips it."""
    claims: list[CodeRecord] = []

    async def scenario() -> None:
        async with relay(tmp_path / "g.sock", on_claim=claims.append) as server:
            sock = await asyncio.to_thread(ghost, server.config.path)
            await server.wait_until(lambda s: s.broker.pending == 1)
            live = await Raw.open(server.config.path)
            live.write({"id": 7, "op": "get", "origin": "shop.example"})
            await server.wait_until(lambda s: s.broker.pending == 2)
            sock.close()  # no await in between: the loop has not seen the EOF yet
            with structlog.testing.capture_logs() as events:
                assert server.offer(record("246801")) is True
                assert (await live.reply(7))["result"]["code"] == "246801"
            assert [c.code for c in claims] == ["246801"]
            assert "relay.peer_gone" in [e["event"] for e in events]
            assert not [e for e in events if "246801" in repr(e)]  # the code is never logged
            await server.wait_until(lambda s: s.connections == 1)
            assert server.broker.pending == 0
            await live.close()

    run(scenario())


def test_failed_write_gives_the_code_to_the_next_get(tmp_path: Path) -> None:
    """A get whose connection cannot be written (peer shut its read side) keeps no claim."""
    claims: list[CodeRecord] = []
    released: list[CodeRecord] = []

    def claim(code: CodeRecord) -> bool:
        claims.append(code)
        return True  # a fresh claim, as the journal's mark says

    async def scenario() -> None:
        async with relay(tmp_path / "g.sock", on_claim=claim, on_release=released.append) as server:
            deaf = await asyncio.to_thread(ghost, server.config.path)
            await server.wait_until(lambda s: s.broker.pending == 1)
            live = await Raw.open(server.config.path)
            live.write({"id": 7, "op": "get", "origin": "shop.example"})
            await server.wait_until(lambda s: s.broker.pending == 2)
            deaf.shutdown(socket.SHUT_RD)  # no hang-up and no EOF, but writes fail (EPIPE)
            assert server.offer(record("112358")) is True
            assert (await live.reply(7))["result"]["code"] == "112358"
            # recorded before each write (crash safety), released where the write failed
            assert [c.code for c in claims] == ["112358", "112358"]
            assert [c.code for c in released] == ["112358"]
            assert server.counters["codes_not_handed"] == 1
            assert server.counters["codes_delivered"] == 1
            await server.wait_until(lambda s: s.connections == 1)
            deaf.close()
            await live.close()

    run(scenario())


def test_consumer_that_stopped_reading_is_dropped_and_the_code_goes_on(tmp_path: Path) -> None:
    """A get whose connection's kernel buffer is full is dropped; the next get gets the code."""
    claims: list[CodeRecord] = []
    both = GET + b'{"id":2,"op":"subscribe"}\n'

    async def scenario() -> None:
        async with relay(tmp_path / "g.sock", on_claim=claims.append) as server:
            stalled = await asyncio.to_thread(ghost, server.config.path, both, b"subscribed")
            await server.wait_until(lambda s: s.broker.pending == 1)
            live = await Raw.open(server.config.path)
            live.write({"id": 7, "op": "get", "origin": "shop.example"})
            await server.wait_until(lambda s: s.broker.pending == 2)
            for number in range(3000):  # events it never reads: far past the kernel's buffer
                server.offer(record(f"{number:06d}", origin="bank.example"))
            assert server.counters["slow_consumers_dropped"] == 0  # below the hard limit
            assert server.offer(record("777777")) is True
            assert (await live.reply(7))["result"]["code"] == "777777"
            assert [c.code for c in claims] == ["777777"]
            assert server.counters["slow_consumers_dropped"] == 1
            await server.wait_until(lambda s: s.connections == 1)
            stalled.close()
            await live.close()

    run(scenario())


def test_code_nobody_live_waits_for_is_not_claimed(tmp_path: Path) -> None:
    """With only a gone client waiting, a code is not taken and nothing is claimed."""
    claims: list[CodeRecord] = []

    async def scenario() -> None:
        async with relay(tmp_path / "g.sock", on_claim=claims.append) as server:
            sock = await asyncio.to_thread(ghost, server.config.path)
            await server.wait_until(lambda s: s.broker.pending == 1)
            sock.close()
            assert server.offer(record("999000")) is False
            assert claims == []
            await server.wait_until(lambda s: s.connections == 0)

    run(scenario())


@pytest.mark.parametrize("how", ["close", "reset", "shutdown-both", "half-close-then-close"])
def test_gone_subscriber_and_getter_are_released(tmp_path: Path, how: str) -> None:
    """However the peer goes (close, reset, shutdown, half-close then close), it is released."""
    both = GET + b'{"id":2,"op":"subscribe"}\n'
    # read every reply, so that closing is a plain end-of-file, not a reset
    until = b"" if how == "reset" else b'"subscribed":true'

    async def scenario() -> None:
        async with relay(tmp_path / "g.sock") as server:
            sock = await asyncio.to_thread(ghost, server.config.path, both, until)
            await server.wait_until(lambda s: s.broker.pending == 1 and s.broker.subscriptions == 1)
            # "reset": the subscribe reply is unread, so the kernel resets the connection
            if how == "shutdown-both":
                sock.shutdown(socket.SHUT_RDWR)
            elif how == "half-close-then-close":
                sock.shutdown(socket.SHUT_WR)
                probe = await Raw.open(server.config.path)
                await probe.sync()  # the half-close has been seen: still registered
                assert server.broker.pending == 1
                assert server.broker.subscriptions == 1
                await probe.close()
                sock.close()
            else:
                sock.close()
            await server.wait_until(
                lambda s: (
                    s.connections == 0 and s.broker.pending == 0 and s.broker.subscriptions == 0
                )
            )
            if how == "shutdown-both":
                sock.close()

    run(scenario())


def test_half_close_with_nothing_pending_closes(tmp_path: Path) -> None:
    """End-of-file with nothing left to answer closes the connection."""

    async def scenario() -> None:
        async with relay(tmp_path / "g.sock") as server:
            raw = await Raw.open(server.config.path)
            await raw.sync()
            raw.writer.write_eof()
            with pytest.raises(EOFError):
                await raw.read()
            await server.wait_until(lambda s: s.connections == 0)
            await raw.close()

    run(scenario())


def test_idle_connection_is_told_and_closed(tmp_path: Path) -> None:
    """A connection with nothing pending past idle_timeout gets unavailable, then EOF."""

    async def scenario() -> None:
        async with relay(tmp_path / "g.sock", idle_timeout=0.2) as server:
            with structlog.testing.capture_logs() as events:
                raw = await Raw.open(server.config.path)
                error = (await raw.reply(None))["error"]
                with pytest.raises(EOFError):
                    await raw.read()
            assert error["code"] == "unavailable"
            assert "idle" in error["message"]
            assert "relay.idle_closed" in [e["event"] for e in events]
            assert server.counters["idle_closed"] == 1
            await raw.close()

    run(scenario())


def test_pending_get_keeps_a_connection_open_past_the_idle_timeout(tmp_path: Path) -> None:
    """A get waiting longer than idle_timeout is answered; only then does the idle clock run."""

    async def scenario() -> None:
        async with relay(tmp_path / "g.sock", idle_timeout=0.2) as server:
            raw = await Raw.open(server.config.path)
            raw.write({"id": 1, "op": "get", "origin": "shop.example", "timeout": 0.6})
            assert (await raw.reply(1))["error"]["code"] == "timeout"
            raw.write({"id": 2, "op": "subscribe"})
            assert (await raw.reply(2))["result"]["subscribed"] is True
            raw.write({"id": 3, "op": "cancel", "target": 2})
            assert (await raw.reply(3))["result"] == {"cancelled": 2}
            assert (await raw.reply(None))["error"]["code"] == "unavailable"
            with pytest.raises(EOFError):
                await raw.read()
            assert server.counters["idle_closed"] == 1
            await raw.close()

    run(scenario())


def test_per_uid_cap_refuses_one_more_and_frees_on_close(tmp_path: Path) -> None:
    """Past max_connections_per_uid a uid is refused with unavailable; a freed slot admits it."""

    async def scenario() -> None:
        async with relay(tmp_path / "g.sock", max_connections_per_uid=2) as server:
            first, second = await Raw.open(server.config.path), await Raw.open(server.config.path)
            refused = await Raw.open(server.config.path)
            assert refused.greeting["error"]["code"] == "unavailable"
            assert f"for uid {os.getuid()} (at most 2)" in refused.greeting["error"]["message"]
            with pytest.raises(EOFError):
                await refused.read()
            with pytest.raises(Unavailable, match="too many connections for uid"):
                await asyncio.to_thread(Client, server.config.path)
            await second.sync()
            await first.close()
            await server.wait_until(lambda s: s.connections == 1)
            third = await Raw.open(server.config.path)
            assert third.greeting["hello"] == "otp-gateway"
            assert server.counters["connections_refused_uid"] == 2
            await asyncio.gather(second.close(), third.close(), refused.close())

    run(scenario())


def test_the_claim_is_recorded_before_the_answer_is_written(tmp_path: Path) -> None:
    """The journal's mark comes first: a daemon killed before the write leaves the code to this get.

    A plain socket stands for the consumer; when the relay records the claim, nothing
    of the answer may have reached it yet (written first, a kill before the mark would
    leave the code unclaimed for another consumer asking with ``since``).
    """
    seen_at_claim: list[bytes] = []

    async def scenario() -> None:
        consumer: socket.socket | None = None

        def claim(code: CodeRecord) -> bool:
            assert consumer is not None
            try:
                seen_at_claim.append(consumer.recv(4096, socket.MSG_DONTWAIT))
            except BlockingIOError:
                seen_at_claim.append(b"")
            return True

        async with relay(tmp_path / "g.sock", on_claim=claim) as server:
            consumer = await asyncio.to_thread(ghost, server.config.path)
            await server.wait_until(lambda s: s.broker.pending == 1)
            assert server.offer(record("314159")) is True
            answer = await asyncio.to_thread(consumer.recv, 4096)
            assert b'"314159"' in answer
            consumer.close()

    run(scenario())
    assert seen_at_claim == [b""]
