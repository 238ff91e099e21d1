"""Tests for the journal's send jobs: lifecycle, recovery and delivery reports."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from journal_helpers import add_job, open_journal

from gateway.jobs import IllegalTransition, JobEvent, JobState
from gateway.journal import JournalError, SqliteJournal


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[SqliteJournal]:
    """A journal in ``tmp_path``, closed after the test."""
    with open_journal(tmp_path) as j:
        yield j


def test_job_lifecycle_and_events(journal: SqliteJournal) -> None:
    """Jobs move through the state table; each move is recorded; illegal moves change nothing."""
    add_job(journal, "j1")
    with pytest.raises(JournalError, match="already exists"):
        add_job(journal, "j1")
    journal.transition_job("j1", JobEvent.START, now=1.0, modem="m0")
    requeued = journal.transition_job(
        "j1", JobEvent.TRANSIENT_ERROR, now=2.0, not_before=7.0, detail="+CMS ERROR: 512"
    )
    assert (requeued.state, requeued.not_before, requeued.modem) == (JobState.QUEUED, 7.0, "m0")
    journal.transition_job("j1", JobEvent.START, now=8.0, modem="m1")
    sent = journal.transition_job("j1", JobEvent.ACCEPTED, now=9.0, references=[12, 13])
    assert (sent.state, sent.attempts, sent.references, sent.modem) == (
        JobState.SENT,
        2,
        (12, 13),
        "m1",
    )
    with pytest.raises(IllegalTransition):
        journal.transition_job("j1", JobEvent.START, now=10.0)
    assert journal.job("j1").state is JobState.SENT
    events = [(e.event, e.state) for e in journal.job_events("j1")]
    assert events == [
        ("created", JobState.QUEUED),
        ("start", JobState.SENDING),
        ("transient-error", JobState.QUEUED),
        ("start", JobState.SENDING),
        ("accepted", JobState.SENT),
    ]
    with pytest.raises(JournalError, match="no job"):
        journal.transition_job("nope", JobEvent.START, now=1.0)


def test_recover_jobs_after_stop(journal: SqliteJournal) -> None:
    """At start, sending jobs become unknown, stale queued jobs expire, valid ones resume."""
    add_job(journal, "sending", now=0.0)
    journal.transition_job("sending", JobEvent.START, now=1.0)
    add_job(journal, "stale", now=0.0)
    add_job(journal, "fresh", now=500.0)
    resumable = journal.recover_jobs(now=700.0)
    assert [j.id for j in resumable] == ["fresh"]
    assert journal.job("sending").state is JobState.UNKNOWN
    assert journal.job("stale").state is JobState.EXPIRED
    assert journal.recover_jobs(now=700.0) == resumable  # idempotent
    assert journal.send_history(since=100.0) == [("+12025550123", "a.example", 500.0)]


def test_delivery_reports_match_per_part(journal: SqliteJournal) -> None:
    """Reports match by TP-MR and number within the window, and tally per part."""
    add_job(journal, "j1")
    journal.transition_job("j1", JobEvent.START, now=1.0)
    journal.transition_job("j1", JobEvent.ACCEPTED, now=2.0, references=[40, 41])
    assert (
        journal.record_delivery_report(
            modem="m0", reference=40, recipient="+12025550999", status=0, now=3.0, window=60.0
        )
        is None
    )
    first = journal.record_delivery_report(
        modem="m0", reference=40, recipient="+12025550123", status=0, now=3.0, window=60.0
    )
    assert first is not None
    assert (first.job_id, first.part, first.complete) == ("j1", 0, False)
    late = journal.record_delivery_report(
        modem="m0", reference=41, recipient="+12025550123", status=0, now=300.0, window=60.0
    )
    assert late is None
    second = journal.record_delivery_report(
        modem="m0", reference=41, recipient="+12025550123", status=0x41, now=30.0, window=60.0
    )
    assert second is not None
    assert (second.part, second.parts, second.reported, second.delivered) == (1, 2, 2, 1)
    assert second.complete
    assert journal.counters()["reports.unmatched"] == 2
