"""Tests for the SQLite journal: PDU records, dedupe, assembly, durability."""

from __future__ import annotations

import signal
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from journal_helpers import PDU, SCTS, add_code, open_journal

from gateway.jobs import JobEvent
from gateway.journal import FILENAME, MIGRATIONS, JournalError, PduStatus, SqliteJournal, dedupe_key


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[SqliteJournal]:
    """A journal in ``tmp_path``, closed after the test."""
    with open_journal(tmp_path) as j:
        yield j


def test_pragmas_and_permissions(journal: SqliteJournal) -> None:
    """The journal is WAL, synchronous=FULL, at the newest schema version, owner-only."""
    conn = sqlite3.connect(journal.path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    finally:
        conn.close()
    assert journal._conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert journal.path.name == FILENAME
    assert stat.S_IMODE(journal.path.stat().st_mode) == 0o600


def test_record_pdu_dedupes(journal: SqliteJournal) -> None:
    """The same SMS recorded twice is new once; the duplicate is counted."""
    key = dedupe_key(PDU, sender="+31641600986", scts=SCTS.isoformat(), content="hello")
    first = journal.record_pdu(modem="m0", memory="SM", index=1, pdu_hex=PDU, now=1.0, key=key)
    again = journal.record_pdu(modem="m0", memory="ME", index=7, pdu_hex=PDU, now=2.0, key=key)
    assert first.new
    assert not again.new
    assert again.id == first.id
    raw = journal.record_pdu(modem="m0", memory="SM", index=2, pdu_hex=PDU.lower(), now=3.0)
    assert raw.new  # raw-hash key differs from the decoded key
    assert not journal.record_pdu(modem="m0", memory="SM", index=2, pdu_hex=PDU, now=4.0).new
    assert journal.counters() == {"pdus.ok": 2, "pdus.duplicate": 2}


def test_dedupe_key_distinguishes_content() -> None:
    """Different sender, timestamp or content give different keys; raw keys ignore case."""
    base = dedupe_key(PDU, sender="+1", scts="t", content="a")
    assert base == dedupe_key("other", sender="+1", scts="t", content="a")
    assert base != dedupe_key(PDU, sender="+2", scts="t", content="a")
    assert base != dedupe_key(PDU, sender="+1", scts="u", content="a")
    assert base != dedupe_key(PDU, sender="+1", scts="t", content="b")
    assert dedupe_key(PDU) == dedupe_key(f" {PDU.lower()} ")


def test_quarantine_and_assembly(journal: SqliteJournal) -> None:
    """Quarantined PDUs keep raw hex and reason; assembled parts leave the unassembled list."""
    bad = journal.record_pdu(
        modem="m0",
        memory="SM",
        index=3,
        pdu_hex="00FF",
        now=1.0,
        status=PduStatus.QUARANTINED,
        reason="truncated user data",
    )
    p1 = journal.record_pdu(modem="m0", memory="SM", index=4, pdu_hex=PDU + "01", now=2.0)
    p2 = journal.record_pdu(modem="m0", memory="SM", index=5, pdu_hex=PDU + "02", now=3.0)
    assert [p.id for p in journal.pdus(unassembled=True)] == [p1.id, p2.id]
    message = journal.store_message(
        modem="m0",
        sender="+15557654321",
        scts=SCTS,
        text="part one part two",
        parts=2,
        expected_parts=2,
        now=4.0,
        pdu_ids=[p1.id, p2.id],
    )
    assert journal.pdus(unassembled=True) == []
    stored = {p.id: p for p in journal.pdus()}
    assert stored[bad.id].status is PduStatus.QUARANTINED
    assert stored[bad.id].reason == "truncated user data"
    assert stored[bad.id].raw == "00FF"
    assert stored[p1.id].message_id == message
    assert journal.message_text(message) == "part one part two"
    assert journal.counters()["pdus.quarantined"] == 1
    assert journal.counters()["messages.complete"] == 1
    with pytest.raises(JournalError, match="parts"):
        journal.store_message(
            modem="m0", sender="x", scts=SCTS, text="", parts=3, expected_parts=2, now=5.0
        )


def test_reopen_keeps_everything(tmp_path: Path) -> None:
    """Closing and reopening the journal keeps PDUs, codes, jobs and counters."""
    with SqliteJournal.in_state_dir(tmp_path, body_retention=60.0, code_retention=60.0) as j:
        j.record_pdu(modem="m0", memory="SM", index=1, pdu_hex=PDU, now=1.0)
        add_code(j, "123456")
        j.create_job(
            job_id="j1",
            number="+12025550123",
            origin="a.example",
            embedded=None,
            text="@a.example #654321",
            now=1.0,
            expires_at=601.0,
        )
        j.transition_job("j1", JobEvent.START, now=2.0, modem="m0")
        before = (j.pdus(), j.codes(), j.jobs(), j.job_events("j1"), j.counters())
    with SqliteJournal.in_state_dir(tmp_path, body_retention=60.0, code_retention=60.0) as j:
        assert (j.pdus(), j.codes(), j.jobs(), j.job_events("j1"), j.counters()) == before
        assert not j.record_pdu(modem="m0", memory="SM", index=1, pdu_hex=PDU, now=9.0).new


def test_handled_pdus_leave_the_unassembled_list(journal: SqliteJournal) -> None:
    """A PDU marked handled (a report handed on) is not returned for rebuilding again."""
    report = journal.record_pdu(modem="m0", memory="SR", index=0, pdu_hex=PDU + "03", now=1.0)
    part = journal.record_pdu(modem="m0", memory="SM", index=1, pdu_hex=PDU + "04", now=2.0)
    assert journal.mark_handled(report.id, now=3.0)
    assert not journal.mark_handled(report.id, now=4.0)
    assert not journal.mark_handled(9999, now=4.0)
    assert [p.id for p in journal.pdus(unassembled=True)] == [part.id]
    assert {p.id: p.handled_at for p in journal.pdus()} == {report.id: 3.0, part.id: None}


def test_invalid_inputs(journal: SqliteJournal, tmp_path: Path) -> None:
    """Impossible codes, jobs and retention values are refused."""
    with pytest.raises(JournalError):
        journal.store_code(
            origin="a", embedded=None, code="1", sender="s", received_at=5.0, expires_at=5.0
        )
    with pytest.raises(JournalError):
        journal.create_job(
            job_id="x", number="+1", origin="a", embedded=None, text="t", now=5.0, expires_at=1.0
        )


_CHILD = """
import sys
from pathlib import Path
from gateway.journal import SqliteJournal
journal = SqliteJournal(Path(sys.argv[1]))
result = journal.record_pdu(modem="m0", memory="SM", index=4, pdu_hex=sys.argv[2], now=1.0)
journal.store_code(origin="a.example", embedded=None, code="123456", sender="+1",
                   received_at=1.0, expires_at=601.0)
print("recorded", result.new, flush=True)
sys.stdin.read()  # hold the connection open until killed
"""


def test_records_survive_kill_9(tmp_path: Path) -> None:
    """A record is durable the moment record_pdu returns: SIGKILL right after loses nothing."""
    path = tmp_path / "j.sqlite3"
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(path), PDU],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == "recorded True\n"
    finally:
        child.kill()
        child.wait(timeout=30)
        for stream in (child.stdin, child.stdout):
            if stream is not None:
                stream.close()
    assert child.returncode == -signal.SIGKILL
    with SqliteJournal(path) as journal:
        assert [p.raw for p in journal.pdus()] == [PDU]
        claim = journal.claim_code("a.example", None, 0.0, now=2.0, claimant="after-crash")
        assert claim is not None
        assert claim.code == "123456"
        assert not journal.record_pdu(modem="m0", memory="SM", index=4, pdu_hex=PDU, now=3.0).new


def test_a_failed_commit_leaves_no_transaction_open(tmp_path: Path) -> None:
    """When COMMIT fails (a deferred foreign key here, like a full disk) the transaction is
    rolled back: nothing is stored and the next write works."""
    with SqliteJournal(tmp_path / "j.sqlite3") as j:

        def orphan_event() -> None:
            with j._tx() as conn:  # the foreign key is checked only at COMMIT
                conn.execute("PRAGMA defer_foreign_keys = ON")
                conn.execute(
                    "INSERT INTO job_events(job_id, at, event, state) VALUES ('no', 1, 'x', 'y')"
                )

        with pytest.raises(JournalError, match="commit failed"):
            orphan_event()
        assert not j._conn.in_transaction
        j.bump("after")
        assert j.counters() == {"after": 1}
        assert j._read("SELECT COUNT(*) FROM job_events") == [(0,)]
