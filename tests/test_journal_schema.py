"""Tests for the journal's schema versions and migrations."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from journal_helpers import SCTS

from gateway.journal import MIGRATIONS, JournalError, SqliteJournal
from gateway.journal.schema import migrate


def test_v1_journal_is_upgraded_with_its_rows(tmp_path: Path) -> None:
    """A version-1 file keeps its PDUs after the upgrade; they start out not handled."""
    path = tmp_path / "v1.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, MIGRATIONS[:1])
    conn.execute(
        "INSERT INTO pdus(modem, memory, idx, raw, dedupe_key, received_at, status) "
        "VALUES ('m0', 'SR', 0, 'AB', 'k', 1.0, 'ok')"
    )
    conn.close()
    with SqliteJournal(path) as j:
        assert [(p.raw, p.handled_at) for p in j.pdus(unassembled=True)] == [("AB", None)]


def test_migrates_from_v0_and_refuses_newer(tmp_path: Path) -> None:
    """An empty file is migrated from version 0; a file from a newer gateway is refused."""
    path = tmp_path / "j.sqlite3"
    sqlite3.connect(path).close()
    with SqliteJournal(path) as j:
        assert j.version == len(MIGRATIONS)
        names = {r[0] for r in j._read("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"pdus", "messages", "codes", "jobs", "job_events", "job_parts"} <= names
    assert {"delivery_reports", "counters"} <= names
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    conn.close()
    with pytest.raises(JournalError, match="newer than this otp-gateway"):
        SqliteJournal(path)


def test_migrations_step_and_roll_back(tmp_path: Path) -> None:
    """Each migration is one transaction: data survives upgrades, a failing step changes nothing."""
    conn = sqlite3.connect(tmp_path / "m.sqlite3", isolation_level=None)
    steps = ("CREATE TABLE t (a INTEGER); INSERT INTO t VALUES (1)", "ALTER TABLE t ADD b TEXT")
    assert migrate(conn, steps[:1]) == 1
    assert migrate(conn, steps) == 2
    assert conn.execute("SELECT a, b FROM t").fetchall() == [(1, None)]
    with pytest.raises(sqlite3.OperationalError):
        migrate(conn, (*steps, "CREATE TABLE u (x); CREATE TABLE t (y)"))
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
    assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'u'").fetchone() is None
    conn.close()


def test_not_a_database(tmp_path: Path) -> None:
    """A file that is not SQLite gives a JournalError naming the file."""
    path = tmp_path / "junk.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(JournalError, match=r"junk\.sqlite3"):
        SqliteJournal(path)
    with pytest.raises(JournalError, match="cannot open"):
        SqliteJournal(tmp_path / "missing-dir" / "j.sqlite3")


def test_v2_journal_marks_messages_with_codes_decided(tmp_path: Path) -> None:
    """Upgrading to v3 marks messages that have a code as decided; the others stay open."""
    path = tmp_path / "v2.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, MIGRATIONS[:2])
    for i in (1, 2):
        conn.execute(
            "INSERT INTO messages(id, modem, sender, scts, text, parts, expected_parts, "
            "complete, received_at) VALUES (?, 'm0', '+1', ?, 't', 1, 1, 1, 1.0)",
            (i, SCTS.isoformat()),
        )
    conn.execute(
        "INSERT INTO codes(origin, code, sender, received_at, expires_at, message_id) "
        "VALUES ('a.example', '1', '+1', 1.0, 601.0, 1)"
    )
    conn.close()
    with SqliteJournal(path) as j:
        assert [m.id for m in j.undecided("m0")] == [2]
        assert j.message_decision(1) == "code"


def test_v3_jobs_are_kept_and_new_jobs_record_who_asked(tmp_path: Path) -> None:
    """Upgrading to v4 keeps older jobs (requester unknown); new jobs store the asking uid."""
    path = tmp_path / "v3.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, MIGRATIONS[:3])
    conn.execute(
        "INSERT INTO jobs(id, number, origin, text, state, attempts, not_before, expires_at, "
        "created_at, updated_at) VALUES ('j-old', '+1555', 'a.example', 't', 'queued', 0, "
        "1.0, 601.0, 1.0, 1.0)"
    )
    conn.close()
    with SqliteJournal(path) as j:
        assert j.job("j-old").requested_by is None
        new = j.create_job(
            job_id="j-new",
            number="+1555",
            origin="a.example",
            embedded=None,
            text="t",
            now=2.0,
            expires_at=602.0,
            requested_by=1000,
        )
        assert new.requested_by == 1000
        assert j.job("j-new").requested_by == 1000


def test_v4_journal_gains_the_sender_kind_column(tmp_path: Path) -> None:
    """Upgrading to v5 keeps older messages, their sender's kind unknown (NULL)."""
    path = tmp_path / "v4.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, MIGRATIONS[:4])
    conn.execute(
        "INSERT INTO messages(id, modem, sender, scts, text, parts, expected_parts, "
        "complete, received_at) VALUES (1, 'm0', '72727', ?, 't', 1, 1, 1, 1.0)",
        (SCTS.isoformat(),),
    )
    conn.close()
    with SqliteJournal(path) as j:
        (record,) = j.undecided("m0")
        assert (record.sender, record.sender_type) == ("72727", None)
