"""Tests for the relay server's limits on bad, greedy, idle and slow clients."""

from __future__ import annotations

import asyncio
import os
import resource
import select
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from relay_helpers import Raw, record, relay, run

from gateway.relay.aclient import AsyncClient
from gateway.relay.client import Client
from gateway.relay.errors import Unavailable


def test_over_long_line_gets_an_error_then_a_disconnect(tmp_path: Path) -> None:
    """A line past max_line is answered with line-too-long and the connection is closed."""

    async def scenario() -> None:
        async with relay(tmp_path / "g.sock", max_line=1024) as server:
            raw = await Raw.open(server.config.path)
            raw.writer.write(b'{"id":1,"op":"status","x":"' + b"y" * 4096)
            reply = await raw.read()
            assert reply["error"]["code"] == "line-too-long"
            with pytest.raises(EOFError):
                await raw.read()
            other = await Raw.open(server.config.path)
            await other.sync()
            await raw.close()
            await other.close()

    run(scenario())


@pytest.mark.parametrize(
    ("line", "rid", "fragment"),
    [
        (b"{not json\n", None, "not valid JSON"),
        (b'{"id":5,"op":"dance"}\n', 5, "op must be one of"),
        (b'{"id":6,"op":"get","origin":["shop.example"]}\n', 6, "origin must be a string"),
        (b'{"id":7,"op":"get","origin":"shop.example","timeout":-1}\n', 7, "timeout"),
        (b'{"id":8,"op":"send","number":5,"origin":"shop.example"}\n', 8, "number"),
    ],
)
def test_bad_requests_are_answered_and_the_connection_keeps_serving(
    tmp_path: Path, line: bytes, rid: object, fragment: str
) -> None:
    """Invalid JSON, unknown op and wrong types give bad-request; later requests still work."""

    async def scenario() -> None:
        async with relay(tmp_path / "g.sock") as server:
            raw = await Raw.open(server.config.path)
            raw.writer.write(line)
            error = (await raw.reply(rid))["error"]
            assert error["code"] == "bad-request"
            assert fragment in error["message"]
            await raw.sync()
            assert server.counters["rejected"] == 1
            await raw.close()

    run(scenario())


def test_pending_gets_per_connection_are_limited(tmp_path: Path) -> None:
    """A connection past max_pending_gets is told too-many-pending; a reused id is refused."""

    async def scenario() -> None:
        async with relay(tmp_path / "g.sock", max_pending_gets=2) as server:
            raw = await Raw.open(server.config.path)
            for rid in (1, 2, 3):
                raw.write({"id": rid, "op": "get", "origin": "shop.example"})
            assert (await raw.reply(3))["error"]["code"] == "too-many-pending"
            raw.write({"id": 1, "op": "status"})
            assert (await raw.reply(1))["error"]["message"].startswith("id is already used")
            assert server.broker.pending == 2
            await raw.close()

    run(scenario())


@pytest.fixture
def many_files() -> Iterator[None]:
    """Raise this process's open-file limit to 4096 (for 2,000 socket ends), then restore it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(4096, hard)), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.mark.usefixtures("many_files")
def test_thousand_idle_clients_while_another_is_served(tmp_path: Path) -> None:
    """With 1,000 idle connections open, another client's get still resolves."""

    async def scenario() -> None:
        # every client here is this test's uid: lift the per-uid cap for it
        async with relay(tmp_path / "g.sock", max_connections_per_uid=2000) as server:
            idle = await asyncio.gather(*(Raw.open(server.config.path) for _ in range(1000)))
            assert all(client.greeting["protocol"] == 1 for client in idle)
            active = await Raw.open(server.config.path)
            active.write({"id": 1, "op": "get", "origin": "shop.example"})
            await active.sync()
            server.offer(record("999999"))
            assert (await active.reply(1))["result"]["code"] == "999999"
            active.write({"id": 2, "op": "status"})
            assert (await active.reply(2))["result"]["relay"]["connections"] == 1001
            await asyncio.gather(*(client.close() for client in [*idle, active]))

    run(scenario())


def _hangup(sock: socket.socket, timeout: float) -> bool:
    """Wait (without reading) until the peer closes; return whether it did in time."""
    poller = select.epoll()
    try:
        poller.register(sock.fileno(), select.EPOLLRDHUP | select.EPOLLHUP)
        return bool(poller.poll(timeout))
    finally:
        poller.close()


@pytest.mark.parametrize("limit", ["hard-limit", "drain-timeout"])
def test_consumer_that_never_reads_is_disconnected(tmp_path: Path, limit: str) -> None:
    """A subscriber that never reads is dropped (backlog cap or stall timeout); others go on."""
    config: dict[str, Any] = (
        {"write_high_water": 4096, "write_hard_limit": 65536, "drain_timeout": 30.0}
        if limit == "hard-limit"
        else {"write_high_water": 4096, "write_hard_limit": 2**30, "drain_timeout": 0.2}
    )

    async def scenario() -> None:
        async with relay(tmp_path / "g.sock", **config) as server:
            stuck = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            stuck.connect(os.fspath(server.config.path))
            stuck.sendall(
                b'{"id":1,"op":"subscribe"}\n{"id":2,"op":"get","origin":"bank.example"}\n'
            )
            other = await Raw.open(server.config.path)
            other.write({"id": 1, "op": "get", "origin": "shop.example"})
            await other.sync()
            assert server.broker.subscriptions == 1  # the stuck client's lines were handled
            offered = 0
            while server.counters["slow_consumers_dropped"] == 0 and offered < 200_000:
                server.offer(record(f"{offered:06d}", origin="bank.example"))
                offered += 1
                if limit == "drain-timeout" and offered == 5000:
                    break
            assert await asyncio.to_thread(_hangup, stuck, 20.0)
            assert server.counters["slow_consumers_dropped"] == 1
            assert server.broker.subscriptions == 0
            assert server.broker.pending == 1  # only the other client's get is left
            server.offer(record("123456"))
            assert (await other.reply(1))["result"]["code"] == "123456"
            stuck.close()
            await other.close()

    run(scenario())


def test_close_does_not_hang_on_a_consumer_that_never_reads(tmp_path: Path) -> None:
    """Shutdown flushes for at most drain_timeout, then cuts off a stuck reader."""

    async def scenario() -> None:
        server_cm = relay(
            tmp_path / "g.sock", write_high_water=4096, write_hard_limit=2**30, drain_timeout=0.3
        )
        server = await server_cm.__aenter__()
        stuck = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stuck.connect(os.fspath(server.config.path))
        stuck.sendall(b'{"id":1,"op":"subscribe"}\n')
        probe = await Raw.open(server.config.path)
        await probe.sync()
        assert server.broker.subscriptions == 1
        for number in range(5000):
            server.offer(record(f"{number:06d}", origin="bank.example"))
        await probe.close()
        await server_cm.__aexit__(None, None, None)
        assert server.counters["connections_total"] == 2
        assert await asyncio.to_thread(_hangup, stuck, 5.0)
        stuck.close()

    run(scenario())


def test_connections_over_the_limit_are_refused_and_the_listener_keeps_serving(
    tmp_path: Path,
) -> None:
    """Past max_connections a client gets 'unavailable' and EOF; a freed slot admits again."""

    async def scenario() -> None:
        async with relay(tmp_path / "g.sock", max_connections=2) as server:
            first, second = await Raw.open(server.config.path), await Raw.open(server.config.path)
            with structlog.testing.capture_logs() as events:
                refused = await Raw.open(server.config.path)  # its first line is the refusal
            assert refused.greeting["id"] is None
            assert refused.greeting["error"]["code"] == "unavailable"
            assert "too many connections" in refused.greeting["error"]["message"]
            with pytest.raises(EOFError):
                await refused.read()
            assert [e["event"] for e in events] == ["relay.too_many_connections"]
            with pytest.raises(Unavailable, match="too many connections"):
                await asyncio.to_thread(Client, server.config.path)
            with pytest.raises(Unavailable, match="too many connections"):
                await AsyncClient(server.config.path).connect()
            await second.sync()  # the admitted ones are served as before
            await first.close()
            await server.wait_until(lambda s: s.connections == 1)
            third = await Raw.open(server.config.path)
            assert third.greeting["hello"] == "otp-gateway"
            third.write({"id": 1, "op": "status"})
            relay_status = (await third.reply(1))["result"]["relay"]
            assert relay_status["connections"] == 2
            assert relay_status["counters"]["connections_refused"] == 3
            await asyncio.gather(second.close(), third.close(), refused.close())

    run(scenario())
