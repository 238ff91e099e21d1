"""The durable journal: what callers may ask (:class:`Journal`) and its SQLite backend.

:class:`Journal` (:mod:`gateway.journal.interface`) is the protocol the pipelines and the
daemon program against; :class:`SqliteJournal` (:mod:`gateway.journal.sqlite`: SQLite in
the state directory, WAL, synchronous=FULL) implements it, and :func:`open_journal` is
where the daemon chooses it, so another backend is an addition there.

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

from gateway.config.schema import JournalSettings
from gateway.journal.health import JournalHealth
from gateway.journal.interface import Journal
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
from gateway.journal.schema import MIGRATIONS, JournalError, JournalRefused, JournalUnavailable
from gateway.journal.sqlite import FILENAME, SqliteJournal

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
    "SqliteJournal",
    "StoredMessage",
    "dedupe_key",
    "open_journal",
]


def open_journal(settings: JournalSettings) -> Journal:
    """Open the journal ``[journal]`` describes (the one place a backend is chosen).

    Returns the open journal; raises :class:`JournalError` when it cannot be opened.
    """
    return SqliteJournal.configured(settings)
