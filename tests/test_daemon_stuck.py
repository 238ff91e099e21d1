"""The daemon gives up on a modem that stays present but not ready: exit 69, systemd restarts."""

from __future__ import annotations

from pathlib import Path

from daemon_helpers import Daemon, NotifySocket, write_config

from gateway.daemon.lifecycle import EXIT_MODEM_STUCK
from gateway.simulator import ThreadModemHandle


def test_modem_not_ready_through_the_ladder_exits_69(
    tmp_path: Path, modem: ThreadModemHandle, notify: NotifySocket
) -> None:
    """Replugged into a dead network: reopened, radio reset, then the daemon exits 69."""
    config = write_config(tmp_path, tmp_path / "modem", extra="")
    text = config.read_text().replace(
        'send_timeout = "5s"', 'send_timeout = "5s"\nnot_ready_limit = "1s"'
    )
    config.write_text(text)
    with Daemon(tmp_path, config, notify) as daemon:
        daemon.wait_ready()
        commands: list[str] = []
        modem.observe_commands(commands.append)
        modem.set_fault("no-network")  # re-initialisation waits for a registration forever
        modem.unplug()
        modem.replug()
        assert daemon.process.wait(30) == EXIT_MODEM_STUCK
        events = daemon.log_events()
    steps = [e.get("step") for e in events if e.get("event") == "modem.not_ready"]
    assert steps == ["reopen", "radio reset", "give up"]
    assert "AT+CFUN=0" in commands
    stuck = [e for e in events if e.get("event") == "daemon.modem_stuck"]
    assert len(stuck) == 1
    assert stuck[0]["modem"] == "sim0"
    assert "STOPPING=1" in notify.wait_for("STOPPING=1", timeout=5)
