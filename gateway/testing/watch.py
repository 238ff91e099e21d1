"""Wait for the files a peer program writes into a spool directory, via inotify(7).

The standard library has no inotify binding, so it is called through libc. Waiting is
readiness-based: ``select`` on the inotify descriptor, never a sleep or a polling loop.
"""

from __future__ import annotations

import ctypes
import os
import select
import struct
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from gateway.testing.peers import PeerError

IN_CLOSE_WRITE = 0x00000008
IN_MOVED_TO = 0x00000080
_EVENT = struct.Struct("iIII")  # struct inotify_event: wd, mask, cookie, len (+ name)
_libc = ctypes.CDLL(None, use_errno=True)


class DirectoryWatch:
    """Names of files completed in one directory: closed after writing, or renamed in.

    Files already there when the watch starts count as completed. Use as a context
    manager around the action that makes the peer write.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._fd = -1
        self._completed: dict[str, None] = {}  # ordered set of names

    def __enter__(self) -> DirectoryWatch:
        fd = _libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if fd < 0:
            raise PeerError(f"inotify_init1 failed: {os.strerror(ctypes.get_errno())}")
        mask = IN_CLOSE_WRITE | IN_MOVED_TO
        if _libc.inotify_add_watch(fd, os.fsencode(self.directory), mask) < 0:
            err = ctypes.get_errno()
            os.close(fd)
            raise PeerError(f"cannot watch {self.directory}: {os.strerror(err)}")
        self._fd = fd
        # listed after the watch exists: a file cannot slip between the two
        self._completed.update(dict.fromkeys(sorted(p.name for p in self.directory.iterdir())))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def wait(
        self, count: int = 1, *, timeout: float, match: Callable[[str], bool] = lambda _: True
    ) -> list[Path]:
        """Return the first ``count`` completed files whose name matches, in order.

        Raises PeerError if they are not there within ``timeout`` seconds.
        """

        def found() -> list[str]:
            return [n for n in self._completed if match(n)]

        self.wait_until(lambda: len(found()) >= count, timeout=timeout, what=f"{count} file(s)")
        return [self.directory / n for n in found()[:count]]

    def wait_until(self, condition: Callable[[], bool], *, timeout: float, what: str) -> None:
        """Return once ``condition()`` holds, re-checked whenever a file here completes.

        Raises PeerError naming ``what`` and the directory listing after ``timeout`` s.
        """
        if self._fd < 0:
            raise PeerError("watch not started (use it as a context manager)")
        deadline = time.monotonic() + timeout
        while not condition():
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self._fd], [], [], remaining)[0]:
                listing = sorted(p.name for p in self.directory.iterdir())
                raise PeerError(f"no {what} in {self.directory} after {timeout} s: {listing}")
            self._read_events()

    def _read_events(self) -> None:
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
                self._completed[os.fsdecode(name)] = None
