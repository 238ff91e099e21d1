"""The clients reconnect to a relay that went away and resume where they were (issue 13.2)."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest
from relay_helpers import Raw, record, relay, run

from gateway.client import AsyncClient, BadRequest, Client, CodeRecord, Timeout, Unavailable
from gateway.relay.clientcodec import RECONNECT_MAX, GetAttempts, Reconnect, Resume


def test_reconnect_plan_backs_off_up_to_a_cap_and_gives_up_at_the_deadline() -> None:
    """Pauses double up to RECONNECT_MAX, never run past the deadline, then stop."""
    plan = Reconnect(10.0)
    pauses = [plan.pause(0.0) for _ in range(8)]
    assert pauses[:3] == [0.05, 0.1, 0.2]
    assert max(p for p in pauses if p is not None) == RECONNECT_MAX
    assert plan.pause(9.5) == 0.5
    assert plan.pause(10.0) is None
    assert plan.remaining(12.0) == 0.0


def test_get_attempts_ask_first_as_told_then_since_the_first_ask_with_what_is_left() -> None:
    """A get asked again keeps its id and key, asks since it was first asked, for the rest."""
    attempts = GetAttempts(
        7, "Shop.Example", embedded_origin=None, timeout=30.0, since=None, key="k",
        now=100.0, wall=5000.0,
    )  # fmt: skip
    first = attempts.next_request(100.0)
    assert (first.id, first.origin, first.timeout, first.since, first.key) == (
        7, "shop.example", 30.0, None, "k",
    )  # fmt: skip
    again = attempts.next_request(110.0)
    assert (again.id, again.timeout, again.since, again.key) == (7, 20.0, 5000.0, "k")
    assert attempts.left == 20.0
    with pytest.raises(Timeout):
        attempts.next_request(130.0)


def test_get_attempts_keep_the_callers_since_and_the_default_timeout() -> None:
    """A caller's since is what later attempts ask from; no timeout means the server's 120 s."""
    attempts = GetAttempts(
        1, "a.example", embedded_origin=None, timeout=None, since=4000.0, key="k",
        now=0.0, wall=5000.0,
    )  # fmt: skip
    assert attempts.next_request(0.0).timeout is None
    assert attempts.next_request(20.0).since == 4000.0
    assert attempts.plan.deadline == 120.0


def test_resume_moves_forward_only() -> None:
    """A subscription resumes after the newest cursor it saw or was confirmed, never earlier."""
    place = Resume(None)
    place.confirmed({"cursor": 5})
    assert place.request(1).after == 5
    place.seen(record("111111", record_id=9))
    place.confirmed({"cursor": 3})
    place.confirmed({"cursor": True})  # not a cursor
    place.seen(record("222222"))  # a record without a cursor
    assert (place.cursor, place.request(2).after, place.request(2).id) == (9, 9, 2)


def test_resume_asks_again_for_the_same_origin() -> None:
    """A subscription narrowed to an origin asks again for it (normalised), from its cursor."""
    place = Resume(None, origin="Shop.Example", embedded_origin="BANK.example")
    first = place.request(1)
    place.seen(record("111111", record_id=4))
    again = place.request(2)
    assert (first.origin, first.embedded_origin, first.after) == (
        "shop.example", "bank.example", None,
    )  # fmt: skip
    assert (again.id, again.origin, again.embedded_origin, again.after) == (
        2, "shop.example", "bank.example", 4,
    )  # fmt: skip
    assert Resume(3).request(1).origin is None


@pytest.mark.parametrize("host", ["https://shop.example", "shop.example:443"])
def test_resume_refuses_an_invalid_origin_before_connecting(host: str) -> None:
    """An origin that is not a host fails when the subscription is planned, as a get's does."""
    with pytest.raises(BadRequest, match="valid host"):
        Resume(None, origin=host)
    with pytest.raises(BadRequest, match="valid host"):
        Resume(None, origin="shop.example", embedded_origin=host)
    with pytest.raises(BadRequest, match="embedded_origin needs origin"):
        Resume(None, embedded_origin="shop.example")


@pytest.mark.parametrize("blocking", [False, True], ids=["async", "sync"])
def test_a_subscription_for_an_origin_resumes_for_that_origin_only(
    tmp_path: Path, blocking: bool
) -> None:
    """A narrowed subscription that lost its relay is replayed, and then streamed, the
    later codes of its origin only (both clients)."""
    path = tmp_path / "g.sock"

    async def scenario() -> None:
        aclient = AsyncClient(path)
        client: Client | None = None
        async with relay(path) as first:
            if blocking:
                client = await asyncio.to_thread(Client, path)
                stream = await asyncio.to_thread(client.subscribe, origin="shop.example")

                async def take() -> CodeRecord:
                    return await asyncio.to_thread(next, stream)
            else:
                await aclient.connect()
                astream = await aclient.subscribe(origin="shop.example")

                async def take() -> CodeRecord:
                    return await anext(astream)

            first.offer(record("111111", origin="bank.example", record_id=1))
            first.offer(record("222222", record_id=2))
            assert (await take()).code == "222222"
        async with relay(path) as second:
            second.preload(record("111111", origin="bank.example", record_id=1), cursor=1)
            second.preload(record("222222", record_id=2), cursor=2)
            # arrived while the client was away: only shop.example's is replayed
            second.offer(record("333333", origin="bank.example", record_id=3))
            second.offer(record("444444", record_id=4))
            got = await take()
            assert (got.code, got.cursor, got.origin) == ("444444", 4, "shop.example")
            second.offer(record("555555", origin="bank.example", record_id=5))
            second.offer(record("666666", record_id=6))
            assert (await take()).code == "666666"
        if client is not None:
            client.close()
        await aclient.close()

    run(scenario())


def test_async_get_survives_a_relay_restart(tmp_path: Path) -> None:
    """A pending get whose relay closes (unavailable) reconnects to the new one and
    receives the code offered there."""
    path = tmp_path / "g.sock"

    async def scenario() -> None:
        client = AsyncClient(path)
        async with relay(path) as first:
            await client.connect()
            waiting = asyncio.create_task(client.get("shop.example", timeout=30))
            await first.wait_until(lambda s: s.broker.pending == 1)
        async with relay(path) as second:
            await second.wait_until(lambda s: s.broker.pending == 1)
            second.offer(record("424242"))
            assert (await waiting).code == "424242"
        assert client.reconnects == 1
        await client.close()

    run(scenario())


def test_async_subscription_resumes_after_its_cursor(tmp_path: Path) -> None:
    """A subscriber that lost its relay is replayed, by the new one, the codes after the
    last one it saw (none twice)."""
    path = tmp_path / "g.sock"

    async def scenario() -> None:
        client = AsyncClient(path)
        async with relay(path) as first:
            await client.connect()
            codes = await client.subscribe()
            first.offer(record("111", record_id=1))
            assert (await anext(codes)).code == "111"
        async with relay(path) as second:
            # what the journal holds from before: both, the first one already seen
            second.preload(record("111", record_id=1), cursor=1)
            second.offer(record("222", record_id=2))  # arrived while the client was away
            got = await anext(codes)
            assert (got.code, got.cursor) == ("222", 2)
            second.offer(record("333", record_id=3))
            assert (await anext(codes)).code == "333"
        await client.close()

    run(scenario())


def test_sync_get_gives_up_within_its_timeout_without_a_gateway(tmp_path: Path) -> None:
    """A get whose gateway vanished and does not come back raises within its timeout."""
    path = tmp_path / "g.sock"
    outcome: list[BaseException] = []

    async def scenario() -> None:
        async with relay(path) as server:
            client = await asyncio.to_thread(Client, path, timeout=5)

            def waiting() -> None:
                try:
                    client.get("shop.example", timeout=1.5)
                except (Unavailable, Timeout) as exc:
                    outcome.append(exc)
                finally:
                    client.close()

            thread = threading.Thread(target=waiting)
            thread.start()
            await server.wait_until(lambda s: s.broker.pending == 1)
        await asyncio.to_thread(thread.join, 10)
        assert not thread.is_alive()

    run(scenario())
    assert len(outcome) == 1


def test_sync_client_without_reconnect_raises_at_once(tmp_path: Path) -> None:
    """reconnect=False keeps the old behaviour: a lost gateway raises Unavailable."""
    path = tmp_path / "g.sock"

    async def scenario() -> None:
        async with relay(path) as server:
            client = await asyncio.to_thread(Client, path, reconnect=False)
            task = asyncio.create_task(asyncio.to_thread(client.get, "shop.example", timeout=30))
            await server.wait_until(lambda s: s.broker.pending == 1)
        with pytest.raises(Unavailable):
            await task
        client.close()

    run(scenario())


def test_a_get_asked_again_with_its_key_gets_the_code_its_lost_connection_swallowed(
    tmp_path: Path,
) -> None:
    """The answer went to a connection that is gone: the same key asking again (with
    since) gets that code again; another key, or none, does not."""
    path = tmp_path / "g.sock"

    async def scenario() -> None:
        async with relay(path, resume_window=300.0) as server:
            asked = time.time()
            lost = await Raw.open(path)
            lost.write({"id": 1, "op": "get", "origin": "shop.example", "key": "k-1"})
            await lost.sync()
            server.offer(record("909090", record_id=9))
            await lost.close()  # the answer was written; nobody read it
            stranger = await Raw.open(path)
            stranger.write(
                {
                    "id": 1,
                    "op": "get",
                    "origin": "shop.example",
                    "since": asked,
                    "key": "k-2",
                    "timeout": 0.2,
                }
            )
            assert (await stranger.reply(1))["error"]["code"] == "timeout"
            again = await Raw.open(path)
            again.write(
                {"id": 1, "op": "get", "origin": "shop.example", "since": asked, "key": "k-1"}
            )
            result = (await again.reply(1))["result"]
            assert (result["code"], result["cursor"]) == ("909090", 9)
            await stranger.close()
            await again.close()

    run(scenario())
