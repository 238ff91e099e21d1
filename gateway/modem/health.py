"""The health loop: a cheap periodic command doubles as the watchdog ping.

Every ``interval`` seconds while the session is READY it runs ``AT+CSQ`` (signal quality,
TS 27.007 §8.5); every ``verify_every``-th ping it also reads ``AT+CNMI?`` back, because a
modem that restarted without saying so (no boot URC) has lost that setting. Timeouts are
counted by the session; once ``limit`` are consecutive, the loop asks for escalation.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog

from gateway.errors import ModemFault, UsageError

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class HealthConfig:
    """Watchdog knobs."""

    interval: float = 30.0
    verify_every: int = 10
    limit: int = 3  # consecutive timeouts before escalation

    def __post_init__(self) -> None:
        if self.interval <= 0 or self.verify_every < 1 or self.limit < 1:
            raise UsageError("health interval, verify_every and limit must be positive")


class HealthMonitor:
    """Pings while ready; reports settings loss and consecutive timeouts."""

    def __init__(
        self,
        config: HealthConfig,
        *,
        ready: Callable[[], bool],
        ping: Callable[[], Awaitable[None]],
        verify: Callable[[], Awaitable[bool]],
        consecutive_timeouts: Callable[[], int],
        escalate: Callable[[str], None],
        settings_lost: Callable[[], None],
    ) -> None:
        self.config = config
        self._ready = ready
        self._ping = ping
        self._verify = verify
        self._consecutive = consecutive_timeouts
        self._escalate = escalate
        self._settings_lost = settings_lost
        self._wake = asyncio.Event()
        self._stopped = False

    def stop(self) -> None:
        """Make :meth:`run` return at its next wake-up (also if a cancel gets lost)."""
        self._stopped = True
        self._wake.set()

    def poke(self) -> None:
        """Run the next check now instead of waiting for the interval."""
        self._wake.set()

    async def run(self) -> None:
        """Loop until cancelled or stopped."""
        pings = 0
        self._stopped = False
        while not self._stopped:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.config.interval)
            self._wake.clear()
            if self._stopped or not self._ready():
                continue
            pings += 1
            try:
                await self._ping()
                if pings % self.config.verify_every == 0 and not await self._verify():
                    log.warning("modem.settings_lost", note="AT+CNMI changed: silent restart")
                    self._settings_lost()
                    continue
            except ModemFault as exc:
                log.warning("modem.ping_failed", error=str(exc))
            if self._consecutive() >= self.config.limit:
                self._escalate(f"{self._consecutive()} consecutive timeouts")
