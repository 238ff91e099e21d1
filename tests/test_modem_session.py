"""Tests for the modem session over a real pty against the simulator, faults included."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

import pytest
import structlog.testing

from gateway.at import AtTimeout, CmeError, Timeouts, action, bare, query
from gateway.at.events import Event, NewMessage, NewReport, RoutedReport, Urc, VendorNotice
from gateway.errors import ModemFault, UsageError
from gateway.modem.health import HealthConfig
from gateway.modem.init import InitConfig, Initialiser
from gateway.modem.link import LinkConfig, LinkDown
from gateway.modem.session import (
    ModemFailed,
    ModemSession,
    SendOutcomeUnknown,
    SessionConfig,
    StateChanged,
)
from gateway.modem.sim import PinRequired, WrongPin
from gateway.modem.status import ModemStatus, SessionState
from gateway.simulator import ModemConfig, ModemHandle, Simulator
from gateway.sms.pdu import encode_submit

T = TypeVar("T", bound=Event)

PROFILES = ["generic", "sim800", "e3372", "ec25"]
MANUFACTURERS = {"generic": "OTPGW", "sim800": "SIMCOM_Ltd", "e3372": "huawei", "ec25": "Quectel"}
FAST = Timeouts(
    quick=0.4, sim=1.0, list=2.0, network=0.4, prompt=0.3, body=1.0, probe=0.2, drain=0.05
)
QUIET = HealthConfig(interval=3600.0)  # no pings: the test drives every command


def config(
    device: str,
    *,
    pin: str | None = None,
    health: HealthConfig = QUIET,
    busy_retries: int = 8,
) -> SessionConfig:
    """Session settings with short timeouts so faults play out in well under a second."""
    return SessionConfig(
        link=LinkConfig(device=device, backoff_initial=0.01, backoff_max=0.1),
        timeouts=FAST,
        init=InitConfig(
            pin=pin,
            busy_retries=busy_retries,
            busy_backoff=0.01,
            busy_backoff_max=0.05,
            registration_timeout=3.0,
            registration_poll=0.02,
        ),
        health=health,
        resync_probes=8,
        ready_wait=5.0,
    )


def _ignore(key: str, value: object) -> None:
    """Progress sink for an Initialiser run by hand."""


Scenario = Callable[[ModemHandle, ModemSession], Awaitable[None]]


def run(
    tmp_path: Path,
    scenario: Scenario,
    *,
    modem: ModemConfig | None = None,
    session_config: Callable[[str], SessionConfig] = config,
    start: bool = True,
) -> None:
    """Run ``scenario`` with a simulated modem on a pty and a session on it, then clean up."""

    async def main() -> None:
        base = modem or ModemConfig()
        async with Simulator([replace(base, link=tmp_path / "modem")]) as simulator:
            handle = simulator.modems[0]
            session = ModemSession(session_config(handle.device))
            try:
                if start:
                    await session.start()
                await scenario(handle, session)
            finally:
                await session.stop()

    asyncio.run(asyncio.wait_for(main(), 30))


async def next_of(session: ModemSession, kind: type[T]) -> T:
    """Return the next event of ``kind`` from the session's stream."""
    while True:
        event = await session.next_event()
        if isinstance(event, kind):
            return event


def ready_after(inits: int) -> Callable[[ModemStatus], bool]:
    """Predicate: READY again after more than ``inits`` initialisations."""
    return lambda s: s.state is SessionState.READY and s.counters.inits > inits


@pytest.mark.parametrize("profile", PROFILES)
def test_profile_start_and_message_round_trip(tmp_path: Path, profile: str) -> None:
    """Each vendor profile initialises; receive, list, read, delete and send all work."""

    async def scenario(modem: ModemHandle, session: ModemSession) -> None:
        status = session.status
        assert status.state is SessionState.READY
        assert status.identity is not None
        assert status.identity.manufacturer == MANUFACTURERS[profile]
        assert status.cnmi == "2,1,0,2,0"
        assert status.signal == 20  # read during init, before any health ping
        assert status.counters.pings == 0
        assert modem.state()["cmgf"] == 0
        (index,) = modem.inject_sms("Your code is 123456\n\n@example.com #123456")
        event = await next_of(session, NewMessage)
        assert event.index == index
        listed = await session.list_messages(event.memory)
        assert [m.index for m in listed] == [index]
        read = await session.read_message(event.memory, index)
        assert read is not None
        assert read.pdu == modem.stored(event.memory)[index]
        await session.delete_message(event.memory, index)
        assert modem.stored(event.memory) == {}
        assert await session.read_message(event.memory, index) is None
        (part,) = encode_submit("+15551234567", "@example.com #654321")
        reference = await session.send_pdu(part.hex, part.tpdu_length)
        (sent,) = modem.sent()
        assert sent.reference == reference
        assert sent.text == "@example.com #654321"

    run(tmp_path, scenario, modem=ModemConfig(profile=profile))


def test_urc_inside_a_response_is_delivered_and_response_intact(tmp_path: Path) -> None:
    """A +CMTI between info lines and OK is an event; the response keeps only its line."""

    async def scenario(modem: ModemHandle, session: ModemSession) -> None:
        modem.set_fault("urc-in-response", urc='+CMTI: "SM",7')
        response = await session.command(query("AT+CSQ", "+CSQ"))
        assert response.ok
        assert len(response.lines) == 1
        assert response.lines[0].startswith("+CSQ: ")
        assert await next_of(session, NewMessage) == NewMessage(memory="SM", index=7)

    run(tmp_path, scenario)


def test_cmti_burst_reports_every_index(tmp_path: Path) -> None:
    """Five SMS arriving back to back give five +CMTI events, none swallowed."""

    async def scenario(modem: ModemHandle, session: ModemSession) -> None:
        indexes = [i for n in range(5) for i in modem.inject_sms(f"burst {n} @example.com #1")]
        seen = [(await next_of(session, NewMessage)).index for _ in indexes]
        assert seen == indexes
        assert len(await session.list_messages("SM")) == 5

    run(tmp_path, scenario)


def test_garbage_and_non_utf8_bytes_are_survived(tmp_path: Path) -> None:
    """Invalid UTF-8 and junk lines are discarded; commands before and after still work."""

    async def scenario(modem: ModemHandle, session: ModemSession) -> None:
        before = session.status.counters.discarded_lines
        modem.set_fault("garbage", bytes=b"\xff\xfe\x80\xc3(junk\r\n\x00\x01\r\n", when="next")
        response = await session.command(bare("AT+CGSN"))
        assert response.lines == ("867856030000001",)
        modem.set_fault("garbage", bytes=b"\r\n\xff\xffGARBAGE\xfe\r\n", when="now")
        response = await session.command(query("AT+CSQ", "+CSQ"))
        assert response.ok
        assert session.status.counters.discarded_lines > before

    run(tmp_path, scenario)


def test_late_reply_does_not_desynchronise(tmp_path: Path) -> None:
    """After a timeout the late answer is drained; the next command gets its own answer."""

    async def scenario(modem: ModemHandle, session: ModemSession) -> None:
        modem.set_fault("late-reply", delay=0.6)
        with pytest.raises(AtTimeout):
            await session.command(bare("AT+CGMI"))  # its late answer: "OTPGW"
        modem.clear_fault("late-reply")
        response = await session.command(bare("AT+CGSN"))
        assert response.lines == ("867856030000001",)
        response = await session.command(query("AT+CSQ", "+CSQ"))
        assert response.lines[0].startswith("+CSQ: ")
        assert session.status.counters.resyncs >= 2

    run(tmp_path, scenario)


def test_late_prompt_is_cancelled_and_modem_stays_usable(tmp_path: Path) -> None:
    """A prompt after the timeout is cancelled with ESC: nothing sent, next send works."""

    async def scenario(modem: ModemHandle, session: ModemSession) -> None:
        (part,) = encode_submit("+15551234567", "@example.com #111111")
        modem.set_fault("late-prompt", delay=0.5)
        # what the modem reads while it waits for the message text after AT+CMGS
        in_entry: list[bytes] = []
        modem.observe_bytes(lambda data: in_entry.append(data) if modem.model.entry else None)
        with pytest.raises(AtTimeout) as caught:
            await session.send_pdu(part.hex, part.tpdu_length)
        assert caught.value.phase == "prompt"
        await session.command(bare("AT+CGMI"))  # after the late prompt and its cancel
        assert in_entry
        assert in_entry[0][:1] == b"\x1b"  # ESC first: TS 27.005 §3.5.1 "send cancelled"
        assert b"\x1a" not in b"".join(in_entry)  # never Ctrl-Z: nothing was submitted
        assert part.hex.encode() not in b"".join(in_entry)
        assert modem.model.entry is None
        assert modem.sent() == []
        modem.clear_fault("late-prompt")
        reference = await session.send_pdu(part.hex, part.tpdu_length)
        assert [m.reference for m in modem.sent()] == [reference]
        assert modem.state()["cmgf"] == 0

    run(tmp_path, scenario)


def test_cms_error_on_send_is_typed(tmp_path: Path) -> None:
    """A refused send raises CmsError 500 (transient) and the next send succeeds."""

    async def scenario(modem: ModemHandle, session: ModemSession) -> None:
        (part,) = encode_submit("+15551234567", "@example.com #222222")
        modem.set_fault("cms-on-send", code=500, times=1)
        with pytest.raises(ModemFault) as caught:
            await session.send_pdu(part.hex, part.tpdu_length)
        assert getattr(caught.value, "code", None) == 500
        assert getattr(caught.value, "transient", False)
        await session.send_pdu(part.hex, part.tpdu_length)
        assert len(modem.sent()) == 1

    run(tmp_path, scenario)


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


def test_cme_storm_at_start_is_retried(tmp_path: Path) -> None:
    """+CME ERROR 14/515 on the first commands are retried with backoff until READY."""

    async def scenario(modem: ModemHandle, session: ModemSession) -> None:
        armed: list[str] = []

        def storm(line: str) -> None:
            # from the first init command on (the link's resync probes before it would
            # otherwise absorb the storm as discarded lines, not busy retries)
            if line == "ATE0" and not armed:
                armed.append(line)
                modem.set_fault("cme-storm", codes=[14, 515], count=6)

        modem.observe_commands(storm)
        await session.start()
        status = session.status
        assert status.state is SessionState.READY
        assert status.counters.busy_retries == 6

    run(tmp_path, scenario, start=False)


def test_endless_busy_storm_fails_start_with_a_clear_error(tmp_path: Path) -> None:
    """A modem answering everything with an error fails start() in bounded time."""

    async def scenario(modem: ModemHandle, session: ModemSession) -> None:
        modem.set_fault("cme-storm", codes=[14], count=1000)
        with pytest.raises(AtTimeout, match=r"the modem answers (\+CME )?ERROR"):
            await session.start()
        assert session.status.state is SessionState.FAILED

    run(tmp_path, scenario, start=False)


def test_busy_storm_during_reinit_is_retried(tmp_path: Path) -> None:
    """Busy errors on the re-init after a restart are retried with backoff until READY."""

    async def scenario(modem: ModemHandle, session: ModemSession) -> None:
        modem.set_fault("cme-storm", codes=[515, 14], count=3, when="power-on")
        assert (await session.command(bare("AT+CGMI"))).lines == ("SIMCOM_Ltd",)  # armed only
        inits = session.status.counters.inits
        busy = session.status.counters.busy_retries
        modem.reboot()  # boot URCs -> re-init; its first commands meet the storm
        status = await session.wait_for(ready_after(inits), 10)
        assert status.counters.busy_retries == busy + 3
        assert "cme-storm" not in modem.state()["faults"]  # type: ignore[operator]

    run(tmp_path, scenario, modem=ModemConfig(profile="sim800"))


def test_init_gives_up_after_bounded_busy_retries(tmp_path: Path) -> None:
    """More busy answers than busy_retries: the command's CmeError is raised, not retried."""

    async def scenario(modem: ModemHandle, session: ModemSession) -> None:
        modem.set_fault("cme-storm", codes=[14], count=3)
        init_config = replace(session.config.init, busy_retries=1)
        initialiser = Initialiser(session.command, init_config, _ignore)
        with pytest.raises(CmeError) as caught:
            await initialiser.ok(bare("AT+CGMI"))
        assert caught.value.code == 14
        assert caught.value.transient
        commands = modem.state()["commands"]
        assert isinstance(commands, int)
        assert commands >= 2
        modem.clear_fault()
        assert (await initialiser.ok(bare("AT+CGMI"))).lines == ("OTPGW",)

    run(tmp_path, scenario)


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


def test_pin_entered_once_and_again_after_reboot(tmp_path: Path) -> None:
    """The configured PIN unlocks the SIM; after a restart it is entered again."""

    async def scenario(modem: ModemHandle, session: ModemSession) -> None:
        assert modem.state()["sim"] == "READY"
        assert modem.state()["pin_attempts_left"] == 3
        inits = session.status.counters.inits
        modem.reboot()
        await session.wait_for(ready_after(inits), 10)
        assert modem.state()["sim"] == "READY"

    run(
        tmp_path,
        scenario,
        modem=ModemConfig(pin="1234", profile="sim800"),
        session_config=lambda d: config(d, pin="1234"),
    )


def test_pin_required_without_configured_pin(tmp_path: Path) -> None:
    """A SIM asking for a PIN with none configured stops start() with PinRequired."""

    async def scenario(modem: ModemHandle, session: ModemSession) -> None:
        with pytest.raises(PinRequired):
            await session.start()
        assert session.status.state is SessionState.FAILED
        assert session.status.sim == "SIM PIN"
        assert modem.state()["pin_attempts_left"] == 3

    run(tmp_path, scenario, modem=ModemConfig(pin="1234"), start=False)


def test_wrong_pin_is_tried_once_and_never_again(tmp_path: Path) -> None:
    """A rejected PIN fails the session; a second start does not send it again."""

    async def scenario(modem: ModemHandle, session: ModemSession) -> None:
        with pytest.raises(WrongPin):
            await session.start()
        assert modem.state()["pin_attempts_left"] == 2
        with pytest.raises(WrongPin):
            await session.start()
        assert modem.state()["pin_attempts_left"] == 2
        assert session.status.state is SessionState.FAILED
        assert session.status.fatal

    run(
        tmp_path,
        scenario,
        modem=ModemConfig(pin="1234"),
        session_config=lambda d: config(d, pin="0000"),
        start=False,
    )


def test_event_stream_reports_state_changes(tmp_path: Path) -> None:
    """The stream carries StateChanged alongside URCs."""

    async def scenario(modem: ModemHandle, session: ModemSession) -> None:
        seen: list[SessionState] = []
        while SessionState.READY not in seen:
            seen.append((await next_of(session, StateChanged)).state)
        assert seen[0] is SessionState.STARTING
        modem.inject_sms("x @example.com #1")
        assert isinstance(await next_of(session, Urc), Urc)

    run(tmp_path, scenario)


def test_routed_status_report_is_one_event_and_can_be_acked(tmp_path: Path) -> None:
    """SIM800 routes reports as +CDS plus PDU line: one event; CNMA with CSMS=0 is a no-op."""

    async def scenario(modem: ModemHandle, session: ModemSession) -> None:
        (part,) = encode_submit("+15551234567", "@example.com #444444", request_status_report=True)
        reference = await session.send_pdu(part.hex, part.tpdu_length)
        report = await next_of(session, RoutedReport)
        assert report.length == len(report.pdu) // 2 - 1 - int(report.pdu[:2], 16)
        assert modem.sent()[0].reference == reference
        assert await session.ack_routed() is False  # +CMS ERROR: 340 - none expected

    run(tmp_path, scenario, modem=ModemConfig(profile="sim800"))


def test_stored_status_report_is_announced(tmp_path: Path) -> None:
    """The generic profile stores reports and announces them with +CDSI."""

    async def scenario(modem: ModemHandle, session: ModemSession) -> None:
        (part,) = encode_submit("+15551234567", "@example.com #555555", request_status_report=True)
        await session.send_pdu(part.hex, part.tpdu_length)
        report = await next_of(session, NewReport)
        assert report.memory == "SR"
        assert await session.read_message("SR", report.index) is not None

    run(tmp_path, scenario)


def test_logs_never_contain_pin_or_pdu(tmp_path: Path) -> None:
    """Captured log events hold neither the PIN nor any PDU hex, even at debug level."""
    (part,) = encode_submit("+15551234567", "@example.com #987654")

    async def scenario(modem: ModemHandle, session: ModemSession) -> None:
        await session.start()
        modem.inject_sms("secret @example.com #246810")
        index = (await next_of(session, NewMessage)).index
        stored = await session.read_message("SM", index)
        assert stored is not None
        captured.append(stored.pdu)
        await session.send_pdu(part.hex, part.tpdu_length)

    captured: list[str] = []
    with structlog.testing.capture_logs() as logs:
        run(
            tmp_path,
            scenario,
            modem=ModemConfig(pin="4321"),
            session_config=lambda d: config(d, pin="4321"),
            start=False,
        )
    text = repr(logs)
    assert any(entry.get("command") == "AT+CPIN=<redacted>" for entry in logs)
    assert any(entry.get("command") == f"AT+CMGS={part.tpdu_length}" for entry in logs)
    assert "4321" not in text
    assert part.hex not in text
    assert captured
    assert captured[0] not in text


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


def test_concurrent_sends_are_serialised(tmp_path: Path) -> None:
    """Ten sends started at once all succeed; no body is mixed with a command."""

    async def scenario(modem: ModemHandle, session: ModemSession) -> None:
        texts = [f"@example.com #{n:06d}" for n in range(10)]
        parts = [encode_submit("+15551234567", text)[0] for text in texts]
        references = await asyncio.gather(*(session.send_pdu(p.hex, p.tpdu_length) for p in parts))
        sent = modem.sent()
        assert sorted(m.text for m in sent) == texts
        assert sorted(m.reference for m in sent) == sorted(references)

    run(tmp_path, scenario)


def test_restart_after_stop_and_double_start_refused(tmp_path: Path) -> None:
    """A stopped session starts again; starting a running one is a usage error."""

    async def scenario(modem: ModemHandle, session: ModemSession) -> None:
        with pytest.raises(UsageError):
            await session.start()
        await session.stop()
        await session.start()
        assert session.status.state is SessionState.READY
        assert (await session.command(bare("AT+CGSN"))).lines == ("867856030000001",)
        modem.unplug()  # the new supervisor handles trouble
        await session.wait_for(lambda s: s.state is SessionState.RECONNECTING, 5)
        modem.replug()
        await session.wait_for(lambda s: s.state is SessionState.READY, 10)

    run(tmp_path, scenario)


def test_configured_storage_and_operator(tmp_path: Path) -> None:
    """storage = ["ME"] selects ME with AT+CPMS and sweeps ME (+SR); AT+COPS? names the operator."""

    def with_storage(device: str) -> SessionConfig:
        base = config(device)
        return replace(base, init=replace(base.init, storage=("ME",)))

    async def scenario(modem: ModemHandle, session: ModemSession) -> None:
        status = session.status
        assert status.memories == ("ME", "SR")
        assert status.operator == "Fake Operator"
        assert modem.state()["cpms"] == ["ME", "ME", "ME"]
        (index,) = modem.inject_sms("hello", memory="ME")
        event = await next_of(session, NewMessage)
        assert (event.memory, event.index) == ("ME", index)

    run(tmp_path, scenario, session_config=with_storage)


def test_storage_none_offered_warns_and_uses_all(tmp_path: Path) -> None:
    """A configured memory the modem does not offer: a warning, and every offered one is used."""

    def with_storage(device: str) -> SessionConfig:
        base = config(device)
        return replace(base, init=replace(base.init, storage=("MT",)))

    async def scenario(modem: ModemHandle, session: ModemSession) -> None:
        assert session.status.memories == ("SM", "ME", "SR")
        assert modem.state()["cpms"] == ["SM", "SM", "SM"]

    with structlog.testing.capture_logs() as logs:
        run(tmp_path, scenario, session_config=with_storage)
    (warning,) = [e for e in logs if e["event"] == "modem.storage_not_offered"]
    assert (warning["configured"], warning["offered"]) == (["MT"], ["SM", "ME", "SR"])
    assert warning["log_level"] == "warning"


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


def test_registration_wait_wakes_on_the_creg_urc(tmp_path: Path) -> None:
    """Not registered: +CREG/+CEREG URCs are turned on and the first one ends the wait (no poll)."""

    async def scenario(modem: ModemHandle, session: ModemSession) -> None:
        await session.command(action("AT+CFUN=0"))  # off the network
        reporting = asyncio.Event()

        def observe(line: str) -> None:
            if line.upper().startswith("AT+CEREG=1"):
                reporting.set()

        modem.observe_commands(observe)
        # an hour between re-checks: only the URC can end this wait in time
        patient = replace(
            session.config.init, registration_poll=3600.0, registration_poll_max=3600.0
        )
        initialiser = Initialiser(session.command, patient, _ignore, session.network_changed)
        waiting = asyncio.create_task(initialiser.wait_registered())
        await reporting.wait()
        await session.command(action("AT+CFUN=1"))  # queued behind AT+CEREG=1: URCs follow
        assert await asyncio.wait_for(waiting, 10) == 1
        assert session.status.registration == 1

    run(tmp_path, scenario)
