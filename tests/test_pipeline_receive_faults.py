"""Tests for the receive pipeline when the modem, the network or the consumer misbehaves."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from pipeline_receive_helpers import SENDER, Rig, Sink, count, fresh_scts, no_leaks, run

from gateway.journal import PduStatus
from gateway.modem.status import SessionState
from gateway.simulator import ModemConfig
from gateway.sms import encode_deliver, encode_submit

#: a truncated SMS-DELIVER: SCA, first octet, then an address that never ends (TS 23.040)
BAD_PDU = "07915155000000F0040B9151"


@pytest.fixture
def leaks() -> Iterator[set[str]]:
    """Capture every log event of the test; fail if one holds a code, body or PDU."""
    with no_leaks() as secrets:
        yield secrets


def test_undecodable_pdu_is_quarantined_and_others_still_processed(
    tmp_path: Path, leaks: set[str]
) -> None:
    """A truncated PDU is kept raw as quarantined and deleted; the next SMS still relays."""

    async def scenario(rig: Rig) -> None:
        leaks.add(BAD_PDU)
        rig.modem.inject_pdu(BAD_PDU)
        rig.inject("@example.com #551155")
        (record,) = await rig.codes(1)
        snapshot = await rig.wait(count("deleted", 2))
        assert record.code == "551155"
        assert snapshot["quarantined"] == 1
        quarantined = [p for p in rig.journal.pdus() if p.status is PduStatus.QUARANTINED]
        assert [p.raw for p in quarantined] == [BAD_PDU]
        assert quarantined[0].reason
        assert rig.modem.stored("SM") == {}

    run(tmp_path, leaks, scenario)


def test_network_redelivery_is_not_relayed_twice(tmp_path: Path, leaks: set[str]) -> None:
    """The same SMS delivered twice yields one code; both copies leave the modem."""
    (pdu,) = encode_deliver(SENDER, "@example.com #777001", scts=fresh_scts())

    async def scenario(rig: Rig) -> None:
        leaks.update({pdu.hex, "777001"})
        rig.modem.inject_pdu(pdu.hex)
        await rig.codes(1)
        rig.modem.inject_pdu(pdu.hex)
        snapshot = await rig.wait(count("duplicates", 1))
        await rig.wait(count("deleted", 2))
        assert len(rig.sink.codes) == 1
        assert snapshot["codes"] == 1
        assert len(rig.journal.codes()) == 1
        assert rig.modem.stored("SM") == {}

    run(tmp_path, leaks, scenario)


def test_failed_delete_is_retried_by_the_next_sweep_without_relaying_twice(
    tmp_path: Path, leaks: set[str]
) -> None:
    """AT+CMGD fails once: the SMS stays, the next sweep dedupes it and deletes it."""

    async def scenario(rig: Rig) -> None:
        failed: list[str] = []

        def on_command(line: str) -> None:
            if line.upper().startswith("AT+CMGD") and not failed:
                failed.append(line)
                rig.modem.set_fault("cme-storm", codes=[100], count=1)  # this CMGD fails

        rig.modem.observe_commands(on_command)
        (index,) = rig.inject("@example.com #313131")
        await rig.codes(1)
        await rig.wait(count("delete_failed", 1))
        assert index in rig.modem.stored("SM")
        assert await rig.pipeline.sweep() == 0  # nothing new: a duplicate
        snapshot = rig.pipeline.snapshot()
        assert snapshot["duplicates"] == 1
        assert snapshot["deleted"] == 1
        assert rig.modem.stored("SM") == {}
        assert len(rig.sink.codes) == 1

    run(tmp_path, leaks, scenario)


def test_wrong_memory_announcement_on_ec25(tmp_path: Path, leaks: set[str]) -> None:
    """EC25 says +CDSI "SM" for a report stored in SR: it is read there, decoded by TP-MTI."""

    async def scenario(rig: Rig) -> None:
        # an unannounced SMS sits at SM index 0, where the +CDSI will point
        (index,) = rig.inject("@example.com #909090", notify=False)
        assert index == 0
        (part,) = encode_submit("+15551230000", "hello", request_status_report=True)
        reference = await rig.session.send_pdu(part.hex, part.tpdu_length)
        async with asyncio.timeout(15):
            await rig.sink.until(lambda: bool(rig.sink.reports))
        ((modem, report),) = rig.sink.reports
        assert (modem, report.reference, report.delivered) == ("m1", reference, True)
        (record,) = await rig.codes(1)
        assert record.code == "909090"
        await rig.wait(count("deleted", 2))
        assert rig.modem.stored("SR") == {}
        assert rig.modem.stored("SM") == {}

    run(tmp_path, leaks, scenario, modem=ModemConfig(profile="ec25"))


def test_routed_cmt_is_recorded_then_acknowledged(tmp_path: Path, leaks: set[str]) -> None:
    """With <mt>=2 the +CMT PDU is recorded before AT+CNMA acknowledges it."""
    acked_with_record: list[bool] = []

    async def scenario(rig: Rig) -> None:
        def on_command(line: str) -> None:
            if line.upper().startswith("AT+CNMA"):
                acked_with_record.append(len(rig.journal.pdus()) == 1)

        rig.modem.observe_commands(on_command)
        assert rig.inject("@example.com #646464") == []  # routed, not stored
        (record,) = await rig.codes(1)
        await rig.wait(count("acked", 1))
        assert record.code == "646464"
        assert acked_with_record == [True]
        (pdu,) = rig.journal.pdus()
        assert pdu.memory == "routed"

    run(tmp_path, leaks, scenario, cnmi=("2,2,0,0,0",))


def test_modem_restart_triggers_a_sweep(tmp_path: Path, leaks: set[str]) -> None:
    """An SMS stored without a URC is found by the sweep after the modem re-initialises."""

    async def scenario(rig: Rig) -> None:
        await rig.wait(count("sweeps", 1))
        inits = rig.session.status.counters.inits
        rig.inject("@example.com #424242", notify=False)
        rig.modem.reboot()  # SIM800 says "SMS Ready": the session re-initialises
        await rig.session.wait_for(
            lambda s: s.state is SessionState.READY and s.counters.inits > inits, timeout=10
        )
        (record,) = await rig.codes(1)
        assert record.code == "424242"
        snapshot = await rig.wait(count("sweeps", 2))
        assert snapshot["swept"] == 1
        assert count("ignored.VendorNotice", 1)(snapshot)  # "SMS Ready": counted, not handled

    run(tmp_path, leaks, scenario, modem=ModemConfig(profile="sim800"))


def test_a_failing_consumer_callback_does_not_stop_reception(
    tmp_path: Path, leaks: set[str]
) -> None:
    """on_code raising is counted and logged; the next SMS is still received and relayed."""

    async def scenario(rig: Rig) -> None:
        rig.inject("@example.com #111222")
        await rig.wait(count("callback_errors", 1))
        rig.inject("@example.com #333444", sender="+15550001234")
        (record,) = await rig.codes(1)
        assert record.code == "333444"
        assert [c.code for c in rig.journal.codes()] == ["111222", "333444"]
        await rig.wait(count("deleted", 2))

    run(tmp_path, leaks, scenario, sink=Sink(failures=1))
