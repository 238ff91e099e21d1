"""The journal's connection: opening, pragmas, transactions, counters and health.

Every write checks first that the files open are still the ones at the journal's path
(:mod:`gateway.journal.health`), and a write that fails for the disk's sake (full,
read-only, I/O error) or finds the file gone marks the journal degraded; the next commit
that lands in the file at the path marks it healthy again. Listeners registered with
:meth:`JournalBase.on_health` are told of each change.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from gateway.journal.health import (
    FileId,
    JournalHealth,
    identity_problem,
    is_disk_fault,
    stat_id,
    wal_path,
)
from gateway.journal.schema import JournalError, JournalRefused, JournalUnavailable, migrate

#: How long a writer waits for another connection's write lock (ms).
BUSY_TIMEOUT_MS = 10_000
#: Bytes a probe of a degraded journal writes: several pages, more than one SMS record.
PROBE_BYTES = 16384


class JournalBase:
    """One SQLite connection in autocommit mode; every write goes through :meth:`_tx`."""

    def __init__(self, path: Path, *, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self._clock = clock  # wall time, only for when a degraded episode began
        self._health = JournalHealth()
        self._listeners: list[Callable[[JournalHealth], None]] = []
        try:
            # The journal holds codes and message bodies: create it owner-only. SQLite gives
            # the -wal and -shm files the database file's permissions.
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            os.close(fd)
            self._conn = sqlite3.connect(self.path, isolation_level=None, timeout=0)
        except (OSError, sqlite3.Error) as exc:
            raise JournalError(f"cannot open journal {self.path}: {exc}") from exc
        try:
            self._conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS:d}")
            mode = self._conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise JournalError(f"journal {self.path}: WAL mode refused ({mode})")
            # FULL: a commit is on disk before record_pdu returns, so deleting the SMS
            # from the modem afterwards cannot lose it on power failure.
            self._conn.execute("PRAGMA synchronous = FULL")
            self._conn.execute("PRAGMA foreign_keys = ON")
            self.version = migrate(self._conn)
            # what the path names now is what this connection opened (a read made SQLite
            # open the -wal; None if it has not yet: then it is taken at the first check)
            opened = stat_id(self.path)
            if opened is None:
                raise JournalError(f"journal {self.path} vanished while it was being opened")
            self._db_id: FileId = opened
            self._wal_path = wal_path(self.path)
            self._wal_id = stat_id(self._wal_path)
        except sqlite3.Error as exc:
            self._conn.close()
            raise JournalError(f"journal {self.path}: {exc}") from exc
        except OSError as exc:
            self._conn.close()
            raise JournalError(f"cannot open journal {self.path}: {exc}") from exc
        except JournalError:
            self._conn.close()
            raise

    def close(self) -> None:
        """Close the connection (idempotent)."""
        self._conn.close()

    def __enter__(self) -> JournalBase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ health
    def health(self) -> JournalHealth:
        """Return the journal's current health (as of the last write or check)."""
        return self._health

    def on_health(self, listener: Callable[[JournalHealth], None]) -> None:
        """Call ``listener`` with the new health each time it changes (in the writer's thread).

        It is called after the write is over (committed or rolled back); an exception it
        raises propagates to the writer, so it should only record and schedule.
        """
        self._listeners.append(listener)

    def verify(self) -> JournalHealth:
        """Check now that the files open are the ones at the path (two ``stat`` calls).

        Marks the journal degraded when not (it never marks it healthy: only a commit
        does, see :meth:`probe`). Returns the health after the check; never raises.
        """
        self._check_identity()
        return self._health

    def durable(self) -> bool:
        """Return True when what was committed is in the file at the path and writes work.

        The receive pipeline asks this before it deletes an SMS from the modem: a record
        in an unlinked file or behind a failing disk is not a reason to drop the only
        other copy. Never raises.
        """
        return self.verify().healthy

    def probe(self) -> JournalHealth:
        """Try one write of :data:`PROBE_BYTES` to see if the disk takes records again.

        Counts ``journal.probes``; a scratch row of that size is written and deleted in
        the same transaction, so the commit needs new pages as a received SMS would (a
        counter alone fits in a page already there, and would pass on a full disk).
        Returns the health after it: healthy when the commit landed in the file at the
        path. Never raises (a failure is what the returned health says).
        """
        scratch = "journal.probe-scratch:" + "x" * PROBE_BYTES
        with contextlib.suppress(JournalError), self._tx() as conn:
            self._bump(conn, "journal.probes")
            conn.execute("INSERT INTO counters(name, value) VALUES (?, 0)", (scratch,))
            conn.execute("DELETE FROM counters WHERE name = ?", (scratch,))
        return self._health

    def _check_identity(self) -> str | None:
        """Return why the file at the path is not the one open (marked degraded), or None."""
        try:
            problem = identity_problem(self.path, self._db_id, stat_id(self.path))
            if problem is None:
                found = stat_id(self._wal_path)
                if self._wal_id is None:
                    self._wal_id = found  # SQLite opened it after us: take it as it is now
                    return None
                problem = identity_problem(
                    self._wal_path, self._wal_id, found, what="journal write-ahead log"
                )
        except OSError as exc:  # EIO, EACCES on the directory: not known to be replaced
            problem = f"cannot check journal file {self.path}: {exc.strerror or exc}"
            self._fail(problem)
            return problem
        if problem is not None:
            self._fail(problem, replaced=True)
        return problem

    def _fail(self, reason: str, *, replaced: bool = False) -> None:
        before = self._health
        self._health = before.failed(reason, now=self._clock(), replaced=replaced)
        self._tell(before)

    def _succeed(self) -> None:
        before = self._health
        if not before.healthy:
            self._health = before.recovered()
            self._tell(before)

    def _tell(self, before: JournalHealth) -> None:
        # every failure of an episode is news only for its count; listeners get episodes
        # (start, end) and a changed reason, so they can log once per episode
        after = self._health
        if before.healthy == after.healthy and before.reason == after.reason:
            return
        for listener in list(self._listeners):
            listener(after)

    def _error(self, exc: sqlite3.Error, what: str = "") -> JournalError:
        """Return the JournalError for ``exc``; a disk fault marks the journal degraded."""
        text = f"journal {self.path}: {what}{exc}"
        if is_disk_fault(exc):
            self._fail(text)
            return JournalUnavailable(text)
        return JournalError(text)

    # ------------------------------------------------------------------ transactions
    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """Run a write transaction (BEGIN IMMEDIATE ... COMMIT); roll back on any error.

        Raises :class:`JournalUnavailable` without writing when the file at the path is
        not the one open, or when the disk refuses the write (the journal is degraded
        then); :class:`JournalRefused` when a constraint refuses the data.
        """
        problem = self._check_identity()
        if problem is not None:
            # never write into a file nobody will find again: the caller must keep its copy
            raise JournalUnavailable(problem)
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise self._error(exc) from exc
        try:
            yield self._conn
        except sqlite3.IntegrityError as exc:
            # a constraint (CHECK, UNIQUE, NOT NULL, a trigger's RAISE) refused the row
            self._rollback()
            raise JournalRefused(f"journal {self.path}: refused: {exc}") from exc
        except sqlite3.Error as exc:
            self._rollback()
            raise self._error(exc) from exc
        except BaseException:
            self._rollback()
            raise
        try:
            self._conn.execute("COMMIT")
        except sqlite3.Error as exc:
            # a failed COMMIT (SQLITE_FULL, SQLITE_IOERR) may leave the transaction open:
            # roll it back, so nothing half-written stays and the next BEGIN works
            self._rollback()
            raise self._error(exc, "commit failed: ") from exc
        self._succeed()

    def _rollback(self) -> None:
        # after SQLITE_FULL or SQLITE_IOERR SQLite may have rolled back already
        if self._conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                self._conn.execute("ROLLBACK")

    def _read(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        """Run a query and return all rows; sqlite errors become :class:`JournalError`."""
        try:
            return list(self._conn.execute(sql, params).fetchall())
        except sqlite3.Error as exc:
            raise self._error(exc) from exc

    def _bump(self, conn: sqlite3.Connection, name: str, by: int = 1) -> None:
        """Add ``by`` to counter ``name`` inside the caller's transaction ``conn``."""
        conn.execute(
            "INSERT INTO counters(name, value) VALUES (?, ?) "
            "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
            (name, by),
        )

    def bump(self, name: str, by: int = 1) -> None:
        """Add ``by`` to the counter ``name`` (created at 0)."""
        with self._tx() as conn:
            self._bump(conn, name, by)

    def counters(self) -> dict[str, int]:
        """Return every counter by name."""
        return {str(n): int(v) for n, v in self._read("SELECT name, value FROM counters")}
