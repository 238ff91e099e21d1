"""Tests for the daemon's task set: an unexpected end fails the daemon, shutdown does not."""

from __future__ import annotations

import asyncio

import structlog.testing

from gateway.daemon.tasks import DaemonFailed, TaskSet


async def _forever() -> None:
    await asyncio.Event().wait()


async def _crash() -> None:
    raise OSError("disk gone")


async def _return() -> None:
    return None


def test_a_crashing_task_fails_the_daemon_once() -> None:
    """A task that raises is logged by name, kept as the failure and reported once."""

    async def main() -> None:
        failed = asyncio.Event()
        calls: list[None] = []

        def on_failure() -> None:
            calls.append(None)
            failed.set()

        tasks = TaskSet(on_failure=on_failure)
        tasks.spawn(_forever(), "steady")
        with structlog.testing.capture_logs() as logs:
            tasks.spawn(_crash(), "pipeline")
            await failed.wait()
        assert isinstance(tasks.failure, OSError)
        assert not tasks.healthy()
        assert calls == [None]
        assert {"event": "daemon.task_failed", "task": "pipeline", "error": "OSError"}.items() <= (
            logs[0].items()
        )
        await tasks.cancel()

    asyncio.run(main())


def test_a_task_that_returns_is_a_failure_too() -> None:
    """A task meant to run forever that returns becomes a DaemonFailed naming it."""

    async def main() -> None:
        failed = asyncio.Event()
        tasks = TaskSet(on_failure=failed.set)
        tasks.spawn(_return(), "dispatcher")
        await failed.wait()
        assert isinstance(tasks.failure, DaemonFailed)
        assert "dispatcher" in str(tasks.failure)

    asyncio.run(main())


def test_after_quiet_ending_tasks_are_shutdown() -> None:
    """Once quiet, cancelled and returning tasks are not failures; cancel() waits for all."""

    async def main() -> None:
        tasks = TaskSet(on_failure=lambda: None)
        tasks.spawn(_forever(), "steady")
        assert tasks.healthy()
        tasks.quiet()
        tasks.spawn(_return(), "short")
        await tasks.cancel()
        assert tasks.failure is None

    asyncio.run(main())
