"""The send queue's front: validate, compose, rate-limit, store, answer at once; watch jobs.

:class:`SendService` implements :class:`gateway.relay.ports.SendPort`. A request is
checked (E.164 destination on the country allow-list, WebOTP composition, segment
policy, rate limits), stored as a queued job in the journal (committed before the answer,
so an accepted job survives a crash), handed to the :class:`Dispatcher` and answered with
an unguessable job id without waiting for any modem. :meth:`SendService.watch` follows
the job's state changes until nothing more can follow.
"""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import AsyncIterator, Callable

import structlog

from gateway.config.schema import SendSettings
from gateway.jobs import JobState
from gateway.journal import Journal, JournalError, JournalUnavailable
from gateway.log import mask_number
from gateway.pipeline.dispatch import Dispatcher
from gateway.pipeline.sendrules import job_event, prepare, watch_ends
from gateway.ratelimit import RateLimited as LimitReached
from gateway.ratelimit import RateLimiter
from gateway.relay.errors import BadRequest, NotFound, RateLimited, Unavailable
from gateway.relay.ports import JobEvent, SendAccepted, SendRequest

__all__ = ["Dispatcher", "SendService", "new_job_id"]

log = structlog.get_logger(__name__)


def new_job_id() -> str:
    """Return a fresh, unguessable job id (128 random bits from :mod:`secrets`)."""
    return "j-" + secrets.token_urlsafe(16)


class SendService:
    """Accepts send requests for the relay (a :class:`~gateway.relay.ports.SendPort`)."""

    def __init__(
        self,
        *,
        journal: Journal,
        settings: SendSettings,
        limiter: RateLimiter,
        dispatcher: Dispatcher,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._journal = journal
        self._settings = settings
        self._limiter = limiter
        self._dispatcher = dispatcher
        self._clock = clock

    async def submit(self, request: SendRequest) -> SendAccepted:
        """Validate, compose, rate-limit and store ``request`` as a queued job.

        Returns :class:`SendAccepted` with the job id and the code sent (the one given or
        the one generated) at once; the modem works later. Raises ``BadRequest`` naming
        the field (bad or refused number, bad code or template, too many segments),
        ``RateLimited`` naming the limit with ``retry_after`` in seconds, ``Unavailable``
        while draining or when the journal cannot store the job.
        """
        if self._dispatcher.draining:
            raise Unavailable("the gateway is stopping; no new sends")
        try:
            prepared = prepare(request, self._settings)
        except BadRequest as exc:
            field = exc.message.partition(":")[0]
            # bad-request, or its kinds: number-type-refused, origin-mismatch
            log.info(
                "send.refused",
                reason=exc.code.value,
                field=field,
                origin=request.origin,
                uid=request.peer_uid,
            )
            raise
        message = prepared.message
        for warning in message.warnings:
            log.warning("send.compose_warning", origin=message.origin, reason=warning.reason)
        now = self._clock()
        try:
            self._limiter.acquire(prepared.number, message.origin, now)
        except LimitReached as exc:
            refusal = exc.refusal
            log.info(
                "send.refused",
                reason="rate-limited",
                limit=refusal.limit,
                retry_after=refusal.retry_after,
                number=mask_number(prepared.number),
                origin=message.origin,
                uid=request.peer_uid,
            )
            retry_after = float(math.ceil(refusal.retry_after))
            raise RateLimited(str(refusal), retry_after=retry_after) from None
        job_id = new_job_id()
        try:
            record = self._journal.create_job(
                job_id=job_id,
                number=prepared.number,
                origin=message.origin,
                embedded=message.embedded_origin,
                text=message.text,
                now=now,
                expires_at=now + self._settings.validity,
                requested_by=request.peer_uid,
            )
        except JournalError as exc:
            # never sent without a record: refused, and the caller is told why in general
            # terms (the path and the OS error are in the log and in ``status``)
            log.error("send.store_failed", error=str(exc))
            why = (
                "the journal cannot record the job now (disk full, read-only or state "
                "directory gone; see otp-gateway status)"
                if isinstance(exc, JournalUnavailable)
                else "the journal could not store the job"
            )
            raise Unavailable(f"not sent: {why}") from None
        self._dispatcher.enqueue(record)
        log.info(
            "send.job",
            job=job_id,
            number=mask_number(prepared.number),
            origin=message.origin,
            state=JobState.QUEUED.value,
            segments=message.segments,
            encoding=message.encoding,
            uid=request.peer_uid,
        )
        return SendAccepted(job_id=job_id, code=message.code)

    async def watch(self, job_id: str) -> AsyncIterator[JobEvent]:
        """Yield the job's current state, then each change, ending after the last one.

        The last one is a final state, or ``sent`` when delivery reports are off.
        Raises ``NotFound`` (from the iterator) for an unknown job id.
        """
        reports = self._settings.delivery_reports
        # subscribe before reading the state: nothing can happen in between (no await)
        with self._dispatcher.watchers.subscribe(job_id) as queue:
            try:
                record = self._journal.job(job_id)
            except JournalError:
                raise NotFound("no such send job") from None
            yield job_event(record.id, record.state, record.updated_at)
            state = record.state
            while not watch_ends(state, reports=reports):
                event = await queue.get()
                state = JobState(event.status.value)
                yield event
