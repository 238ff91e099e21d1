"""The asyncio shell around :class:`~gateway.modem.readiness.Readiness` for one session.

Feeds it the loop's clock and whether the device node exists, keeps one
``loop.call_at`` armed for the next escalation step, and hands a step that fell due
to ``on_step(step, reason)`` (the session escalates or gives up). No polling: the
timer is re-armed on every state change and every look for a vanished port.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable

import structlog

from gateway.modem.readiness import Readiness, ReadinessConfig, Step

log = structlog.get_logger(__name__)


def loop_time() -> float:
    """The running loop's clock; 0.0 outside a loop (a session not started yet)."""
    try:
        return asyncio.get_running_loop().time()
    except RuntimeError:
        return 0.0


class NotReadyWatch:
    """Times one session's not-ready episodes and its progress marks."""

    def __init__(
        self, config: ReadinessConfig, device: str, on_step: Callable[[Step, str], None]
    ) -> None:
        self.config = config
        self._device = device
        self._on_step = on_step
        self._clock = Readiness(config, now=loop_time())
        self._timer: asyncio.TimerHandle | None = None
        self._state = "stopped"
        self._at_rest = True

    @property
    def steps_taken(self) -> int:
        """Escalation steps taken in the current episode."""
        return self._clock.steps_taken

    def stalled(self) -> bool:
        """True if no progress was marked for longer than the stall limit."""
        return self._clock.stalled(loop_time())

    def mark(self) -> None:
        """Record progress now (a command answered or timed out)."""
        self._clock.mark(loop_time())

    def observe(self, state: str, *, at_rest: bool) -> None:
        """Take in a state change (``at_rest``: ready, stopped, failed for good): progress."""
        self._state = state
        self._clock.mark(loop_time())
        self._update(at_rest)

    def looked(self) -> None:
        """A look for a vanished port: progress, and maybe the port is back."""
        self._clock.mark(loop_time())
        self._update(self._at_rest)

    def _present(self) -> bool:
        return os.path.exists(self._device)

    def _update(self, at_rest: bool) -> None:
        self._at_rest = at_rest
        self._clock.observe(ready=at_rest, present=self._present(), now=loop_time())
        self._arm()

    def _arm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        deadline = self._clock.deadline()
        if deadline is None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._timer = loop.call_at(deadline, self._due)

    def _due(self) -> None:
        self._timer = None
        self._update(self._at_rest)  # the port may have gone meanwhile
        step = self._clock.due(loop_time())
        if step is None:
            self._arm()
            return
        waited = (self.config.limit or 0.0) * self._clock.steps_taken
        reason = f"not ready for {waited:g} s ({self._state})"
        log.warning("modem.not_ready", step=step.value, state=self._state, seconds=waited)
        self._on_step(step, reason)
        self._arm()
