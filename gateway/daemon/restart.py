"""Restarting failed modem sessions with capped exponential backoff.

A :class:`~gateway.modem.session.ModemSession` that failed (to start, or after its own
recovery gave up) is terminal by itself. :class:`Restarter` waits for that state and
starts the session again after 5 s, 10 s, 20 s … capped at 5 min, until it is ready
again; the backoff starts over after each success. A session that failed for a reason
a retry cannot fix (:attr:`ModemStatus.fatal`: wrong PIN, SIM locked or missing) is
never restarted: entering the PIN again would lock the SIM behind its PUK (TS 31.102
§9). Waiting is event-driven: the session's state changes and a timer, never polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

import structlog

from gateway.daemon.backoff import Backoff
from gateway.errors import GatewayError
from gateway.modem.session import ModemSession
from gateway.modem.status import ModemStatus, SessionState
from gateway.tracebacks import frames, safe_reason

log = structlog.get_logger("gateway.daemon")


def failure_fields(exc: BaseException) -> dict[str, object]:
    """Return the log fields that name ``exc`` without leaking what it carries.

    Returns ``error`` (the type name) plus, for our own errors (:class:`GatewayError`,
    whose messages are written to be safe to log), ``reason=str(exc)``; for anything
    else, which may carry data (a code, a PIN, a PDU), ``frames`` to locate the bug and
    never its message. Raises nothing.
    """
    if isinstance(exc, GatewayError):
        return {"error": type(exc).__name__, "reason": safe_reason(exc)}
    return {"error": type(exc).__name__, "frames": frames(exc)}


def _failed(status: ModemStatus) -> bool:
    return status.state is SessionState.FAILED


def _not_failed(status: ModemStatus) -> bool:
    return status.state is not SessionState.FAILED


class Restarter:
    """Keeps one modem session started: restarts it after failures (not fatal ones)."""

    def __init__(
        self,
        name: str,
        session: ModemSession,
        backoff: Backoff,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.name = name
        self._session = session
        self._backoff = backoff
        self._clock = clock
        self.failures = 0  # consecutive failed (re)starts since the session was last ready
        self.retry_at: float | None = None  # wall-clock time of the next attempt
        self.attempts = 0  # restarts tried
        self.given_up = False  # failed for good (fatal): never restarted
        self._changed = asyncio.Event()

    async def wait_for(self, predicate: Callable[[Restarter], bool]) -> None:
        """Return once ``predicate(self)`` holds (woken by each change, no polling)."""
        while not predicate(self):
            changed = self._changed
            await changed.wait()

    def _notify(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def run(self) -> None:
        """Restart the session whenever it fails, until cancelled."""
        while True:
            status = await self._session.wait_for(_failed)
            if status.fatal:
                log.error(
                    "modem.not_retried",
                    modem=self.name,
                    reason=status.error,
                    hint="fix the SIM or PIN, then restart the daemon",
                )
                self.given_up = True
                self._notify()
                await self._session.wait_for(_not_failed)
                self.given_up = False
                continue
            self.failures += 1
            delay = self._backoff.delay(self.failures)
            self.retry_at = self._clock() + delay
            log.warning(
                "modem.retry_scheduled",
                modem=self.name,
                reason=status.error,
                seconds=round(delay, 3),
                attempt=self.failures,
            )
            self._notify()
            # a timer, or an early wake-up if someone else restarted the session
            with contextlib.suppress(TimeoutError):
                await self._session.wait_for(_not_failed, timeout=delay)
            self.retry_at = None
            if self._session.status.state is SessionState.FAILED:
                await self._restart()
            if self._session.status.state is SessionState.READY:
                self.failures = 0
            self._notify()

    async def _restart(self) -> None:
        self.attempts += 1
        self._notify()
        try:
            await self._session.start()
        except Exception as exc:  # whatever stops this start, the next one may work
            log.warning("modem.restart_failed", modem=self.name, **failure_fields(exc))
            return
        log.info("modem.restarted_by_daemon", modem=self.name, attempt=self.attempts)
