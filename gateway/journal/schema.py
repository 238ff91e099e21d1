"""The journal's SQLite schema and its migrations.

The schema version lives in ``PRAGMA user_version`` (0 for a new, empty file). Each
migration moves the database from version ``n`` to ``n + 1`` inside one transaction, so a
crash mid-upgrade leaves the previous version intact. A file written by a newer
otp-gateway (a version we do not know) is refused rather than misread.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from gateway.errors import UsageError


class JournalError(UsageError):
    """The journal cannot be opened, migrated or written."""


class JournalRefused(JournalError):
    """The journal refused the data itself (a check or constraint): writing it again fails again.

    Any other JournalError may be transient (I/O, a full disk, a lock held too long).
    """


class JournalUnavailable(JournalError):
    """Nothing can be recorded durably now: the disk refuses writes, or the file is gone.

    The journal is degraded (:meth:`gateway.journal.base.JournalBase.health` says why)
    until a commit lands in the file at its path again.
    """


_V1 = """
CREATE TABLE pdus (
    id INTEGER PRIMARY KEY,
    modem TEXT NOT NULL,
    memory TEXT NOT NULL,
    idx INTEGER NOT NULL,
    raw TEXT,                      -- PDU hex; NULL once the body retention has passed
    dedupe_key TEXT NOT NULL UNIQUE,
    received_at REAL NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'quarantined')),
    reason TEXT,                   -- why a PDU was quarantined (no message content)
    message_id INTEGER REFERENCES messages(id)
);
CREATE INDEX pdus_unassembled ON pdus(status, message_id);

CREATE TABLE messages (
    id INTEGER PRIMARY KEY,
    modem TEXT NOT NULL,
    sender TEXT NOT NULL,
    scts TEXT NOT NULL,            -- TP-SCTS as ISO 8601 with offset (TS 23.040 §9.2.3.11)
    text TEXT,                     -- NULL once the body retention has passed
    parts INTEGER NOT NULL,
    expected_parts INTEGER NOT NULL,
    complete INTEGER NOT NULL CHECK (complete IN (0, 1)),
    received_at REAL NOT NULL
);
CREATE INDEX messages_received ON messages(received_at);

CREATE TABLE codes (
    id INTEGER PRIMARY KEY,
    origin TEXT NOT NULL,
    embedded TEXT,
    code TEXT,                     -- NULL once expired
    sender TEXT NOT NULL,
    received_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    message_id INTEGER REFERENCES messages(id),
    claimed_by TEXT,
    claimed_at REAL
);
CREATE INDEX codes_lookup ON codes(origin, embedded, received_at);

CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    number TEXT NOT NULL,
    origin TEXT NOT NULL,
    embedded TEXT,
    text TEXT,                     -- the SMS body (contains the code); purged with bodies
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    not_before REAL NOT NULL,
    expires_at REAL NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    modem TEXT
);
CREATE INDEX jobs_state ON jobs(state, not_before);
CREATE INDEX jobs_created ON jobs(created_at);

CREATE TABLE job_events (
    id INTEGER PRIMARY KEY,
    job_id TEXT NOT NULL REFERENCES jobs(id),
    at REAL NOT NULL,
    event TEXT NOT NULL,
    state TEXT NOT NULL,
    detail TEXT
);
CREATE INDEX job_events_job ON job_events(job_id, id);

CREATE TABLE job_parts (
    job_id TEXT NOT NULL REFERENCES jobs(id),
    part INTEGER NOT NULL,
    reference INTEGER NOT NULL,    -- TP-MR (TS 23.040 §9.2.3.6)
    sent_at REAL NOT NULL,
    report_status INTEGER,         -- TP-ST of the matching status report (§9.2.3.15)
    PRIMARY KEY (job_id, part)
);
CREATE INDEX job_parts_reference ON job_parts(reference, sent_at);

CREATE TABLE delivery_reports (
    id INTEGER PRIMARY KEY,
    modem TEXT NOT NULL,
    reference INTEGER NOT NULL,
    recipient TEXT NOT NULL,
    status INTEGER NOT NULL,
    received_at REAL NOT NULL,
    job_id TEXT,
    part INTEGER
);

CREATE TABLE counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""

#: v2: a PDU that is not part of a message (a status report) is marked handled once it
#: was handed on, so a restart replays it only if that never happened.
_V2 = """
ALTER TABLE pdus ADD COLUMN handled_at REAL;
DROP INDEX pdus_unassembled;
CREATE INDEX pdus_unassembled ON pdus(status, message_id, handled_at);
"""

#: v3: what the OTP rules decided on a message is stored with it, in the same
#: transaction ('code', or the reason token). Older rows with a code are marked decided;
#: the rest stay NULL and are judged again at the next start.
_V3 = """
ALTER TABLE messages ADD COLUMN decision TEXT;
UPDATE messages SET decision = 'code'
    WHERE id IN (SELECT message_id FROM codes WHERE message_id IS NOT NULL);
CREATE INDEX messages_undecided ON messages(modem, decision);
"""

#: v4: the uid of the local user who asked for a send (SO_PEERCRED of its connection);
#: NULL for older jobs and for jobs submitted without a connection.
_V4 = """
ALTER TABLE jobs ADD COLUMN requested_by INTEGER;
"""

#: v5: the sender's kind (international, national, short, alphanumeric: its TP-OA type
#: of number, TS 23.040 §9.1.2.5) is kept with the message, so sender allow-lists can
#: tell the alphanumeric sender "72727" from the short code 72727. NULL for older rows.
_V5 = """
ALTER TABLE messages ADD COLUMN sender_type TEXT;
"""

#: MIGRATIONS[n] upgrades version n to n + 1.
MIGRATIONS: tuple[str, ...] = (_V1, _V2, _V3, _V4, _V5)


def migrate(conn: sqlite3.Connection, migrations: Sequence[str] = MIGRATIONS) -> int:
    """Bring the database on ``conn`` (in autocommit mode) to the newest version.

    Returns the version reached; raises :class:`JournalError` for a file newer than us.
    """
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if version > len(migrations):
        raise JournalError(
            f"journal schema version {version} is newer than this otp-gateway "
            f"(knows up to {len(migrations)})"
        )
    for target in range(version + 1, len(migrations) + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(migrations[target - 1]):
                conn.execute(statement)
            # PRAGMA takes no parameters; target is an int from range().
            conn.execute(f"PRAGMA user_version = {target:d}")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    return len(migrations)


def _statements(script: str) -> list[str]:
    """Split a migration into statements (executescript would commit on its own)."""
    lines = [line.split("--", 1)[0] for line in script.splitlines()]
    return [part.strip() for part in "\n".join(lines).split(";") if part.strip()]
