"""The send-job state machine, as a table (house style §3).

A job is queued, picked by a modem (``sending``), accepted by the network (``sent``, one
TP-MR reference per part) and then, when delivery reports are on, ``delivered`` or
``failed``. A code that expires before the job went out ends it as ``expired``. A
``+CMGS: <mr>`` not seen after Ctrl-Z (a timeout, an ``OK`` without it, a lost link, a
crash at that moment) leaves the outcome open: the job becomes
``unknown`` and is never sent again automatically, because the SMS may well have gone out
(field notes: "A timeout after Ctrl-Z does **not** mean 'not sent'") and a second OTP for
the same login is worse than none. Pure: no clock, ``now`` is passed in.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace

from gateway.errors import UsageError


class JobState(enum.Enum):
    """Where a send job is."""

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    EXPIRED = "expired"
    UNKNOWN = "unknown"

    @property
    def final(self) -> bool:
        """Return True when no event can move a job out of this state."""
        return self in _FINAL


class JobEvent(enum.Enum):
    """What happened to a send job."""

    START = "start"  # a modem took the job and is about to send
    ACCEPTED = "accepted"  # +CMGS: <mr> for every part (TS 27.005 §3.5.1)
    TRANSIENT_ERROR = "transient-error"  # e.g. +CMS ERROR 512/500 before Ctrl-Z was acked
    RETRIES_EXHAUSTED = "retries-exhausted"
    PERMANENT_ERROR = "permanent-error"  # e.g. +CMS ERROR 321, invalid destination
    #: no +CMGS after Ctrl-Z (timeout, a bare OK, link lost), or found `sending` after a crash
    OUTCOME_LOST = "outcome-lost"
    EXPIRED = "expired"  # the code expired before the job went out
    DELIVERED = "delivered"  # SMS-STATUS-REPORT TP-ST 0x00-0x1F for every part
    DELIVERY_FAILED = "delivery-failed"  # SMS-STATUS-REPORT with a permanent TP-ST


_S = JobState
_E = JobEvent

#: (state, event) -> next state. Anything not listed is illegal. There is deliberately no
#: way out of UNKNOWN towards SENDING: an open outcome is never resent.
TRANSITIONS: dict[tuple[JobState, JobEvent], JobState] = {
    (_S.QUEUED, _E.START): _S.SENDING,
    (_S.QUEUED, _E.EXPIRED): _S.EXPIRED,
    (_S.SENDING, _E.ACCEPTED): _S.SENT,
    (_S.SENDING, _E.TRANSIENT_ERROR): _S.QUEUED,
    (_S.SENDING, _E.RETRIES_EXHAUSTED): _S.FAILED,
    (_S.SENDING, _E.PERMANENT_ERROR): _S.FAILED,
    (_S.SENDING, _E.OUTCOME_LOST): _S.UNKNOWN,
    (_S.SENDING, _E.EXPIRED): _S.EXPIRED,
    (_S.SENT, _E.DELIVERED): _S.DELIVERED,
    (_S.SENT, _E.DELIVERY_FAILED): _S.FAILED,
}

_FINAL = frozenset({_S.DELIVERED, _S.FAILED, _S.EXPIRED, _S.UNKNOWN})


class IllegalTransition(UsageError):
    """An event was applied to a job in a state where it cannot happen."""

    def __init__(self, state: JobState, event: JobEvent) -> None:
        super().__init__(f"send job: event {event.value!r} is illegal in state {state.value!r}")
        self.state = state
        self.event = event


def next_state(state: JobState, event: JobEvent) -> JobState:
    """Look ``(state, event)`` up in :data:`TRANSITIONS`.

    Returns the next state; raises :class:`IllegalTransition` for a move not in the table.
    """
    try:
        return TRANSITIONS[state, event]
    except KeyError:
        raise IllegalTransition(state, event) from None


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """Bounded exponential backoff for transient send errors."""

    max_attempts: int = 3
    backoff_initial: float = 5.0
    backoff_max: float = 60.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise UsageError("retry policy: max_attempts must be at least 1")
        if not 0 < self.backoff_initial <= self.backoff_max:
            raise UsageError("retry policy: need 0 < backoff_initial <= backoff_max")

    def delay(self, attempts: int) -> float:
        """Return the wait in seconds before attempt number ``attempts + 1``."""
        return min(self.backoff_max, self.backoff_initial * 2.0 ** max(0, attempts - 1))


@dataclass(frozen=True, slots=True, kw_only=True)
class Job:
    """The scheduling view of one send job: state, attempts, when it may run, when it dies."""

    id: str
    state: JobState = JobState.QUEUED
    attempts: int = 0
    not_before: float = 0.0
    expires_at: float
    references: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if not self.id:
            raise UsageError("send job: id must not be empty")
        if self.attempts < 0:
            raise UsageError("send job: attempts must not be negative")
        if any(not 0 <= ref <= 255 for ref in self.references):
            raise UsageError("send job: TP-MR references are 0..255 (TS 23.040 §9.2.3.6)")

    def due(self, now: float) -> bool:
        """Return True when the job is queued, still valid and past its backoff."""
        return self.state is JobState.QUEUED and self.not_before <= now < self.expires_at

    def apply(self, event: JobEvent, *, references: tuple[int, ...] = ()) -> Job:
        """Return the job after ``event``; START counts an attempt, ACCEPTED keeps references.

        Raises :class:`IllegalTransition` when the table has no such move.
        """
        state = next_state(self.state, event)
        if event is JobEvent.START:
            return replace(self, state=state, attempts=self.attempts + 1)
        if event is JobEvent.ACCEPTED:
            return replace(self, state=state, references=references)
        return replace(self, state=state)

    def on_transient_error(self, *, now: float, policy: RetryPolicy) -> tuple[JobEvent, Job]:
        """Decide what a transient error while sending means: retry, give up, or expired.

        Returns the event applied and the new job (queued with a backoff while attempts
        remain and the retry would still happen before expiry). Raises
        :class:`IllegalTransition` unless the job is ``sending``.
        """
        if self.state is not JobState.SENDING:
            raise IllegalTransition(self.state, JobEvent.TRANSIENT_ERROR)
        retry_at = now + policy.delay(self.attempts)
        if now >= self.expires_at or retry_at >= self.expires_at:
            event = JobEvent.EXPIRED
        elif self.attempts >= policy.max_attempts:
            event = JobEvent.RETRIES_EXHAUSTED
        else:
            return JobEvent.TRANSIENT_ERROR, replace(
                self.apply(JobEvent.TRANSIENT_ERROR), not_before=retry_at
            )
        return event, self.apply(event)
