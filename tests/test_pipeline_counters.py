"""Tests for the receive pipeline's counters and the guard around consumer callbacks."""

from __future__ import annotations

import asyncio

from gateway import log as gwlog
from gateway.pipeline.counters import Counters, call_consumer


def test_count_wakes_a_waiter() -> None:
    """A waiter on changed() returns once a counter moves; snapshot is sorted."""

    async def main() -> dict[str, int]:
        counters = Counters()
        loop = asyncio.get_running_loop()
        loop.call_soon(counters.count, "zeta")  # runs once the wait below has begun
        loop.call_soon(counters.count, "alpha", 3)
        async with asyncio.timeout(5):
            await counters.changed()
        return counters.snapshot()

    snapshot = asyncio.run(main())
    assert list(snapshot.items()) == [("alpha", 3), ("zeta", 1)]


def test_call_consumer_swallows_and_counts_failures() -> None:
    """A consumer's exception is counted, logged by type and, at debug, by frames without
    its message; a good call goes through."""
    counters = Counters()
    seen: list[object] = []

    def broken(*args: object) -> None:
        raise RuntimeError("the code 123456 in an error message")

    with gwlog.capture() as events:
        call_consumer(counters, "m1", broken, "x")
        call_consumer(counters, "m1", seen.append, "y")
    assert seen == ["y"]
    assert counters.snapshot() == {"callback_errors": 1}
    assert [(e["event"], e["error"], e["log_level"]) for e in events] == [
        ("receive.callback_failed", "RuntimeError", "error"),
        ("receive.callback_traceback", "RuntimeError", "debug"),
    ]
    assert events[1]["frames"][-1].endswith(" in broken")  # where the bug is
    assert "123456" not in repr(events)
