"""Tests for SIM unlocking over a real pty: a rejected PIN is remembered across sessions."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path

import pytest

from gateway.at import Timeouts
from gateway.modem.health import HealthConfig
from gateway.modem.init import InitConfig
from gateway.modem.link import LinkConfig
from gateway.modem.pinguard import FILENAME
from gateway.modem.session import ModemSession, SessionConfig
from gateway.modem.sim import PinNotSent, WrongPin
from gateway.modem.status import SessionState
from gateway.simulator import ModemConfig, ModemHandle, Simulator
from gateway.simulator.profiles import PROFILES
from gateway.simulator.sim import Sim

FAST = Timeouts(quick=0.4, sim=1.0, list=2.0, network=0.4, prompt=0.3, body=1.0, probe=0.2)
ICCID = PROFILES["generic"].iccid


def config(device: str, record: Path, pin: str | None) -> SessionConfig:
    """Session settings with short timeouts and the PIN record under ``record``."""
    return SessionConfig(
        link=LinkConfig(device=device, backoff_initial=0.01, backoff_max=0.1),
        timeouts=FAST,
        init=InitConfig(pin=pin, busy_backoff=0.01, busy_backoff_max=0.05, registration_poll=0.02),
        health=HealthConfig(interval=3600.0),
        resync_probes=8,
        ready_wait=5.0,
        pin_record=record,
    )


Scenario = Callable[[ModemHandle, Callable[[str | None], ModemSession], list[str]], Awaitable[None]]


def run(tmp_path: Path, scenario: Scenario, modem: ModemConfig) -> None:
    """Run ``scenario`` with a simulated modem, a session factory and the command lines seen."""

    async def main() -> None:
        async with Simulator([replace(modem, link=tmp_path / "modem")]) as simulator:
            handle = simulator.modems[0]
            seen: list[str] = []
            handle.observe_commands(seen.append)
            sessions: list[ModemSession] = []

            def session(pin: str | None) -> ModemSession:
                sessions.append(ModemSession(config(handle.device, tmp_path / FILENAME, pin)))
                return sessions[-1]

            try:
                await scenario(handle, session, seen)
            finally:
                for each in sessions:
                    await each.stop()

    asyncio.run(asyncio.wait_for(main(), 30))


def pin_entries(seen: list[str]) -> list[str]:
    """Return the AT+CPIN=<pin> lines among the commands the modem saw."""
    return [line for line in seen if line.upper().startswith("AT+CPIN=")]


def record(tmp_path: Path) -> dict[str, list[str]]:
    """Return the SIM -> rejected PIN hashes map of the record file."""
    sims = json.loads((tmp_path / FILENAME).read_text(encoding="utf-8"))["sims"]
    assert isinstance(sims, dict)
    return sims


def test_rejected_pin_is_not_sent_by_a_later_session(tmp_path: Path) -> None:
    """A wrong PIN is recorded by ICCID (hashed); a new session refuses without AT+CPIN=."""

    async def scenario(
        modem: ModemHandle, session: Callable[[str | None], ModemSession], seen: list[str]
    ) -> None:
        with pytest.raises(WrongPin, match="rejected the configured PIN"):
            await session("0000").start()
        assert len(pin_entries(seen)) == 1
        assert modem.state()["pin_attempts_left"] == 2
        text = (tmp_path / FILENAME).read_text(encoding="utf-8")
        assert "0000" not in text.replace(ICCID, "")
        assert list(record(tmp_path)) == [f"iccid:{ICCID}"]
        assert (tmp_path / FILENAME).stat().st_mode & 0o777 == 0o600
        later = session("0000")
        with pytest.raises(WrongPin, match="before; not sending it again"):
            await later.start()
        assert len(pin_entries(seen)) == 1
        assert modem.state()["pin_attempts_left"] == 2
        assert later.status.fatal

    run(tmp_path, scenario, ModemConfig(pin="1234"))


def test_a_changed_pin_gets_one_attempt(tmp_path: Path) -> None:
    """After a rejection a different PIN is tried once; once rejected it is not sent again."""

    async def scenario(
        modem: ModemHandle, session: Callable[[str | None], ModemSession], seen: list[str]
    ) -> None:
        with pytest.raises(WrongPin):
            await session("0000").start()
        with pytest.raises(WrongPin, match=r"\+CME ERROR: 16"):
            await session("1111").start()
        assert len(pin_entries(seen)) == 2
        assert len(record(tmp_path)[f"iccid:{ICCID}"]) == 2
        with pytest.raises(WrongPin, match="before"):
            await session("1111").start()
        assert len(pin_entries(seen)) == 2
        assert modem.state()["pin_attempts_left"] == 1

    run(tmp_path, scenario, ModemConfig(pin="1234"))


def test_the_right_pin_unlocks_and_clears_the_record(tmp_path: Path) -> None:
    """After a rejection the corrected PIN unlocks the SIM and the SIM's record is dropped."""

    async def scenario(
        modem: ModemHandle, session: Callable[[str | None], ModemSession], seen: list[str]
    ) -> None:
        with pytest.raises(WrongPin):
            await session("0000").start()
        good = session("1234")
        await good.start()
        assert good.status.state is SessionState.READY
        assert len(pin_entries(seen)) == 2
        assert record(tmp_path) == {}
        assert modem.state()["pin_attempts_left"] == 3

    run(tmp_path, scenario, ModemConfig(pin="1234"))


def test_last_attempt_is_never_spent(tmp_path: Path) -> None:
    """With AT+CPINR reporting one attempt left, a new PIN is not entered (PinNotSent)."""

    async def scenario(
        modem: ModemHandle, session: Callable[[str | None], ModemSession], seen: list[str]
    ) -> None:
        modem.model.sim.pin_left = 1
        with pytest.raises(PinNotSent, match="one attempt is left"):
            await session("1234").start()
        assert pin_entries(seen) == []
        assert any(line.upper() == 'AT+CPINR="SIM PIN"' for line in seen)
        assert modem.state()["pin_attempts_left"] == 1

    run(tmp_path, scenario, ModemConfig(pin="1234"))


@pytest.mark.parametrize(
    ("profile", "counter"),
    [("sim800", "AT+SPIC"), ("e3372", 'AT+CPINR="SIM PIN"'), ("ec25", 'AT+CPINR="SIM PIN"')],
)
def test_vendor_dialects_name_the_sim_and_count(tmp_path: Path, profile: str, counter: str) -> None:
    """Bare AT+CCID (SIM800), AT+CRSM EF_ICCID (E3372) and AT+SPIC all feed the guard."""

    async def scenario(
        modem: ModemHandle, session: Callable[[str | None], ModemSession], seen: list[str]
    ) -> None:
        modem.model.sim.pin_left = 1
        with pytest.raises(PinNotSent):
            await session("1234").start()
        assert counter in seen
        with pytest.raises(PinNotSent):
            await session("1234").start()
        assert pin_entries(seen) == []
        modem.model.sim.pin_left = 3
        with pytest.raises(WrongPin):
            await session("5555").start()
        assert list(record(tmp_path)) == [f"iccid:{PROFILES[profile].iccid}"]

    run(tmp_path, scenario, ModemConfig(pin="1234", profile=profile))


def test_without_iccid_or_counter_the_device_is_the_key(tmp_path: Path) -> None:
    """No ICCID and no counter: keyed by device; two recorded rejections stop a third PIN."""

    async def scenario(
        modem: ModemHandle, session: Callable[[str | None], ModemSession], seen: list[str]
    ) -> None:
        modem.set_fault("refuse", on=["AT+CCID", "AT+ICCID", "AT+CRSM", "AT+CPINR"], cme=4)
        with pytest.raises(WrongPin):
            await session("0000").start()
        with pytest.raises(WrongPin):
            await session("1111").start()
        assert list(record(tmp_path)) == [f"device:{tmp_path / 'modem'}"]
        with pytest.raises(PinNotSent, match="at most one attempt"):
            await session("2222").start()
        assert len(pin_entries(seen)) == 2
        assert modem.state()["pin_attempts_left"] == 1

    run(tmp_path, scenario, ModemConfig(pin="1234"))


def test_a_different_sim_is_not_blocked_by_another_sims_record(tmp_path: Path) -> None:
    """The record names the SIM: a new card (other ICCID) gets its PIN entered."""

    async def scenario(
        modem: ModemHandle, session: Callable[[str | None], ModemSession], seen: list[str]
    ) -> None:
        with pytest.raises(WrongPin):
            await session("1234").start()
        modem.model.iccid = "8901260000000000999"  # another card, whose PIN is 1234
        modem.model.sim = Sim("1234")
        ready = session("1234")
        await ready.start()
        assert ready.status.state is SessionState.READY

    run(tmp_path, scenario, ModemConfig(pin="9876"))


def test_wrong_pin_at_runtime_reinit_is_recorded(tmp_path: Path) -> None:
    """A PIN rejected on a re-init after a modem restart fails the session and is kept."""

    async def scenario(
        modem: ModemHandle, session: Callable[[str | None], ModemSession], seen: list[str]
    ) -> None:
        running = session("1234")
        await running.start()
        modem.model.sim.pin = "4321"  # the SIM's PIN was changed elsewhere
        modem.reboot()  # sim800 boot URCs: the session re-initialises
        status = await running.wait_for(lambda s: s.state is SessionState.FAILED, 10)
        assert status.fatal
        assert list(record(tmp_path)) == [f"iccid:{PROFILES['sim800'].iccid}"]
        entries = len(pin_entries(seen))
        with pytest.raises(WrongPin):
            await session("1234").start()
        assert len(pin_entries(seen)) == entries
        assert modem.state()["pin_attempts_left"] == 2

    run(tmp_path, scenario, ModemConfig(pin="1234", profile="sim800"))
