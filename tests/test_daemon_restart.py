"""Restarting failed modems: backoff, unplugged at start then replugged, wrong PIN never."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path

from gateway.cli.status_text import render_status
from gateway.client import AsyncClient
from gateway.config import ModemSettings
from gateway.daemon import Gateway
from gateway.daemon.backoff import Backoff
from gateway.daemon.simulate import SimulatedSetup
from gateway.log import Secret, capture
from gateway.modem.status import SessionState
from gateway.simulator import ModemConfig, ModemHandle, Simulator

ORIGIN = "example.com"
FAST = Backoff(initial=0.05, maximum=0.2)


def second_modem(
    tmp_path: Path,
    body: Callable[[Gateway, ModemHandle, SimulatedSetup], Awaitable[None]],
    *,
    simulated: ModemConfig,
    settings: ModemSettings,
    unplugged: bool = False,
) -> None:
    """Run ``body`` on a gateway with a working sim0 and a second modem sim1."""

    async def main() -> None:
        setup = SimulatedSetup.in_directory(tmp_path)
        config = setup.config()
        config = replace(
            config,
            modem=(*config.modem, settings),
            receive=replace(config.receive, grace_window=0.0),
        )
        async with Simulator([setup.modem(), simulated]) as simulator:
            spare = simulator.modems[1]
            if unplugged:
                spare.unplug()
            gateway = Gateway(config, restart=FAST)
            await gateway.start()
            try:
                await body(gateway, spare, setup)
            finally:
                await gateway.stop()

    asyncio.run(asyncio.wait_for(main(), 45))


def sim1(snapshot: dict[str, object]) -> dict[str, object]:
    """Return sim1's section of a status snapshot."""
    modems = snapshot["modems"]
    assert isinstance(modems, list)
    entry = modems[1]
    assert isinstance(entry, dict)
    assert entry["name"] == "sim1"
    return entry


def test_unplugged_modem_is_restarted_once_it_is_back(tmp_path: Path) -> None:
    """Down at start: status says failed with a retry time; after replug it serves codes."""
    link = tmp_path / "modem1"

    async def body(gateway: Gateway, spare: ModemHandle, setup: SimulatedSetup) -> None:
        restarter = gateway.restarters["sim1"]
        # at least one restart failed while unplugged, and the next one is scheduled
        await restarter.wait_for(lambda r: r.attempts >= 1 and r.retry_at is not None)
        snapshot = gateway.snapshot()
        entry = sim1(snapshot)
        assert (entry["state"], entry["fatal"]) == ("failed", False)
        assert str(link) in str(entry["error"])
        retry_at = entry["retry_at"]
        assert isinstance(retry_at, float)
        assert retry_at <= time.time() + FAST.maximum
        assert "sim1: " in render_status(snapshot)
        assert "next retry in" in render_status(snapshot)

        spare.replug()
        await gateway.sessions["sim1"].wait_for(lambda s: s.ready, 10)
        assert sim1(gateway.snapshot())["retry_at"] is None
        async with AsyncClient(setup.socket) as client:
            waiting = asyncio.create_task(client.get(ORIGIN, timeout=10))
            await client.status()  # the get is pending once this answers
            spare.inject_sms(f"@{ORIGIN} #271828")
            assert (await waiting).code == "271828"
        assert gateway.pipelines["sim1"].snapshot()["codes"] == 1

    second_modem(
        tmp_path,
        body,
        simulated=ModemConfig(number="+15550000002", link=link),
        settings=ModemSettings(name="sim1", device=str(link)),
        unplugged=True,
    )


def test_wrong_pin_is_never_retried(tmp_path: Path) -> None:
    """A rejected PIN: failed for good, no retry time, the PIN is not sent a second time."""
    link = tmp_path / "modem1"

    async def body(gateway: Gateway, spare: ModemHandle, setup: SimulatedSetup) -> None:
        restarter = gateway.restarters["sim1"]
        await restarter.wait_for(lambda r: r.given_up)
        snapshot = gateway.snapshot()
        entry = sim1(snapshot)
        assert (entry["state"], entry["fatal"], entry["retry_at"]) == ("failed", True, None)
        assert "PIN" in str(entry["error"])
        assert "not retried" in render_status(snapshot)
        assert restarter.attempts == 0
        assert spare.state()["pin_attempts_left"] == 2

    second_modem(
        tmp_path,
        body,
        simulated=ModemConfig(number="+15550000002", link=link, pin="1234"),
        settings=ModemSettings(name="sim1", device=str(link), pin=Secret("0000")),
    )


def test_a_modem_whose_health_loop_dies_is_restarted(tmp_path: Path) -> None:
    """A bug that kills a session's health task fails the session; the daemon restarts it."""

    async def body(gateway: Gateway, spare: ModemHandle, setup: SimulatedSetup) -> None:
        session = gateway.sessions["sim1"]
        # Stand-in for a bug: the health loop's next ping raises something unexpected
        # (not a ModemFault). Everything after it is the real daemon on the simulator.
        health = session._health
        ping = health._ping

        async def buggy_ping() -> None:
            health._ping = ping
            raise RuntimeError("a bug in the health loop")

        health._ping = buggy_ping
        with capture() as events:
            health.poke()
            await session.wait_for(lambda s: s.state is SessionState.FAILED, 10)
        (died,) = [e for e in events if e["event"] == "modem.task_failed"]
        assert (died["task"], died["error"]) == ("modem-health", "RuntimeError")
        assert "in buggy_ping" in died["frames"][-1]
        await gateway.restarters["sim1"].wait_for(lambda r: r.attempts == 1)
        await session.wait_for(lambda s: s.ready, 10)
        async with AsyncClient(setup.socket) as client:
            waiting = asyncio.create_task(client.get(ORIGIN, timeout=10))
            await client.status()  # the get is pending once this answers
            spare.inject_sms(f"@{ORIGIN} #314159")
            assert (await waiting).code == "314159"

    link = tmp_path / "modem1"
    second_modem(
        tmp_path,
        body,
        simulated=ModemConfig(number="+15550000002", link=link),
        settings=ModemSettings(name="sim1", device=str(link)),
    )


def test_a_restart_failing_with_a_foreign_error_is_logged_without_its_message(
    tmp_path: Path,
) -> None:
    """A non-GatewayError from a restart is logged by type and frames, never by its message."""

    async def body(gateway: Gateway, spare: ModemHandle, setup: SimulatedSetup) -> None:
        session = gateway.sessions["sim1"]
        # Stand-ins for bugs: the health loop's next ping raises (the session fails), then
        # the first restart's initialisation raises an exception whose message is a code.
        health = session._health
        ping = health._ping
        initialise = session.initialise

        async def buggy_ping() -> None:
            health._ping = ping
            raise RuntimeError("a bug in the health loop")

        async def broken_initialise() -> None:
            session.initialise = initialise  # type: ignore[method-assign]
            raise KeyError("482913")

        health._ping = buggy_ping
        session.initialise = broken_initialise  # type: ignore[method-assign]
        with capture() as events:
            health.poke()
            await gateway.restarters["sim1"].wait_for(lambda r: r.attempts == 2)
            await session.wait_for(lambda s: s.ready, 10)
        (failed,) = [e for e in events if e["event"] == "modem.restart_failed"]
        assert failed["error"] == "KeyError"
        assert "reason" not in failed
        assert "in broken_initialise" in failed["frames"][-1]
        assert "482913" not in repr(failed)

    link = tmp_path / "modem1"
    second_modem(
        tmp_path,
        body,
        simulated=ModemConfig(number="+15550000002", link=link),
        settings=ModemSettings(name="sim1", device=str(link)),
    )
