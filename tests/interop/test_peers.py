"""Tests of gateway.testing: peer configs, process-group lifetime and inotify waits."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from gateway.testing import peers, watch


def spool(tmp_path: Path) -> peers.Spool:
    """Return a prepared smsd spool (the peer itself is not run)."""
    return peers.prepare_spool(
        "smsd", tmp_path / "spool", device="/dev/null", template="smstools.fast.conf"
    )


def test_missing_program_fails_naming_its_package(monkeypatch: pytest.MonkeyPatch) -> None:
    """A peer that is not installed raises PeerError naming the Debian package."""
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(peers.PeerError, match="install the Debian package gammu-smsd"):
        peers.require_program("gammu-smsd")


def test_render_config_fills_placeholders_and_appends_settings(tmp_path: Path) -> None:
    """@DEVICE@ and @SPOOL@ are replaced; settings land in the last section."""
    text = peers.render_config(
        "smstools.fast.conf", device="/dev/pts/9", spool=tmp_path, settings={"keep_open": "no"}
    )
    assert "@" not in text.replace("@host", "")
    assert "device = /dev/pts/9" in text
    assert f"incoming = {tmp_path}/incoming" in text
    assert text.rsplit("[GSM1]", 1)[1].endswith("keep_open = no\n")


@pytest.mark.parametrize(
    ("template", "device", "settings"),
    [
        ("nope.conf", "/dev/pts/1", {}),
        ("smsdrc.fast1s", "/dev/pts/1\nservice = sql", {}),
        ("smsdrc.fast1s", "", {}),
        ("smsdrc.fast1s", "/dev/pts/1", {"Loop Sleep": "0"}),
        ("smsdrc.fast1s", "/dev/pts/1", {"LoopSleep": "0\n[gammu]"}),
    ],
)
def test_render_config_rejects_bad_input(
    tmp_path: Path, template: str, device: str, settings: dict[str, str]
) -> None:
    """Unknown templates and values that would inject config lines raise PeerError."""
    with pytest.raises(peers.PeerError):
        peers.render_config(template, device=device, spool=tmp_path, settings=settings)


def test_drop_file_is_atomic_and_seen_by_the_watch(tmp_path: Path) -> None:
    """A dropped file appears by rename, complete; bad names are refused."""
    paths = spool(tmp_path)
    with watch.DirectoryWatch(paths.outgoing) as outgoing:
        peers.drop_file(paths.outgoing, "msg", "To: 1555\n\nhi")
        [dropped] = outgoing.wait(timeout=5.0)
    assert dropped.read_text() == "To: 1555\n\nhi"
    assert sorted(p.name for p in paths.root.iterdir() if p.name.startswith(".")) == []
    for name in ("", "../x", ".hidden"):
        with pytest.raises(peers.PeerError):
            peers.drop_file(paths.outgoing, name, "x")


def test_watch_times_out_with_a_listing(tmp_path: Path) -> None:
    """Waiting for a file that never comes raises PeerError listing the directory."""
    paths = spool(tmp_path)
    (paths.incoming / "other").write_text("x")
    with (
        watch.DirectoryWatch(paths.incoming) as incoming,
        pytest.raises(peers.PeerError, match=r"no 1 file\(s\) after 0.05 s: .*\['other'\]"),
    ):
        incoming.wait(timeout=0.05, match="wanted".__eq__)


def start_and_wait_ready(tmp_path: Path, script: str) -> peers.PeerProcess:
    """Start ``sh -c script`` as a peer; return once it wrote the file ``ready``."""
    process = peers.PeerProcess(["sh", "-c", script], spool=spool(tmp_path))
    with watch.DirectoryWatch(process.spool.root) as root:
        process.start()
        root.wait(timeout=5.0, match="ready".__eq__)
    return process


def test_stop_terminates_the_group(tmp_path: Path) -> None:
    """stop() sends SIGTERM to the whole group and returns once all of it exited."""
    process = start_and_wait_ready(tmp_path, "sleep 1000 & echo > ready; wait")
    assert len(peers.live_group_members(process.pid)) == 2
    assert process.stop() == -signal.SIGTERM
    assert peers.live_group_members(process.pid) == set()


def test_stop_escalates_to_sigkill(tmp_path: Path) -> None:
    """A group that ignores SIGTERM (children too) is killed after the timeout."""
    script = "trap '' TERM; sleep 1000 & echo > ready; wait"
    process = start_and_wait_ready(tmp_path, script)
    assert process.stop(timeout=0.2) == -signal.SIGKILL
    assert peers.live_group_members(process.pid) == set()
    assert process.stop() == -signal.SIGKILL  # idempotent
