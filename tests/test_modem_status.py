"""Tests for gateway.modem.status: the running counters and their frozen snapshot."""

from __future__ import annotations

import dataclasses

import pytest

from gateway.errors import UsageError
from gateway.modem.status import Counters, CounterSnapshot


def test_snapshot_has_exactly_the_counters_fields() -> None:
    """Counters and CounterSnapshot list the same counters, so a new one cannot be missed."""
    names = [f.name for f in dataclasses.fields(Counters)]
    assert names == [f.name for f in dataclasses.fields(CounterSnapshot)]


def test_snapshot_copies_every_counter_and_is_frozen() -> None:
    """snapshot() carries each running value and does not follow later counts."""
    counters = Counters(**{f.name: i for i, f in enumerate(dataclasses.fields(Counters), 1)})
    snapshot = counters.snapshot()
    assert dataclasses.astuple(snapshot) == dataclasses.astuple(counters)
    counters.commands += 1
    assert snapshot.commands == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        snapshot.commands = 5  # type: ignore[misc]


def test_snapshot_rejects_negative_counts() -> None:
    """A snapshot with a negative counter cannot exist."""
    with pytest.raises(UsageError):
        CounterSnapshot(timeouts=-1)
