"""Tests for the relay client library (sync and asyncio) against a real relay server."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
from pathlib import Path

import pytest
from relay_helpers import FakeSendPort, record, relay, run

import gateway.client
from gateway.client import (
    AsyncClient,
    Cancelled,
    Client,
    ErrorCode,
    Forbidden,
    JobStatus,
    RateLimited,
    Timeout,
    Unavailable,
)


def test_async_get_resolves_with_the_offered_code(tmp_path: Path) -> None:
    """AsyncClient.get returns the CodeRecord of the code offered while it waits."""

    async def scenario() -> None:
        async with relay(tmp_path / "g.sock") as server, AsyncClient(server.config.path) as client:
            assert client.greeting is not None
            assert client.greeting.protocol == 1
            waiting = asyncio.create_task(client.get("Shop.Example", timeout=30))
            await asyncio.create_task(client.status())  # runs after the get's request is out
            server.offer(record("246810"))
            code = await waiting
            assert (code.origin, code.code, code.sender) == (
                "shop.example",
                "246810",
                "+15557654321",
            )

    run(scenario())


def test_async_errors_are_typed_with_stable_codes(tmp_path: Path) -> None:
    """Timeout and Forbidden surface as typed exceptions carrying their wire code."""

    async def scenario() -> None:
        async with relay(tmp_path / "g.sock") as server, AsyncClient(server.config.path) as client:
            with pytest.raises(Timeout, match=r"timeout of 0\.1 s") as timed_out:
                await client.get("shop.example", timeout=0.1)
            assert timed_out.value.code is ErrorCode.TIMEOUT
            with pytest.raises(Forbidden):
                await client.get("elsewhere.example")

    run(scenario())


def test_async_cancel_and_task_cancellation_abort_the_get(tmp_path: Path) -> None:
    """cancel(id) ends a get with Cancelled; cancelling the awaiting task aborts it too."""

    async def scenario() -> None:
        async with relay(tmp_path / "g.sock") as server, AsyncClient(server.config.path) as client:
            waiting = asyncio.create_task(client.get("shop.example", request_id="g1"))
            await asyncio.create_task(client.cancel("g1"))
            with pytest.raises(Cancelled):
                await waiting
            aborted = asyncio.create_task(client.get("shop.example", request_id="g2"))
            await asyncio.create_task(client.status())
            assert server.broker.pending == 1
            aborted.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await aborted
            await client.status()
            assert server.broker.pending == 0

    run(scenario())


def test_async_subscribe_and_send_watch(tmp_path: Path) -> None:
    """subscribe yields permitted codes; send returns a job id; send_watch yields its events."""

    async def scenario() -> None:
        async with relay(tmp_path / "g.sock") as server, AsyncClient(server.config.path) as client:
            stream = await client.subscribe()
            server.offer(record("135790", origin="bank.example"))
            assert (await anext(stream)).code == "135790"
            assert (await client.send("+15550001", "shop.example")).job_id == "job-1"
            watch = await client.send_watch("+15550002", "shop.example")
            assert watch.job_id == "job-2"
            events = [e.status async for e in watch]
            assert events == [JobStatus.SENDING, JobStatus.SENT, JobStatus.DELIVERED]

    run(scenario())


def test_sync_client_operations(tmp_path: Path) -> None:
    """The blocking client does status, get (grace window), send, watch and typed errors."""
    port = FakeSendPort()

    def consumer(path: Path) -> None:
        with Client(path) as client:
            assert "relay" in client.status()
            assert client.get("shop.example", timeout=5).code == "111222"
            with pytest.raises(Timeout):
                client.get("shop.example", timeout=0.1)
            with pytest.raises(Forbidden):
                client.get("nope.example")
            receipt = client.send("+15550001", "shop.example", code="987654")
            assert (receipt.job_id, receipt.code) == ("job-1", "987654")
            watch = client.send_watch("+15550002", "shop.example")
            assert watch.job_id == "job-2"
            assert [e.status for e in watch][-1] is JobStatus.DELIVERED
            port.refuse = RateLimited("too many", retry_after=60.0)
            with pytest.raises(RateLimited) as refused:
                client.send("+15550003", "shop.example")
            assert refused.value.retry_after == 60.0

    async def scenario() -> None:
        async with relay(tmp_path / "g.sock", send=port, grace=60.0) as server:
            server.offer(record("111222"))
            await asyncio.to_thread(consumer, server.config.path)
        assert [r.code for r in port.requests] == ["987654", None]

    run(scenario())


def test_sync_subscribe_yields_codes(tmp_path: Path) -> None:
    """The blocking subscribe iterator yields codes offered after the subscription."""

    async def scenario() -> None:
        async with relay(tmp_path / "g.sock") as server:
            client = await asyncio.to_thread(Client, server.config.path)
            codes = await asyncio.to_thread(client.subscribe)  # returns once confirmed
            reader = asyncio.create_task(asyncio.to_thread(next, codes))
            server.offer(record("555000"))
            assert (await reader).code == "555000"
            client.close()

    run(scenario())


def test_unreachable_or_foreign_socket_is_unavailable(tmp_path: Path) -> None:
    """No socket, or a socket that does not speak the protocol, raises Unavailable."""
    with pytest.raises(Unavailable, match="cannot reach"):
        Client(tmp_path / "missing.sock")

    async def foreign() -> None:
        server = await asyncio.start_unix_server(_garbage, path=os.fspath(tmp_path / "g.sock"))
        async with server:
            with pytest.raises(Unavailable):
                await AsyncClient(tmp_path / "g.sock").connect()
            with pytest.raises(Unavailable):
                await asyncio.to_thread(Client, tmp_path / "g.sock")

    run(foreign())


async def _garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"220 smtp.example ESMTP\r\n")
    await writer.drain()
    writer.close()


def test_gateway_client_reexports_the_library() -> None:
    """gateway.client exposes the clients, connect helpers and the typed errors."""
    assert gateway.client.Client is Client
    assert gateway.client.Code is gateway.client.CodeRecord
    assert set(gateway.client.__all__) >= {"AsyncClient", "Client", "Forbidden", "connect"}


def test_connect_helpers(tmp_path: Path) -> None:
    """connect() and connect_async() return greeted clients."""

    async def scenario() -> None:
        async with relay(tmp_path / "g.sock") as server:
            client = await gateway.client.connect_async(server.config.path)
            assert "relay" in await client.status()
            await client.close()
            blocking = await asyncio.to_thread(gateway.client.connect, server.config.path)
            assert blocking.greeting.protocol == 1
            blocking.close()

    run(scenario())


def test_sync_cancel_from_another_thread_aborts_the_waiting_get(tmp_path: Path) -> None:
    """Client.cancel called from a second thread ends the get waiting in the first with
    Cancelled, and the cancel's own reply does not disturb the next request."""

    async def scenario() -> None:
        async with relay(tmp_path / "g.sock") as server:
            client = await asyncio.to_thread(Client, server.config.path)
            waiting = asyncio.create_task(
                asyncio.to_thread(client.get, "shop.example", timeout=30, request_id="g1")
            )
            await server.wait_until(lambda s: s.broker.pending == 1)
            await asyncio.to_thread(client.cancel, "g1")
            with pytest.raises(Cancelled):
                await waiting
            assert "relay" in await asyncio.to_thread(client.status)
            assert server.broker.pending == 0
            client.close()

    run(scenario())


def test_async_close_ends_a_pending_get(tmp_path: Path) -> None:
    """Closing an AsyncClient (reconnect=False) ends the get still waiting on it with
    Unavailable instead of leaving it waiting."""

    async def scenario() -> None:
        async with relay(tmp_path / "g.sock") as server:
            client = AsyncClient(server.config.path, reconnect=False)
            await client.connect()
            waiting = asyncio.create_task(client.get("shop.example", timeout=30))
            await server.wait_until(lambda s: s.broker.pending == 1)
            await client.close()
            with pytest.raises(Unavailable):
                await waiting

    run(scenario())


def test_both_clients_raise_the_refusal_sent_instead_of_the_greeting(tmp_path: Path) -> None:
    """A relay at its per-uid cap refuses instead of greeting: both clients raise
    Unavailable with the server's reason."""

    async def scenario() -> None:
        async with (
            relay(tmp_path / "g.sock", max_connections_per_uid=1) as server,
            AsyncClient(server.config.path),
        ):
            with pytest.raises(Unavailable, match="too many connections for uid"):
                await AsyncClient(server.config.path).connect()
            with pytest.raises(Unavailable, match="too many connections for uid"):
                await asyncio.to_thread(Client, server.config.path)

    run(scenario())


def test_both_clients_subscribing_to_a_refused_origin_raise_forbidden_at_once(
    tmp_path: Path,
) -> None:
    """subscribe(origin=X) for an X the peer may not see, or the daemon never relays, raises
    Forbidden from the call itself, on both clients, with the reason a get gets."""

    def refuses(origin: str, embedded_origin: str | None) -> str | None:
        return "no codes for bank.example here" if origin == "bank.example" else None

    async def scenario() -> None:
        async with (
            relay(tmp_path / "g.sock", refuses_origin=refuses) as server,
            AsyncClient(server.config.path) as client,
        ):
            for origin, reason in (
                ("evil.example", "no [[relay.access]] rule grants subscribe to "),
                ("bank.example", "no codes for bank.example here"),
            ):
                with pytest.raises(Forbidden, match=re.escape(reason)):
                    await client.subscribe(origin=origin)
                with pytest.raises(Forbidden, match=re.escape(reason)):
                    await asyncio.to_thread(_sync_subscribe, server.config.path, origin)
            assert server.broker.subscriptions == 0

    run(scenario())


def _sync_subscribe(path: Path, origin: str) -> None:
    """Subscribe with the blocking client to ``origin`` (the call returns once confirmed)."""
    with Client(path) as client:
        client.subscribe(origin=origin)


def test_both_clients_subscribing_to_an_origin_get_only_its_codes(tmp_path: Path) -> None:
    """subscribe(origin=X) yields X's codes only, never another origin's or an embedded pair's."""

    async def scenario() -> None:
        async with relay(tmp_path / "g.sock") as server:
            aclient = AsyncClient(server.config.path)
            await aclient.connect()
            astream = await aclient.subscribe(origin="Shop.Example")
            client = await asyncio.to_thread(Client, server.config.path)
            stream = await asyncio.to_thread(client.subscribe, origin="shop.example")
            server.offer(record("111111", origin="bank.example"))
            server.offer(record("222222", origin="shop.example", embedded="bank.example"))
            server.offer(record("333333", origin="shop.example"))
            assert (await anext(astream)).code == "333333"
            assert (await asyncio.to_thread(next, stream)).code == "333333"
            embedded = await aclient.subscribe(
                origin="shop.example", embedded_origin="bank.example"
            )
            server.offer(record("444444", origin="shop.example"))
            server.offer(record("555555", origin="shop.example", embedded="bank.example"))
            got = await anext(embedded)
            assert (got.code, got.embedded_origin) == ("555555", "bank.example")
            assert (await anext(astream)).code == "444444"
            assert (await asyncio.to_thread(next, stream)).code == "444444"
            client.close()
            await aclient.close()

    run(scenario())
