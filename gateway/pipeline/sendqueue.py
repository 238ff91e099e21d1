"""The send queue's moving parts: due order and timers, job moves, watchers.

The journal is the truth; :class:`JobQueue` is the index the dispatcher's workers wait
on. Nothing polls: a push or a timer (``loop.call_at`` for the earliest backoff end and
for each job's expiry) wakes the workers. The journal's ``not_before``/``expires_at``
are wall-clock times; at push they become delays on the loop's monotonic clock, so a
wall-clock step (NTP, a manual set) neither holds a retry for an hour nor fires it
early. :class:`JobMover` commits each state-table step to the journal first, then logs
it (job id, masked number, state, ``cms=``; never the code, text or PDU) and hands it to
the :class:`Watchers`.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import structlog

from gateway.jobs import JobEvent as Step
from gateway.jobs import JobState
from gateway.journal import JobRecord, Journal
from gateway.log import mask_number
from gateway.pipeline.sendrules import job_event, report_recipient, report_step
from gateway.relay.ports import JobEvent
from gateway.sms import StatusReport

log = structlog.get_logger(__name__)


@dataclass(slots=True, kw_only=True)
class _Waiting:
    """A queued job: its heap sequence number and its expiry timer."""

    seq: int
    expiry: asyncio.TimerHandle


class JobQueue:
    """Job ids ordered by when they are due; :meth:`take` waits for the next due one.

    ``clock`` is the wall clock the journal's times are on; due times and timers are on
    the running loop's monotonic clock.
    """

    def __init__(self, *, clock: Callable[[], float], on_expire: Callable[[str], None]) -> None:
        self._clock = clock
        self._on_expire = on_expire
        self._waiting: dict[str, _Waiting] = {}
        self._heap: list[tuple[float, int, str]] = []
        self._seq = itertools.count()
        self._changed = asyncio.Event()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None

    def __len__(self) -> int:
        return len(self._waiting)

    def __contains__(self, job_id: object) -> bool:
        return job_id in self._waiting

    def push(self, job_id: str, *, not_before: float, expires_at: float) -> None:
        """Queue ``job_id`` (again); it expires through ``on_expire`` unless taken first.

        ``not_before`` and ``expires_at`` are wall-clock times (the journal's); they are
        turned into monotonic ones now. Raises RuntimeError outside a running loop.
        """
        old = self._waiting.pop(job_id, None)
        if old is not None:
            old.expiry.cancel()
        seq = next(self._seq)
        loop = asyncio.get_running_loop()
        wall, mono = self._clock(), loop.time()
        # not clamped: overdue jobs keep their not_before order; call_at in the past is "now"
        expiry = loop.call_at(mono + (expires_at - wall), self._expire, job_id)
        self._waiting[job_id] = _Waiting(seq=seq, expiry=expiry)
        heapq.heappush(self._heap, (mono + (not_before - wall), seq, job_id))
        self.notify()

    def _expire(self, job_id: str) -> None:
        if self._waiting.pop(job_id, None) is not None:
            self._on_expire(job_id)

    async def take(self, stop: Callable[[], bool]) -> str | None:
        """Return the next due job id (removed from the queue), or None once ``stop()``."""
        while not stop():
            now = asyncio.get_running_loop().time()
            while self._heap:
                due, seq, job_id = self._heap[0]
                waiting = self._waiting.get(job_id)
                if waiting is None or waiting.seq != seq:
                    heapq.heappop(self._heap)  # taken, expired or pushed again
                    continue
                if due > now:
                    break
                heapq.heappop(self._heap)
                del self._waiting[job_id]
                waiting.expiry.cancel()
                return job_id
            self._arm(self._heap[0][0] if self._heap else None)
            changed = self._changed
            await changed.wait()
        return None

    def notify(self) -> None:
        """Wake every :meth:`take` to look again."""
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def close(self) -> None:
        """Cancel every timer (the jobs stay queued in the journal)."""
        for waiting in self._waiting.values():
            waiting.expiry.cancel()
        self._waiting.clear()
        self._heap.clear()
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._timer_at = None

    def _arm(self, deadline: float | None) -> None:
        """Have the loop wake the takers at ``deadline`` (loop time: the earliest due)."""
        if deadline == self._timer_at:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at, self._timer = deadline, None
        if deadline is not None:
            self._timer = asyncio.get_running_loop().call_at(deadline, self._fire)

    def _fire(self) -> None:
        self._timer_at = self._timer = None
        self.notify()


class Watchers:
    """Per-job queues of :class:`~gateway.relay.ports.JobEvent` for ``watch`` iterators."""

    def __init__(self) -> None:
        self._queues: dict[str, set[asyncio.Queue[JobEvent]]] = {}

    @contextlib.contextmanager
    def subscribe(self, job_id: str) -> Iterator[asyncio.Queue[JobEvent]]:
        """Yield a queue receiving every later event of ``job_id``; unsubscribe on exit."""
        queue: asyncio.Queue[JobEvent] = asyncio.Queue()
        self._queues.setdefault(job_id, set()).add(queue)
        try:
            yield queue
        finally:
            queues = self._queues.get(job_id)
            if queues is not None:
                queues.discard(queue)
                if not queues:
                    del self._queues[job_id]

    def publish(self, event: JobEvent) -> None:
        """Hand ``event`` to every subscriber of its job."""
        for queue in self._queues.get(event.job_id, ()):
            queue.put_nowait(event)

    def __len__(self) -> int:
        return sum(len(q) for q in self._queues.values())


class JobMover:
    """Applies state-table steps (sends, reports): journal first, then log and watchers."""

    def __init__(self, journal: Journal, clock: Callable[[], float]) -> None:
        self._journal = journal
        self._clock = clock
        self.watchers = Watchers()
        self.counts: Counter[str] = Counter()  # moves into each state, handoffs, retries

    def move(
        self,
        record: JobRecord,
        step: Step,
        *,
        references: tuple[int, ...] = (),
        not_before: float | None = None,
        modem: str | None = None,
        detail: str | None = None,
        cms: int | None = None,
        cme: int | None = None,
    ) -> JobRecord:
        """Commit ``step`` for ``record``'s job; log it and tell its watchers.

        ``detail`` must be log-safe. Returns the moved job; raises
        :class:`gateway.jobs.IllegalTransition` or :class:`JournalError`.
        """
        now = self._clock()
        moved = self._journal.transition_job(
            record.id,
            step,
            now=now,
            references=references,
            not_before=not_before,
            modem=modem,
            detail=detail,
        )
        state = moved.state
        self.counts[state.value] += 1
        bad = state in (JobState.FAILED, JobState.UNKNOWN, JobState.EXPIRED)
        (log.warning if bad else log.info)(
            "send.job",
            job=moved.id,
            number=mask_number(moved.number),
            state=state.value,
            modem=moved.modem,
            attempt=moved.attempts,
            parts=len(moved.references) or None,
            cms=cms,
            cme=cme,
            detail=detail,
            uid=moved.requested_by,
        )
        self.watchers.publish(job_event(moved.id, state, now, detail))
        return moved

    def apply_report(self, modem: str, report: StatusReport, *, window: float) -> None:
        """Store a final status report, match it to a sent part and move its job.

        Raises :class:`JournalError` when the journal cannot be written.
        """
        if not report.final:
            # TS 23.040 §9.2.3.15: 0x20-0x3F, the SC is still trying; a final one follows
            log.info("send.report_pending", modem=modem, reference=report.reference)
            return
        recipient = report_recipient(report.recipient)
        match = self._journal.record_delivery_report(
            modem=modem,
            reference=report.reference,
            recipient=recipient,
            status=report.status,
            now=self._clock(),
            window=window,
        )
        if match is None:
            log.info(
                "send.report_unmatched",
                modem=modem,
                reference=report.reference,
                number=mask_number(recipient),
            )
            return
        record = self._journal.job(match.job_id)
        step = report_step(report, match)
        if record.state is JobState.SENT and step is not None:
            self.move(record, step, detail=f"status report TP-ST {report.status}")
