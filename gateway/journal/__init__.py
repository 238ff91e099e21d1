"""The durable journal: SQLite (stdlib) in the state directory, WAL, synchronous=FULL.

Everything the gateway must not lose goes here before it acts on it: a PDU is recorded
(and committed) before the SMS is deleted from the modem; a send job is stored before the
request is answered. The API is synchronous (a commit costs well under a millisecond on a
local disk) and takes ``now`` from the caller, so tests control time. Retention
(:mod:`gateway.journal.retention`): codes lose their value when they expire and are
deleted ``code_retention`` later; sent OTP texts go once their job is over and its
validity passed; message bodies, PDUs and SMS texts are purged after
``body_retention``; whole records after ``record_retention``; counters are kept.
"""

from __future__ import annotations

from pathlib import Path

from gateway.config_schema import JournalSettings
from gateway.journal.health import JournalHealth
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
from gateway.journal.retention import DAY, RetentionJournal
from gateway.journal.schema import MIGRATIONS, JournalError, JournalRefused, JournalUnavailable
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
    "JournalHealth",
    "JournalRefused",
    "JournalUnavailable",
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


class Journal(ReceiveJournal, SendJournal, RetentionJournal):
    """The gateway's journal: receive records, send jobs, counters and retention."""

    def __init__(
        self,
        path: Path,
        *,
        body_retention: float = 7 * DAY,
        code_retention: float = DAY,
        record_retention: float = 30 * DAY,
    ) -> None:
        self.set_retention(body=body_retention, code=code_retention, record=record_retention)
        super().__init__(path)

    @classmethod
    def in_state_dir(
        cls,
        state_dir: Path,
        *,
        body_retention: float,
        code_retention: float,
        record_retention: float = 30 * DAY,
    ) -> Journal:
        """Open (creating if needed) the journal file in ``state_dir``.

        Returns the open journal; raises :class:`JournalError` when it cannot be opened
        or a retention period is invalid (see :meth:`RetentionJournal.set_retention`).
        """
        return cls(
            Path(state_dir) / FILENAME,
            body_retention=body_retention,
            code_retention=code_retention,
            record_retention=record_retention,
        )

    @classmethod
    def configured(cls, settings: JournalSettings) -> Journal:
        """Open the journal ``[journal]`` describes: its state_dir and retention periods.

        Returns the open journal; raises :class:`JournalError` when it cannot be opened.
        """
        return cls.in_state_dir(
            settings.state_dir,
            body_retention=settings.body_retention,
            code_retention=settings.code_retention,
            record_retention=settings.record_retention,
        )

    def __enter__(self) -> Journal:
        return self
