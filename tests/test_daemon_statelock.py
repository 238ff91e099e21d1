"""Tests for the state directory lock: one daemon per state directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.daemon.statelock import LOCKNAME, StateDirBusy, StateLock
from gateway.errors import UsageError


def test_a_second_holder_is_refused_naming_the_first(tmp_path: Path) -> None:
    """While held, a second lock (even in the same process) fails and names the holder's pid."""
    first = StateLock.acquire(tmp_path)
    with pytest.raises(StateDirBusy, match=rf"in use by another otp-gateway \(pid {os.getpid()}\)"):
        StateLock.acquire(tmp_path)
    first.release()
    assert not first.held
    second = StateLock.acquire(tmp_path)
    assert second.held
    second.release()
    second.release()  # idempotent
    assert (tmp_path / LOCKNAME).stat().st_mode & 0o777 == 0o600


def test_a_killed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    """The kernel drops the lock of a process killed with SIGKILL."""
    script = (
        "import sys; from pathlib import Path; from gateway.daemon.statelock import StateLock;"
        f" StateLock.acquire(Path({str(tmp_path)!r})); print('held', flush=True);"
        " sys.stdin.read()"
    )
    with subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as holder:
        try:
            assert holder.stdout is not None
            assert holder.stdout.readline().strip() == "held"
            with pytest.raises(StateDirBusy, match=f"pid {holder.pid}"):
                StateLock.acquire(tmp_path)
        finally:
            holder.kill()
            holder.wait(30)
    StateLock.acquire(tmp_path).release()


def test_a_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    """A lock file that cannot be created is a UsageError naming it."""
    with pytest.raises(UsageError, match="state directory lock"):
        StateLock.acquire(tmp_path / "missing")
