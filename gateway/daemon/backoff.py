"""Capped exponential backoff: the waits between a modem's restarts and a journal's probes.

A wait doubles after each failure, from ``initial`` up to ``maximum``, so a fault that
lasts hours (a SIM swapped out, a full disk) costs a bounded number of attempts and an
idle daemon never spins. One rule for both: :class:`~gateway.daemon.restart.Restarter`
and :class:`~gateway.daemon.journalwatch.JournalWatch` count failures and ask it.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.errors import UsageError


@dataclass(frozen=True, slots=True, kw_only=True)
class Backoff:
    """Delays between attempts: ``initial`` doubling up to ``maximum`` (seconds)."""

    initial: float = 5.0
    maximum: float = 300.0

    def __post_init__(self) -> None:
        if not 0 < self.initial <= self.maximum:
            raise UsageError("backoff: need 0 < initial <= maximum")

    def delay(self, failures: int) -> float:
        """Return the wait before attempt number ``failures`` (1 for the first).

        Raises UsageError when ``failures`` is below 1.
        """
        if failures < 1:
            raise UsageError("backoff: failures start at 1")
        doubled: float = self.initial * 2.0 ** min(failures - 1, 32)
        return min(doubled, self.maximum)
