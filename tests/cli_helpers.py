"""Helpers for CLI tests: run ``otp-gateway`` subcommands as real subprocesses."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from gateway.client import Client

ROOT = Path(__file__).resolve().parent.parent


def cli(*args: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
    """Run ``otp-gateway ARGS`` to completion; return the finished process (text output)."""
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        check=False,
    )


def spawn(*args: str) -> subprocess.Popen[str]:
    """Start ``otp-gateway ARGS`` with piped output; the caller waits for it."""
    return subprocess.Popen(
        [sys.executable, "-m", "gateway", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )


def wait_pending_gets(socket: Path, count: int) -> None:
    """Block until the gateway holds ``count`` pending gets (status round trips, no sleep)."""
    with Client(socket) as client:
        while True:
            relay = client.status()["relay"]
            assert isinstance(relay, dict)
            if relay["pending_gets"] >= count:
                return
