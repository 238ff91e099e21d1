"""Helpers for restart tests: the daemon as a subprocess whose log events can be awaited."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from daemon_helpers import ROOT, NotifySocket


class LoggedDaemon:
    """``otp-gateway run --config`` with its JSON log read by a thread, events awaitable."""

    def __init__(self, config: Path, notify: NotifySocket) -> None:
        environ = {**os.environ, "NOTIFY_SOCKET": str(notify.path)}
        environ.pop("WATCHDOG_PID", None)
        self.notify = notify
        self.events: list[dict[str, object]] = []
        self._changed = threading.Condition()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gateway", "run", "--config", str(config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=environ,
            cwd=ROOT,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            line = raw.decode("utf-8", "replace")
            if not line.startswith("{"):
                continue
            with self._changed:
                self.events.append(json.loads(line))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def wait_event(
        self,
        name: str,
        count: int = 1,
        where: Callable[[dict[str, object]], bool] = lambda event: True,
        timeout: float = 30.0,
    ) -> None:
        """Block until ``count`` log events named ``name`` (and matching) were logged.

        Woken by each logged line (no polling); raises AssertionError after ``timeout``
        or when the log ends first.
        """

        def seen() -> bool:
            return sum(1 for e in self.events if e.get("event") == name and where(e)) >= count

        with self._changed:
            self._changed.wait_for(lambda: seen() or not self._reader.is_alive(), timeout=timeout)
            assert seen(), f"no {count} x {name} in the daemon's log"

    def wait_ready(self) -> None:
        """Block until the daemon sent READY=1 (also when it was read already)."""
        if "READY=1" not in self.notify.seen:
            self.notify.wait_for("READY=1")

    def kill(self) -> None:
        """SIGKILL and reap."""
        self.process.kill()
        self.process.wait(30)
        self._reader.join(30)

    def terminate(self, timeout: float = 30.0) -> int:
        """SIGTERM, wait, return the exit status."""
        self.process.terminate()
        status = self.process.wait(timeout)
        self._reader.join(30)
        return status

    def __enter__(self) -> LoggedDaemon:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.process.poll() is None:
            self.kill()
        if self.process.stdout is not None:
            self.process.stdout.close()


def wait_status(notify: NotifySocket, fragment: str, timeout: float = 30.0) -> str:
    """Block until a ``STATUS=`` line containing ``fragment`` arrives; return it."""
    notify.sock.settimeout(timeout)
    while True:
        for line in notify.sock.recv(4096).decode().split("\n"):
            notify.seen.append(line)
            if line.startswith("STATUS=") and fragment in line:
                return line
