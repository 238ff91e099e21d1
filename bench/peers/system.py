"""What the benchmark reads from the machine: /proc accounting, machine facts, versions.

CPU time and peak memory come from proc(5): ``/proc/PID/stat`` fields 14-17 (utime,
stime, cutime, cstime in clock ticks) and ``/proc/PID/status`` ``VmHWM`` (peak resident
set). A daemon is measured as its whole process group (every peer and our daemon are
started in their own session), so smsd's forked modem process counts, and so do children
it already reaped (cutime/cstime).
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

from gateway import __version__
from gateway.testing.peers import PACKAGES, live_group_members

TICK = os.sysconf("SC_CLK_TCK")


def _group_files(pgid: int, name: str) -> Iterator[str]:
    """Yield ``/proc/PID/<name>`` of each live process of group ``pgid``."""
    for pid in live_group_members(pgid):
        try:
            yield Path(f"/proc/{pid}/{name}").read_text()
        except OSError:
            continue  # exited between listing and reading


def group_cpu_seconds(pgid: int) -> float:
    """Return user+system CPU seconds of group ``pgid``'s live processes and reaped children."""
    total = 0
    for text in _group_files(pgid, "stat"):
        fields = text.rpartition(")")[2].split()  # fields from 3 (state) on
        total += sum(int(fields[i]) for i in (11, 12, 13, 14))  # utime stime cutime cstime
    return total / TICK


def group_peak_rss_kib(pgid: int) -> int:
    """Return the sum of VmHWM (peak RSS, KiB) over the live processes of group ``pgid``."""
    total = 0
    for status in _group_files(pgid, "status"):
        match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
        total += int(match.group(1)) if match else 0
    return total


def machine() -> dict[str, object]:
    """Return the facts a reader needs to compare figures: CPUs, model, kernel, Python, load."""
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.partition(":")[2].strip()
                break
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "loadavg_at_start": list(os.getloadavg()),
    }


def _first_match(argv: list[str], pattern: str) -> str:
    """Return the first ``pattern`` group in the output of ``argv``, or 'unknown'."""
    program = shutil.which(argv[0]) or shutil.which(argv[0], path="/usr/sbin:/sbin")
    if program is None:
        return "not installed"
    try:
        done = subprocess.run(
            [program, *argv[1:]], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    match = re.search(pattern, done.stdout + done.stderr)
    return match.group(1) if match else "unknown"


def versions() -> dict[str, str]:
    """Return the versions of the programs under test."""
    return {
        "otp-gateway": __version__,
        "gammu-smsd": _first_match(["gammu-smsd", "--version"], r"version ([\d.]+)"),
        "smsd": _first_match(["smsd", "-V"], r"Version ([\d.]+)"),
    }


def missing_packages() -> list[str]:
    """Return the Debian packages of the peer programs that are not installed."""
    needed = {PACKAGES["gammu-smsd"], PACKAGES["smsd"]}
    found = {
        name
        for name, program in (("gammu-smsd", "gammu-smsd"), ("smstools", "smsd"))
        if shutil.which(program) or shutil.which(program, path="/usr/sbin:/sbin")
    }
    return sorted(needed - found)


def install_peers(packages: list[str]) -> str | None:
    """Install ``packages`` with apt-get; return None on success or the reason it failed."""
    if os.geteuid() != 0:
        return (
            "not root: install them with  sudo apt-get install -y "
            + " ".join(packages)
            + "  (or run the bench with --setup as root)"
        )
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages],
    ):
        done = subprocess.run(argv, env=environment, check=False)
        if done.returncode != 0:
            return f"{' '.join(argv)} failed with status {done.returncode}"
    # smstools' package starts its own smsd on /dev/ttyS0; the bench runs its own instances
    if shutil.which("systemctl"):
        subprocess.run(["systemctl", "stop", "smstools"], check=False, capture_output=True)
    return None
