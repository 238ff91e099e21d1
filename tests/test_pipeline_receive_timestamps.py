"""Tests for how the receive pipeline treats SMSC timestamps and wall-clock steps."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from pipeline_receive_helpers import SCTS, SENDER, SETTINGS, Rig, count, fresh_scts, no_leaks, run

from gateway.journal import PduStatus
from gateway.sms import encode_deliver, encode_status_report
from gateway.sms.timestamp import encode_timestamp

SCTS_HEX = encode_timestamp(SCTS).hex().upper()
#: the all-zero TP-SCTS some SMSCs and femtocells send (month 0, day 0: no valid date)
ZERO_SCTS = "00" * 7


def with_scts(pdu_hex: str, raw_hex: str, *, times: int = 1) -> str:
    """Return ``pdu_hex`` with its TP-SCTS (and TP-DT) octets, found as SCTS_HEX, replaced."""
    assert pdu_hex.count(SCTS_HEX) == times
    return pdu_hex.replace(SCTS_HEX, raw_hex)


@pytest.fixture
def leaks() -> Iterator[set[str]]:
    """Capture every log event of the test; fail if one holds a code, body or PDU."""
    with no_leaks() as secrets:
        yield secrets


def test_otp_stamped_an_hour_ago_is_kept_as_expired_not_relayed(
    tmp_path: Path, leaks: set[str]
) -> None:
    """An OTP whose TP-SCTS is an hour old (left on the SIM while we were stopped) is kept
    and counted as expired, not relayed as a fresh code at the start-up sweep."""
    hour_ago = fresh_scts() - timedelta(hours=1)

    async def scenario(rig: Rig) -> None:
        rig.inject("@example.com #575757", scts=hour_ago)
        snapshot = await rig.wait(count("kept", 1))
        assert snapshot["kept.expired"] == 1
        assert "codes" not in snapshot
        assert rig.sink.codes == []
        assert rig.journal.codes() == []
        assert rig.journal.message_decision(1) == "expired"

    run(tmp_path, leaks, scenario)


@pytest.mark.parametrize(
    ("skew", "aged_from_scts"),
    [(0.0, True), (-120.0, True), (120.0, False), (86400.0, False)],
    ids=["now", "two-minutes-old", "slightly-ahead", "a-day-ahead"],
)
def test_code_expiry_counts_from_a_plausible_scts(
    tmp_path: Path, leaks: set[str], skew: float, aged_from_scts: bool
) -> None:
    """A fresh code is relayed; it ages from its TP-SCTS unless that lies in the future,
    where the receive time counts (far ahead: implausible; within the skew: clamped)."""
    stamp = fresh_scts() + timedelta(seconds=skew)

    async def scenario(rig: Rig) -> None:
        rig.inject("@example.com #868686", scts=stamp)
        (record,) = await rig.codes(1)
        assert record.code == "868686"
        (code,) = rig.journal.codes()
        start = stamp.timestamp() if aged_from_scts else code.received_at
        assert code.expires_at == start + SETTINGS.code_expiry

    run(tmp_path, leaks, scenario)


def test_otp_with_an_all_zero_scts_is_relayed_not_quarantined(
    tmp_path: Path, leaks: set[str]
) -> None:
    """An all-zero TP-SCTS still relays the code; the message time is the receive time."""
    (pdu,) = encode_deliver(SENDER, "@example.com #640640", scts=SCTS)
    bogus = with_scts(pdu.hex, ZERO_SCTS)

    async def scenario(rig: Rig) -> None:
        leaks.update({bogus, "640640"})
        rig.modem.inject_pdu(bogus)
        (record,) = await rig.codes(1)
        snapshot = await rig.wait(count("deleted", 1))
        assert (record.origin, record.code, record.sender) == ("example.com", "640640", SENDER)
        assert "quarantined" not in snapshot
        assert snapshot["timestamp_invalid"] == 1
        assert [p.status for p in rig.journal.pdus()] == [PduStatus.OK]
        (code,) = rig.journal.codes()
        with contextlib.closing(sqlite3.connect(tmp_path / "journal.sqlite3")) as db:
            (scts,) = db.execute("SELECT scts FROM messages WHERE id = ?", (code.message_id,))
        assert datetime.fromisoformat(scts[0]).timestamp() == pytest.approx(code.received_at)
        assert code.expires_at == code.received_at + SETTINGS.code_expiry  # aged from receipt
        rig.modem.inject_pdu(bogus)  # redelivered: the raw TP-SCTS octets dedupe it
        await rig.wait(count("duplicates", 1))
        await rig.wait(count("deleted", 2))
        assert len(rig.sink.codes) == 1
        assert rig.modem.stored("SM") == {}

    run(tmp_path, leaks, scenario)


def test_multipart_otp_with_impossible_scts_is_joined(tmp_path: Path, leaks: set[str]) -> None:
    """Two parts whose TP-SCTS are month 13 and 0xFF octets join by sender+reference+total."""
    text = "Security notice. " * 10 + "\n@example.com #313131"
    first, second = (p.hex for p in encode_deliver(SENDER, text, scts=SCTS, concat_reference=9))
    parts = [with_scts(first, "62317220035100"), with_scts(second, "FF" * 7)]

    async def scenario(rig: Rig) -> None:
        leaks.update({*parts, "313131", text})
        for pdu in reversed(parts):
            rig.modem.inject_pdu(pdu)
        (record,) = await rig.codes(1)
        snapshot = await rig.wait(count("deleted", 2))
        assert record.code == "313131"
        assert (snapshot["messages"], snapshot["timestamp_invalid"]) == (1, 2)
        assert "quarantined" not in snapshot
        assert rig.journal.pdus(unassembled=True) == []

    run(tmp_path, leaks, scenario)


def test_status_report_with_impossible_times_is_handed_on(tmp_path: Path, leaks: set[str]) -> None:
    """A report with all-zero TP-SCTS and TP-DT still reaches on_report with its TP-MR."""
    report = encode_status_report(reference=42, recipient="+15550001111", scts=SCTS, discharge=SCTS)
    bogus = with_scts(report.hex, ZERO_SCTS, times=2)

    async def scenario(rig: Rig) -> None:
        leaks.add(bogus)
        rig.modem.inject_pdu(bogus)
        async with asyncio.timeout(15):
            await rig.sink.until(lambda: bool(rig.sink.reports))
        ((modem, handed),) = rig.sink.reports
        assert (modem, handed.reference, handed.recipient) == ("m1", 42, "+15550001111")
        assert (handed.scts, handed.discharge, handed.discharge_raw) == (None, None, bytes(7))
        snapshot = await rig.wait(count("deleted", 1))
        assert (snapshot["reports"], snapshot["timestamp_invalid"]) == (1, 1)

    run(tmp_path, leaks, scenario)


class SteppedClock:
    """A wall clock the test steps, as NTP or an operator would: time.time() plus offset."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


def test_wall_clock_stepped_back_does_not_hold_a_multipart_for_an_hour(
    tmp_path: Path, leaks: set[str]
) -> None:
    """After the wall clock steps back an hour, an incomplete multipart still times out
    multipart_timeout after its first part (monotonic), even when the timer is re-armed."""
    wall = SteppedClock()
    text = "z" * 150 + " and a second part that never comes\n@example.com #123321"

    async def scenario(rig: Rig) -> None:
        rig.inject(text, drop=[2])
        await rig.wait(count("parts", 1))
        wall.offset = -3600.0
        rig.inject("Lunch at noon?")  # re-arms the expiry timer
        await rig.wait(count("messages", 1))
        snapshot = await rig.wait(count("incomplete", 1))
        assert snapshot["kept.incomplete"] == 1

    settings = replace(SETTINGS, multipart_timeout=1.5)
    run(tmp_path, leaks, scenario, settings=settings, clock=wall)


def test_wall_clock_stepped_forward_does_not_cut_a_multipart_short(
    tmp_path: Path, leaks: set[str]
) -> None:
    """After the wall clock steps forward five minutes, a multipart whose second part comes
    within multipart_timeout (monotonic) is joined, not handed out incomplete early."""
    wall = SteppedClock()
    text = "w" * 150 + " and the rest of the message\n@example.com #454545"
    first, second = encode_deliver(SENDER, text, scts=fresh_scts(), concat_reference=12)

    async def scenario(rig: Rig) -> None:
        leaks.update({first.hex, second.hex, text, "454545"})
        rig.modem.inject_pdu(first.hex)
        await rig.wait(count("parts", 1))
        wall.offset = 300.0  # more than multipart_timeout, less than the code's life
        rig.inject("Lunch at noon?")  # re-arms the expiry timer
        await rig.wait(count("messages", 1))
        rig.modem.inject_pdu(second.hex)
        (record,) = await rig.codes(1)
        snapshot = await rig.wait(count("messages", 2))
        assert record.code == "454545"
        assert "incomplete" not in snapshot

    settings = replace(SETTINGS, multipart_timeout=30.0)
    run(tmp_path, leaks, scenario, settings=settings, clock=wall)
