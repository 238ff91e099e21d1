"""Tests for handing status reports on and for what a restart finds left in the journal."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from gateway.journal import SqliteJournal
from gateway.pipeline.counters import Counters
from gateway.pipeline.reports import ReportStep, pending
from gateway.sms import StatusReport, encode_deliver, encode_status_report

SCTS = datetime(2026, 11, 27, 10, 0, 0, tzinfo=UTC)
REPORT = encode_status_report(reference=42, recipient="+15550001111", scts=SCTS, discharge=SCTS)
FIRST, SECOND = encode_deliver("+15557654321", "x" * 200, scts=SCTS, concat_reference=3)


def test_pending_finds_parts_and_reports_of_one_modem(tmp_path: Path) -> None:
    """Unjoined parts and unhanded reports of the modem come back; other modems' stay out."""
    with SqliteJournal(tmp_path / "j.sqlite3") as journal:
        part_id = journal.record_pdu(modem="m1", memory="SM", index=1, pdu_hex=FIRST.hex, now=1.0)
        report_id = journal.record_pdu(
            modem="m1", memory="SR", index=0, pdu_hex=REPORT.hex, now=2.0
        )
        journal.record_pdu(modem="m2", memory="SM", index=1, pdu_hex=SECOND.hex, now=3.0)
        left = pending(journal, "m1", now=4.0)
    assert [(p.pdu_id, p.sequence, p.received_at) for p in left.parts] == [(part_id.id, 1, 1.0)]
    assert [(i, r.reference) for i, r in left.reports] == [(report_id.id, 42)]


def test_hand_on_marks_handled_even_when_the_consumer_fails(tmp_path: Path) -> None:
    """A report is handed on, then marked handled; a failing consumer is only counted."""
    counters = Counters()
    seen: list[tuple[str, StatusReport]] = []

    def failing(modem: str, report: StatusReport) -> None:
        raise ValueError(modem)

    with SqliteJournal(tmp_path / "j.sqlite3") as journal:
        first = journal.record_pdu(modem="m1", memory="SR", index=0, pdu_hex=REPORT.hex, now=1.0)
        left = pending(journal, "m1", now=2.0)
        ReportStep(
            modem="m1",
            journal=journal,
            counters=counters,
            on_report=lambda m, r: seen.append((m, r)),
        ).replay(left.reports, now=3.0)
        assert pending(journal, "m1", now=4.0).reports == ()
        other = REPORT.hex[:-2] + "40"  # TP-ST 0x40: another report
        second = journal.record_pdu(modem="m1", memory="SR", index=1, pdu_hex=other, now=5.0)
        ((pdu_id, report),) = pending(journal, "m1", now=6.0).reports
        step = ReportStep(modem="m1", journal=journal, counters=counters, on_report=failing)
        step.hand_on(pdu_id, report, now=7.0)
        assert pdu_id == second.id != first.id
        assert pending(journal, "m1", now=8.0).reports == ()
    assert [(m, r.reference) for m, r in seen] == [("m1", 42)]
    assert counters.snapshot() == {"callback_errors": 1, "replayed_reports": 1}
