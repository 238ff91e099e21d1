"""Whether the journal's writes are durable where they belong: committed, in the file at its path.

Two things break that without SQLite saying so at once. A full, read-only or failing disk
makes a commit fail (SQLITE_FULL, SQLITE_READONLY, SQLITE_IOERR…). A deleted or replaced
state directory does not: the open connection keeps writing into the unlinked file, every
commit succeeds, and all of it is gone at the next start. So the journal remembers the
device and inode of its database and ``-wal`` files when it opens them and compares them
with what its path holds now (two ``stat`` calls) before every write and before the modem
copy of an SMS is deleted.

This module holds the values and the pure decisions; :mod:`gateway.journal.base` does the
``stat`` calls and keeps the current :class:`JournalHealth`.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass, replace
from pathlib import Path

#: SQLite primary result codes (https://www.sqlite.org/rescode.html) that mean the disk or
#: the file cannot take our writes: PERM, READONLY, IOERR, CORRUPT, FULL, CANTOPEN,
#: NOTADB. Extended codes (SQLITE_IOERR_WRITE…) carry the primary one in the low byte.
DISK_FAULTS = frozenset({3, 8, 10, 11, 13, 14, 26})


@dataclass(frozen=True, slots=True)
class FileId:
    """Which file a path named when it was opened: (device, inode)."""

    dev: int
    ino: int

    @classmethod
    def of(cls, stat: os.stat_result) -> FileId:
        """Return the identity in a ``stat`` result."""
        return cls(stat.st_dev, stat.st_ino)


@dataclass(frozen=True, slots=True, kw_only=True)
class JournalHealth:
    """The journal's state for ``status``: healthy, or degraded with the reason why.

    ``reason`` is log-safe (paths and OS/SQLite error texts, never data). ``replaced`` says
    the file at the path is not the one open (deleted, moved or replaced): the journal
    then resumes only when its own file is back at the path, never on another one.
    ``episodes`` counts degraded episodes since start, ``failures`` the failed writes and
    checks of the current one.
    """

    healthy: bool = True
    reason: str | None = None
    since: float | None = None
    replaced: bool = False
    episodes: int = 0
    failures: int = 0

    def failed(self, reason: str, *, now: float, replaced: bool = False) -> JournalHealth:
        """Return the health after a failed write or check (a new episode if it was healthy)."""
        if self.healthy:
            return JournalHealth(
                healthy=False,
                reason=reason,
                since=now,
                replaced=replaced,
                episodes=self.episodes + 1,
                failures=1,
            )
        return replace(self, reason=reason, replaced=replaced, failures=self.failures + 1)

    def recovered(self) -> JournalHealth:
        """Return the health after a commit that landed in the file at the path."""
        return JournalHealth(episodes=self.episodes)

    def as_dict(self) -> dict[str, object]:
        """Return the JSON form used in the ``status`` snapshot."""
        return {
            "state": "ok" if self.healthy else "degraded",
            "reason": self.reason,
            "since": self.since,
            "replaced": self.replaced,
            "episodes": self.episodes,
            "failures": self.failures,
        }


def is_disk_fault(exc: sqlite3.Error) -> bool:
    """Return True when ``exc`` says the disk or file cannot take writes (see DISK_FAULTS)."""
    code = getattr(exc, "sqlite_errorcode", None)
    return isinstance(code, int) and code & 0xFF in DISK_FAULTS


def wal_path(path: Path) -> Path:
    """Return the path of the database's write-ahead log (SQLite names it ``<db>-wal``)."""
    return path.with_name(path.name + "-wal")


def identity_problem(
    path: Path, expected: FileId, found: FileId | None, *, what: str = "journal file"
) -> str | None:
    """Return why ``found`` (the file at ``path`` now; None: none there) is not ``expected``.

    Returns None when it is the same file.
    """
    if found is None:
        return (
            f"{what} {path} is gone (state directory deleted or moved?): nothing is "
            "recorded and SMS stay on the modem until the file is back at its path or "
            "the daemon is restarted"
        )
    if found != expected:
        return (
            f"{what} {path} was replaced by another file, which the running daemon does "
            "not adopt: SMS stay on the modem until the daemon is restarted"
        )
    return None


def stat_id(path: Path) -> FileId | None:
    """Return the identity of the file at ``path`` (None when there is none).

    Raises OSError for other failures (e.g. EIO, EACCES on the directory).
    """
    try:
        return FileId.of(os.stat(path))
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        return None
