"""Tests for how the modem session recovers from silence, unplugging and reboots."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from modem_session_helpers import PROFILES, config, next_of, ready_after, run

from gateway.at import bare
from gateway.at.events import NewMessage, VendorNotice
from gateway.modem.health import HealthConfig
from gateway.modem.link import LinkDown
from gateway.modem.session import ModemFailed, ModemSession, SendOutcomeUnknown
from gateway.modem.status import SessionState
from gateway.simulator import ModemConfig, ModemHandle
from gateway.sms.pdu import encode_submit


def test_silence_escalates_to_reopen_radio_reset_then_failed(tmp_path: Path) -> None:
    """A mute modem: watchdog pings time out, the port is reopened, CFUN tried, then FAILED."""

    async def scenario(modem: ModemHandle, session: ModemSession) -> None:
        modem.set_fault("silent")
        status = await session.wait_for(lambda s: s.state is SessionState.FAILED, 20)
        assert status.counters.timeouts >= 2
        assert status.counters.reopens == 1
        assert status.counters.radio_resets == 1
        assert status.error is not None
        assert "unresponsive" in status.error
        with pytest.raises(ModemFailed, match="unresponsive"):
            await session.command(bare("AT+CGMI"))

    health = HealthConfig(interval=0.05, limit=2)
    run(tmp_path, scenario, session_config=lambda d: config(d, health=health))


@pytest.mark.parametrize("profile", PROFILES)
def test_unplug_idle_reconnects_and_reinitialises(tmp_path: Path, profile: str) -> None:
    """Unplugging takes the link down; after replug the whole init runs again."""

    async def scenario(modem: ModemHandle, session: ModemSession) -> None:
        inits = session.status.counters.inits
        modem.unplug()
        await session.wait_for(lambda s: s.state is SessionState.RECONNECTING, 5)
        assert session.status.counters.link_downs == 1
        modem.replug()
        status = await session.wait_for(ready_after(inits), 10)
        assert status.counters.link_downs == 1
        assert status.counters.reconnects == 1
        assert modem.state()["cnmi"] == [2, 1, 0, 2, 0]  # settings restored after re-init
        (index,) = modem.inject_sms("after replug @example.com #1")
        assert (await next_of(session, NewMessage)).index == index

    run(tmp_path, scenario, modem=ModemConfig(profile=profile))


def test_unplug_mid_command_fails_it_and_recovers(tmp_path: Path) -> None:
    """A command in flight when the device vanishes fails with LinkDown; replug recovers."""

    async def scenario(modem: ModemHandle, session: ModemSession) -> None:
        inits = session.status.counters.inits
        modem.set_fault("late-reply", delay=10)
        task = asyncio.create_task(session.command(bare("AT+CGMI")))
        await session.wait_for(lambda s: s.pending == "AT+CGMI", 5)
        modem.unplug()
        with pytest.raises(LinkDown):
            await task
        modem.clear_fault()
        modem.replug()
        await session.wait_for(ready_after(inits), 10)
        assert (await session.command(bare("AT+CGMI"))).lines == ("OTPGW",)

    run(tmp_path, scenario)


def test_unplug_after_message_body_is_outcome_unknown(tmp_path: Path) -> None:
    """If the link dies after Ctrl-Z the send is reported as outcome unknown, not failed."""

    async def scenario(modem: ModemHandle, session: ModemSession) -> None:
        (part,) = encode_submit("+15551234567", "@example.com #333333")
        modem.set_fault("late-reply", delay=10)
        task = asyncio.create_task(session.send_pdu(part.hex, part.tpdu_length))
        await session.wait_for(lambda s: s.phase == "await-send-result", 5)
        modem.unplug()
        with pytest.raises(SendOutcomeUnknown):
            await task

    run(tmp_path, scenario)


@pytest.mark.parametrize("profile", ["sim800", "e3372", "ec25"])
def test_reboot_urcs_trigger_full_reinit(tmp_path: Path, profile: str) -> None:
    """A vendor restart notice (RDY, SMS Ready, ^SYSSTART) re-runs the whole init."""

    async def scenario(modem: ModemHandle, session: ModemSession) -> None:
        inits = session.status.counters.inits
        modem.reboot()
        notice = await next_of(session, VendorNotice)
        while not notice.restart:
            notice = await next_of(session, VendorNotice)
        status = await session.wait_for(ready_after(inits), 10)
        assert status.counters.reboots >= 1
        assert modem.state()["cnmi"] == [2, 1, 0, 2, 0]
        (index,) = modem.inject_sms("after reboot @example.com #1")
        assert (await next_of(session, NewMessage)).index == index

    run(tmp_path, scenario, modem=ModemConfig(profile=profile))


def test_silent_reboot_detected_by_settings_check(tmp_path: Path) -> None:
    """A restart without any URC (generic) is caught by the periodic AT+CNMI? check."""

    async def scenario(modem: ModemHandle, session: ModemSession) -> None:
        inits = session.status.counters.inits
        modem.reboot()
        status = await session.wait_for(ready_after(inits), 10)
        assert status.counters.reboots >= 1
        assert modem.state()["cnmi"] == [2, 1, 0, 2, 0]

    health = HealthConfig(interval=0.05, verify_every=1, limit=3)
    run(tmp_path, scenario, session_config=lambda d: config(d, health=health))


def test_device_vanishing_during_recovery_is_waited_for(tmp_path: Path) -> None:
    """If the port disappears while the watchdog recovers, the session waits for it."""

    async def scenario(modem: ModemHandle, session: ModemSession) -> None:
        inits = session.status.counters.inits
        modem.set_fault("silent")
        await session.wait_for(lambda s: s.state is SessionState.RECOVERING, 10)
        modem.unplug()
        await session.wait_for(lambda s: s.state is SessionState.RECONNECTING, 10)
        modem.clear_fault()
        modem.replug()
        status = await session.wait_for(
            lambda s: s.state is SessionState.FAILED or ready_after(inits)(s), 15
        )
        assert status.state is SessionState.READY
        assert status.counters.reopens >= 1

    health = HealthConfig(interval=0.05, limit=2)
    run(tmp_path, scenario, session_config=lambda d: config(d, health=health))


def test_failed_session_can_be_started_again(tmp_path: Path) -> None:
    """After recovery gave up, start() brings the session back and ends the old background tasks."""

    async def scenario(modem: ModemHandle, session: ModemSession) -> None:
        modem.set_fault("silent")
        status = await session.wait_for(lambda s: s.state is SessionState.FAILED, 20)
        assert not status.fatal
        modem.clear_fault()
        await session.start()
        assert session.status.state is SessionState.READY
        names = [task.get_name() for task in asyncio.all_tasks()]
        assert (names.count("modem-supervisor"), names.count("modem-health")) == (1, 1)

    health = HealthConfig(interval=0.05, limit=2)
    run(tmp_path, scenario, session_config=lambda d: config(d, health=health))
