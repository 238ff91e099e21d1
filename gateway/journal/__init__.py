"""The durable journal: SQLite (stdlib) in the state directory, WAL, synchronous=FULL.

Everything the gateway must not lose goes here before it acts on it: a PDU is recorded
(and committed) before the SMS is deleted from the modem; a send job is stored before the
request is answered. The API is synchronous (a commit costs well under a millisecond on a
local disk) and takes ``now`` from the caller, so tests control time. Retention: codes
lose their value when they expire and are deleted ``code_retention`` later; message
bodies, PDUs and SMS texts are purged after ``body_retention``; counters are kept.
"""

from __future__ import annotations

from pathlib import Path

from gateway.journal.receive import ReceiveJournal
from gateway.journal.records import (
    CODE_DECISION,
    CodeRecord,
    JobEventRecord,
    JobRecord,
    MessageRecord,
    NewCode,
    PduRecord,
    PduStatus,
    PurgeCounts,
    RecordedPdu,
    ReportMatch,
    StoredMessage,
    dedupe_key,
)
from gateway.journal.schema import MIGRATIONS, JournalError
from gateway.journal.send import SendJournal

__all__ = [
    "CODE_DECISION",
    "FILENAME",
    "MIGRATIONS",
    "CodeRecord",
    "JobEventRecord",
    "JobRecord",
    "Journal",
    "JournalError",
    "MessageRecord",
    "NewCode",
    "PduRecord",
    "PduStatus",
    "PurgeCounts",
    "RecordedPdu",
    "ReportMatch",
    "StoredMessage",
    "dedupe_key",
]

#: The journal's file name inside the state directory.
FILENAME = "journal.sqlite3"


class Journal(ReceiveJournal, SendJournal):
    """The gateway's journal: receive records, send jobs, counters and retention."""

    def __init__(
        self, path: Path, *, body_retention: float = 7 * 86400.0, code_retention: float = 86400.0
    ) -> None:
        if body_retention < 0 or code_retention < 0:
            raise JournalError("journal: retention must not be negative")
        self.body_retention = body_retention
        self.code_retention = code_retention
        super().__init__(path)

    @classmethod
    def in_state_dir(
        cls, state_dir: Path, *, body_retention: float, code_retention: float
    ) -> Journal:
        """Open (creating if needed) the journal file in ``state_dir``.

        Returns the open journal; raises :class:`JournalError` when it cannot be opened.
        """
        return cls(
            Path(state_dir) / FILENAME,
            body_retention=body_retention,
            code_retention=code_retention,
        )

    def __enter__(self) -> Journal:
        return self

    def purge(self, now: float) -> PurgeCounts:
        """Apply retention at ``now``: blank expired codes, drop old ones, purge old bodies.

        Returns how many rows changed; raises :class:`JournalError` when the write fails.
        """
        body_horizon = now - self.body_retention
        with self._tx() as conn:
            expired = conn.execute(
                "UPDATE codes SET code = NULL WHERE code IS NOT NULL AND expires_at <= ?",
                (now,),
            ).rowcount
            deleted = conn.execute(
                "DELETE FROM codes WHERE expires_at <= ?", (now - self.code_retention,)
            ).rowcount
            bodies = conn.execute(
                "UPDATE pdus SET raw = NULL WHERE raw IS NOT NULL AND received_at <= ?",
                (body_horizon,),
            ).rowcount
            bodies += conn.execute(
                "UPDATE messages SET text = NULL WHERE text IS NOT NULL AND received_at <= ?",
                (body_horizon,),
            ).rowcount
            # Only jobs that can no longer be sent lose their text.
            bodies += conn.execute(
                "UPDATE jobs SET text = NULL WHERE text IS NOT NULL AND updated_at <= ? "
                "AND state NOT IN ('queued', 'sending')",
                (body_horizon,),
            ).rowcount
            self._bump(conn, "journal.purged_codes", deleted)
        return PurgeCounts(codes_expired=expired, codes_deleted=deleted, bodies_purged=bodies)
