"""Tests for what the receive pipeline recovers after a restart or a failed journal write."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pipeline_receive_helpers import SCTS, SENDER, Rig, count, fresh_scts, no_leaks, run

from gateway.journal import SqliteJournal
from gateway.sms import encode_deliver, encode_status_report, encode_submit


@pytest.fixture
def leaks() -> Iterator[set[str]]:
    """Capture every log event of the test; fail if one holds a code, body or PDU."""
    with no_leaks() as secrets:
        yield secrets


def task_of(rig: Rig) -> asyncio.Task[None]:
    """Return the running pipeline task of ``rig``."""
    assert rig.task is not None
    return rig.task


def test_recorded_parts_survive_a_pipeline_restart(tmp_path: Path, leaks: set[str]) -> None:
    """Part 1 recorded before a restart is joined with part 2 arriving after it."""
    text = "y" * 150 + " and the rest of the message\n@example.com #818181"
    first, second = encode_deliver(SENDER, text, scts=fresh_scts(), concat_reference=77)

    async def scenario(rig: Rig) -> None:
        leaks.update({first.hex, second.hex, text, "818181"})
        rig.modem.inject_pdu(first.hex)
        await rig.wait(count("deleted", 1))
        old = task_of(rig)
        old.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await old
        pipeline = rig.restart_pipeline(old)
        rig.task = asyncio.create_task(pipeline.run())
        snapshot = await rig.wait(count("rebuilt_parts", 1))
        assert snapshot["pending_parts"] == 1
        rig.modem.inject_pdu(second.hex)
        (record,) = await rig.codes(1)
        assert record.code == "818181"
        assert rig.journal.pdus(unassembled=True) == []

    run(tmp_path, leaks, scenario)


def test_report_recorded_before_a_crash_is_replayed_once(tmp_path: Path, leaks: set[str]) -> None:
    """A report journalled but never handed on (crash) is handed on at the next start, once."""
    report = encode_status_report(reference=42, recipient="+15550001111", scts=SCTS, discharge=SCTS)
    leaks.add(report.hex)
    with SqliteJournal(tmp_path / "journal.sqlite3") as journal:
        journal.record_pdu(modem="m1", memory="SR", index=0, pdu_hex=report.hex, now=1.0)

    async def scenario(rig: Rig) -> None:
        await rig.wait(count("replayed_reports", 1))
        assert [(m, r.reference) for m, r in rig.sink.reports] == [("m1", 42)]
        assert rig.journal.pdus(unassembled=True) == []
        old = task_of(rig)
        old.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await old
        pipeline = rig.restart_pipeline(old)
        rig.task = asyncio.create_task(pipeline.run())
        snapshot = await rig.wait(count("sweeps", 1))  # the rebuild runs before the sweep
        assert "replayed_reports" not in snapshot
        assert len(rig.sink.reports) == 1

    run(tmp_path, leaks, scenario)


def test_live_report_is_marked_handled(tmp_path: Path, leaks: set[str]) -> None:
    """A report handed on as it arrives is marked handled, so no restart reads it back."""

    async def scenario(rig: Rig) -> None:
        (part,) = encode_submit("+15551230000", "hello", request_status_report=True)
        await rig.session.send_pdu(part.hex, part.tpdu_length)
        async with asyncio.timeout(15):
            await rig.sink.until(lambda: bool(rig.sink.reports))
        assert rig.journal.pdus(unassembled=True) == []
        (stored,) = rig.journal.pdus()
        assert stored.handled_at is not None

    run(tmp_path, leaks, scenario)


class FullOnce(SqliteJournal):
    """A journal whose disk is full once, after the message was written, at the code.

    Fault injection at the I/O boundary, not a mock of the logic under test: the
    counter update that follows the code insert raises SQLite's own "database or disk
    is full" error, as a full disk would at that write.
    """

    fail = 1

    def _bump(self, conn: sqlite3.Connection, name: str, by: int = 1) -> None:
        if name == "codes.received" and self.fail:
            self.fail -= 1
            raise sqlite3.OperationalError("database or disk is full")
        super()._bump(conn, name, by)


def test_code_whose_store_failed_is_stored_and_relayed_later(
    tmp_path: Path, leaks: set[str]
) -> None:
    """A full disk while storing a message leaves nothing half-written; a retry relays it."""

    async def scenario(rig: Rig) -> None:
        rig.inject("@example.com #909090")
        await rig.wait(count("store_failed", 1))
        assert rig.journal.codes() == []
        (record,) = await rig.codes(1)
        assert record.code == "909090"
        (code,) = rig.journal.codes()
        assert code.message_id is not None
        assert rig.journal.message_decision(code.message_id) == "code"
        assert rig.journal.pdus(unassembled=True) == []
        assert rig.journal.counters()["messages.complete"] == 1
        snapshot = await rig.wait(count("deleted", 1))  # the PDU was recorded: the copy goes
        assert "errors" not in snapshot

    run(tmp_path, leaks, scenario, journal_type=FullOnce)


def test_code_whose_store_failed_before_a_crash_is_relayed_after_restart(
    tmp_path: Path, leaks: set[str]
) -> None:
    """Message and code are one transaction: after a failed store and a crash, the restart
    rebuilds the message from its PDU and relays the code."""

    async def scenario(rig: Rig) -> None:
        rig.inject("@example.com #313131")
        await rig.wait(count("store_failed", 1))
        old = task_of(rig)
        old.cancel()  # the crash, before the retry
        with contextlib.suppress(asyncio.CancelledError):
            await old
        assert rig.journal.codes() == []
        assert rig.journal.undecided("m1") == []
        assert len(rig.journal.pdus(unassembled=True)) == 1
        pipeline = rig.restart_pipeline(old)
        rig.task = asyncio.create_task(pipeline.run())
        (record,) = await rig.codes(1)
        assert record.code == "313131"
        assert rig.journal.pdus(unassembled=True) == []

    run(tmp_path, leaks, scenario, journal_type=FullOnce)


def test_messages_stored_without_a_decision_are_judged_at_start(
    tmp_path: Path, leaks: set[str]
) -> None:
    """A message an older version stored without its code (crash between two commits) is
    judged at the next start: a valid code is relayed, a stale one kept as expired."""
    fresh, stale = "@example.com #246802", "@example.com #135791"
    leaks.update({fresh, stale, "246802", "135791"})

    def older_version(journal: SqliteJournal) -> None:
        now = time.time()
        for at, text in ((now - 3600.0, stale), (now, fresh)):
            (pdu,) = encode_deliver(SENDER, text, scts=datetime.fromtimestamp(at, tz=UTC))
            leaks.add(pdu.hex)
            row = journal.record_pdu(modem="m1", memory="SM", index=0, pdu_hex=pdu.hex, now=at)
            journal.store_message(
                modem="m1",
                sender=SENDER,
                scts=datetime.fromtimestamp(at, tz=UTC),
                text=text,
                parts=1,
                expected_parts=1,
                now=at,
                pdu_ids=[row.id],
            )

    async def scenario(rig: Rig) -> None:
        (record,) = await rig.codes(1)
        snapshot = await rig.wait(count("kept.expired", 1))
        assert record.code == "246802"
        assert snapshot["redecided"] == 2
        assert rig.journal.undecided("m1") == []
        assert [rig.journal.message_decision(i) for i in (1, 2)] == ["expired", "code"]

    run(tmp_path, leaks, scenario, before=older_version)
