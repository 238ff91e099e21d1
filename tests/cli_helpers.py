"""Helpers for CLI tests: run ``otp-gateway`` subcommands as real subprocesses."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import IO

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


def wait_log_event(stream: IO[str], event: str) -> list[str]:
    """Read a daemon's log stream (JSON or console lines) until one names ``event``.

    Blocking reads of the pipe, no polling. Returns the lines read (the last names the
    event); raises AssertionError when the stream ends first.
    """
    seen: list[str] = []
    for line in stream:
        seen.append(line)
        if event in line.split() or f'"event": "{event}"' in line:
            return seen
    raise AssertionError(f"the daemon's log ended before {event}")
