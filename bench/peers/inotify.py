"""Timestamp files a peer completes in a directory, event-driven in the bench's event loop.

inotify(7) through :mod:`gateway.inotify`, its descriptor registered with
``loop.add_reader``: the callback runs as soon as the loop sees the event and takes
``time.monotonic()`` first, so the resolution is the loop's wake-up time (microseconds
on an idle loop), not a polling interval.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from pathlib import Path

from gateway.inotify import IN_CLOSE_WRITE, IN_MOVED_TO, open_watch, read_events


class FileWatch:
    """Calls ``on_file(name, monotonic_time)`` for each file closed after writing or renamed in."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        directory: Path,
        on_file: Callable[[str, float], None],
    ) -> None:
        self.directory = directory
        self._loop = loop
        self._on_file = on_file
        self._fd = -1

    def start(self) -> None:
        """Start watching; raise :class:`gateway.inotify.WatchError` if inotify refuses."""
        self._fd = open_watch(self.directory, IN_CLOSE_WRITE | IN_MOVED_TO)
        self._loop.add_reader(self._fd, self._readable)

    def close(self) -> None:
        """Stop watching (idempotent)."""
        if self._fd >= 0:
            self._loop.remove_reader(self._fd)
            os.close(self._fd)
            self._fd = -1

    def _readable(self) -> None:
        now = time.monotonic()
        for _, name in read_events(self._fd):
            if name:
                self._on_file(name, now)
