"""A sans-I/O timer heap: things that must happen at virtual time T (no clock inside).

The I/O shell asks :meth:`Scheduler.next_deadline` and arms one ``loop.call_at`` for it;
tests just call :meth:`Scheduler.run_due` with the time they want.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable


class Scheduler:
    """Callbacks ordered by due time, run when the caller says time has come."""

    __slots__ = ("_heap", "_seq")

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Callable[[float], None]]] = []
        self._seq = itertools.count()

    def call_at(self, when: float, callback: Callable[[float], None]) -> None:
        """Run ``callback(now)`` once ``run_due`` is called with ``now >= when``."""
        heapq.heappush(self._heap, (when, next(self._seq), callback))

    def next_deadline(self) -> float | None:
        """Return the earliest due time, or None when nothing is scheduled."""
        return self._heap[0][0] if self._heap else None

    def run_due(self, now: float) -> int:
        """Run every callback due at ``now`` (also ones scheduled by them); return how many."""
        ran = 0
        while self._heap and self._heap[0][0] <= now:
            _, _, callback = heapq.heappop(self._heap)
            callback(now)
            ran += 1
        return ran

    def cancel_all(self, predicate: Callable[[Callable[[float], None]], bool]) -> None:
        """Drop scheduled callbacks for which ``predicate`` is true."""
        self._heap = [item for item in self._heap if not predicate(item[2])]
        heapq.heapify(self._heap)
