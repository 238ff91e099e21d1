"""The daemon's two periodic jobs as ``loop.call_later`` chains (timers, not polling).

- ``WATCHDOG=1`` every ``ping_every`` (half of ``WatchdogSec=``, sd_watchdog_enabled(3)),
  sent from the event loop itself and only while the daemon reports itself healthy: a
  stuck loop, a dead pipeline or a modem session that is neither ready nor making
  progress (``Gateway.healthy``) stops the pets and systemd restarts the service.
- Journal retention (:meth:`gateway.journal.Journal.purge`) once at start and then every
  :data:`PURGE_EVERY` seconds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

import structlog

from gateway.sdnotify import Notifier, watchdog_settings
from gateway.tracebacks import frames

log = structlog.get_logger("gateway.daemon")

#: Seconds between journal retention runs (retention is counted in days).
PURGE_EVERY = 3600.0


class Timers:
    """Owns the watchdog and purge timers of one running gateway."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = environ
        self._handles: dict[str, asyncio.TimerHandle] = {}
        self.pets = 0

    def start(
        self, notifier: Notifier, healthy: Callable[[], bool], purge: Callable[[], None]
    ) -> None:
        """Arm both chains (the watchdog only when the manager asked for one)."""
        loop = asyncio.get_running_loop()
        settings = watchdog_settings(self._environ)
        if settings is not None:

            def pet() -> None:
                if not healthy():
                    log.error("daemon.watchdog_withheld")
                    return  # no re-arm: systemd's watchdog fires and restarts us
                notifier.watchdog()
                self.pets += 1
                self._handles["watchdog"] = loop.call_later(settings.ping_every, pet)

            pet()

        def tick() -> None:
            try:
                purge()
            except Exception as exc:  # retention is housekeeping; the next run may work
                log.error("journal.purge_failed", error=type(exc).__name__, frames=frames(exc))
            self._handles["purge"] = loop.call_later(PURGE_EVERY, tick)

        tick()

    def cancel(self) -> None:
        """Disarm every timer (idempotent)."""
        for handle in self._handles.values():
            handle.cancel()
        self._handles.clear()
