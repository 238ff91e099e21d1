"""A seccomp filter like the shipped unit's ``SystemCallFilter=~...``, for subprocesses.

:func:`unit_denied_syscalls` reads the deny line of ``systemd/otp-gateway.service`` and
expands its groups with ``systemd-analyze syscall-filter`` (the same tables systemd
uses). :func:`denying` returns a command prefix that runs a program with those system
calls failing with EPERM (``SystemCallErrorNumber=EPERM``): ``seccomp_exec.py`` loads
the filter through libseccomp (``libseccomp.so.2``, via ctypes) and then execs the
program, which inherits the filter.
"""

from __future__ import annotations

import functools
import re
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
UNIT = ROOT / "systemd" / "otp-gateway.service"
LAUNCHER = Path(__file__).resolve().parent / "seccomp_exec.py"


@functools.cache
def _group(name: str) -> frozenset[str]:
    """Return the system calls of one ``@group``, nested groups expanded."""
    out = subprocess.run(
        ["systemd-analyze", "syscall-filter", name],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    calls: set[str] = set()
    for line in out.splitlines()[1:]:
        item = line.strip()
        if not item or item.startswith("#"):
            continue
        calls |= _group(item) if item.startswith("@") else {item}
    return frozenset(calls)


def unit_denied_syscalls(unit: Path = UNIT) -> frozenset[str]:
    """Return every system call the unit's ``SystemCallFilter=~...`` lines deny."""
    denied: set[str] = set()
    for match in re.finditer(r"^SystemCallFilter=~(.+)$", unit.read_text(), re.MULTILINE):
        for item in match.group(1).split():
            denied |= _group(item) if item.startswith("@") else {item}
    return frozenset(denied)


def denying(syscalls: Iterable[str]) -> list[str]:
    """Return the prefix for ``-m MODULE ...``/``-c CODE ...`` run with ``syscalls`` denied."""
    return [sys.executable, str(LAUNCHER), ",".join(sorted(syscalls)), "--"]
