"""A seccomp filter like the shipped unit's ``SystemCallFilter=~...``, for subprocesses.

:func:`unit_denied_syscalls` reads the deny line of ``systemd/otp-gateway.service`` and
expands its groups with ``systemd-analyze syscall-filter`` (the same tables systemd
uses). :func:`denying` returns a command prefix that runs a program with those system
calls failing with EPERM (``SystemCallErrorNumber=EPERM``): ``seccomp_exec.py`` loads
the filter through libseccomp (``libseccomp.so.2``, via ctypes) and then execs the
program, which inherits the filter.
"""

from __future__ import annotations

import dataclasses
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


def _expand(items: Iterable[str]) -> set[str]:
    calls: set[str] = set()
    for item in items:
        calls |= _group(item) if item.startswith("@") else {item}
    return calls


@dataclasses.dataclass(frozen=True)
class UnitFilter:
    """The unit's system call filter: only ``allowed``, and of those never ``denied``."""

    allowed: frozenset[str]
    denied: frozenset[str]


def unit_filter(unit: Path = UNIT) -> UnitFilter:
    """Return the unit's ``SystemCallFilter=`` lines: allow-list and deny-list, expanded."""
    allowed: set[str] = set()
    denied: set[str] = set()
    for match in re.finditer(r"^SystemCallFilter=(~?)(.+)$", unit.read_text(), re.MULTILINE):
        (denied if match.group(1) else allowed).update(_expand(match.group(2).split()))
    return UnitFilter(allowed=frozenset(allowed), denied=frozenset(denied))


def unit_denied_syscalls(unit: Path = UNIT) -> frozenset[str]:
    """Return every system call the unit's ``SystemCallFilter=~...`` lines deny."""
    return unit_filter(unit).denied


def denying(syscalls: Iterable[str], *, only: Iterable[str] | None = None) -> list[str]:
    """Return the prefix for ``-m MODULE ...``/``-c CODE ...`` run with ``syscalls`` denied.

    With ``only``, every call outside it fails too (an allow-list, as ``@system-service``).
    """
    allowed = "*" if only is None else ",".join(sorted(only))
    return [sys.executable, str(LAUNCHER), allowed, ",".join(sorted(syscalls)), "--"]


def under_unit_filter(unit: Path = UNIT) -> list[str]:
    """Return the prefix that runs ``-m``/``-c`` under the unit's whole system call filter."""
    rules = unit_filter(unit)
    return denying(rules.denied, only=rules.allowed)
