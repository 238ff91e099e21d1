"""Tests for the daemon's watchdog and journal-retention timers."""

from __future__ import annotations

import asyncio

from gateway.daemon.timers import Timers
from gateway.log import capture
from gateway.sdnotify import Notifier


def test_a_failing_purge_is_logged_with_its_traceback() -> None:
    """A purge that raises is logged with where it was raised, not only its type."""
    calls: list[int] = []

    def purge() -> None:
        calls.append(1)
        raise OSError("disk gone while purging +15551234567")

    async def scenario() -> None:
        timers = Timers(environ={})
        timers.start(Notifier({}), lambda: True, purge)
        timers.cancel()

    with capture() as events:
        asyncio.run(scenario())
    assert calls == [1]
    (failed,) = [e for e in events if e["event"] == "journal.purge_failed"]
    assert failed["error"] == "OSError"
    assert failed["frames"][-1].endswith("in purge")
    assert "disk gone" not in str(failed)  # where it was raised, never the message
