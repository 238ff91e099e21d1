"""Is ModemManager running? Asked by process name in /proc and by systemd's cgroup tree.

ModemManager opens every tty it is not told to ignore and eats ``+CMTI`` (field notes,
"What breaks" 1). Under the shipped unit's ``ProtectProc=invisible`` /proc shows only our
own processes, so the process-name check is blind there. systemd runs ModemManager in its
own cgroup, ``system.slice/ModemManager.service``; cgroupfs is not procfs, so its
``cgroup.procs`` still lists the service's processes (``ProtectControlGroups=yes`` only
makes the tree read-only). A non-empty ``cgroup.procs`` in that directory or below it
means the service runs. Both roots are parameters so tests use their own trees.
"""

from __future__ import annotations

import os
from pathlib import Path

PROCESS_NAME = "ModemManager"
UNIT_CGROUP = "system.slice/ModemManager.service"
#: where the unit's cgroup lives under the cgroup root: the unified hierarchy (v2), the
#: hybrid layout's "unified" mount, and the legacy name=systemd hierarchy (v1)
CGROUP_LAYOUTS = ("", "unified", "systemd")
#: how deep below the unit's cgroup to look (sub-cgroups are rare for this service)
MAX_DEPTH = 3


def running_by_proc(proc_root: Path = Path("/proc")) -> bool:
    """Return True when a process named ModemManager is visible under ``proc_root``.

    Processes that vanish or cannot be read (hidepid, ``ProtectProc=invisible``) are
    skipped; an unreadable ``proc_root`` gives False.
    """
    try:
        entries = list(proc_root.iterdir())
    except OSError:
        return False
    for entry in entries:
        if not entry.name.isdigit():
            continue
        try:
            name = (entry / "comm").read_text(encoding="utf-8", errors="replace").strip()
        except OSError:
            continue
        if name == PROCESS_NAME:
            return True
    return False


def _has_processes(procs: Path) -> bool:
    try:
        text = procs.read_text(encoding="ascii", errors="replace")
    except OSError:
        return False
    return any(line.strip().isdigit() for line in text.splitlines())


def running_by_cgroup(cgroup_root: Path = Path("/sys/fs/cgroup")) -> bool:
    """Return True when ModemManager.service's cgroup (or one below it) has processes.

    A missing or unreadable tree gives False.
    """
    for layout in CGROUP_LAYOUTS:
        unit = cgroup_root / layout / UNIT_CGROUP if layout else cgroup_root / UNIT_CGROUP
        if not unit.is_dir():
            continue
        base = len(unit.parts)
        for directory, subdirectories, files in os.walk(unit):
            if len(Path(directory).parts) - base >= MAX_DEPTH:
                subdirectories.clear()
            if "cgroup.procs" in files and _has_processes(Path(directory) / "cgroup.procs"):
                return True
    return False


def modemmanager_running(
    proc_root: Path = Path("/proc"), cgroup_root: Path = Path("/sys/fs/cgroup")
) -> bool:
    """Return True when ModemManager runs, seen in /proc or in systemd's cgroup tree."""
    return running_by_proc(proc_root) or running_by_cgroup(cgroup_root)
