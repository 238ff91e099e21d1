"""When the receive pipeline sweeps and expires: two loop timers that queue work items.

The periodic sweep (``AT+CMGL=4`` over every read memory) is the safety net for lost
URCs (field notes 4); the expiry timer hands out multipart messages whose parts stopped
coming (TS 23.040 §9.2.3.24.1 gives no deadline; ours is ``multipart_timeout``). The
timers only put :data:`SWEEP`/:data:`EXPIRE` on the pipeline's queue: the work itself
runs in the pipeline's loop, one item at a time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

#: work items the timers queue
SWEEP = "sweep"
EXPIRE = "expire"


class Timers:
    """The sweep and expiry timers of one pipeline (armed inside its running loop)."""

    def __init__(self, put: Callable[[str], None]) -> None:
        self._put = put
        self._sweep: asyncio.TimerHandle | None = None
        self._expire: asyncio.TimerHandle | None = None

    def arm_sweep(self, interval: float) -> None:
        """Queue the next sweep ``interval`` seconds from now, replacing a pending one.

        Raises RuntimeError outside a running event loop.
        """
        if self._sweep is not None:
            self._sweep.cancel()
        self._sweep = asyncio.get_running_loop().call_later(interval, self._put, SWEEP)

    def arm_expiry(self, deadline: float | None, now: float) -> None:
        """Queue an expiry at ``deadline`` (None: nothing held, no timer).

        ``deadline`` and ``now`` are on one monotonic clock (the loop's): a wall-clock
        step must not move a timer.

        Raises RuntimeError outside a running event loop.
        """
        if self._expire is not None:
            self._expire.cancel()
            self._expire = None
        if deadline is not None:
            delay = max(0.0, deadline - now)
            self._expire = asyncio.get_running_loop().call_later(delay, self._put, EXPIRE)

    def cancel(self) -> None:
        """Cancel both timers (the pipeline stops)."""
        for timer in (self._sweep, self._expire):
            if timer is not None:
                timer.cancel()
