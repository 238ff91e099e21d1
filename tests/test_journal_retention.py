"""Tests for the journal's retention: purging bodies, codes and whole records."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from journal_helpers import PDU, SCTS, add_code, add_job, open_journal

import gateway.journal
from gateway.config.schema import JournalSettings
from gateway.jobs import JobEvent
from gateway.journal import CODE_DECISION, FILENAME, JournalError, NewCode, SqliteJournal


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[SqliteJournal]:
    """A journal in ``tmp_path``, closed after the test."""
    with open_journal(tmp_path) as j:
        yield j


def test_purge_applies_retention(journal: SqliteJournal) -> None:
    """Codes blank at expiry and go after code retention; a sent OTP text goes once its job
    is over and its validity passed; other bodies go after body retention."""
    add_code(journal, "123456", at=0.0)
    pdu = journal.record_pdu(modem="m0", memory="SM", index=1, pdu_hex=PDU, now=0.0)
    message = journal.store_message(
        modem="m0",
        sender="+1",
        scts=SCTS,
        text="secret body",
        parts=1,
        expected_parts=1,
        now=0.0,
        pdu_ids=[pdu.id],
    )
    add_job(journal, "j1", now=0.0)
    add_job(journal, "queued", now=0.0)  # never sent (no modem): its text must stay
    journal.transition_job("j1", JobEvent.START, now=1.0)
    journal.transition_job("j1", JobEvent.ACCEPTED, now=2.0, references=[7])
    counts = journal.purge(599.0)
    assert counts.bodies_purged == 0  # the code in the SMS is still valid
    counts = journal.purge(600.0)
    assert (counts.codes_expired, counts.codes_deleted, counts.bodies_purged) == (1, 0, 1)
    assert journal.job("j1").text is None
    assert journal.job("queued").text == "@a.example #123456"
    assert [c.code for c in journal.codes()] == [None]
    assert journal.claim_code("a.example", None, 0.0, now=10.0, claimant="x") is None
    counts = journal.purge(1200.0)
    assert (counts.codes_deleted, counts.bodies_purged) == (1, 0)
    assert journal.codes() == []
    counts = journal.purge(4200.0)
    assert counts.bodies_purged == 2
    assert journal.pdus()[0].raw is None
    assert journal.message_text(message) is None
    assert journal.job("queued").text == "@a.example #123456"
    assert journal.counters()["codes.received"] == 1  # counters are kept
    assert journal.purge(4200.0).bodies_purged == 0
    assert journal.purge(4200.0).records_deleted == 0


def test_purge_deletes_whole_records_after_record_retention(tmp_path: Path) -> None:
    """Rows holding numbers and senders (PDUs, messages, codes, final jobs with their events
    and parts, delivery reports) are deleted record_retention after they were written;
    newer rows, jobs that may still be sent and the counters stay."""
    day = 86400.0
    with SqliteJournal(tmp_path / "j.sqlite3", record_retention=30 * day) as j:
        old = j.record_pdu(modem="m0", memory="SM", index=1, pdu_hex=PDU, now=0.0)
        j.store_decided(
            modem="m0", sender="+1", scts=SCTS, text="@a.example #1", parts=1,
            expected_parts=1, now=0.0, pdu_ids=[old.id], decision=CODE_DECISION,
            code=NewCode(origin="a.example", embedded=None, code="1", expires_at=600.0),
        )  # fmt: skip
        add_job(j, "sent", now=0.0, number="+14155552671")
        j.transition_job("sent", JobEvent.START, now=1.0)
        j.transition_job("sent", JobEvent.ACCEPTED, now=2.0, references=[9])
        j.record_delivery_report(
            modem="m0", reference=9, recipient="+14155552671", status=0, now=3.0, window=day
        )
        add_job(j, "waiting", now=0.0)  # still queued (no modem for a month): kept
        new = j.record_pdu(modem="m0", memory="SM", index=2, pdu_hex=PDU + "00", now=29 * day)
        assert j.purge(30 * day - 1.0).records_deleted == 0
        counts = j.purge(30 * day + 3.0)
        assert [p.id for p in j.pdus()] == [new.id]
        assert j._read("SELECT COUNT(*) FROM messages") == [(0,)]
        assert j.codes() == []
        assert [job.id for job in j.jobs()] == ["waiting"]
        for table in ("job_parts", "delivery_reports"):
            assert j._read(f"SELECT COUNT(*) FROM {table}") == [(0,)]  # noqa: S608 - fixed
        assert [e.event for e in j.job_events("sent")] == []
        # the code went at code retention; now pdu, message, three events, part, job, report
        assert counts.records_deleted == 1 + 1 + 3 + 1 + 1 + 1
        assert j.counters()["jobs.created"] == 2
        assert j.pdus(unassembled=True) == [j.pdus()[0]]


def test_retention_periods_are_checked(tmp_path: Path) -> None:
    """Negative periods, or records kept shorter than bodies or codes, are refused."""
    for kwargs in ({"body_retention": -1.0}, {"record_retention": 3600.0}):
        with pytest.raises(JournalError, match="retention"):
            SqliteJournal(tmp_path / "r.sqlite3", **kwargs)


def test_configured_journal_takes_every_retention_from_the_settings(tmp_path: Path) -> None:
    """SqliteJournal.configured opens the file in state_dir with the three retention periods."""
    settings = JournalSettings(
        state_dir=tmp_path, body_retention=60.0, code_retention=30.0, record_retention=90.0
    )
    with SqliteJournal.configured(settings) as j:
        assert j.path == tmp_path / FILENAME
        assert (j.body_retention, j.code_retention, j.record_retention) == (60.0, 30.0, 90.0)


def test_open_journal_opens_the_sqlite_backend_the_settings_describe(tmp_path: Path) -> None:
    """open_journal (the daemon's one choice of backend) gives the SQLite file in state_dir."""
    settings = JournalSettings(
        state_dir=tmp_path, body_retention=60.0, code_retention=30.0, record_retention=90.0
    )
    opened = gateway.journal.open_journal(settings)
    try:
        assert isinstance(opened, SqliteJournal)
        assert opened.path == tmp_path / FILENAME
        assert (opened.body_retention, opened.code_retention, opened.record_retention) == (
            60.0,
            30.0,
            90.0,
        )
    finally:
        opened.close()
