"""Tests for the modem session over a real pty against the simulator: start, events, sends."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest
import structlog.testing
from modem_session_helpers import PROFILES, config, ignore_progress, next_of, run

from gateway.at import action, bare
from gateway.at.events import NewMessage, NewReport, RoutedReport, Urc
from gateway.errors import UsageError
from gateway.modem.init import Initialiser
from gateway.modem.session import ModemSession, SessionConfig, StateChanged
from gateway.modem.status import SessionState
from gateway.simulator import ModemConfig, ModemHandle
from gateway.sms.pdu import encode_submit

MANUFACTURERS = {"generic": "OTPGW", "sim800": "SIMCOM_Ltd", "e3372": "huawei", "ec25": "Quectel"}


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
        initialiser = Initialiser(
            session.command, patient, ignore_progress, session.network_changed
        )
        waiting = asyncio.create_task(initialiser.wait_registered())
        await reporting.wait()
        await session.command(action("AT+CFUN=1"))  # queued behind AT+CEREG=1: URCs follow
        assert await asyncio.wait_for(waiting, 10) == 1
        assert session.status.registration == 1

    run(tmp_path, scenario)
