"""inotify(7) through libc: open a watch, split what its descriptor reads into events.

The standard library has no inotify binding. Shared by the simulator's pty (a client
opening or closing ``/dev/pts/N``, the descriptor on the event loop), by
:mod:`gateway.testing.watch` (blocking waits with ``select``) and by the peer benchmark
(``add_reader``); each waits for readiness in its own way, none polls.
"""

from __future__ import annotations

import ctypes
import os
import struct
from pathlib import Path

IN_CLOSE_WRITE = 0x00000008
IN_CLOSE_NOWRITE = 0x00000010
IN_OPEN = 0x00000020
IN_MOVED_TO = 0x00000080
#: struct inotify_event: wd, mask, cookie, len, then ``len`` bytes of NUL-padded name
_EVENT = struct.Struct("iIII")
_libc = ctypes.CDLL(None, use_errno=True)


class WatchError(OSError):
    """inotify could not be set up on a path."""


def open_watch(path: Path, mask: int) -> int:
    """Return a non-blocking, close-on-exec inotify descriptor watching ``path`` for ``mask``.

    The caller closes it with ``os.close``. Raises WatchError naming the reason.
    """
    fd: int = _libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
    if fd < 0:
        raise WatchError(f"inotify_init1 failed: {os.strerror(ctypes.get_errno())}")
    if _libc.inotify_add_watch(fd, os.fsencode(path), mask) < 0:
        error = ctypes.get_errno()
        os.close(fd)
        raise WatchError(f"cannot watch {path}: {os.strerror(error)}")
    return fd


def parse_events(data: bytes) -> list[tuple[int, str]]:
    """Return the ``(mask, name)`` of each event in ``data``, one read of the descriptor.

    ``name`` is empty for an event on the watched path itself. A read returns whole
    events only (inotify(7)), so ``data`` never ends inside one.
    """
    events = []
    offset = 0
    while offset < len(data):
        _, mask, _, length = _EVENT.unpack_from(data, offset)
        start = offset + _EVENT.size
        name = data[start : start + length].rstrip(b"\0")
        offset = start + length
        events.append((mask, os.fsdecode(name)))
    return events


def read_events(fd: int) -> list[tuple[int, str]]:
    """Return the events waiting on inotify descriptor ``fd`` (none if nothing is waiting)."""
    try:
        data = os.read(fd, 65536)
    except BlockingIOError:
        return []
    return parse_events(data)
