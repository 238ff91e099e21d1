"""Tests for the not-ready clock and the progress marks (pure, time passed in)."""

from __future__ import annotations

import pytest

from gateway.errors import UsageError
from gateway.modem.readiness import Readiness, ReadinessConfig, Step


def test_steps_fall_due_one_limit_apart() -> None:
    """Present and not ready: reopen after the limit, radio reset after 2x, give up after 3x."""
    clock = Readiness(ReadinessConfig(limit=10.0, stall=60.0), now=0.0)
    clock.observe(ready=False, present=True, now=5.0)
    assert clock.deadline() == 15.0
    assert clock.due(14.9) is None
    assert [clock.due(15.0), clock.due(25.0), clock.due(35.0)] == [
        Step.REOPEN,
        Step.RADIO_RESET,
        Step.GIVE_UP,
    ]
    assert clock.deadline() is None
    assert clock.steps_taken == 3


def test_without_radio_reset_the_ladder_is_reopen_then_give_up() -> None:
    """A profile that forbids AT+CFUN resets skips that step."""
    clock = Readiness(ReadinessConfig(limit=1.0, radio_reset=False), now=0.0)
    clock.observe(ready=False, present=True, now=0.0)
    assert [clock.due(1.0), clock.due(2.0), clock.due(3.0)] == [Step.REOPEN, Step.GIVE_UP, None]


@pytest.mark.parametrize(("ready", "present"), [(True, True), (False, False), (True, False)])
def test_ready_or_unplugged_starts_the_clock_over(ready: bool, present: bool) -> None:
    """Being ready, or the port being absent (waiting for hardware), ends the episode."""
    clock = Readiness(ReadinessConfig(limit=1.0), now=0.0)
    clock.observe(ready=False, present=True, now=0.0)
    assert clock.due(1.0) is Step.REOPEN
    clock.observe(ready=ready, present=present, now=1.5)
    assert clock.deadline() is None
    assert clock.steps_taken == 0
    clock.observe(ready=False, present=True, now=4.0)
    assert clock.deadline() == 5.0  # a new episode, counted from now


def test_no_limit_never_escalates() -> None:
    """limit None: nothing is ever due."""
    clock = Readiness(ReadinessConfig(limit=None), now=0.0)
    clock.observe(ready=False, present=True, now=0.0)
    assert clock.deadline() is None
    assert clock.due(1e9) is None


def test_stalled_after_stall_seconds_without_a_mark() -> None:
    """No progress mark for longer than ``stall`` seconds is a stall; a mark clears it."""
    clock = Readiness(ReadinessConfig(stall=30.0), now=100.0)
    assert not clock.stalled(130.0)
    assert clock.stalled(130.1)
    clock.mark(129.0)
    assert not clock.stalled(159.0)
    clock.mark(50.0)  # an older mark never moves it back
    assert clock.progress_at == 129.0


@pytest.mark.parametrize(("limit", "stall"), [(0.0, 1.0), (-1.0, 1.0), (1.0, 0.0)])
def test_bad_settings_are_refused(limit: float, stall: float) -> None:
    """Non-positive limits are a usage error."""
    with pytest.raises(UsageError):
        ReadinessConfig(limit=limit, stall=stall)
