"""Helpers for daemon tests: a config file, the daemon as a real subprocess, sd_notify."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType

from gateway.client import AsyncClient
from gateway.journal import SqliteJournal
from gateway.simulator import ThreadModemHandle

ROOT = Path(__file__).resolve().parent.parent
PIN = "7913"


def write_config(
    tmp_path: Path,
    device: Path,
    *,
    origins: Sequence[str] = ("example.com",),
    rules: Sequence[str] = (
        'users = ["0"]\noperations = ["get", "subscribe", "send", "status"]\norigins = ["*"]',
    ),
    pin: str | None = None,
    extra: str = "",
) -> Path:
    """Write a gateway.toml for a simulated modem at ``device``; return its path."""
    access = "".join(f"\n[[relay.access]]\n{rule}\n" for rule in rules)
    pin_line = f'pin = "{pin}"' if pin else ""
    text = f"""
[[modem]]
name = "sim0"
device = "{device}"
command_timeout = "2s"
send_timeout = "5s"
{pin_line}

[receive]
allowed_origins = {json.dumps(list(origins))}
grace_window = 0

[send]
allowed_countries = ["US"]
valid_numbers_only = false

[relay]
socket = "{tmp_path / "gw.sock"}"
socket_mode = "0600"
{access}
[journal]
state_dir = "{tmp_path / "state"}"

[log]
level = "debug"
{extra}
"""
    path = tmp_path / "gateway.toml"
    path.write_text(text, encoding="utf-8")
    return path


class NotifySocket:
    """A service manager's notify socket (AF_UNIX datagrams) bound under ``tmp_path``."""

    def __init__(self, tmp_path: Path) -> None:
        self.path = tmp_path / "notify.sock"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(self.path))
        self.seen: list[str] = []

    def wait_for(self, field: str, timeout: float = 30.0) -> list[str]:
        """Block until a datagram containing line ``field`` arrives; return all seen so far."""
        self.sock.settimeout(timeout)
        while True:
            data = self.sock.recv(4096).decode()
            lines = data.split("\n")
            self.seen += lines
            if field in lines:
                return self.seen

    def close(self) -> None:
        """Close and remove the socket."""
        self.sock.close()
        self.path.unlink(missing_ok=True)


class Daemon:
    """``otp-gateway run --config`` as a subprocess; stdout (JSON logs) goes to a file."""

    def __init__(
        self,
        tmp_path: Path,
        config: Path,
        notify: NotifySocket,
        *,
        launcher: Sequence[str] = (sys.executable,),
        **env: str,
    ) -> None:
        """Start it; ``launcher`` runs ``-m gateway run ...`` (default: this interpreter)."""
        self.log_path = tmp_path / f"daemon-{len(list(tmp_path.glob('daemon-*.log')))}.log"
        self.notify = notify
        environ = {**os.environ, "NOTIFY_SOCKET": str(notify.path), **env}
        environ.pop("WATCHDOG_PID", None)
        with self.log_path.open("wb") as out:
            self.process = subprocess.Popen(
                [*launcher, "-m", "gateway", "run", "--config", str(config)],
                stdout=out,
                stderr=subprocess.PIPE,
                env=environ,
                cwd=ROOT,
            )

    def wait_ready(self) -> None:
        """Block until the daemon sent READY=1."""
        self.notify.wait_for("READY=1")

    def terminate(self, timeout: float = 30.0) -> int:
        """SIGTERM, wait, return the exit status."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def kill(self) -> None:
        """SIGKILL and reap."""
        self.process.kill()
        self.process.wait(30)

    def log_events(self) -> list[dict[str, object]]:
        """Return the JSON log events written so far."""
        lines = self.log_path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]

    def __enter__(self) -> Daemon:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.process.poll() is None:
            self.kill()
        if self.process.stderr is not None:
            self.process.stderr.close()


def leaked(events: list[dict[str, object]], secrets: Sequence[str]) -> list[str]:
    """Return every logged value (timestamps aside) that contains one of ``secrets``."""
    found: list[str] = []

    def walk(value: object) -> Iterator[str]:
        if isinstance(value, str):
            yield value
        elif isinstance(value, dict):
            for item in value.values():
                yield from walk(item)
        elif isinstance(value, list):
            for item in value:
                yield from walk(item)

    for event in events:
        for key, value in event.items():
            if key == "timestamp":
                continue
            found += [text for text in walk(value) if any(s in text for s in secrets)]
    return found


def journal_at(tmp_path: Path) -> SqliteJournal:
    """Open the daemon's journal (after the daemon exited)."""
    return SqliteJournal.in_state_dir(
        tmp_path / "state", body_retention=86400.0, code_retention=86400.0
    )


def get_after_inject(
    path: Path, modem: ThreadModemHandle, text: str, origin: str = "example.com"
) -> str:
    """Start a ``get``, inject ``text`` once the gateway holds it pending, return the code.

    The server handles one connection's requests in order, so the answer to a ``status``
    sent after the ``get`` proves the ``get`` is pending (no polling, no sleep).
    """

    async def scenario() -> str:
        async with AsyncClient(path) as client:
            waiting = asyncio.create_task(client.get(origin, timeout=20))
            await client.status()
            modem.inject_sms(text)
            return (await waiting).code

    return asyncio.run(scenario())
