"""The receive pipeline on a journal that cannot record: the SMS stays on the modem."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from journal_helpers import fill_up, free_space
from pipeline_receive_helpers import Rig, count, no_leaks, run

from gateway.journal import FILENAME, RecordedPdu, SqliteJournal


@pytest.fixture
def leaks() -> Iterator[set[str]]:
    """Capture every log event of the test; fail if one holds a code, body or PDU."""
    with no_leaks() as secrets:
        yield secrets


def test_full_journal_keeps_the_sms_until_space_is_back(tmp_path: Path, leaks: set[str]) -> None:
    """A full journal: read, not recorded, not deleted; with space again a sweep takes it."""

    async def scenario(rig: Rig) -> None:
        fill_up(rig.journal)
        rig.inject("@example.com #771177")
        snapshot = await rig.wait(count("journal_unavailable", 1))
        assert snapshot.get("deleted", 0) == 0
        assert len(rig.modem.stored("SM")) == 1
        free_space(rig.journal)
        assert rig.journal.probe().healthy
        rig.pipeline.sweep_soon()
        (record,) = await rig.codes(1)
        assert record.code == "771177"
        await rig.wait(count("deleted", 1))
        assert rig.modem.stored("SM") == {}

    run(tmp_path, leaks, scenario)


def test_deleted_journal_keeps_the_sms(tmp_path: Path, leaks: set[str]) -> None:
    """A journal file deleted under the daemon: nothing recorded into it, the SMS stays."""

    async def scenario(rig: Rig) -> None:
        for suffix in ("", "-wal", "-shm"):
            (tmp_path / f"{FILENAME}{suffix}").unlink()
        rig.inject("@example.com #662266")
        snapshot = await rig.wait(count("journal_unavailable", 1))
        assert snapshot.get("deleted", 0) == 0
        assert len(rig.modem.stored("SM")) == 1
        assert rig.journal.pdus() == []
        assert rig.sink.codes == []
        assert rig.journal.health().replaced

    run(tmp_path, leaks, scenario)


class DeletedAfterCommit(SqliteJournal):
    """A journal whose files are deleted right after the first PDU is committed.

    That is the operator's ``rm -r`` landing between the commit and ``AT+CMGD``: the
    record went into a file no one will open again.
    """

    def record_pdu(self, **kwargs: Any) -> RecordedPdu:
        """Record, then delete the journal's files (once)."""
        recorded = super().record_pdu(**kwargs)
        for suffix in ("", "-wal", "-shm"):
            self.path.with_name(f"{FILENAME}{suffix}").unlink(missing_ok=True)
        return recorded


def test_a_record_lost_after_its_commit_is_not_followed_by_a_delete(
    tmp_path: Path, leaks: set[str]
) -> None:
    """The delete guard: the journal file vanished after the commit, so the SMS stays."""

    async def scenario(rig: Rig) -> None:
        rig.inject("@example.com #553355")
        snapshot = await rig.wait(count("delete_withheld", 1))
        assert snapshot.get("deleted", 0) == 0
        assert len(rig.modem.stored("SM")) == 1
        # the code could not be stored either (its write found the file gone): the
        # message waits in memory for the journal, the SMS on the modem for the sweep
        assert snapshot["store_failed"] == 1
        assert rig.sink.codes == []

    run(tmp_path, leaks, scenario, journal_type=DeletedAfterCommit)


class MovedAfterCommit(SqliteJournal):
    """A journal whose files are moved aside right after the first PDU is committed."""

    moved = False

    def record_pdu(self, **kwargs: Any) -> RecordedPdu:
        """Record, then rename the database and its -wal (once)."""
        recorded = super().record_pdu(**kwargs)
        if not self.moved:
            self.moved = True
            for suffix in ("", "-wal"):
                name = self.path.with_name(f"{FILENAME}{suffix}")
                name.rename(name.with_name(name.name + ".away"))
        return recorded


def test_a_journal_back_in_place_takes_the_waiting_message_and_the_kept_sms(
    tmp_path: Path, leaks: set[str]
) -> None:
    """Files moved aside after the commit, then back: the code is stored, the SMS deleted."""

    async def scenario(rig: Rig) -> None:
        rig.inject("@example.com #884488")
        snapshot = await rig.wait(count("delete_withheld", 1))
        assert snapshot["store_failed"] == 1
        assert len(rig.modem.stored("SM")) == 1
        for suffix in ("", "-wal"):
            away = tmp_path / f"{FILENAME}{suffix}.away"
            away.rename(tmp_path / f"{FILENAME}{suffix}")
        assert rig.journal.probe().healthy
        rig.pipeline.sweep_soon()  # what the daemon's journal watch does at recovery
        (record,) = await rig.codes(1)
        assert record.code == "884488"
        snapshot = await rig.wait(count("deleted", 1))
        assert snapshot["duplicates"] == 1  # the sweep found it recorded already
        assert rig.modem.stored("SM") == {}

    run(tmp_path, leaks, scenario, journal_type=MovedAfterCommit)
