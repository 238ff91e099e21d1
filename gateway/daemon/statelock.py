"""One daemon per state directory: an ``flock`` on a lock file there, held for the process's life.

Two daemons sharing a journal would both sweep, record and delete the same SMS and send
the same queued jobs. ``flock(2)`` (not ``fcntl`` record locks, which any ``close`` of the
file by the same process drops) on ``otp-gateway.lock`` is released by the kernel when the
holder exits, however it exits, so a ``kill -9`` never leaves a stale lock behind. The
holder's pid is written into the file only to name it in the second daemon's error.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from gateway.errors import UsageError

#: The lock file's name inside the state directory.
LOCKNAME = "otp-gateway.lock"


class StateDirBusy(UsageError):
    """Another otp-gateway holds the state directory (its journal) already."""


class StateLock:
    """The exclusive lock on one state directory; :meth:`release` or process exit frees it."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, state_dir: Path) -> StateLock:
        """Lock ``state_dir`` for this process (creating the lock file, mode 0600).

        Returns the held lock; raises :class:`StateDirBusy` naming the holder's pid when
        another process holds it, :class:`UsageError` when the file cannot be opened.
        """
        path = Path(state_dir) / LOCKNAME
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise UsageError(f"cannot open the state directory lock {path}: {exc}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            who = f"another otp-gateway (pid {holder})" if holder else "another otp-gateway"
            raise StateDirBusy(
                f"state directory {state_dir} is in use by {who}: two daemons must not share "
                "one journal; stop the other one or give this one its own [journal] state_dir"
            ) from None
        except OSError as exc:
            os.close(fd)
            raise UsageError(f"cannot lock the state directory {state_dir}: {exc}") from exc
        with contextlib.suppress(OSError):  # the pid is only for the error message above
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return cls(path, fd)

    @property
    def held(self) -> bool:
        """Return True until :meth:`release`."""
        return self._fd is not None

    def release(self) -> None:
        """Unlock and close (idempotent); the file stays, empty of meaning."""
        if self._fd is not None:
            os.close(self._fd)  # closing the only descriptor drops the flock
            self._fd = None


def _holder(fd: int) -> int | None:
    """Return the pid the holder wrote into the lock file, if it is a number."""
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
