"""The daemon as systemd runs it: sd_notify order, SIGTERM mid-send, SIGHUP reload, logs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from daemon_helpers import (
    PIN,
    Daemon,
    NotifySocket,
    get_after_inject,
    journal_at,
    leaked,
    write_config,
)

from gateway.client import Client, Forbidden
from gateway.jobs import JobState
from gateway.simulator import ModemConfig, SimulatorThread, ThreadModemHandle

ORIGIN = "example.com"


@pytest.fixture
def modem(tmp_path: Path) -> Iterator[ThreadModemHandle]:
    """A simulated modem (SIM PIN required) on a pty link under tmp_path."""
    with SimulatorThread([ModemConfig(link=tmp_path / "modem", pin=PIN)]) as sim:
        yield sim.modems[0]


@pytest.fixture
def notify(tmp_path: Path) -> Iterator[NotifySocket]:
    """A notify socket standing in for systemd."""
    sock = NotifySocket(tmp_path)
    yield sock
    sock.close()


def test_notify_order(tmp_path: Path, modem: ThreadModemHandle, notify: NotifySocket) -> None:
    """Under a real NOTIFY_SOCKET the daemon sends READY=1, then WATCHDOG=1, then STOPPING=1."""
    config = write_config(tmp_path, tmp_path / "modem", pin=PIN)
    with Daemon(tmp_path, config, notify, WATCHDOG_USEC="200000") as daemon:
        daemon.wait_ready()
        notify.wait_for("WATCHDOG=1")
        assert daemon.terminate() == 0
        seen = notify.wait_for("STOPPING=1", timeout=5)
    ready, watchdog, stopping = (seen.index(f) for f in ("READY=1", "WATCHDOG=1", "STOPPING=1"))
    assert ready < watchdog < stopping
    assert any(line.startswith("STATUS=sim0 ready") for line in seen)
    assert not (tmp_path / "gw.sock").exists()
    assert leaked(daemon.log_events(), [PIN]) == []


def test_sigterm_during_send(
    tmp_path: Path, modem: ThreadModemHandle, notify: NotifySocket
) -> None:
    """SIGTERM while +CMGS is outstanding: the send finishes, the socket goes, exit 0."""
    config = write_config(tmp_path, tmp_path / "modem", pin=PIN)
    with Daemon(tmp_path, config, notify) as daemon:
        daemon.wait_ready()
        modem.set_fault("late-reply", delay=1.0)  # the +CMGS result comes 1 s after the body
        with Client(tmp_path / "gw.sock") as client:
            job = client.send("+15557654321", ORIGIN, code="640125").job_id
        modem.wait_sent(1)
        assert daemon.terminate() == 0
    assert not (tmp_path / "gw.sock").exists()
    with journal_at(tmp_path) as journal:
        assert journal.job(job).state is JobState.SENT
    assert len(modem.sent()) == 1
    assert leaked(daemon.log_events(), ["640125", PIN]) == []


def test_sighup_reloads_access_rules(
    tmp_path: Path, modem: ThreadModemHandle, notify: NotifySocket
) -> None:
    """A consumer refused `get` before SIGHUP is served after the rules were widened."""
    status_only = 'users = ["0"]\noperations = ["status"]'
    config = write_config(tmp_path, tmp_path / "modem", pin=PIN, rules=[status_only])
    with Daemon(tmp_path, config, notify) as daemon:
        daemon.wait_ready()
        with Client(tmp_path / "gw.sock") as client:
            with pytest.raises(Forbidden):
                client.get(ORIGIN, timeout=5)
            assert client.status()["ready"] is True
        write_config(tmp_path, tmp_path / "modem", pin=PIN)  # root may do everything
        notify.seen.clear()
        daemon.process.send_signal(1)  # SIGHUP
        seen = notify.wait_for("READY=1")
        assert seen.index("RELOADING=1") < seen.index("READY=1")
        assert get_after_inject(tmp_path / "gw.sock", modem, f"@{ORIGIN} #771188") == "771188"
        assert daemon.terminate() == 0
    assert leaked(daemon.log_events(), ["771188", PIN]) == []
