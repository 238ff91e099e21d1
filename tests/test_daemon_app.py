"""The composed gateway in-process on the simulator: WebOTP get semantics, claims, status."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path

import pytest
from relay_helpers import Raw

from gateway.client import AsyncClient, Forbidden
from gateway.config import AccessRule, Config, ModemSettings
from gateway.daemon import Gateway
from gateway.daemon.simulate import SimulatedSetup
from gateway.errors import GatewayError, UsageError
from gateway.jobs import JobEvent
from gateway.journal import SqliteJournal
from gateway.modem.status import SessionState
from gateway.simulator import Simulator
from gateway.testing import AsyncGatewayHandle, running_gateway, simulated_gateway

ORIGIN = "example.com"


def no_grace(config: Config) -> Config:
    """Codes count only when they arrive after the request (the WebOTP rule, no grace)."""
    return replace(config, receive=replace(config.receive, grace_window=0.0))


def scenario(
    tmp_path: Path,
    body: Callable[[AsyncGatewayHandle], Awaitable[None]],
    configure: Callable[[Config], Config] = no_grace,
) -> None:
    """Run ``body`` against a gateway on a simulated modem, in one event loop."""

    async def main() -> None:
        async with simulated_gateway(tmp_path, configure=configure) as gw:
            await body(gw)

    asyncio.run(main())


async def codes_seen(gw: AsyncGatewayHandle, count: int) -> None:
    """Wait until the receive pipeline has turned ``count`` SMS into codes."""
    await gw.gateway.pipelines["sim0"].wait_for(lambda s: s.get("codes") == count, 10)


def test_get_ignores_codes_from_before_the_request(tmp_path: Path) -> None:
    """A code that arrived before the get (no grace window) does not resolve it; the next does."""

    async def body(gw: AsyncGatewayHandle) -> None:
        gw.modem.inject_sms(f"@{ORIGIN} #111111")
        await codes_seen(gw, 1)
        async with AsyncClient(gw.socket) as client:
            waiting = asyncio.create_task(client.get(ORIGIN, timeout=10))
            await gw.wait_pending_gets(1)  # woken by the relay once the get waits
            gw.modem.inject_sms(f"@{ORIGIN} #222222")
            assert (await waiting).code == "222222"

    scenario(tmp_path, body)


def test_concurrent_gets_get_different_codes(tmp_path: Path) -> None:
    """Two pending gets for one origin receive one code each, oldest get first."""

    async def body(gw: AsyncGatewayHandle) -> None:
        async with AsyncClient(gw.socket) as first, AsyncClient(gw.socket) as second:
            one = asyncio.create_task(first.get(ORIGIN, timeout=10))
            await first.status()
            two = asyncio.create_task(second.get(ORIGIN, timeout=10))
            await second.status()
            gw.modem.inject_sms(f"@{ORIGIN} #333333")
            gw.modem.inject_sms(f"@{ORIGIN} #444444")
            assert [(await one).code, (await two).code] == ["333333", "444444"]
        journal = gw.gateway.journal
        assert isinstance(journal, SqliteJournal)  # what the daemon stored, read back
        # the relay took them, for the reconnecting clients' keys (relay uid=… key=…)
        claimants = [c.claimed_by or "" for c in journal.codes(origin=ORIGIN)]
        assert len(claimants) == 2
        assert all(c.startswith("relay uid=") for c in claimants)

    scenario(tmp_path, body)


def test_status_snapshot(tmp_path: Path) -> None:
    """The snapshot names the modem, its state, network, storage, queue depth and uptime."""
    with running_gateway(tmp_path) as gw, gw.client() as client:
        status = client.status()
    modem = status["modems"][0]  # type: ignore[index]
    assert modem["name"] == "sim0"
    assert modem["state"] == "ready"
    assert modem["registration"] == "home"
    assert modem["operator"] == "Fake Operator"
    assert "SM" in modem["storage"]
    assert status["queue"]["depth"] == 0  # type: ignore[index]
    assert status["ready"] is True
    assert status["uptime"] >= 0  # type: ignore[operator]
    assert status["conditions"] == []
    assert status["journal"]["state"] == "ok"  # type: ignore[index]


def test_configured_storage_reaches_the_modem(tmp_path: Path) -> None:
    """[[modem]] storage = ["ME"]: the daemon's modem reads ME (+SR) and relays a code from ME."""

    def me_only(config: Config) -> Config:
        return replace(config, modem=(replace(config.modem[0], storage=("ME",)),))

    async def body(gw: AsyncGatewayHandle) -> None:
        assert gw.modem.state()["cpms"] == ["ME", "ME", "ME"]
        async with AsyncClient(gw.socket) as client:
            waiting = asyncio.create_task(client.get(ORIGIN, timeout=10))
            await client.status()
            gw.modem.inject_sms(f"@{ORIGIN} #616161", memory="ME")
            assert (await waiting).code == "616161"
            status = await client.status()
        assert status["modems"][0]["storage"] == ["ME", "SR"]  # type: ignore[index]

    scenario(tmp_path, body, lambda config: me_only(no_grace(config)))


def test_reload_swaps_access_rules(tmp_path: Path) -> None:
    """reload(): a get refused under the old rules is served under the new ones."""
    status_only = (AccessRule(users=("0",), operations=("status",)),)

    def restricted(config: Config) -> Config:
        config = no_grace(config)
        return replace(config, relay=replace(config.relay, access=status_only))

    async def body(gw: AsyncGatewayHandle) -> None:
        async with AsyncClient(gw.socket) as client:
            with pytest.raises(Forbidden):
                await client.get(ORIGIN, timeout=5)
            wide = AccessRule(users=("0",), operations=("get", "status"), origins=("*",))
            config = gw.gateway.config
            gw.gateway.reload(replace(config, relay=replace(config.relay, access=(wide,))))
            waiting = asyncio.create_task(client.get(ORIGIN, timeout=10))
            await client.status()
            gw.modem.inject_sms(f"@{ORIGIN} #555555")
            assert (await waiting).code == "555555"
        assert gw.gateway.relay is not None
        assert gw.gateway.relay.access.denials["get"] == 1

    scenario(tmp_path, body, restricted)


def test_reload_ends_gets_and_subscriptions_the_new_rules_forbid(tmp_path: Path) -> None:
    """reload() narrowing the rules ends a pending get and a subscription with 'forbidden'."""
    narrow = (AccessRule(users=("0",), operations=("get", "status"), origins=("other.example",)),)

    async def body(gw: AsyncGatewayHandle) -> None:
        raw = await Raw.open(gw.socket)
        raw.write({"id": "sub", "op": "subscribe"})
        raw.write({"id": "get", "op": "get", "origin": ORIGIN, "timeout": 30})
        assert (await raw.reply("sub"))["result"]["subscribed"] is True
        await raw.sync()  # the get is pending
        config = gw.gateway.config
        gw.gateway.reload(replace(config, relay=replace(config.relay, access=narrow)))
        assert (await raw.reply("get"))["error"]["code"] == "forbidden"
        assert (await raw.reply("sub"))["error"]["code"] == "forbidden"
        gw.modem.inject_sms(f"@{ORIGIN} #818181")
        await codes_seen(gw, 1)  # offered to the relay by now
        await raw.sync()
        assert raw.others == []  # neither the get nor the subscription received it
        journal = gw.gateway.journal
        assert isinstance(journal, SqliteJournal)  # what the daemon stored, read back
        assert [c.claimed_by for c in journal.codes(origin=ORIGIN)] == [None]
        await raw.close()

    scenario(tmp_path, body)


def test_one_modem_down_at_start_is_tolerated(tmp_path: Path) -> None:
    """With two modems, one missing port is logged and shown failed; the other serves."""

    def two(config: Config) -> Config:
        gone = ModemSettings(name="gone", device=str(tmp_path / "no-such-port"))
        return replace(config, modem=(*config.modem, gone))

    with running_gateway(tmp_path, configure=two) as gw:
        statuses = gw.gateway.modem_statuses()
        assert statuses["sim0"].state is SessionState.READY
        assert statuses["gone"].state is SessionState.FAILED
        assert list(gw.gateway.active) == ["sim0"]
        assert gw.status()["modems"][1]["state"] == "failed"  # type: ignore[index]


def test_start_fails_cleanly_without_a_modem(tmp_path: Path) -> None:
    """No modem comes up: start() raises the modem's error and leaves no socket behind."""
    setup = SimulatedSetup.in_directory(tmp_path)
    config = setup.config()
    config = replace(config, modem=(replace(config.modem[0], device=str(tmp_path / "none")),))

    async def main() -> None:
        gateway = Gateway(config)
        with pytest.raises(GatewayError):
            await gateway.start()

    asyncio.run(main())
    assert not setup.socket.exists()


@pytest.mark.parametrize("problem", ["missing-directory", "in-use"])
def test_a_bad_socket_fails_the_start_before_the_modem_is_touched(
    tmp_path: Path, problem: str
) -> None:
    """A socket path that cannot be bound fails start() before any AT command is sent."""
    setup = SimulatedSetup.in_directory(tmp_path)
    config = setup.config()
    path = tmp_path / "missing" / "gw.sock" if problem == "missing-directory" else setup.socket
    config = replace(config, relay=replace(config.relay, socket=path))

    async def main() -> dict[str, object]:
        async with Simulator([setup.modem()]) as simulator:
            holder = await asyncio.start_unix_server(lambda r, w: None, path=setup.socket)
            try:
                with pytest.raises(UsageError, match=str(path.parent)):
                    await Gateway(config).start()
            finally:
                holder.close()
                await holder.wait_closed()
            return simulator.modems[0].state()

    assert asyncio.run(main())["commands"] == 0
    assert not (tmp_path / "missing").exists()


@pytest.mark.parametrize(("retention_days", "kept"), [(31.0, False), (60.0, True)])
def test_configured_record_retention_reaches_the_journal(
    tmp_path: Path, retention_days: float, kept: bool
) -> None:
    """The start-up purge deletes a finished job older than journal.record_retention."""
    day = 86400.0

    def old_job(config: Config) -> Config:
        config = replace(
            config, journal=replace(config.journal, record_retention=retention_days * day)
        )
        created = time.time() - 40 * day
        config.journal.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        with SqliteJournal.configured(config.journal) as journal:
            journal.create_job(
                job_id="j-old",
                number="+15557654321",
                origin=ORIGIN,
                embedded=None,
                text="Your code is 1.\n\n@example.com #1",
                now=created,
                expires_at=created + 600,
            )
            journal.transition_job("j-old", JobEvent.EXPIRED, now=created + 600)
        return config

    async def body(gw: AsyncGatewayHandle) -> None:
        assert gw.gateway.journal is not None
        assert [job.id for job in gw.gateway.journal.jobs()] == (["j-old"] if kept else [])

    scenario(tmp_path, body, old_job)
