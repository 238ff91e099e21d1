"""Tests for the daemon's journal watch: one log line per episode, capped probes, resumption."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from journal_helpers import fill_up, free_space

from gateway import log as gwlog
from gateway.daemon.journalwatch import JournalWatch
from gateway.errors import UsageError
from gateway.journal import JournalHealth, JournalUnavailable, SqliteJournal


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[SqliteJournal]:
    """A journal in tmp_path/state."""
    state = tmp_path / "state"
    state.mkdir()
    with SqliteJournal.in_state_dir(
        state, body_retention=86400.0, code_retention=86400.0
    ) as opened:
        yield opened


class Told:
    """What the watch told the daemon: each health change, and each recovery (waitable)."""

    def __init__(self) -> None:
        self.changes: list[JournalHealth] = []
        self.recoveries = 0
        self.changed = asyncio.Event()
        self.recovered = asyncio.Event()

    def change(self, health: JournalHealth) -> None:
        """on_change callback."""
        self.changes.append(health)
        self.changed.set()

    def recover(self) -> None:
        """on_recovered callback."""
        self.recoveries += 1
        self.recovered.set()


def record(journal: SqliteJournal, index: int) -> None:
    """Record one PDU (distinct per index)."""
    journal.record_pdu(modem="m1", memory="SM", index=index, pdu_hex=f"00{index:04X}", now=1.0)


def test_an_episode_is_logged_once_and_its_end_sweeps(
    tmp_path: Path, journal: SqliteJournal
) -> None:
    """Moved away: one error however many writes fail; back: probed, one warning, one sweep."""

    async def scenario() -> list[str]:
        told = Told()
        watch = JournalWatch(
            journal, on_change=told.change, on_recovered=told.recover, probe_first=0.01
        )
        with gwlog.capture() as events:
            watch.start()
            (tmp_path / "state").rename(tmp_path / "away")
            for index in range(5):
                with pytest.raises(JournalUnavailable):
                    record(journal, index)
            await asyncio.wait_for(told.changed.wait(), 10)
            assert watch.retry_at is not None
            (tmp_path / "away").rename(tmp_path / "state")
            await asyncio.wait_for(told.recovered.wait(), 10)
            watch.cancel()
        assert told.recoveries == 1
        assert told.changes[0].healthy is False
        assert told.changes[-1].healthy is True
        assert watch.retry_at is None
        return [str(e["event"]) for e in events if str(e["event"]).startswith("journal.")]

    assert asyncio.run(scenario()) == ["journal.degraded", "journal.recovered"]


def test_probes_back_off_to_the_cap(tmp_path: Path, journal: SqliteJournal) -> None:
    """Each failed probe doubles the wait up to the cap (a full disk may stay full for hours)."""

    async def scenario() -> list[float]:
        told = Told()
        watch = JournalWatch(
            journal,
            on_change=told.change,
            on_recovered=told.recover,
            probe_first=100.0,  # long: the real timers never fire during the test
            probe_cap=800.0,
            clock=lambda: 1000.0,
        )
        watch.start()
        shutil.rmtree(tmp_path / "state")
        journal.verify()
        await asyncio.wait_for(told.changed.wait(), 10)
        waits = []
        for _ in range(5):
            assert watch.retry_at is not None
            waits.append(watch.retry_at - 1000.0)
            watch._run_probe()  # what the timer would do; the timers' delays are long
        watch.cancel()
        assert told.recoveries == 0
        return waits

    assert asyncio.run(scenario()) == [100.0, 200.0, 400.0, 800.0, 800.0]


def test_the_periodic_check_notices_a_deleted_directory(
    tmp_path: Path, journal: SqliteJournal
) -> None:
    """With no write at all, the timer's identity check finds the deleted state directory."""

    async def scenario() -> JournalHealth:
        told = Told()
        watch = JournalWatch(
            journal, on_change=told.change, on_recovered=told.recover, check_every=0.01
        )
        watch.start()
        shutil.rmtree(tmp_path / "state")
        await asyncio.wait_for(told.changed.wait(), 10)
        watch.cancel()
        return told.changes[0]

    health = asyncio.run(scenario())
    assert not health.healthy
    assert health.replaced


def test_a_relapse_right_after_recovery_backs_off_further(journal: SqliteJournal) -> None:
    """A disk that fails again just after a recovery is probed later, not at the first delay."""

    async def scenario() -> float | None:
        told = Told()
        watch = JournalWatch(
            journal,
            on_change=told.change,
            on_recovered=told.recover,
            probe_first=100.0,  # long: the real timers never fire during the test
            probe_cap=800.0,
            clock=lambda: 1000.0,
        )
        watch.start()
        fill_up(journal)
        await asyncio.wait_for(told.changed.wait(), 10)
        assert watch.retry_at == 1100.0
        free_space(journal)
        watch._run_probe()  # what the timer would do
        await asyncio.wait_for(told.recovered.wait(), 10)
        told.changed.clear()
        fill_up(journal)  # full again at once
        await asyncio.wait_for(told.changed.wait(), 10)
        retry_at = watch.retry_at
        watch.cancel()
        return retry_at

    assert asyncio.run(scenario()) == 1200.0


def test_a_first_probe_longer_than_the_cap_is_refused(journal: SqliteJournal) -> None:
    """A probe delay that starts above its cap (or at zero) is a usage error at construction."""
    told = Told()
    for first, cap in ((120.0, 60.0), (0.0, 60.0)):
        with pytest.raises(UsageError):
            JournalWatch(
                journal,
                on_change=told.change,
                on_recovered=told.recover,
                probe_first=first,
                probe_cap=cap,
            )
