"""The ModemManager warning at start: /proc and udev database trees under tmp_path."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

import pytest

from gateway import log as gwlog
from gateway.daemon import Gateway
from gateway.daemon.modemmanager import (
    IGNORE_LINE,
    check_port,
    modemmanager_running,
    needs_warning,
    udev_ignored,
    warn_if_exposed,
)
from gateway.daemon.simulate import SimulatedSetup
from gateway.simulator import Simulator


def fake_proc(root: Path, names: dict[str, str]) -> Path:
    """Write a /proc-like tree: one ``<pid>/comm`` per entry; return its root."""
    for pid, name in names.items():
        (root / pid).mkdir(parents=True)
        (root / pid / "comm").write_text(f"{name}\n", encoding="utf-8")
    (root / "self").mkdir(exist_ok=True)  # non-numeric entries are not processes
    (root / "4242").mkdir()  # a process we may not look into (ProtectProc=invisible)
    return root


def udev_record(root: Path, rdev: int, lines: list[str]) -> Path:
    """Write udev's database record for character device ``rdev``; return the udev root."""
    data = root / "data"
    data.mkdir(parents=True, exist_ok=True)
    (data / f"c{os.major(rdev)}:{os.minor(rdev)}").write_text("\n".join(lines) + "\n")
    return root


@pytest.fixture
def pty(tmp_path: Path) -> Iterator[tuple[Path, str, int]]:
    """A real pty behind a symlink: yields (link, resolved node, st_rdev)."""
    leader, follower = os.openpty()
    node = os.ttyname(follower)
    link = tmp_path / "gsm-modem0"
    link.symlink_to(node)
    try:
        yield link, node, os.stat(node).st_rdev
    finally:
        os.close(leader)
        os.close(follower)


@pytest.mark.parametrize(
    ("running", "ignored", "warn"),
    [(True, False, True), (True, True, False), (False, False, False), (False, True, False)],
)
def test_needs_warning(running: bool, ignored: bool, warn: bool) -> None:
    """Warn only when ModemManager runs and the port is not marked ignored."""
    assert needs_warning(modemmanager=running, ignored=ignored) is warn


def test_modemmanager_is_found_by_process_name(tmp_path: Path) -> None:
    """A ModemManager comm is found; other names, hidden entries and a missing root are not."""
    none = tmp_path / "no-cgroup"
    assert modemmanager_running(
        fake_proc(tmp_path / "a", {"1": "systemd", "77": "ModemManager"}), none
    )
    assert not modemmanager_running(fake_proc(tmp_path / "b", {"1": "systemd", "9": "mmcli"}), none)
    assert not modemmanager_running(tmp_path / "no-proc", none)


def fake_cgroup(root: Path, unit: str, procs: str) -> Path:
    """Write a cgroup tree with ``<unit>/cgroup.procs`` holding ``procs``; return its root."""
    (root / unit).mkdir(parents=True)
    (root / unit / "cgroup.procs").write_text(procs, encoding="ascii")
    (root / "system.slice" / "other.service").mkdir(parents=True)
    (root / "system.slice" / "other.service" / "cgroup.procs").write_text("42\n")
    return root


@pytest.mark.parametrize(
    ("unit", "procs", "running"),
    [
        ("system.slice/ModemManager.service", "812\n", True),  # cgroup v2
        ("systemd/system.slice/ModemManager.service", "812\n", True),  # v1 name=systemd
        ("unified/system.slice/ModemManager.service", "812\n813\n", True),  # hybrid
        ("system.slice/ModemManager.service/sub", "812\n", True),  # a sub-cgroup
        ("system.slice/ModemManager.service", "", False),  # unit stopped, cgroup kept
        ("system.slice/NetworkManager.service", "812\n", False),
    ],
)
def test_modemmanager_is_found_by_cgroup(
    tmp_path: Path, unit: str, procs: str, running: bool
) -> None:
    """With /proc blind (ProtectProc=invisible) a populated ModemManager cgroup is found."""
    blind = fake_proc(tmp_path / "proc", {"1": "systemd"})
    cgroup = fake_cgroup(tmp_path / "cgroup", unit, procs)
    assert modemmanager_running(blind, cgroup) is running
    assert not modemmanager_running(blind, tmp_path / "no-cgroup")


def test_warning_under_protect_proc(tmp_path: Path, pty: tuple[Path, str, int]) -> None:
    """The start-up warning is given when only the cgroup tree shows ModemManager."""
    link, _node, _rdev = pty
    blind = fake_proc(tmp_path / "proc", {"1": "otp-gateway"})
    cgroup = fake_cgroup(tmp_path / "cgroup", "system.slice/ModemManager.service", "812\n")
    with gwlog.capture() as events:
        exposed = warn_if_exposed(
            {"m0": str(link)}, proc_root=blind, udev_root=tmp_path / "x", cgroup_root=cgroup
        )
    assert exposed == ["m0"]
    assert [e["modem"] for e in events if e["event"] == "modem.modemmanager_running"] == ["m0"]


def test_udev_ignore_flag(tmp_path: Path) -> None:
    """Only the E:ID_MM_DEVICE_IGNORE=1 line marks a port ignored; no record means not."""
    rdev = os.makedev(188, 0)
    assert udev_ignored(rdev, udev_record(tmp_path / "a", rdev, ["S:gsm-modem0", IGNORE_LINE]))
    assert not udev_ignored(rdev, udev_record(tmp_path / "b", rdev, ["E:ID_MM_DEVICE_IGNORE=0"]))
    assert not udev_ignored(rdev, tmp_path / "none")


def test_check_port_resolves_symlinks(tmp_path: Path, pty: tuple[Path, str, int]) -> None:
    """A symlinked port resolves to its node, looked up by major:minor; non-devices are skipped."""
    link, node, rdev = pty
    udev = udev_record(tmp_path / "udev", rdev, [IGNORE_LINE])
    port = check_port(str(link), udev)
    assert port is not None
    assert (port.device, port.node, port.ignored) == (str(link), node, True)
    unmarked = check_port(str(link), tmp_path / "empty")
    assert unmarked is not None
    assert not unmarked.ignored
    (tmp_path / "file").write_text("")
    assert check_port(str(tmp_path / "file"), udev) is None
    assert check_port(str(tmp_path / "gone"), udev) is None


def test_warning_names_device_node_and_rule(tmp_path: Path, pty: tuple[Path, str, int]) -> None:
    """One warning per exposed port with device, node and a hint at the udev rule."""
    link, node, rdev = pty
    proc = fake_proc(tmp_path / "proc", {"1": "systemd", "300": "ModemManager"})
    with gwlog.capture() as events:
        exposed = warn_if_exposed({"m0": str(link)}, proc_root=proc, udev_root=tmp_path / "x")
    assert exposed == ["m0"]
    (event,) = [e for e in events if e["event"] == "modem.modemmanager_running"]
    assert (event["modem"], event["device"], event["node"]) == ("m0", str(link), node)
    assert "systemd/70-otp-gateway.rules" in str(event["hint"])
    udev = udev_record(tmp_path / "udev", rdev, [IGNORE_LINE])
    assert warn_if_exposed({"m0": str(link)}, proc_root=proc, udev_root=udev) == []
    quiet = fake_proc(tmp_path / "quiet", {"1": "systemd"})
    assert (
        warn_if_exposed(
            {"m0": str(link)},
            proc_root=quiet,
            udev_root=tmp_path / "x",
            cgroup_root=tmp_path / "no-cgroup",
        )
        == []
    )


def test_gateway_start_warns_about_its_modem(tmp_path: Path) -> None:
    """Gateway.start() checks its configured simulator pty against /proc and udev trees."""
    (tmp_path / "gw").mkdir()
    setup = SimulatedSetup.in_directory(tmp_path / "gw")
    proc = fake_proc(tmp_path / "proc", {"1": "systemd", "300": "ModemManager"})

    async def main() -> list[MutableMapping[str, Any]]:
        async with Simulator([setup.modem()]) as simulator:
            gateway = Gateway(setup.config(), proc_root=proc, udev_root=tmp_path / "udev")
            with gwlog.capture() as events:
                await gateway.start()
                await gateway.stop()
            assert simulator.modems[0].device == str(setup.link)
        return events

    events = asyncio.run(main())
    (event,) = [e for e in events if e["event"] == "modem.modemmanager_running"]
    assert event["device"] == str(setup.link)
    assert str(event["node"]).startswith("/dev/pts/")
