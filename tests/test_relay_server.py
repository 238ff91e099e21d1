"""Tests for the relay's asyncio Unix-socket server, over real sockets under tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest
from relay_helpers import FakeSendPort, Raw, record, relay, run

from gateway.relay.errors import RateLimited


def test_greeting_and_status(tmp_path: Path) -> None:
    """A client is greeted with the protocol version; status merges daemon and relay data."""

    async def scenario() -> None:
        async with relay(tmp_path / "g.sock"):
            raw = await Raw.open(tmp_path / "g.sock")
            assert raw.greeting["hello"] == "otp-gateway"
            assert raw.greeting["protocol"] == 1
            raw.write({"id": 1, "op": "status"})
            status = (await raw.reply(1))["result"]
            assert status["modems"] == [{"state": "ready", "signal": 20}]
            assert status["relay"]["connections"] == 1
            assert status["relay"]["socket"]["activated"] is False
            await raw.close()

    run(scenario())


def test_get_resolves_when_a_code_is_offered(tmp_path: Path) -> None:
    """A pending get receives the code the daemon offers after it, with all its fields."""

    async def scenario() -> None:
        async with relay(tmp_path / "g.sock") as server:
            raw = await Raw.open(tmp_path / "g.sock")
            raw.write({"id": 1, "op": "get", "origin": "shop.example", "timeout": 30})
            await raw.sync()
            offered = record("123456", record_id=41)
            assert server.offer(offered) is True
            assert (await raw.reply(1))["result"] == {
                "origin": "shop.example",
                "embedded_origin": None,
                "code": "123456",
                "sender": "+15557654321",
                "received_at": offered.received_at.isoformat(),
                "cursor": 41,
            }
            await raw.close()

    run(scenario())


def test_half_closed_client_still_gets_its_answer(tmp_path: Path) -> None:
    """A client that shuts down its write side after a get (printf | socat) still gets it."""

    async def scenario() -> None:
        async with relay(tmp_path / "g.sock") as server:
            raw = await Raw.open(tmp_path / "g.sock")
            raw.write({"id": 1, "op": "get", "origin": "shop.example"})
            await raw.sync()
            raw.writer.write_eof()
            server.offer(record("864200"))
            assert (await raw.reply(1))["result"]["code"] == "864200"
            with pytest.raises(EOFError):
                await raw.read()
            await raw.close()

    run(scenario())


def test_code_before_the_request_is_not_delivered_outside_grace(tmp_path: Path) -> None:
    """A code offered before the get is skipped; the get takes the next one."""

    async def scenario() -> None:
        async with relay(tmp_path / "g.sock") as server:
            assert server.offer(record("old111")) is False
            raw = await Raw.open(tmp_path / "g.sock")
            raw.write({"id": 1, "op": "get", "origin": "shop.example"})
            await raw.sync()
            server.offer(record("new222"))
            assert (await raw.reply(1))["result"]["code"] == "new222"
            await raw.close()

    run(scenario())


def test_grace_window_admits_a_code_received_just_before(tmp_path: Path) -> None:
    """With a grace window, a get answers at once with an unclaimed recent code."""

    async def scenario() -> None:
        async with relay(tmp_path / "g.sock", grace=60.0) as server:
            server.offer(record("777000"))
            raw = await Raw.open(tmp_path / "g.sock")
            raw.write({"id": 1, "op": "get", "origin": "shop.example"})
            assert (await raw.reply(1))["result"]["code"] == "777000"
            await raw.close()

    run(scenario())


def test_two_concurrent_gets_get_different_codes(tmp_path: Path) -> None:
    """Two clients waiting for the same origin receive one code each, first come first."""

    async def scenario() -> None:
        async with relay(tmp_path / "g.sock") as server:
            first, second = await Raw.open(server.config.path), await Raw.open(server.config.path)
            first.write({"id": "a", "op": "get", "origin": "shop.example"})
            await first.sync()
            second.write({"id": "b", "op": "get", "origin": "shop.example"})
            await second.sync()
            server.offer(record("111111"))
            server.offer(record("222222"))
            assert (await first.reply("a"))["result"]["code"] == "111111"
            assert (await second.reply("b"))["result"]["code"] == "222222"
            await first.close()
            await second.close()

    run(scenario())


def test_cancel_aborts_a_pending_get(tmp_path: Path) -> None:
    """Cancel ends the get with 'cancelled', confirms, and the next code goes elsewhere."""

    async def scenario() -> None:
        async with relay(tmp_path / "g.sock") as server:
            raw = await Raw.open(server.config.path)
            raw.write({"id": 1, "op": "get", "origin": "shop.example"})
            raw.write({"id": 2, "op": "cancel", "target": 1})
            assert (await raw.reply(1))["error"]["code"] == "cancelled"
            assert (await raw.reply(2))["result"] == {"cancelled": 1}
            raw.write({"id": 3, "op": "cancel", "target": 1})
            assert (await raw.reply(3))["error"]["code"] == "not-found"
            assert server.offer(record("123")) is False
            await raw.sync()
            assert raw.others == []
            await raw.close()

    run(scenario())


def test_timeout_ends_a_get_with_a_clear_error(tmp_path: Path) -> None:
    """A get that sees no code within its timeout gets a 'timeout' error naming it."""

    async def scenario() -> None:
        async with relay(tmp_path / "g.sock") as server:
            raw = await Raw.open(server.config.path)
            raw.write({"id": 1, "op": "get", "origin": "shop.example", "timeout": 0.2})
            raw.write({"id": 2, "op": "get", "origin": "shop.example", "timeout": 30})
            error = (await raw.reply(1))["error"]
            assert error == {
                "code": "timeout",
                "message": "no code arrived within the timeout of 0.2 s",
            }
            assert server.broker.pending == 1
            await raw.close()

    run(scenario())


def test_subscribe_streams_permitted_codes_and_cancel_ends_it(tmp_path: Path) -> None:
    """A subscriber gets code events for its origins only; cancel ends the stream."""

    async def scenario() -> None:
        async with relay(tmp_path / "g.sock") as server:
            raw = await Raw.open(server.config.path)
            raw.write({"id": "s", "op": "subscribe"})
            assert (await raw.reply("s"))["result"]["subscribed"] is True
            server.offer(record("1", origin="other.example"))
            server.offer(record("2"))
            event = await raw.reply("s")
            assert (event["event"], event["data"]["code"]) == ("code", "2")
            raw.write({"id": "c", "op": "cancel", "target": "s"})
            assert (await raw.reply("s")) == {"id": "s", "event": "end", "data": {}}
            assert (await raw.reply("c"))["result"] == {"cancelled": "s"}
            assert server.broker.subscriptions == 0
            await raw.close()

    run(scenario())


def test_send_with_watch_streams_job_events(tmp_path: Path) -> None:
    """Send answers with a job id, then streams the port's status events and an end event."""

    async def scenario() -> None:
        async with relay(tmp_path / "g.sock") as server:
            raw = await Raw.open(server.config.path)
            raw.write(
                {
                    "id": 1,
                    "op": "send",
                    "number": "+15550001",
                    "origin": "shop.example",
                    "code": "424242",
                    "watch": True,
                }
            )
            assert (await raw.reply(1))["result"] == {
                "job": "job-1",
                "status": "queued",
                "code": "424242",
            }
            statuses = [(await raw.reply(1))["data"].get("status") for _ in range(4)]
            assert statuses == ["sending", "sent", "delivered", None]
            await raw.close()

    run(scenario())


def test_send_refusals_keep_their_code_and_retry_after(tmp_path: Path) -> None:
    """A rate-limited send is answered rate-limited with retry_after; no port is unavailable."""

    async def scenario() -> None:
        port = FakeSendPort()
        port.refuse = RateLimited("3 per 10 minutes for this number", retry_after=120.0)
        async with relay(tmp_path / "g.sock", send=port) as server:
            raw = await Raw.open(server.config.path)
            raw.write({"id": 1, "op": "send", "number": "+15550001", "origin": "shop.example"})
            assert (await raw.reply(1))["error"] == {
                "code": "rate-limited",
                "message": "3 per 10 minutes for this number",
                "retry_after": 120.0,
            }
            server.send_port = None
            raw.write({"id": 2, "op": "send", "number": "+15550001", "origin": "shop.example"})
            assert (await raw.reply(2))["error"]["code"] == "unavailable"
            await raw.close()

    run(scenario())


def test_on_claim_reports_every_code_handed_to_a_get(tmp_path: Path) -> None:
    """The daemon hears of codes taken by a waiting get and from the grace window alike."""
    claimed: list[object] = []

    async def scenario() -> None:
        async with relay(tmp_path / "g.sock", grace=60.0, on_claim=claimed.append) as server:
            raw = await Raw.open(server.config.path)
            raw.write({"id": 1, "op": "get", "origin": "shop.example"})
            await raw.sync()
            assert server.offer(record("1", origin="shop.example")) is True
            assert server.offer(record("2", origin="bank.example")) is False  # kept for grace
            raw.write({"id": 2, "op": "get", "origin": "bank.example"})
            assert (await raw.reply(2))["result"]["code"] == "2"
            await raw.close()

    run(scenario())
    assert [getattr(r, "code", None) for r in claimed] == ["1", "2"]
