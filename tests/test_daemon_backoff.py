"""Tests for the capped exponential backoff the restarter and the journal watch share."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.daemon.backoff import Backoff
from gateway.errors import UsageError


def test_backoff_doubles_up_to_the_cap() -> None:
    """The default waits 5 s, 10 s, 20 s … and never more than 5 minutes."""
    backoff = Backoff()
    assert [backoff.delay(n) for n in (1, 2, 3, 4, 7, 8, 1000)] == [
        5.0, 10.0, 20.0, 40.0, 300.0, 300.0, 300.0,
    ]  # fmt: skip
    with pytest.raises(UsageError):
        Backoff(initial=10.0, maximum=5.0)
    with pytest.raises(UsageError):
        backoff.delay(0)


@given(
    st.floats(min_value=0.001, max_value=100.0),
    st.floats(min_value=1.0, max_value=1000.0),
    st.integers(min_value=1, max_value=10_000),
)
def test_backoff_is_monotonic_and_capped(initial: float, factor: float, failures: int) -> None:
    """Any backoff grows with the failure count and stays within [initial, maximum]."""
    backoff = Backoff(initial=initial, maximum=initial * factor)
    delay = backoff.delay(failures)
    assert initial <= delay <= backoff.maximum
    assert backoff.delay(failures + 1) >= delay
