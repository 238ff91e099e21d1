"""Tests for the sweep and expiry timers: they queue work items and can be replaced."""

from __future__ import annotations

import asyncio

from gateway.pipeline.schedule import EXPIRE, SWEEP, Timers


def test_timers_queue_their_items() -> None:
    """A due expiry and a sweep put their items on the queue, expiry first."""

    async def main() -> list[str]:
        queue: asyncio.Queue[str] = asyncio.Queue()
        timers = Timers(queue.put_nowait)
        timers.arm_expiry(deadline=5.0, now=10.0)  # already due: no negative delay
        timers.arm_sweep(0.01)
        items = [await asyncio.wait_for(queue.get(), 5) for _ in range(2)]
        timers.cancel()
        return items

    assert asyncio.run(main()) == [EXPIRE, SWEEP]


def test_rearming_replaces_and_none_disarms() -> None:
    """Re-arming cancels the pending timer; a None deadline leaves no expiry timer."""

    async def main() -> list[str]:
        queue: asyncio.Queue[str] = asyncio.Queue()
        timers = Timers(queue.put_nowait)
        timers.arm_sweep(3600)
        timers.arm_sweep(0.0)  # replaces the hour-long one
        timers.arm_expiry(deadline=0.0, now=0.0)
        timers.arm_expiry(deadline=None, now=0.0)  # nothing held any more
        first = await asyncio.wait_for(queue.get(), 5)
        timers.arm_sweep(0.0)
        second = await asyncio.wait_for(queue.get(), 5)
        timers.cancel()
        return [first, second, *([queue.get_nowait()] if not queue.empty() else [])]

    assert asyncio.run(main()) == [SWEEP, SWEEP]
