"""A failing disk is loud and loses nothing (issue 13 item 5): the real daemon, real files.

Each fault is made the way it happens: a state directory on a small tmpfs that fills up,
a journal made immutable (``chattr +i``: read-only even for root), the state directory
deleted or moved away while the daemon runs, a second daemon on the same directory. Each
test checks that the SMS stay on the (simulated) modem, that ``otp-gateway status`` says
``degraded`` with the reason and exits 6, and what brings the daemon back.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_helpers import cli
from daemon_helpers import Daemon, NotifySocket, journal_at, leaked, write_config

from gateway.simulator import ThreadModemHandle

ORIGIN = "example.com"
NUMBER = "+15557654321"
DEGRADED = 6  # otp-gateway status: shown, but the gateway is degraded
#: seconds to wait for a recovery: the journal is probed with a backoff capped at 60 s
RECOVERY = 120.0


class Commands:
    """The AT commands the simulated modem receives (observed in its thread), waitable."""

    def __init__(self, modem: ThreadModemHandle) -> None:
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self.stop = modem.observe_commands(self._see)

    def _see(self, line: str) -> None:
        with self._cond:
            self.lines.append(line.upper())
            self._cond.notify_all()

    def count(self, prefix: str) -> int:
        """Return how many commands so far start with ``prefix``."""
        with self._cond:
            return sum(line.startswith(prefix) for line in self.lines)

    def wait(self, prefix: str, times: int = 1, timeout: float = 30.0) -> None:
        """Block until ``times`` commands starting with ``prefix`` were seen."""
        with self._cond:
            assert self._cond.wait_for(lambda: self.count(prefix) >= times, timeout), (
                f"{prefix} not seen {times} time(s): {self.lines[-10:]}"
            )


def status(tmp_path: Path) -> tuple[int, dict[str, object], str]:
    """Run ``otp-gateway status`` (JSON and text); return exit code, snapshot and text."""
    sock = str(tmp_path / "gw.sock")
    as_json = cli("status", "--socket", sock, "--json")
    text = cli("status", "--socket", sock)
    assert as_json.returncode == text.returncode, (as_json.stderr, text.stderr)
    return as_json.returncode, json.loads(as_json.stdout), text.stdout


def journal_of(snapshot: dict[str, object]) -> dict[str, object]:
    """Return the snapshot's journal section."""
    journal = snapshot["journal"]
    assert isinstance(journal, dict)
    return journal


def received_while_degraded(modem: ThreadModemHandle, commands: Commands, codes: list[str]) -> None:
    """Inject one SMS per code and wait until the daemon has read each one.

    The pipeline handles one announcement after the other and deletes right after it
    recorded, so the read of the last, barrier SMS proves every earlier one was handled.
    """
    for code in [*codes, "000000"]:
        index = modem.inject_sms(f"@{ORIGIN} #{code}")[0]
        commands.wait(f"AT+CMGR={index}")


def events(daemon: Daemon, name: str) -> list[dict[str, object]]:
    """Return the daemon's log events called ``name``."""
    return [e for e in daemon.log_events() if e.get("event") == name]


def loud(daemon: Daemon) -> list[str]:
    """Return the names of the daemon's warning and error events, in order."""
    return [str(e["event"]) for e in daemon.log_events() if e.get("level") in ("warning", "error")]


def journaled_codes(tmp_path: Path) -> set[str]:
    """Return the codes in the daemon's journal (after it exited)."""
    with journal_at(tmp_path) as journal:
        return {str(record.code) for record in journal.codes(origin=ORIGIN)}


@contextlib.contextmanager
def small_tmpfs(path: Path, size: str) -> Iterator[None]:
    """Mount a tmpfs of ``size`` at ``path`` (root only; skips the test otherwise)."""
    path.mkdir(mode=0o700)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        # never skipped: .ci/run runs the suite as root, which may mount a tmpfs
        pytest.fail(f"cannot mount a tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(path: Path) -> Path:
    """Fill the file system of ``path`` with one file until it is full; return that file."""
    filler = path / "filler"
    with filler.open("wb") as out, contextlib.suppress(OSError):
        while True:
            out.write(b"\0" * 65536)
            out.flush()
    return filler


@pytest.mark.timeout(240)  # the recovery waits for a probe: backoff capped at 60 s
def test_full_disk_keeps_sms_on_the_modem_and_recovers_by_itself(
    tmp_path: Path, modem: ThreadModemHandle, notify: NotifySocket
) -> None:
    """A full state tmpfs: SMS stay on the modem, status degraded (exit 6); freed, all come in."""
    state = tmp_path / "state"
    with small_tmpfs(state, "2m"):
        config = write_config(tmp_path, tmp_path / "modem")
        with Daemon(tmp_path, config, notify) as daemon:
            daemon.wait_ready()
            commands = Commands(modem)
            filler = fill(state)
            received_while_degraded(modem, commands, ["410001", "410002"])
            assert len(modem.stored()) == 3
            assert commands.count("AT+CMGD") == 0
            code, snapshot, text = status(tmp_path)
            assert code == DEGRADED
            journal = journal_of(snapshot)
            assert journal["state"] == "degraded"
            assert "full" in str(journal["reason"])
            assert snapshot["conditions"] == [
                {"subject": "journal", "code": "journal-degraded", "reason": journal["reason"]}
            ]
            assert "DEGRADED: journal" in text
            assert "full" in text
            filler.unlink()  # the operator frees space: the next probe resumes
            commands.wait("AT+CMGD", times=3, timeout=RECOVERY)
            assert modem.stored() == {}
            code, snapshot, _ = status(tmp_path)
            assert code == 0
            assert journal_of(snapshot)["state"] == "ok"
            assert daemon.terminate() == 0
        assert len(events(daemon, "journal.degraded")) == 1  # once per episode
        assert len(events(daemon, "journal.recovered")) == 1
        assert loud(daemon) == ["journal.degraded", "journal.recovered"]
        assert leaked(daemon.log_events(), ["410001", "410002"]) == []
        assert journaled_codes(tmp_path) == {"410001", "410002", "000000"}


@pytest.mark.timeout(240)  # the recovery waits for a probe: backoff capped at 60 s
def test_read_only_journal_keeps_sms_and_recovers(
    tmp_path: Path, modem: ThreadModemHandle, notify: NotifySocket
) -> None:
    """An immutable journal (I/O error on write): SMS stay, degraded; writable again, all in."""
    config = write_config(tmp_path, tmp_path / "modem")
    files = [str(tmp_path / "state" / name) for name in ("journal.sqlite3", "journal.sqlite3-wal")]
    with Daemon(tmp_path, config, notify) as daemon:
        daemon.wait_ready()
        commands = Commands(modem)
        locked = subprocess.run(
            ["chattr", "+i", *files], capture_output=True, text=True, check=False
        )
        if locked.returncode != 0:
            # never skipped: root may make a file immutable on the test's filesystem
            pytest.fail(f"chattr +i does not work here (needs root): {locked.stderr.strip()}")
        try:
            received_while_degraded(modem, commands, ["420001"])
            assert len(modem.stored()) == 2
            assert commands.count("AT+CMGD") == 0
            code, snapshot, _ = status(tmp_path)
            assert code == DEGRADED
            assert "I/O error" in str(journal_of(snapshot)["reason"])
            sent = cli("send", NUMBER, "--origin", ORIGIN, "--socket", str(tmp_path / "gw.sock"))
            assert sent.returncode == 5
            assert "not sent: the journal cannot record the job" in sent.stderr
        finally:
            subprocess.run(["chattr", "-i", *files], check=False)
        commands.wait("AT+CMGD", times=2, timeout=RECOVERY)
        assert modem.stored() == {}
        assert commands.count("AT+CMGS") == 0  # the refused send never went out
        assert status(tmp_path)[0] == 0
        assert daemon.terminate() == 0
    assert journaled_codes(tmp_path) == {"420001", "000000"}


def test_deleted_state_dir_is_never_replaced_and_loses_nothing(
    tmp_path: Path, modem: ThreadModemHandle, notify: NotifySocket
) -> None:
    """State dir deleted: degraded, nothing deleted or recreated; a restart takes it all."""
    config = write_config(tmp_path, tmp_path / "modem")
    with Daemon(tmp_path, config, notify) as first:
        first.wait_ready()
        commands = Commands(modem)
        shutil.rmtree(tmp_path / "state")
        code, snapshot, text = status(tmp_path)
        assert code == DEGRADED
        journal = journal_of(snapshot)
        assert journal["replaced"] is True
        assert "is gone" in str(journal["reason"])
        assert "state directory deleted" in text
        received_while_degraded(modem, commands, ["430001", "430002"])
        sent = cli("send", NUMBER, "--origin", ORIGIN, "--socket", str(tmp_path / "gw.sock"))
        assert sent.returncode == 5
        assert "not sent" in sent.stderr
        assert len(modem.stored()) == 3
        assert commands.count("AT+CMGD") == 0
        assert commands.count("AT+CMGS") == 0
        assert not (tmp_path / "state").exists()  # never silently recreated
        assert first.terminate() == 0
    assert len(events(first, "journal.degraded")) == 1
    assert events(first, "journal.recovered") == []
    # said once; the refused send is told on its own line
    assert loud(first) == ["journal.degraded", "send.store_failed"]
    assert leaked(first.log_events(), ["430001", "430002"]) == []
    # the operator restarts it: a new journal, and the start-up sweep takes what was kept
    with Daemon(tmp_path, config, notify) as second:
        second.wait_ready()
        commands.wait("AT+CMGD", times=3, timeout=RECOVERY)
        assert modem.stored() == {}
        assert status(tmp_path)[0] == 0
        assert second.terminate() == 0
    commands.stop()
    assert journaled_codes(tmp_path) == {"430001", "430002", "000000"}


@pytest.mark.timeout(240)  # the recovery waits for a probe: backoff capped at 60 s
def test_state_dir_moved_back_resumes(
    tmp_path: Path, modem: ThreadModemHandle, notify: NotifySocket
) -> None:
    """A state dir moved away and back is the same journal: the daemon resumes by itself."""
    config = write_config(tmp_path, tmp_path / "modem")
    with Daemon(tmp_path, config, notify) as daemon:
        daemon.wait_ready()
        commands = Commands(modem)
        (tmp_path / "state").rename(tmp_path / "elsewhere")
        received_while_degraded(modem, commands, ["440001"])
        assert len(modem.stored()) == 2
        assert status(tmp_path)[0] == DEGRADED
        (tmp_path / "elsewhere").rename(tmp_path / "state")
        commands.wait("AT+CMGD", times=2, timeout=RECOVERY)
        assert modem.stored() == {}
        assert status(tmp_path)[0] == 0
        assert daemon.terminate() == 0
    assert len(events(daemon, "journal.recovered")) == 1
    assert journaled_codes(tmp_path) == {"440001", "000000"}


def test_second_daemon_on_the_same_state_dir_refuses_to_start(
    tmp_path: Path, modem: ThreadModemHandle, notify: NotifySocket
) -> None:
    """A second daemon on a state dir in use exits 1 naming the holder; the first goes on."""
    config = write_config(tmp_path, tmp_path / "modem")
    other = tmp_path / "other.toml"
    other.write_text(
        config.read_text().replace(str(tmp_path / "gw.sock"), str(tmp_path / "other.sock"))
    )
    with Daemon(tmp_path, config, notify) as first:
        first.wait_ready()
        second = cli("run", "--config", str(other))
        assert second.returncode == 1
        assert "is in use by another otp-gateway" in second.stderr
        assert f"(pid {first.process.pid})" in second.stderr
        assert not (tmp_path / "other.sock").exists()
        assert status(tmp_path)[0] == 0
        assert first.terminate() == 0
