"""Tests for the modem session against injected faults: stray URCs, junk, late replies, storms."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from modem_session_helpers import ignore_progress, next_of, ready_after, run

from gateway.at import AtTimeout, CmeError, bare, query
from gateway.at.events import NewMessage
from gateway.errors import ModemFault
from gateway.modem.init import Initialiser
from gateway.modem.session import ModemSession
from gateway.modem.status import SessionState
from gateway.simulator import ModemConfig, ModemHandle
from gateway.sms.pdu import encode_submit


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
        initialiser = Initialiser(session.command, init_config, ignore_progress)
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
