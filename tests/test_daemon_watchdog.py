"""WATCHDOG=1 stops as soon as the daemon's health check fails (no re-arm afterwards)."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

from gateway.daemon.timers import Timers
from gateway.log import capture
from gateway.sdnotify import Notifier


def test_watchdog_pets_stop_when_health_fails(tmp_path: Path) -> None:
    """Three healthy checks give three WATCHDOG=1; the first unhealthy one ends the pets."""
    path = tmp_path / "notify.sock"
    manager = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    manager.bind(str(path))
    checks: list[bool] = []

    async def scenario() -> None:
        withheld = asyncio.Event()

        def healthy() -> bool:
            checks.append(len(checks) < 3)
            if not checks[-1]:
                withheld.set()
            return checks[-1]

        timers = Timers(environ={"WATCHDOG_USEC": "40000"})
        notifier = Notifier({"NOTIFY_SOCKET": str(path)})
        timers.start(notifier, healthy, lambda: None)
        await asyncio.wait_for(withheld.wait(), 10)
        assert timers.pets == 3
        timers.cancel()
        notifier.close()

    try:
        with capture() as events:
            asyncio.run(scenario())
        manager.setblocking(False)
        datagrams = []
        while True:
            try:
                datagrams.append(manager.recv(4096).decode())
            except BlockingIOError:
                break
    finally:
        manager.close()
    assert checks == [True, True, True, False]
    assert sum("WATCHDOG=1" in d.split("\n") for d in datagrams) == 3
    assert [e["event"] for e in events].count("daemon.watchdog_withheld") == 1
