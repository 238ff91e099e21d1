"""Timestamp files a peer completes in a directory, event-driven in the bench's event loop.

inotify(7) through libc (the standard library has no binding), its descriptor registered
with ``loop.add_reader``: the callback runs as soon as the loop sees the event and takes
``time.monotonic()`` first, so the resolution is the loop's wake-up time (microseconds
on an idle loop), not a polling interval.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import struct
import time
from collections.abc import Callable
from pathlib import Path

IN_CLOSE_WRITE = 0x00000008
IN_MOVED_TO = 0x00000080
_EVENT = struct.Struct("iIII")  # struct inotify_event: wd, mask, cookie, len (+ name)
_libc = ctypes.CDLL(None, use_errno=True)


class WatchError(OSError):
    """inotify could not be set up on a directory."""


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
        """Start watching; raise WatchError if inotify refuses."""
        fd = _libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if fd < 0:
            raise WatchError(f"inotify_init1: {os.strerror(ctypes.get_errno())}")
        mask = IN_CLOSE_WRITE | IN_MOVED_TO
        if _libc.inotify_add_watch(fd, os.fsencode(self.directory), mask) < 0:
            error = ctypes.get_errno()
            os.close(fd)
            raise WatchError(f"cannot watch {self.directory}: {os.strerror(error)}")
        self._fd = fd
        self._loop.add_reader(fd, self._readable)

    def close(self) -> None:
        """Stop watching (idempotent)."""
        if self._fd >= 0:
            self._loop.remove_reader(self._fd)
            os.close(self._fd)
            self._fd = -1

    def _readable(self) -> None:
        now = time.monotonic()
        try:
            data = os.read(self._fd, 65536)
        except BlockingIOError:
            return
        offset = 0
        while offset < len(data):
            _, _, _, length = _EVENT.unpack_from(data, offset)
            start = offset + _EVENT.size
            name = data[start : start + length].rstrip(b"\0")
            offset = start + length
            if name:
                self._on_file(os.fsdecode(name), now)
