"""The journal's health in the running daemon: told once, retried, resumed by itself.

The journal marks itself degraded when a write fails for the disk's sake or its file is
no longer the one at its path (:mod:`gateway.journal.health`); while it is, the receive
pipeline keeps every SMS on the modem. This watch turns that into what an operator sees
and what brings the daemon back:

- one ``journal.degraded`` error per episode (with the reason), one ``journal.recovered``
  warning at its end (how long, how many failures); the status line and snapshot follow;
- while degraded, a probe (one small write) with capped exponential backoff
  (:data:`PROBE_FIRST` doubling to :data:`PROBE_CAP`: a full disk may take hours to be
  freed, and an idle daemon must not spin meanwhile); the first commit that lands in the
  file at the path, a probe's or any other, ends the episode, and ``on_recovered`` then
  queues a sweep so what stayed on the modem is recorded and deleted;
- while healthy, a check every :data:`CHECK_EVERY` seconds that the files open are still
  the ones at the path (two ``stat`` calls), so a deleted state directory is noticed
  even when no SMS comes (every write and every delete check it too).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import structlog

from gateway.daemon.backoff import Backoff
from gateway.journal import Journal, JournalHealth

log = structlog.get_logger("gateway.daemon")

#: Seconds between identity checks of the journal's files while it is healthy.
CHECK_EVERY = 30.0
#: Seconds before the first probe of a degraded journal; doubled after each failed one.
PROBE_FIRST = 1.0
#: The longest wait between two probes.
PROBE_CAP = 60.0


class JournalWatch:
    """Watches one journal from the event loop: logs episodes, probes, reports recovery."""

    def __init__(
        self,
        journal: Journal,
        *,
        on_change: Callable[[JournalHealth], None],
        on_recovered: Callable[[], None],
        check_every: float = CHECK_EVERY,
        probe_first: float = PROBE_FIRST,
        probe_cap: float = PROBE_CAP,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Watch ``journal``; raises UsageError unless ``0 < probe_first <= probe_cap``."""
        self._journal = journal
        self._on_change = on_change
        self._on_recovered = on_recovered
        self._check_every = check_every
        self._backoff = Backoff(initial=probe_first, maximum=probe_cap)
        self._clock = clock
        self._probes = 1  # the probe being waited for, counted from the episode's first
        self._episode: JournalHealth | None = None  # the degraded episode being told
        self._sweep_due = False  # an episode happened: sweep once the journal is back
        self._recovered_at: float | None = None  # when the last episode ended
        self._check: asyncio.TimerHandle | None = None
        self._probe: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.retry_at: float | None = None  # wall time of the next probe, while degraded

    def start(self) -> None:
        """Listen to the journal and arm the identity check (call in the event loop)."""
        self._loop = asyncio.get_running_loop()
        self._journal.on_health(self._changed)
        self._arm_check()
        if not self._journal.verify().healthy:  # noticed before the listener was there
            self._changed(self._journal.health())

    def cancel(self) -> None:
        """Disarm the timers (idempotent); the journal's listener stays but does nothing."""
        for handle in (self._check, self._probe):
            if handle is not None:
                handle.cancel()
        self._check = self._probe = None
        self.retry_at = None
        self._loop = None

    # ------------------------------------------------------------------ episodes
    def _changed(self, health: JournalHealth) -> None:
        """The journal's listener, called inside a journal call: log, arm timers, defer the rest.

        The probe timer is armed (or disarmed) here, so ``retry_at`` is right for a
        ``status`` asked at once; what touches the journal or the daemon runs from the
        loop (:meth:`_apply`).
        """
        if not health.healthy:
            if self._episode is None or self._episode.episodes != health.episodes:
                log.error(
                    "journal.degraded",
                    reason=health.reason,
                    replaced=health.replaced,
                    action="SMS stay on the modem; sends are refused; retrying",
                )
            self._episode = health
            self._sweep_due = True
            if self._probe is None and self._loop is not None:
                self._first_probe()
        elif self._episode is not None:
            episode, self._episode = self._episode, None
            since = episode.since if episode.since is not None else self._clock()
            log.warning(
                "journal.recovered",
                after=round(max(0.0, self._clock() - since), 3),
                failures=episode.failures,
            )
            self._recovered_at = self._clock()
            if self._probe is not None:
                self._probe.cancel()
            self._probe = None
            self.retry_at = None
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon(self._apply)

    def _apply(self) -> None:
        """Tell the daemon the journal's health now; after an episode, have it sweep."""
        if self._loop is None:
            return
        health = self._journal.health()
        if health.healthy and self._sweep_due:
            self._sweep_due = False
            self._on_recovered()
        self._on_change(health)

    def _first_probe(self) -> None:
        # a relapse soon after a recovery (a disk that takes small writes but not the
        # records the sweep then makes) goes on from the last delay, so a flapping disk
        # is probed, and logged, at most about once per PROBE_CAP
        recovered = self._recovered_at
        if recovered is None or self._clock() - recovered >= self._backoff.maximum:
            self._probes = 1
        else:
            self._probes += 1
        self._arm_probe()

    def _arm_probe(self) -> None:
        assert self._loop is not None
        delay = self._backoff.delay(self._probes)
        self.retry_at = self._clock() + delay
        self._probe = self._loop.call_later(delay, self._run_probe)

    def _run_probe(self) -> None:
        # self._probe still names this (fired) timer while the probe runs, so a listener
        # call it causes does not arm a second one
        health = self._journal.probe()
        self._probe = None
        if not health.healthy:
            self._episode = health  # for the failure count told at recovery
            self._probes += 1
            self._arm_probe()
        # healthy: the journal told _changed, which ended the episode

    # ------------------------------------------------------------------ identity check
    def _arm_check(self) -> None:
        assert self._loop is not None
        self._check = self._loop.call_later(self._check_every, self._run_check)

    def _run_check(self) -> None:
        self._journal.verify()  # a changed file is told through _changed
        self._arm_check()
