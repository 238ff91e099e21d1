"""Unplugging during every step of (re)initialisation, and the not-ready escalation ladder.

Driven by the simulator's ``unplug`` fault (the cable is pulled as a given command line
arrives), never by sleeps: each case must end in a ready session after the replug.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from modem_session_helpers import config, ready_after

from gateway.modem.session import ModemSession
from gateway.modem.status import ModemStatus, SessionState
from gateway.simulator import ModemConfig, ModemHandle, Simulator


def step_name(line: str) -> str:
    """A command line as a step: resync probes carry a fresh nonce each time."""
    if line.startswith(("ATS7=", "AT+CSMP=")):
        return re.sub(r"[0-9]+", "<n>", line)
    return line


def downs_above(count: int) -> Callable[[ModemStatus], bool]:
    """Predicate: the session saw more than ``count`` link-downs."""
    return lambda s: s.counters.link_downs > count


async def reinit_sequence(modem: ModemHandle, session: ModemSession) -> list[str]:
    """Unplug and replug once; return the command lines the session sent until READY."""
    lines: list[str] = []
    downs = session.status.counters.link_downs
    inits = session.status.counters.inits
    modem.unplug()
    await session.wait_for(lambda s: s.counters.link_downs > downs, 5)
    remove = modem.observe_commands(lines.append)
    try:
        modem.replug()
        await session.wait_for(ready_after(inits), 10)
    finally:
        remove()
    return lines


@pytest.mark.parametrize("profile", ["generic", "sim800"])
def test_unplug_during_every_init_step_ends_ready(tmp_path: Path, profile: str) -> None:
    """A second unplug as any command of the re-initialisation arrives ends ready after replug."""

    async def main() -> None:
        base = replace(ModemConfig(profile=profile), link=tmp_path / "modem")
        async with Simulator([base]) as simulator:
            modem = simulator.modems[0]
            session = ModemSession(config(modem.device))
            await session.start()
            try:
                sequence = await reinit_sequence(modem, session)
                assert "AT+CPMS=?" in sequence
                assert "AT+CNMI=2,1,0,2,0" in sequence
                hit: list[str] = []
                for step in range(len(sequence)):
                    seen: list[str] = []
                    status = session.status
                    downs, inits = status.counters.link_downs, status.counters.inits
                    modem.unplug()  # the first unplug, while idle
                    await session.wait_for(downs_above(downs), 5)
                    # the second: as the (step+1)-th command line after the replug arrives
                    modem.set_fault("unplug", on="AT", nth=step + 1)
                    remove = modem.observe_commands(seen.append)
                    modem.replug()
                    await session.wait_for(downs_above(downs + 1), 10)
                    remove()
                    hit.append(seen[-1])
                    modem.replug()
                    final = await session.wait_for(ready_after(inits), 10)
                    assert final.state is SessionState.READY, (step, seen[-1])
                # every distinct command of the sequence was interrupted at least once
                assert {step_name(s) for s in sequence} <= {step_name(h) for h in hit}
            finally:
                await session.stop()

    asyncio.run(asyncio.wait_for(main(), 120))


def test_double_unplug_in_reconnect_resync_is_not_dropped(tmp_path: Path) -> None:
    """An unplug during the reconnect's resynchronisation probe is never mistaken for a sync."""

    async def main() -> None:
        async with Simulator([replace(ModemConfig(), link=tmp_path / "modem")]) as simulator:
            modem = simulator.modems[0]
            session = ModemSession(config(modem.device))
            await session.start()
            try:
                for _ in range(5):
                    status = session.status
                    downs, inits = status.counters.link_downs, status.counters.inits
                    modem.unplug()
                    await session.wait_for(downs_above(downs), 5)
                    modem.set_fault("unplug", on="AT", nth=1)  # the very first probe
                    modem.replug()
                    await session.wait_for(downs_above(downs + 1), 5)
                    modem.replug()
                    await session.wait_for(ready_after(inits), 10)
            finally:
                await session.stop()

    asyncio.run(asyncio.wait_for(main(), 60))


def run_ladder(tmp_path: Path, *, radio_reset: bool) -> tuple[list[str], ModemStatus, list[str]]:
    """Keep a present modem from getting ready; return (reasons given up, status, commands)."""
    stuck: list[str] = []
    commands: list[str] = []

    async def main() -> ModemStatus:
        async with Simulator([replace(ModemConfig(), link=tmp_path / "modem")]) as simulator:
            modem = simulator.modems[0]
            settings = replace(
                config(modem.device),
                not_ready_limit=0.3,
                radio_reset=radio_reset,
            )
            settings = replace(settings, init=replace(settings.init, registration_timeout=30.0))
            session = ModemSession(settings, on_stuck=stuck.append)
            await session.start()
            try:
                modem.set_fault("no-network")  # initialisation waits for registration
                remove = modem.observe_commands(commands.append)
                modem.unplug()  # back at once; the re-initialisation waits for the network
                modem.replug()
                return await session.wait_for(lambda s: s.state is SessionState.FAILED, 10)
            finally:
                remove()
                await session.stop()

    status = asyncio.run(asyncio.wait_for(main(), 30))
    return stuck, status, commands


def test_not_ready_ladder_reopens_resets_radio_then_gives_up(tmp_path: Path) -> None:
    """Present but not ready: reopen after the limit, AT+CFUN=0/1 after twice, then on_stuck."""
    stuck, status, commands = run_ladder(tmp_path, radio_reset=True)
    assert len(stuck) == 1
    assert "not ready for" in stuck[0]
    assert "radio reset" in stuck[0]
    assert status.counters.reopens >= 1
    assert status.counters.radio_resets >= 1
    assert "AT+CFUN=0" in commands
    assert status.escalations == 3


def test_not_ready_ladder_skips_radio_reset_when_profile_forbids(tmp_path: Path) -> None:
    """Without radio reset allowed the ladder is reopen, then give up; no AT+CFUN=0 is sent."""
    stuck, status, commands = run_ladder(tmp_path, radio_reset=False)
    assert len(stuck) == 1
    assert "radio reset" not in stuck[0]
    assert "AT+CFUN=0" not in commands
    assert status.escalations == 2


def test_first_failed_probe_shows_probe_error(tmp_path: Path) -> None:
    """One failed health probe is visible at once (probe_error), before any escalation."""

    async def main() -> None:
        async with Simulator([replace(ModemConfig(), link=tmp_path / "modem")]) as simulator:
            modem = simulator.modems[0]
            session = ModemSession(config(modem.device))
            await session.start()
            try:
                modem.set_fault("silent")
                session.check_health()  # the next probe now, not in an hour
                status = await session.wait_for(lambda s: s.probe_error is not None, 10)
                assert status.state is SessionState.READY
                assert status.counters.reopens == 0
                assert "AT+CSQ" in (status.probe_error or "")
                modem.clear_fault("silent")
                session.check_health()
                await session.wait_for(lambda s: s.probe_error is None, 10)
            finally:
                await session.stop()

    asyncio.run(asyncio.wait_for(main(), 30))
