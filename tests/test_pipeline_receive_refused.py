"""Tests for a message the journal refuses: it is kept or dropped, later ones still flow."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pipeline_receive_helpers import Rig, count, no_leaks, run

from gateway.journal import SqliteJournal


@pytest.fixture
def leaks() -> Iterator[set[str]]:
    """Capture every log event of the test; fail if one holds a code, body or PDU."""
    with no_leaks() as secrets:
        yield secrets


def trigger(tmp_path: Path, sql: str) -> Callable[[SqliteJournal], None]:
    """Return a ``before`` hook adding a refusing trigger to the journal file itself."""

    def add(_journal: SqliteJournal) -> None:
        conn = sqlite3.connect(tmp_path / "journal.sqlite3")
        try:
            conn.execute(sql)
            conn.commit()
        finally:
            conn.close()

    return add


def test_refused_code_is_kept_without_it_and_later_codes_flow(
    tmp_path: Path, leaks: set[str]
) -> None:
    """A code row the journal refuses: the message is kept as ``refused``, the next relayed."""
    refuse = trigger(
        tmp_path,
        "CREATE TRIGGER refuse BEFORE INSERT ON codes WHEN NEW.code = '111222' "
        "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END",
    )

    async def scenario(rig: Rig) -> None:
        rig.inject("@example.com #111222")
        await rig.wait(count("store_refused", 1))
        rig.inject("@example.com #333444", sender="+15550001234")
        (record,) = await rig.codes(1)
        assert record.code == "333444"
        snapshot = await rig.wait(count("kept.refused", 1))
        assert snapshot.get("store_failed", 0) == 0
        assert snapshot.get("dropped", 0) == 0
        assert [c.code for c in rig.journal.codes()] == ["333444"]
        assert rig.journal.message_decision(1) == "refused"

    run(tmp_path, leaks, scenario, before=refuse)


def test_refused_message_is_dropped_and_does_not_hold_later_ones(
    tmp_path: Path, leaks: set[str]
) -> None:
    """A message row refused even without a code is dropped (counted); the next is relayed."""
    refuse = trigger(
        tmp_path,
        "CREATE TRIGGER refuse BEFORE INSERT ON messages WHEN NEW.sender LIKE '%0009999' "
        "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END",
    )

    async def scenario(rig: Rig) -> None:
        rig.inject("@example.com #111222", sender="+15550009999")
        await rig.wait(count("dropped", 1))
        rig.inject("@example.com #333444", sender="+15550001234")
        (record,) = await rig.codes(1)
        assert record.code == "333444"
        snapshot = rig.pipeline.snapshot()
        assert snapshot["store_refused"] == 1
        assert snapshot.get("store_failed", 0) == 0

    run(tmp_path, leaks, scenario, before=refuse)
