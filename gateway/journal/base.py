"""The journal's connection: opening, pragmas, transactions and counters."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from gateway.journal.schema import JournalError, JournalRefused, migrate

#: How long a writer waits for another connection's write lock (ms).
BUSY_TIMEOUT_MS = 10_000


class JournalBase:
    """One SQLite connection in autocommit mode; every write goes through :meth:`_tx`."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
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
        except sqlite3.Error as exc:
            self._conn.close()
            raise JournalError(f"journal {self.path}: {exc}") from exc
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

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """Run a write transaction (BEGIN IMMEDIATE ... COMMIT); roll back on any error."""
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise JournalError(f"journal {self.path}: {exc}") from exc
        try:
            yield self._conn
        except sqlite3.IntegrityError as exc:
            # a constraint (CHECK, UNIQUE, NOT NULL, a trigger's RAISE) refused the row
            self._conn.execute("ROLLBACK")
            raise JournalRefused(f"journal {self.path}: refused: {exc}") from exc
        except sqlite3.Error as exc:
            self._conn.execute("ROLLBACK")
            raise JournalError(f"journal {self.path}: {exc}") from exc
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        try:
            self._conn.execute("COMMIT")
        except sqlite3.Error as exc:
            # a failed COMMIT (SQLITE_FULL, SQLITE_IOERR) may leave the transaction open:
            # roll it back, so nothing half-written stays and the next BEGIN works
            if self._conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK")
            raise JournalError(f"journal {self.path}: commit failed: {exc}") from exc

    def _read(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        """Run a query and return all rows; sqlite errors become :class:`JournalError`."""
        try:
            return list(self._conn.execute(sql, params).fetchall())
        except sqlite3.Error as exc:
            raise JournalError(f"journal {self.path}: {exc}") from exc

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
