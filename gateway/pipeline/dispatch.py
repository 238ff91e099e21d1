"""The send dispatcher: queued jobs go out on ready modems, one AT+CMGS per modem at a time.

Each modem has a worker that waits (no polling) for its session to be READY and for a due
job, then sends it with AT+CMGS, one PDU per part (TS 27.005 §3.5.1). Jobs move through
:data:`gateway.jobs.TRANSITIONS`, every move committed to the journal before anyone hears
of it. A modem that goes away before the body was written hands its job back to the queue
(another modem takes it; not a failed attempt); a transient ``+CMS`` error retries with
backoff while the code is valid; a permanent one fails the job; a body without a result is
``unknown`` and never resent. Backoff and expiry are ``loop.call_later`` timers.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import timedelta

import structlog

from gateway.config.schema import SendSettings
from gateway.errors import UsageError
from gateway.jobs import JobEvent as Step
from gateway.jobs import JobState, RetryPolicy
from gateway.journal import JobRecord, Journal, JournalError
from gateway.modem.session import ModemSession
from gateway.modem.status import SessionState
from gateway.pipeline.sendqueue import JobMover, JobQueue
from gateway.pipeline.sendrules import (
    HANDOFF,
    Verdict,
    after_failure,
    judge,
)
from gateway.sms import StatusReport, encode_submit
from gateway.tracebacks import frames

log = structlog.get_logger(__name__)


class Dispatcher:
    """Runs the send queue over one or more modem sessions (``name -> session``)."""

    def __init__(
        self,
        *,
        journal: Journal,
        sessions: Mapping[str, ModemSession],
        settings: SendSettings,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not sessions:
            raise UsageError("dispatcher: needs at least one modem session")
        self._journal = journal
        self._sessions = dict(sessions)
        self._settings = settings
        self._clock = clock
        self._policy = RetryPolicy(
            max_attempts=settings.max_attempts,
            backoff_initial=settings.backoff_initial,
            backoff_max=settings.backoff_max,
        )
        self._mover = JobMover(journal, clock)
        self.watchers = self._mover.watchers
        self._queue = JobQueue(clock=clock, on_expire=self._expire)
        self._inflight: dict[str, tuple[str, asyncio.Task[None]]] = {}
        self._held: dict[str, list[StatusReport]] = {}
        # job -> (modem, concatenation reference, TP-MR of the parts already accepted)
        self._progress: dict[str, tuple[str, int, list[int]]] = {}
        self._concat = secrets.randbelow(256)
        self._draining = False
        self._sent_by: Counter[str] = Counter()
        self._wakes: dict[str, asyncio.TimerHandle] = {}  # jobs to queue again after a fault

    # ------------------------------------------------------------------ public
    @property
    def draining(self) -> bool:
        """True once :meth:`drain` was called: no new sends start."""
        return self._draining

    async def run(self) -> None:
        """Resume the journal's recoverable jobs, then send as jobs come; until cancelled.

        Jobs found ``sending`` become ``unknown`` and expired ones ``expired``
        (:meth:`Journal.recover_jobs`). Raises :class:`JournalError` if recovery fails.
        """
        resumed = self._journal.recover_jobs(now=self._clock())
        for record in resumed:
            self._push(record)
        log.info("send.dispatcher_started", resumed=len(resumed), modems=list(self._sessions))
        workers = [
            asyncio.create_task(self._worker(name, session), name=f"send-worker-{name}")
            for name, session in self._sessions.items()
        ]
        try:
            await asyncio.gather(*workers)  # they return once draining
            await asyncio.get_running_loop().create_future()  # until cancelled
        finally:
            tasks = [*workers, *(task for _, task in self._inflight.values())]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._queue.close()
            for wake in self._wakes.values():
                wake.cancel()
            self._wakes.clear()

    def wake(self) -> None:
        """Look for new queued jobs in the journal (e.g. written by another process)."""
        for record in self._journal.jobs({JobState.QUEUED}):
            self._push(record)

    def enqueue(self, record: JobRecord) -> None:
        """Take a freshly stored queued job (what :class:`SendService` calls); wake a worker."""
        self._push(record)

    def on_status_report(self, modem: str, report: StatusReport) -> None:
        """Match an SMS-STATUS-REPORT to a sent part and move its job (never raises)."""
        held = self._held.get(modem)
        if held is not None:
            held.append(report)  # maybe for the send in flight, whose TP-MRs are not stored yet
            return
        try:
            self._mover.apply_report(modem, report, window=self._settings.report_window)
        except (JournalError, UsageError) as exc:
            log.error("send.report_failed", modem=modem, reference=report.reference, error=str(exc))

    def snapshot(self) -> dict[str, object]:
        """Return queue depth, jobs in flight per modem and counters (JSON-friendly)."""
        return {
            "queued": len(self._queue),
            "draining": self._draining,
            "counts": dict(self._mover.counts),
            "modems": {
                name: {
                    "state": session.status.state.value,
                    "busy": name in self._inflight,
                    "sent": self._sent_by[name],
                }
                for name, session in self._sessions.items()
            },
        }

    async def drain(self, timeout: float) -> None:
        """Stop taking jobs; give the sends in flight ``timeout`` seconds to finish.

        A send still in flight then is cancelled and recorded ``unknown`` (its body may
        have been written); queued jobs stay queued for the next start. Never raises.
        """
        self._draining = True
        self._queue.notify()
        tasks = [task for _, task in self._inflight.values()]
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)
        for job_id, task in list(self._inflight.values()):
            if task.done():
                continue
            task.cancel()
            await asyncio.wait([task])
            try:
                record = self._journal.job(job_id)
                if record.state is JobState.SENDING:
                    self._mover.move(
                        record, Step.OUTCOME_LOST, detail="gateway stopped while sending"
                    )
            except JournalError as exc:
                log.error("send.drain_record_failed", job=job_id, error=str(exc))
        log.info("send.drained", queued=len(self._queue))

    # ------------------------------------------------------------------ the queue
    def _push(self, record: JobRecord) -> None:
        if record.id in self._queue or any(j == record.id for j, _ in self._inflight.values()):
            return
        self._queue.push(record.id, not_before=record.not_before, expires_at=record.expires_at)

    def _expire(self, job_id: str) -> None:
        try:
            self._mover.move(self._journal.job(job_id), Step.EXPIRED)
        except (JournalError, UsageError) as exc:
            log.error("send.expire_failed", job=job_id, error=str(exc))

    # ------------------------------------------------------------------ sending
    async def _worker(self, name: str, session: ModemSession) -> None:
        while True:
            await session.wait_for(lambda s: s.state is SessionState.READY)
            job_id = await self._queue.take(lambda: self._draining)
            if job_id is None:
                return
            if session.status.state is not SessionState.READY:
                self._put_back(job_id)  # went down meanwhile: untouched, for another modem
                continue
            task = asyncio.create_task(self._send(name, session, job_id), name=f"send-{name}")
            self._inflight[name] = (job_id, task)
            try:
                await asyncio.wait([task])
            finally:
                if self._inflight.get(name, (None, None))[1] is task:
                    del self._inflight[name]
                self._release_reports(name)  # if the send was cancelled
            exc = None if task.cancelled() else task.exception()
            if exc is not None:
                log.error(
                    "send.internal_error",
                    job=job_id,
                    modem=name,
                    kind=type(exc).__name__,
                )
                log.debug(
                    "send.internal_traceback",
                    job=job_id,
                    kind=type(exc).__name__,
                    frames=frames(exc),
                )

    def _put_back(self, job_id: str, retry: float | None = None) -> None:
        """Queue ``job_id`` again from the journal; if it cannot be read, try again later."""
        self._wakes.pop(job_id, None)
        try:
            record = self._journal.job(job_id)
        except JournalError as exc:
            log.error("send.requeue_failed", job=job_id, error=str(exc))
            self._put_back_later(job_id, retry)
            return
        if record.state is JobState.QUEUED:
            self._push(record)

    def _put_back_later(self, job_id: str, delay: float | None = None) -> None:
        """Queue ``job_id`` again after a backoff (a journal write or read just failed).

        Nothing was sent and the journal still holds the job as queued: it must not wait
        for a restart. The delay doubles up to ``backoff_max`` while the journal fails.
        """
        delay = self._settings.backoff_initial if delay is None else delay
        delay = min(delay, self._settings.backoff_max)
        old = self._wakes.pop(job_id, None)
        if old is not None:
            old.cancel()
        loop = asyncio.get_running_loop()
        self._wakes[job_id] = loop.call_later(delay, self._put_back, job_id, delay * 2)

    async def _send(self, name: str, session: ModemSession, job_id: str) -> None:
        try:
            record = self._journal.job(job_id)
            if record.state is not JobState.QUEUED:
                return
            if self._clock() >= record.expires_at:
                self._mover.move(record, Step.EXPIRED)
                return
            record = self._mover.move(record, Step.START, modem=name)
        except JournalError as exc:
            # taken off the queue (its expiry timer cancelled) but still queued in the
            # journal and nothing sent: back to the queue after a backoff
            log.error("send.start_failed", job=job_id, modem=name, error=str(exc))
            self._put_back_later(job_id)
            return
        self._held.setdefault(name, [])  # reports wait until this send's TP-MRs are stored
        try:
            references = await self._send_parts(name, session, record)
        except Exception as exc:
            self._failed(name, record, exc)
            return
        else:
            self._progress.pop(job_id, None)
            self._sent_by[name] += 1
            self._mover.move(record, Step.ACCEPTED, references=references, modem=name)
        finally:
            self._release_reports(name)

    async def _send_parts(
        self, name: str, session: ModemSession, record: JobRecord
    ) -> tuple[int, ...]:
        modem, concat, done = self._progress.get(record.id, (name, -1, []))
        if modem != name or concat < 0:
            # parts already sent from another SIM cannot be joined with ours: start over
            self._concat = (self._concat + 1) % 256
            modem, concat, done = name, self._concat, []
        self._progress[record.id] = (modem, concat, done)
        if record.text is None:
            raise UsageError("the job's text was purged")
        parts = encode_submit(
            record.number,
            record.text,
            request_status_report=self._settings.delivery_reports,
            validity=timedelta(seconds=max(1.0, record.expires_at - self._clock())),
            concat_reference=concat,
        )
        for part in parts[len(done) :]:
            done.append(await session.send_pdu(part.hex, part.tpdu_length))
        return tuple(done)

    def _failed(self, name: str, record: JobRecord, exc: Exception) -> None:
        judgement = judge(exc)
        handoffs = sum(e.detail == HANDOFF for e in self._journal.job_events(record.id))
        step, not_before = after_failure(
            record.as_job(),
            judgement,
            now=self._clock(),
            policy=self._policy,
            handoffs=handoffs,
        )
        if judgement.verdict is Verdict.HANDOFF:
            self._mover.counts["handoffs"] += 1
            self._progress.pop(record.id, None)  # another SIM cannot continue a multipart
        elif step is Step.TRANSIENT_ERROR:
            self._mover.counts["retries"] += 1
        moved = self._mover.move(
            record,
            step,
            not_before=not_before,
            detail=judgement.detail,
            cms=judgement.cms,
            cme=judgement.cme,
        )
        if moved.state is JobState.QUEUED:
            self._queue.push(moved.id, not_before=moved.not_before, expires_at=moved.expires_at)
        else:
            self._progress.pop(record.id, None)

    # ------------------------------------------------------------------ reports
    def _release_reports(self, modem: str) -> None:
        for report in self._held.pop(modem, []):
            self.on_status_report(modem, report)
