"""Tests for the send-job state table."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.errors import UsageError
from gateway.jobs import (
    TRANSITIONS,
    IllegalTransition,
    Job,
    JobEvent,
    JobState,
    RetryPolicy,
    next_state,
)

POLICY = RetryPolicy(max_attempts=3, backoff_initial=5.0, backoff_max=20.0)


def _job(**kwargs: object) -> Job:
    return Job(id="j1", expires_at=600.0, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("events", "final"),
    [
        ([JobEvent.START, JobEvent.ACCEPTED, JobEvent.DELIVERED], JobState.DELIVERED),
        ([JobEvent.START, JobEvent.ACCEPTED, JobEvent.DELIVERY_FAILED], JobState.FAILED),
        ([JobEvent.START, JobEvent.PERMANENT_ERROR], JobState.FAILED),
        ([JobEvent.START, JobEvent.OUTCOME_LOST], JobState.UNKNOWN),
        ([JobEvent.EXPIRED], JobState.EXPIRED),
        ([JobEvent.START, JobEvent.TRANSIENT_ERROR, JobEvent.START], JobState.SENDING),
    ],
)
def test_paths_through_the_table(events: list[JobEvent], final: JobState) -> None:
    """The documented paths reach the documented states."""
    state = JobState.QUEUED
    for event in events:
        state = next_state(state, event)
    assert state is final


def test_unknown_is_never_resent() -> None:
    """A job whose outcome is open cannot be started again, by any event."""
    for event in JobEvent:
        with pytest.raises(IllegalTransition):
            next_state(JobState.UNKNOWN, event)


@given(st.sampled_from(JobState), st.sampled_from(JobEvent))
def test_table_is_the_only_truth(state: JobState, event: JobEvent) -> None:
    """Every (state, event) pair either is in the table or raises IllegalTransition."""
    if (state, event) in TRANSITIONS:
        assert next_state(state, event) is TRANSITIONS[state, event]
    else:
        with pytest.raises(IllegalTransition, match=event.value):
            next_state(state, event)


def test_final_states_have_no_exits() -> None:
    """Final states appear in no transition as a source."""
    sources = {state for state, _ in TRANSITIONS}
    assert all(not state.final for state in sources)
    assert {s for s in JobState if s.final} == {
        JobState.DELIVERED,
        JobState.FAILED,
        JobState.EXPIRED,
        JobState.UNKNOWN,
    }


def test_start_counts_attempts_and_accept_keeps_references() -> None:
    """START increments attempts; ACCEPTED stores one TP-MR per part."""
    job = _job().apply(JobEvent.START)
    assert (job.state, job.attempts) == (JobState.SENDING, 1)
    sent = job.apply(JobEvent.ACCEPTED, references=(7, 8))
    assert (sent.state, sent.references) == (JobState.SENT, (7, 8))


def test_transient_error_backs_off_then_gives_up() -> None:
    """Transient errors requeue with exponential backoff until attempts run out."""
    job = _job().apply(JobEvent.START)
    event, job = job.on_transient_error(now=10.0, policy=POLICY)
    assert (event, job.state, job.not_before) == (JobEvent.TRANSIENT_ERROR, JobState.QUEUED, 15.0)
    assert not job.due(14.9)
    assert job.due(15.0)
    job = job.apply(JobEvent.START)
    event, job = job.on_transient_error(now=15.0, policy=POLICY)
    assert job.not_before == 25.0
    job = job.apply(JobEvent.START)
    event, job = job.on_transient_error(now=25.0, policy=POLICY)
    assert (event, job.state) == (JobEvent.RETRIES_EXHAUSTED, JobState.FAILED)


def test_transient_error_near_expiry_expires() -> None:
    """A retry that would happen after the code expires ends the job as expired."""
    job = _job().apply(JobEvent.START)
    event, job = job.on_transient_error(now=598.0, policy=POLICY)
    assert (event, job.state) == (JobEvent.EXPIRED, JobState.EXPIRED)


def test_transient_error_outside_sending_is_illegal() -> None:
    """Only a job being sent can hit a transient send error."""
    with pytest.raises(IllegalTransition):
        _job().on_transient_error(now=0.0, policy=POLICY)


def test_due_respects_expiry() -> None:
    """An expired queued job is not due."""
    assert _job().due(0.0)
    assert not _job().due(600.0)


def test_backoff_is_capped() -> None:
    """The delay doubles per attempt up to backoff_max."""
    assert [POLICY.delay(n) for n in (1, 2, 3, 4, 10)] == [5.0, 10.0, 20.0, 20.0, 20.0]


@pytest.mark.parametrize(
    "kwargs",
    [{"id": ""}, {"attempts": -1}, {"references": (256,)}],
)
def test_invalid_jobs_cannot_exist(kwargs: dict[str, object]) -> None:
    """Validation in __post_init__ refuses impossible jobs."""
    fields: dict[str, object] = {"id": "j", "expires_at": 1.0, **kwargs}
    with pytest.raises(UsageError):
        Job(**fields)  # type: ignore[arg-type]


def test_invalid_policy() -> None:
    """A policy with no attempts or inverted backoff is refused."""
    with pytest.raises(UsageError):
        RetryPolicy(max_attempts=0)
    with pytest.raises(UsageError):
        RetryPolicy(backoff_initial=10.0, backoff_max=1.0)
