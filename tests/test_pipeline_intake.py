"""Tests for the journal side of receiving: decode, dedupe keys and durable recording."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from gateway.journal import PduStatus, SqliteJournal
from gateway.pipeline.counters import Counters
from gateway.pipeline.intake import Intake, decode, key_of
from gateway.sms import Deliver, PduError, StatusReport, encode_deliver, encode_status_report
from gateway.sms.timestamp import encode_timestamp

SCTS = datetime(2026, 11, 27, 10, 0, 0, tzinfo=UTC)
SCTS_HEX = encode_timestamp(SCTS).hex().upper()
(OTP,) = encode_deliver("+15557654321", "@example.com #123456", scts=SCTS)
ZERO = OTP.hex.replace(SCTS_HEX, "00" * 7)
MONTH_13 = OTP.hex.replace(SCTS_HEX, "62317220035100")
TRUNCATED = "07915155000000F0040B9151"


def _deliver(pdu_hex: str) -> Deliver:
    message = decode(pdu_hex)
    assert isinstance(message, Deliver)
    return message


def test_decode_gives_values_or_the_error() -> None:
    """decode returns the value, or the PduError instead of raising it."""
    assert _deliver(OTP.hex).text == "@example.com #123456"
    assert _deliver(ZERO).scts is None
    error = decode(TRUNCATED)
    assert isinstance(error, PduError)
    assert error.reason


@given(st.binary(max_size=80))
def test_decode_never_raises(data: bytes) -> None:
    """Random octets decode to a value or a returned PduError, never an exception."""
    assert isinstance(decode(data.hex()), Deliver | StatusReport | PduError)


def test_keys_use_the_raw_scts_octets() -> None:
    """Two impossible TP-SCTS values give different keys; the same PDU the same key."""
    zero, month13 = _deliver(ZERO), _deliver(MONTH_13)
    assert key_of(ZERO, zero) == key_of(ZERO.lower(), _deliver(ZERO))
    assert key_of(ZERO, zero) != key_of(MONTH_13, month13)
    assert key_of(ZERO, zero) != key_of(OTP.hex, _deliver(OTP.hex))


def test_report_keys_include_the_raw_discharge_time() -> None:
    """Reports differing only in TP-DT octets are different reports."""
    report = encode_status_report(reference=1, recipient="+1555", scts=SCTS, discharge=SCTS).hex
    at = report.rindex(SCTS_HEX)  # TP-DT follows TP-SCTS (TS 23.040 §9.2.2.3)
    first, other = report, report[:at] + "00" * 7 + report[at + 14 :]
    a, b = decode(first), decode(other)
    assert isinstance(a, StatusReport)
    assert isinstance(b, StatusReport)
    assert b.discharge is None
    assert key_of(first, a) != key_of(other, b)


def test_record_counts_quarantine_duplicates_and_bad_timestamps(tmp_path: Path) -> None:
    """Undecodable PDUs are quarantined, repeats found, impossible times counted once."""
    counters = Counters()
    with SqliteJournal(tmp_path / "j.sqlite3") as journal:
        intake = Intake(modem="m1", journal=journal, counters=counters)
        bad = intake.record("SM", 1, TRUNCATED, 1.0)
        assert (bad.new, isinstance(bad.message, PduError)) == (True, True)
        first = intake.record("SM", 2, ZERO, 2.0)
        again = intake.record("SM", 3, ZERO, 3.0)
        assert (first.new, again.new, again.pdu_id) == (True, False, first.pdu_id)
        assert intake.record("SM", 4, TRUNCATED, 4.0).new is False
        statuses = [p.status for p in journal.pdus()]
    assert statuses == [PduStatus.QUARANTINED, PduStatus.OK]
    assert counters.snapshot() == {"duplicates": 2, "quarantined": 1, "timestamp_invalid": 1}
