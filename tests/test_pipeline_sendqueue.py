"""Tests for the send queue's index: due order, backoff and expiry timers, watchers."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from pathlib import Path

from pipeline_send_helpers import run

from gateway.jobs import JobEvent as Step
from gateway.jobs import JobState
from gateway.journal import SqliteJournal
from gateway.pipeline.sendqueue import JobMover, JobQueue, Watchers
from gateway.relay.ports import JobEvent, JobStatus


def never() -> bool:
    """A stop predicate that never stops."""
    return False


def test_take_returns_due_jobs_oldest_not_before_first() -> None:
    """Jobs come out by not_before, and one in backoff waits for its timer."""

    async def scenario() -> list[str]:
        expired: list[str] = []
        queue = JobQueue(clock=time.time, on_expire=expired.append)
        now = time.time()
        queue.push("later", not_before=now + 0.05, expires_at=now + 60)
        queue.push("b", not_before=now - 1, expires_at=now + 60)
        queue.push("a", not_before=now - 2, expires_at=now + 60)
        taken = [await queue.take(never) for _ in range(3)]
        assert time.time() >= now + 0.05  # "later" waited for its backoff
        assert len(queue) == 0
        assert expired == []
        queue.close()
        return [t for t in taken if t is not None]

    assert run(scenario) == ["a", "b", "later"]


def test_a_job_left_in_the_queue_expires_by_timer() -> None:
    """An untaken job's expiry timer calls on_expire once and drops it from the queue."""

    async def scenario() -> None:
        fired = asyncio.Event()
        expired: list[str] = []

        def on_expire(job_id: str) -> None:
            expired.append(job_id)
            fired.set()

        queue = JobQueue(clock=time.time, on_expire=on_expire)
        now = time.time()
        queue.push("x", not_before=now + 60, expires_at=now + 0.02)
        await fired.wait()
        assert expired == ["x"]
        assert "x" not in queue
        queue.close()

    run(scenario)


def test_push_again_replaces_the_earlier_entry() -> None:
    """Pushing a queued job again (a retry) keeps one entry with the new not_before."""

    async def scenario() -> None:
        queue = JobQueue(clock=time.time, on_expire=lambda job_id: None)
        now = time.time()
        queue.push("x", not_before=now + 3600, expires_at=now + 7200)
        queue.push("x", not_before=now - 1, expires_at=now + 7200)
        assert len(queue) == 1
        assert await queue.take(never) == "x"
        queue.close()

    run(scenario)


def test_take_returns_none_once_stopped() -> None:
    """A waiting take returns None when it is woken and its stop predicate is true."""

    async def scenario() -> int:
        queue = JobQueue(clock=time.time, on_expire=lambda job_id: None)
        calls = 0

        def stop() -> bool:
            nonlocal calls
            calls += 1
            if calls == 1:  # not yet: wake it once it waits, then say stop
                asyncio.get_running_loop().call_soon(queue.notify)
                return False
            return True

        assert await queue.take(stop) is None
        return calls

    assert run(scenario) == 2


def test_watchers_get_events_of_their_job_only() -> None:
    """Each subscriber receives its job's events; unsubscribing removes the queue."""

    async def scenario() -> None:
        watchers = Watchers()
        at = dt.datetime.now(dt.UTC)
        with watchers.subscribe("a") as queue_a, watchers.subscribe("b") as queue_b:
            assert len(watchers) == 2
            watchers.publish(JobEvent(job_id="a", status=JobStatus.SENDING, at=at))
            assert (await queue_a.get()).status is JobStatus.SENDING
            assert queue_b.empty()
        assert len(watchers) == 0
        watchers.publish(JobEvent(job_id="a", status=JobStatus.SENT, at=at))  # nobody listens

    run(scenario)


def test_mover_commits_then_publishes(tmp_path: Path) -> None:
    """A move is in the journal (with its detail) before the watcher hears of it."""

    async def scenario() -> None:
        journal = SqliteJournal(tmp_path / "journal.sqlite3")
        now = time.time()
        journal.create_job(
            job_id="j",
            number="+14155552671",
            origin="example.com",
            embedded=None,
            text="@example.com #123456",
            now=now,
            expires_at=now + 600,
        )
        mover = JobMover(journal, time.time)
        with mover.watchers.subscribe("j") as queue:
            moved = mover.move(journal.job("j"), Step.START, modem="m0")
            assert moved.state is JobState.SENDING
            event = await queue.get()
            assert event.status is JobStatus.SENDING
            assert journal.job("j").modem == "m0"
        assert mover.counts["sending"] == 1
        journal.close()

    run(scenario)


class SteppedClock:
    """A wall clock the test steps, as NTP or an operator would: time.time() plus offset."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


def test_backoff_ends_after_its_monotonic_delay_when_the_wall_clock_steps() -> None:
    """A job in backoff is due after its delay on the loop's clock, whether the wall clock
    then steps back an hour (not held) or forward an hour (not released early)."""

    async def scenario() -> list[float]:
        wall = SteppedClock()
        queue = JobQueue(clock=wall, on_expire=lambda job_id: None)
        loop = asyncio.get_running_loop()
        waited = []
        for step in (-3600.0, 3600.0):
            wall.offset = 0.0
            now, start = wall(), loop.time()
            queue.push("x", not_before=now + 0.2, expires_at=now + 600)
            wall.offset = step
            async with asyncio.timeout(5):
                assert await queue.take(never) == "x"
            waited.append(loop.time() - start)
        queue.close()
        return waited

    for waited in run(scenario):
        assert 0.19 <= waited < 5


def test_expiry_fires_after_its_monotonic_delay_when_the_wall_clock_steps_back() -> None:
    """A queued job's expiry timer fires after expires_at - now on the loop's clock even
    when the wall clock steps back an hour meanwhile."""

    async def scenario() -> float:
        wall = SteppedClock()
        fired = asyncio.Event()
        queue = JobQueue(clock=wall, on_expire=lambda job_id: fired.set())
        loop = asyncio.get_running_loop()
        now, start = wall(), loop.time()
        queue.push("x", not_before=now + 60, expires_at=now + 0.1)
        wall.offset = -3600.0
        queue.push("y", not_before=wall() + 60, expires_at=wall() + 600)  # re-arms the wake-up
        async with asyncio.timeout(5):
            await fired.wait()
        queue.close()
        return loop.time() - start

    assert 0.09 <= run(scenario) < 5
