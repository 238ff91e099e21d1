"""How long a modem may be present but not ready, and what is done about it (pure).

Two clocks per session, both fed ``now`` by the session (no clock or I/O in here):

- **Not ready.** A modem whose port is present but that has not been ``ready`` for
  ``limit`` seconds is escalated one step per further ``limit``: reopen the port and
  initialise again, then ``AT+CFUN=0``/``AT+CFUN=1`` (TS 27.007 §8.2) where the profile
  allows a radio reset, then give up: the daemon exits non-zero and systemd restarts
  it. A modem that is unplugged (its device node absent) is waiting for hardware,
  not stuck: its clock starts when the node is back. Being ready starts it over.
- **Progress.** Every command answered or timed out, every state change and every
  look for a vanished port is a progress mark. A session that is not resting (ready,
  failed for good, stopped, or waiting for an unplugged port) and made no progress for
  ``stall`` seconds is stalled: the daemon then withholds ``WATCHDOG=1``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from gateway.errors import UsageError


class Step(Enum):
    """The escalation steps for a modem that stays not ready, in order."""

    REOPEN = "reopen"
    RADIO_RESET = "radio reset"
    GIVE_UP = "give up"


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadinessConfig:
    """``limit``: seconds present-but-not-ready per step (None: never escalate)."""

    limit: float | None = 300.0
    radio_reset: bool = True  # the profile allows AT+CFUN=0/1
    stall: float = 600.0  # seconds without progress before the session counts as stalled

    def __post_init__(self) -> None:
        if self.limit is not None and self.limit <= 0:
            raise UsageError("not_ready_limit must be positive")
        if self.stall <= 0:
            raise UsageError("stall must be positive")

    @property
    def steps(self) -> tuple[Step, ...]:
        """The steps taken, in order (the radio reset only where allowed)."""
        if self.radio_reset:
            return (Step.REOPEN, Step.RADIO_RESET, Step.GIVE_UP)
        return (Step.REOPEN, Step.GIVE_UP)


class Readiness:
    """Tracks one session's not-ready episode and its progress marks."""

    def __init__(self, config: ReadinessConfig, now: float) -> None:
        self.config = config
        self._since: float | None = None  # present and not ready since
        self._taken = 0  # escalation steps taken in this episode
        self.progress_at = now

    @property
    def since(self) -> float | None:
        """When the current present-but-not-ready episode began, or None."""
        return self._since

    @property
    def steps_taken(self) -> int:
        """Escalation steps taken in the current episode."""
        return self._taken

    def mark(self, now: float) -> None:
        """Record progress (a command answered or timed out, a state change, a look)."""
        self.progress_at = max(self.progress_at, now)

    def observe(self, *, ready: bool, present: bool, now: float) -> None:
        """Take in whether the modem is ready and its port present at ``now``."""
        if ready or not present:
            self._since = None
            self._taken = 0
        elif self._since is None:
            self._since = now

    def deadline(self) -> float | None:
        """Return when the next step is due (None: nothing to escalate)."""
        limit = self.config.limit
        if limit is None or self._since is None or self._taken >= len(self.config.steps):
            return None
        return self._since + limit * (self._taken + 1)

    def due(self, now: float) -> Step | None:
        """Return the step due at ``now`` (and count it taken), or None."""
        deadline = self.deadline()
        if deadline is None or now < deadline:
            return None
        step = self.config.steps[self._taken]
        self._taken += 1
        return step

    def stalled(self, now: float) -> bool:
        """True if no progress was marked for longer than ``stall`` seconds."""
        return now - self.progress_at > self.config.stall
