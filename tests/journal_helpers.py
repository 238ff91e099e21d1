"""Shared data and helpers for the journal tests: a sample PDU, a journal, codes and jobs."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from gateway.journal import JournalUnavailable, SqliteJournal

PDU = "07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07"
SCTS = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)


def open_journal(tmp_path: Path) -> SqliteJournal:
    """Return a journal in ``tmp_path`` keeping bodies an hour and codes ten minutes."""
    return SqliteJournal.in_state_dir(tmp_path, body_retention=3600.0, code_retention=600.0)


def add_code(
    journal: SqliteJournal, code: str, *, at: float = 100.0, origin: str = "a.example"
) -> int:
    """Store ``code`` for ``origin`` received at ``at`` (valid ten minutes); return its id."""
    return journal.store_code(
        origin=origin,
        embedded=None,
        code=code,
        sender="+15557654321",
        received_at=at,
        expires_at=at + 600.0,
    ).id


def add_job(
    journal: SqliteJournal, job_id: str, *, now: float = 0.0, number: str = "+12025550123"
) -> None:
    """Create send job ``job_id`` to ``number`` at ``now`` (expiring ten minutes later)."""
    journal.create_job(
        job_id=job_id,
        number=number,
        origin="a.example",
        embedded=None,
        text="@a.example #123456",
        now=now,
        expires_at=now + 600.0,
    )


def fill_up(journal: SqliteJournal) -> JournalUnavailable:
    """Cap the database at its size, then write small rows until a commit fails; return why.

    SQLite's ``max_page_count`` stands in for a full disk that needs no root or tmpfs: a
    commit that needs one more page fails with SQLITE_FULL, as ENOSPC makes it fail.
    """
    conn = journal._conn
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {int(pages):d}")
    conn.execute("PRAGMA synchronous = OFF")  # the filler rows need no fsync each
    try:
        for index in range(100_000):
            try:
                journal.bump(f"filler.{index}")
            except JournalUnavailable as exc:
                return exc
    finally:
        conn.execute("PRAGMA synchronous = FULL")
    raise AssertionError("the capped journal never became full")


def free_space(journal: SqliteJournal) -> None:
    """Lift the cap :func:`fill_up` set (the operator freed space)."""
    journal._conn.execute("PRAGMA max_page_count = 1073741823")
