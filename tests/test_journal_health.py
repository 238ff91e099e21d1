"""Tests for the journal's health: failing commits and a file no longer at its path."""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from journal_helpers import fill_up, free_space

from gateway.journal import (
    FILENAME,
    JournalHealth,
    JournalRefused,
    JournalUnavailable,
    SqliteJournal,
)
from gateway.journal.health import FileId, identity_problem, is_disk_fault, wal_path

PDU = "07915155000000F0040B915155" + "00" * 120


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[SqliteJournal]:
    """A journal in tmp_path/state."""
    state = tmp_path / "state"
    state.mkdir()
    with SqliteJournal.in_state_dir(
        state, body_retention=86400.0, code_retention=86400.0
    ) as opened:
        yield opened


def record(journal: SqliteJournal, index: int) -> None:
    """Record one PDU (distinct per index) at modem m1."""
    journal.record_pdu(modem="m1", memory="SM", index=index, pdu_hex=f"{PDU}{index:04X}", now=1.0)


def test_a_full_disk_degrades_the_journal_and_a_probe_ends_it(journal: SqliteJournal) -> None:
    """A commit failing with SQLITE_FULL: degraded with the reason; a successful probe heals."""
    seen: list[JournalHealth] = []
    journal.on_health(seen.append)
    assert "full" in str(fill_up(journal))
    health = journal.health()
    assert not health.healthy
    assert "full" in str(health.reason)
    assert health.since is not None
    assert health.episodes == 1
    assert not health.replaced
    assert not journal.durable()
    assert not journal.probe().healthy  # still full
    free_space(journal)
    assert journal.probe().healthy
    assert journal.durable()
    assert [h.healthy for h in seen] == [False, True]  # once per episode, not per failure
    assert journal.counters()["journal.probes"] == 1


def test_a_deleted_state_directory_refuses_writes_before_writing(
    tmp_path: Path, journal: SqliteJournal
) -> None:
    """With its directory deleted the journal writes nothing more and says it is gone."""
    record(journal, 1)
    shutil.rmtree(tmp_path / "state")
    assert not journal.durable()
    with pytest.raises(JournalUnavailable, match="is gone"):
        record(journal, 2)
    health = journal.health()
    assert health.replaced
    assert "state directory deleted" in str(health.reason)
    assert not journal.probe().healthy  # no new file is ever made at the path
    assert not (tmp_path / "state").exists()
    # the open connection still reads the unlinked file: the write above never got there
    assert [p.index for p in journal.pdus()] == [1]


def test_a_state_directory_moved_back_is_the_same_journal(
    tmp_path: Path, journal: SqliteJournal
) -> None:
    """Moved away: degraded; moved back (same files): the next probe resumes."""
    (tmp_path / "state").rename(tmp_path / "away")
    assert not journal.durable()
    (tmp_path / "away").rename(tmp_path / "state")
    assert journal.probe().healthy
    record(journal, 3)


def test_a_replaced_journal_file_is_not_written(tmp_path: Path, journal: SqliteJournal) -> None:
    """Another file at the path (a restored copy) is not ours: degraded until a restart."""
    path = tmp_path / "state" / FILENAME
    shutil.copy(path, tmp_path / "copy")
    os.replace(tmp_path / "copy", path)
    with pytest.raises(JournalUnavailable, match="replaced by another file"):
        record(journal, 4)
    assert journal.health().replaced
    assert not journal.probe().healthy


def test_a_replaced_write_ahead_log_is_noticed(tmp_path: Path, journal: SqliteJournal) -> None:
    """The -wal swapped under the connection is noticed like the database file."""
    wal = wal_path(tmp_path / "state" / FILENAME)
    shutil.copy(wal, tmp_path / "wal-copy")
    os.replace(tmp_path / "wal-copy", wal)
    assert not journal.durable()
    assert "write-ahead log" in str(journal.health().reason)


def test_a_refused_row_leaves_the_journal_healthy(journal: SqliteJournal) -> None:
    """A constraint refusing the data says nothing about the disk."""
    with pytest.raises(JournalRefused):
        journal.store_code(
            origin="example.com",
            embedded=None,
            code="123456",
            sender="+15557654321",
            received_at=10.0,
            expires_at=5.0,
        )
    assert journal.health() == JournalHealth()


def test_an_ordinary_commit_ends_an_episode(journal: SqliteJournal) -> None:
    """Any commit that lands in the file at the path ends the degraded episode."""
    fill_up(journal)
    free_space(journal)
    record(journal, 999)
    assert journal.health().healthy
    assert journal.health().episodes == 1


def test_identity_problem_names_what_happened(tmp_path: Path) -> None:
    """The same file is fine; none is gone; another one is replaced."""
    path = tmp_path / "j"
    mine = FileId(1, 2)
    assert identity_problem(path, mine, FileId(1, 2)) is None
    assert "is gone" in str(identity_problem(path, mine, None))
    assert "replaced" in str(identity_problem(path, mine, FileId(1, 3)))
    assert "replaced" in str(identity_problem(path, mine, FileId(9, 2)))


@pytest.mark.parametrize(
    ("code", "fault"),
    [(13, True), (8, True), (10, True), (778, True), (11, True), (5, False), (19, False)],
)
def test_disk_faults_are_told_by_primary_result_code(code: int, fault: bool) -> None:
    """FULL, READONLY, IOERR (and its extended codes), CORRUPT are disk faults; BUSY is not."""
    exc = sqlite3.OperationalError("x")
    exc.sqlite_errorcode = code
    assert is_disk_fault(exc) is fault
