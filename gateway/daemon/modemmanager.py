"""Warn at start when ModemManager may grab a modem port (field notes, "What breaks" 1).

ModemManager probes every tty it has not been told to ignore: it opens the AT port,
holds it and eats ``+CMTI``. The fix is the shipped udev rule, which sets
``ID_MM_DEVICE_IGNORE=1`` on the port; udev records that in its database as the line
``E:ID_MM_DEVICE_IGNORE=1`` in ``/run/udev/data/c<major>:<minor>``.

:func:`needs_warning` is the pure decision; :func:`modemmanager_running`,
:func:`udev_ignored` and :func:`check_port` are the small I/O shell, each taking the
``/proc``, ``/sys/fs/cgroup`` and ``/run/udev`` roots so tests point them at their own
trees. Under ``ProtectProc=invisible`` (the shipped unit) ``/proc`` shows only our own
processes; ModemManager is then found through systemd's cgroup tree
(:mod:`gateway.modem.mmdetect`). A failed open still names the holder when it can
(:mod:`gateway.modem.link`).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

import structlog

from gateway.modem.mmdetect import PROCESS_NAME, running_by_cgroup, running_by_proc

log = structlog.get_logger("gateway.daemon")

__all__ = [
    "HINT",
    "IGNORE_LINE",
    "PROCESS_NAME",
    "PortCheck",
    "check_port",
    "modemmanager_running",
    "needs_warning",
    "udev_ignored",
    "warn_if_exposed",
]

IGNORE_LINE = "E:ID_MM_DEVICE_IGNORE=1"
HINT = (
    "ModemManager may open this port and swallow +CMTI; install "
    'systemd/70-otp-gateway.rules (ENV{ID_MM_DEVICE_IGNORE}="1") as '
    "/etc/udev/rules.d/70-otp-gateway.rules, then udevadm trigger"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class PortCheck:
    """What was found about one modem port."""

    device: str  # as configured (e.g. a /dev/serial/by-id symlink)
    node: str  # the resolved device node
    ignored: bool  # udev marked it ID_MM_DEVICE_IGNORE=1


def needs_warning(*, modemmanager: bool, ignored: bool) -> bool:
    """Return True when ModemManager runs and the port is not marked ignored for it."""
    return modemmanager and not ignored


def modemmanager_running(
    proc_root: Path = Path("/proc"), cgroup_root: Path = Path("/sys/fs/cgroup")
) -> bool:
    """Return True when ModemManager runs, seen in /proc or in systemd's cgroup tree.

    A process named ModemManager under ``proc_root``, or processes listed in
    ``system.slice/ModemManager.service`` (or below) under ``cgroup_root``. Unreadable or
    hidden entries (``ProtectProc=invisible``) and missing roots are skipped.
    """
    return running_by_proc(proc_root) or running_by_cgroup(cgroup_root)


def udev_ignored(rdev: int, udev_root: Path = Path("/run/udev")) -> bool:
    """Return True when udev's database marks character device ``rdev`` as MM-ignored.

    A missing or unreadable record counts as not ignored.
    """
    record = udev_root / "data" / f"c{os.major(rdev)}:{os.minor(rdev)}"
    try:
        lines = record.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return False
    return IGNORE_LINE in (line.strip() for line in lines)


def check_port(device: str, udev_root: Path = Path("/run/udev")) -> PortCheck | None:
    """Resolve ``device`` and look it up in the udev database.

    Returns None when it is not (yet) a character device: there is nothing to look up.
    """
    node = os.path.realpath(device)
    try:
        info = os.stat(node)
    except OSError:
        return None
    if not stat.S_ISCHR(info.st_mode):
        return None
    return PortCheck(device=device, node=node, ignored=udev_ignored(info.st_rdev, udev_root))


def warn_if_exposed(
    modems: dict[str, str],
    *,
    proc_root: Path = Path("/proc"),
    udev_root: Path = Path("/run/udev"),
    cgroup_root: Path = Path("/sys/fs/cgroup"),
) -> list[str]:
    """Log a warning for each modem port ModemManager may take; return their names.

    ``modems`` maps modem names to configured devices. Never raises.
    """
    if not modemmanager_running(proc_root, cgroup_root):
        return []
    exposed = []
    for name, device in modems.items():
        port = check_port(device, udev_root)
        if port is None or not needs_warning(modemmanager=True, ignored=port.ignored):
            continue
        exposed.append(name)
        log.warning(
            "modem.modemmanager_running",
            modem=name,
            device=port.device,
            node=port.node,
            hint=HINT,
        )
    return exposed
