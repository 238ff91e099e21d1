"""The send side of the journal: jobs, their events and parts, delivery reports."""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Sequence
from typing import Any, Unpack

from gateway.jobs import JobEvent, JobState
from gateway.journal.base import JournalBase
from gateway.journal.interface import JobArgs, ReportArgs, TransitionArgs
from gateway.journal.records import JobEventRecord, JobRecord, ReportMatch
from gateway.journal.rows import JOB_EVENTS, JOBS
from gateway.journal.schema import JournalError


class SendJournal(JournalBase):
    """Durable send jobs: created before the request is answered, moved by the state table."""

    def create_job(self, **job: Unpack[JobArgs]) -> JobRecord:
        """Store a new queued job, attributed to the uid ``requested_by`` (None: no peer).

        Returns it; raises :class:`JournalError` on a reused id.
        """
        job_id, now, expires_at = job["job_id"], job["now"], job["expires_at"]
        if expires_at <= now:
            raise JournalError("job: expires_at must be in the future")
        try:
            with self._tx() as conn:
                # columns named here: JOBS.columns follows JobRecord's field order, for reading
                conn.execute(
                    "INSERT INTO jobs(id, number, origin, embedded, text, state, attempts, "
                    "not_before, expires_at, created_at, updated_at, requested_by) "
                    "VALUES (?, ?, ?, ?, ?, 'queued', 0, ?, ?, ?, ?, ?)",
                    (
                        job_id,
                        job["number"],
                        job["origin"],
                        job["embedded"],
                        job["text"],
                        now,
                        expires_at,
                        now,
                        now,
                        job.get("requested_by"),
                    ),
                )
                conn.execute(
                    "INSERT INTO job_events(job_id, at, event, state) VALUES (?, ?, ?, ?)",
                    (job_id, now, "created", "queued"),
                )
                self._bump(conn, "jobs.created")
        except JournalError as exc:
            if isinstance(exc.__cause__, sqlite3.IntegrityError):
                raise JournalError(f"job {job_id!r} already exists") from None
            raise
        return self.job(job_id)

    def job(self, job_id: str) -> JobRecord:
        """Return one job; raises :class:`JournalError` when there is none with that id."""
        rows = self._read(f"SELECT {JOBS.columns} FROM jobs WHERE id = ?", (job_id,))  # noqa: S608
        if not rows:
            raise JournalError(f"no job {job_id!r}")
        return self._job(rows[0])

    def transition_job(
        self, job_id: str, event: JobEvent, **step: Unpack[TransitionArgs]
    ) -> JobRecord:
        """Apply ``event`` through :data:`gateway.jobs.TRANSITIONS` and record it.

        ACCEPTED stores one TP-MR per part; ``not_before`` sets the retry time (from
        :meth:`gateway.jobs.Job.on_transient_error`). ``detail`` must not hold secrets.
        Returns the updated job; raises :class:`gateway.jobs.IllegalTransition` for a move
        the table forbids and :class:`JournalError` for an unknown job.
        """
        now, not_before = step["now"], step.get("not_before")
        with self._tx() as conn:
            rows = conn.execute(
                f"SELECT {JOBS.columns} FROM jobs WHERE id = ?",  # noqa: S608
                (job_id,),
            ).fetchall()
            if not rows:
                raise JournalError(f"no job {job_id!r}")
            current = self._job(rows[0], conn)
            moved = current.as_job().apply(event, references=tuple(step.get("references", ())))
            conn.execute(
                "UPDATE jobs SET state = ?, attempts = ?, not_before = ?, updated_at = ?, "
                "modem = COALESCE(?, modem) WHERE id = ?",
                (
                    moved.state.value,
                    moved.attempts,
                    moved.not_before if not_before is None else not_before,
                    now,
                    step.get("modem"),
                    job_id,
                ),
            )
            conn.execute(
                "INSERT INTO job_events(job_id, at, event, state, detail) VALUES (?, ?, ?, ?, ?)",
                (job_id, now, event.value, moved.state.value, step.get("detail")),
            )
            if event is JobEvent.ACCEPTED:
                conn.executemany(
                    "INSERT INTO job_parts(job_id, part, reference, sent_at) VALUES (?, ?, ?, ?)",
                    [(job_id, part, ref, now) for part, ref in enumerate(moved.references)],
                )
            if moved.state.final:
                self._bump(conn, f"jobs.{moved.state.value}")
        return self.job(job_id)

    def jobs(self, states: Collection[JobState] | None = None) -> list[JobRecord]:
        """Return jobs (optionally only in ``states``), oldest first."""
        rows = self._read(f"SELECT {JOBS.columns} FROM jobs ORDER BY created_at, id")  # noqa: S608
        found = [self._job(r) for r in rows]
        return found if states is None else [j for j in found if j.state in states]

    def job_events(self, job_id: str) -> list[JobEventRecord]:
        """Return a job's history, oldest first."""
        rows = self._read(
            f"SELECT {JOB_EVENTS.columns} FROM job_events WHERE job_id = ? ORDER BY id",  # noqa: S608 - fixed columns
            (job_id,),
        )
        return [JOB_EVENTS(r) for r in rows]

    def recover_jobs(self, *, now: float) -> list[JobRecord]:
        """Settle jobs left by a stopped daemon and return the queued ones still valid.

        A job found ``sending`` may have gone out (Ctrl-Z written, reply lost): it becomes
        ``unknown`` and is never resent. Queued jobs past their expiry become ``expired``.
        """
        for job in self.jobs({JobState.SENDING}):
            self.transition_job(
                job.id, JobEvent.OUTCOME_LOST, now=now, detail="daemon stopped while sending"
            )
        resumable = []
        for job in self.jobs({JobState.QUEUED}):
            if job.expires_at <= now:
                self.transition_job(job.id, JobEvent.EXPIRED, now=now)
            else:
                resumable.append(job)
        return resumable

    def send_history(self, *, since: float) -> list[tuple[str, str, float]]:
        """Return ``(number, origin, created_at)`` of jobs created since ``since``.

        This is what :meth:`gateway.ratelimit.RateLimiter.rebuild` replays at start.
        """
        rows = self._read(
            "SELECT number, origin, created_at FROM jobs WHERE created_at >= ? ORDER BY created_at",
            (since,),
        )
        return [(r[0], r[1], r[2]) for r in rows]

    def record_delivery_report(self, **report: Unpack[ReportArgs]) -> ReportMatch | None:
        """Store an SMS-STATUS-REPORT and match it to the newest part sent within ``window``.

        Matching is by TP-MR and recipient (TS 23.040 §9.2.2.3: TP-MR of the SUBMIT and
        TP-RA), because TP-MR wraps at 256 and is reused. Returns the match with the
        job's per-part tally, or None when no part matches (the report is kept anyway).
        """
        reference, recipient, now = report["reference"], report["recipient"], report["now"]
        with self._tx() as conn:
            part_row = conn.execute(
                "SELECT p.job_id, p.part FROM job_parts p JOIN jobs j ON j.id = p.job_id "
                "WHERE p.reference = ? AND j.number = ? AND p.sent_at >= ? "
                "AND p.report_status IS NULL ORDER BY p.sent_at DESC LIMIT 1",
                (reference, recipient, now - report["window"]),
            ).fetchone()
            conn.execute(
                "INSERT INTO delivery_reports(modem, reference, recipient, status, received_at, "
                "job_id, part) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    report["modem"],
                    reference,
                    recipient,
                    report["status"],
                    now,
                    *(part_row or (None, None)),
                ),
            )
            self._bump(conn, "reports.matched" if part_row else "reports.unmatched")
            if part_row is None:
                return None
            job_id, part = str(part_row[0]), int(part_row[1])
            conn.execute(
                "UPDATE job_parts SET report_status = ? WHERE job_id = ? AND part = ?",
                (report["status"], job_id, part),
            )
            parts, reported, delivered = conn.execute(
                "SELECT COUNT(*), COUNT(report_status), "
                "SUM(report_status IS NOT NULL AND report_status <= 31) "
                "FROM job_parts WHERE job_id = ?",
                (job_id,),
            ).fetchone()
        return ReportMatch(
            job_id=job_id, part=part, parts=parts, reported=reported, delivered=delivered
        )

    def _job(self, row: Sequence[Any], conn: sqlite3.Connection | None = None) -> JobRecord:
        query = "SELECT reference FROM job_parts WHERE job_id = ? ORDER BY part"
        if conn is None:
            refs = [r[0] for r in self._read(query, (row[0],))]
        else:
            refs = [r[0] for r in conn.execute(query, (row[0],)).fetchall()]
        return JOBS(row, references=tuple(refs))
