"""The daemon's long-running tasks: started by name, watched, cancelled together.

A task that ends while the daemon is serving (it raised, or it returned although it
should run forever) is a failure of the whole daemon: it is logged by name, remembered
as :attr:`TaskSet.failure` and reported once through ``on_failure`` so the daemon stops
(and systemd restarts it). Tasks ending after :meth:`TaskSet.quiet` are part of shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any

import structlog

from gateway.errors import GatewayError

log = structlog.get_logger("gateway.daemon")


class DaemonFailed(GatewayError):
    """A part of the running daemon failed for good (a pipeline or the send queue died)."""


class ModemStuck(DaemonFailed):
    """A modem stayed present but not ready through reopen and radio reset: exit 69."""


class TaskSet:
    """Named asyncio tasks whose unexpected end fails the daemon."""

    def __init__(self, on_failure: Callable[[], None]) -> None:
        self._tasks: dict[asyncio.Task[None], str] = {}
        self._on_failure = on_failure
        self._quiet = False
        self.failure: BaseException | None = None

    def spawn(self, coroutine: Coroutine[Any, Any, None], name: str) -> None:
        """Run ``coroutine`` as the task ``name`` and watch it."""
        task = asyncio.create_task(coroutine, name=name)
        self._tasks[task] = name
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or self._quiet:
            return
        exc = task.exception()
        log.error(
            "daemon.task_failed",
            task=self._tasks.get(task, "?"),
            error=type(exc).__name__ if exc else "returned",
        )
        if self.failure is None:
            self.failure = exc or DaemonFailed(f"{self._tasks.get(task)} ended")
        self._on_failure()

    def healthy(self) -> bool:
        """Return True while no task failed and none has ended (gates WATCHDOG=1)."""
        return self.failure is None and not any(t.done() for t in self._tasks)

    def quiet(self) -> None:
        """From now on a task that ends is shutting down, not failing."""
        self._quiet = True

    async def cancel(self) -> None:
        """Cancel every task and wait for them; their errors are not raised."""
        for task in self._tasks:
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
