"""The journal's retention (issue 5): codes expire, bodies and then whole records go.

One :meth:`RetentionJournal.purge` transaction, run at start and periodically:

- a code is blanked when it expires and its row deleted ``code_retention`` later;
- the text of a sent OTP (it holds the code) is blanked as soon as the job can no
  longer be sent (not queued or sending) and its validity has passed;
- message bodies, PDUs and the remaining job texts are blanked after ``body_retention``;
- whole rows (PDUs, messages, their codes, jobs with their events and parts, delivery
  reports), which hold phone numbers and senders, are deleted after
  ``record_retention`` (jobs only once they can no longer be sent);
- counters are kept.
"""

from __future__ import annotations

import sqlite3

from gateway.journal.base import JournalBase
from gateway.journal.records import PurgeCounts
from gateway.journal.schema import JournalError

DAY = 86400.0

#: jobs in these states may still be sent: their text and rows are never purged
_LIVE = "('queued', 'sending')"


class RetentionJournal(JournalBase):
    """Applies the retention periods set on the journal."""

    body_retention: float = 7 * DAY
    code_retention: float = DAY
    record_retention: float = 30 * DAY

    def set_retention(self, *, body: float, code: float, record: float) -> None:
        """Set the retention periods (seconds); raises :class:`JournalError` if one is bad.

        Records must outlive bodies and codes: ``record`` is at least both of them.
        """
        if min(body, code, record) < 0:
            raise JournalError("journal: retention must not be negative")
        if record < max(body, code):
            raise JournalError("journal: record_retention must be at least the body and code ones")
        self.body_retention, self.code_retention, self.record_retention = body, code, record

    def purge(self, now: float) -> PurgeCounts:
        """Apply retention at ``now`` (see the module docstring) in one transaction.

        Returns how many rows changed per kind; raises :class:`JournalError` when the
        write fails (nothing changed then).
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
            # a sent OTP's text holds its code: gone once it can neither be sent nor used
            bodies += conn.execute(
                f"UPDATE jobs SET text = NULL WHERE text IS NOT NULL AND state NOT IN {_LIVE} "  # noqa: S608 - fixed fragment
                "AND (expires_at <= ? OR updated_at <= ?)",
                (now, body_horizon),
            ).rowcount
            records = self._delete_records(conn, now - self.record_retention)
            self._bump(conn, "journal.purged_codes", deleted)
            self._bump(conn, "journal.purged_records", records)
        return PurgeCounts(
            codes_expired=expired,
            codes_deleted=deleted,
            bodies_purged=bodies,
            records_deleted=records,
        )

    @staticmethod
    def _delete_records(conn: sqlite3.Connection, horizon: float) -> int:
        """Delete whole rows older than ``horizon``; return how many went."""
        # a message is never newer than its PDUs (it is dated by its first part), so the
        # PDUs of an old message are taken with it and nothing is left "unassembled"
        old_messages = "SELECT id FROM messages WHERE received_at <= ?"
        count = conn.execute(
            f"DELETE FROM codes WHERE message_id IN ({old_messages})",  # noqa: S608 - fixed
            (horizon,),
        ).rowcount
        count += conn.execute(
            f"DELETE FROM pdus WHERE received_at <= ? OR message_id IN ({old_messages})",  # noqa: S608
            (horizon, horizon),
        ).rowcount
        count += conn.execute("DELETE FROM messages WHERE received_at <= ?", (horizon,)).rowcount
        old_jobs = (
            "SELECT id FROM jobs WHERE updated_at <= ? AND state NOT IN ('queued', 'sending')"
        )
        for table in ("job_events", "job_parts"):
            count += conn.execute(
                f"DELETE FROM {table} WHERE job_id IN ({old_jobs})",  # noqa: S608 - fixed names
                (horizon,),
            ).rowcount
        count += conn.execute(
            f"DELETE FROM jobs WHERE id IN ({old_jobs})",  # noqa: S608 - fixed fragment
            (horizon,),
        ).rowcount
        count += conn.execute(
            "DELETE FROM delivery_reports WHERE received_at <= ?", (horizon,)
        ).rowcount
        return count
