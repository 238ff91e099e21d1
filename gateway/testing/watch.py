"""Wait for the files a peer program writes into a spool directory, via inotify(7).

inotify is reached through :mod:`gateway.inotify`. Waiting is readiness-based:
``select`` on the inotify descriptor, never a sleep or a polling loop.
"""

from __future__ import annotations

import os
import select
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Self

from gateway.inotify import (
    IN_CLOSE_NOWRITE,
    IN_CLOSE_WRITE,
    IN_MOVED_TO,
    IN_OPEN,
    WatchError,
    open_watch,
    read_events,
)
from gateway.testing.peers import PeerError


class _Watch(ABC):
    """One inotify watch on ``path``; subclasses record the events they care about."""

    mask = 0

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = -1

    def __enter__(self) -> Self:
        try:
            self._fd = open_watch(self.path, self.mask)
        except WatchError as exc:
            raise PeerError(str(exc)) from exc
        self._started()
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

    def _started(self) -> None:  # noqa: B027 - an optional hook: a no-op unless overridden
        """Hook run once the watch exists."""

    @abstractmethod
    def _event(self, mask: int, name: str) -> None:
        """Record one inotify event (``name`` is empty for the watched path itself)."""

    def _describe(self) -> str:
        return str(self.path)

    def wait_until(self, condition: Callable[[], bool], *, timeout: float, what: str) -> None:
        """Return once ``condition()`` holds, re-checked after every batch of events.

        Raises PeerError naming ``what`` and what was seen after ``timeout`` seconds.
        """
        if self._fd < 0:
            raise PeerError("watch not started (use it as a context manager)")
        deadline = time.monotonic() + timeout
        while not condition():
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self._fd], [], [], remaining)[0]:
                raise PeerError(f"no {what} after {timeout} s: {self._describe()}")
            for mask, name in read_events(self._fd):
                self._event(mask, name)


class DirectoryWatch(_Watch):
    """Names of files completed in one directory: closed after writing, or renamed in.

    Files already there when the watch starts count as completed. Use as a context
    manager around the action that makes the peer write.
    """

    mask = IN_CLOSE_WRITE | IN_MOVED_TO

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.directory = directory
        self._completed: dict[str, None] = {}  # ordered set of names

    def _started(self) -> None:
        # listed after the watch exists: a file cannot slip between the two
        self._completed.update(dict.fromkeys(sorted(p.name for p in self.directory.iterdir())))

    def _event(self, mask: int, name: str) -> None:
        if name:
            self._completed[name] = None

    def _describe(self) -> str:
        return f"{self.directory} holds {sorted(p.name for p in self.directory.iterdir())}"

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


class DeviceWatch(_Watch):
    """Counts opens and closes of a device node (a pty slave) by any process.

    A symlink is resolved first: inotify reports events on the node itself. inotify
    merges an event with an identical one still unread, so the counts are lower bounds.
    """

    mask = IN_OPEN | IN_CLOSE_WRITE | IN_CLOSE_NOWRITE

    def __init__(self, device: Path) -> None:
        super().__init__(device.resolve())
        self.opens = 0
        self.closes = 0

    def _event(self, mask: int, name: str) -> None:
        self.opens += bool(mask & IN_OPEN)
        self.closes += bool(mask & (IN_CLOSE_WRITE | IN_CLOSE_NOWRITE))

    def _describe(self) -> str:
        return f"{self.path} opened {self.opens}, closed {self.closes} times"

    def wait_closes(self, count: int, *, timeout: float) -> None:
        """Return once the device was closed ``count`` times since the watch started.

        Raises PeerError after ``timeout`` seconds.
        """
        self.wait_until(lambda: self.closes >= count, timeout=timeout, what=f"{count} close(s)")
