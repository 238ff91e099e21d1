"""A real daemon, killed and restarted, and waiting for the network: consumers are served.

Issue 13.2 (a consumer survives a daemon restart) and 13.3 (the socket answers from the
first second), with the real CLI and the reconnecting client against a subprocess
daemon on the simulator.
"""

from __future__ import annotations

import json
import queue
import threading
from pathlib import Path

from cli_helpers import cli, spawn
from daemon_helpers import NotifySocket, write_config
from restart_helpers import LoggedDaemon, wait_status

from gateway.client import Client, CodeRecord
from gateway.simulator import ThreadModemHandle

ORIGIN = "example.com"


def test_socket_answers_while_the_modem_waits_for_the_network(
    tmp_path: Path, modem: ThreadModemHandle, notify: NotifySocket
) -> None:
    """Waiting for registration: status shows the step within --timeout, a get waits and
    times out as asked, a send is queued and sent once the modem is up."""
    config = write_config(tmp_path, tmp_path / "modem")
    sock = str(tmp_path / "gw.sock")
    modem.set_fault("no-network")
    with LoggedDaemon(config, notify) as daemon:
        wait_status(notify, "waiting for network registration")
        status = cli("status", "--socket", sock, "--timeout", "2", "--json", timeout=20)
        assert status.returncode == 0, status.stderr
        (entry,) = json.loads(status.stdout)["modems"]
        assert entry["state"] == "initialising"
        assert entry["step"].startswith("waiting for network registration")
        text = cli("status", "--socket", sock, "--timeout", "2", timeout=20)
        assert "waiting for network registration" in text.stdout
        short = cli("receive", "--socket", sock, "--origin", ORIGIN, "--timeout", "1", timeout=20)
        assert (short.returncode, short.stdout) == (3, "")  # a timeout, not "unavailable"
        receiver = spawn("receive", "--socket", sock, "--origin", ORIGIN, "--timeout", "60")
        sender = spawn("send", "--socket", sock, "+15557654321", "--origin", ORIGIN,
                       "--code", "271828", "--wait", "sent", "--timeout", "60")  # fmt: skip
        daemon.wait_event("relay.get_pending", count=2)  # the short one and this one
        daemon.wait_event("send.job", count=1)
        assert daemon.process.poll() is None
        assert "READY=1" not in notify.seen  # READY=1 means a modem is up
        modem.clear_fault("no-network")
        daemon.wait_ready()
        modem.inject_sms(f"@{ORIGIN} #314159")
        out, err = receiver.communicate(timeout=30)
        assert (receiver.returncode, out) == (0, "314159\n"), err
        sent_out, sent_err = sender.communicate(timeout=30)
        assert sender.returncode == 0, sent_err
        assert "sent" in sent_out
        assert daemon.terminate() == 0
    assert len(modem.sent()) == 1


def test_receive_reconnects_across_a_kill_and_gets_the_code_sent_meanwhile(
    tmp_path: Path, modem: ThreadModemHandle, notify: NotifySocket
) -> None:
    """kill -9 while `receive` waits; the SMS arrives while the daemon is down; the
    restarted daemon's sweep finds it and the reconnected `receive` prints it."""
    config = write_config(tmp_path, tmp_path / "modem")
    sock = str(tmp_path / "gw.sock")
    with LoggedDaemon(config, notify) as first:
        first.wait_ready()
        receiver = spawn("receive", "--socket", sock, "--origin", ORIGIN, "--timeout", "60")
        first.wait_event("relay.get_pending")
        first.kill()
    notify.seen.clear()
    modem.inject_sms(f"@{ORIGIN} #161803")  # nobody reads it: the daemon is gone
    with LoggedDaemon(config, notify) as second:
        second.wait_ready()
        out, err = receiver.communicate(timeout=60)
        assert (receiver.returncode, out) == (0, "161803\n"), err
        assert second.terminate() == 0


def test_subscriber_resumes_across_a_kill_and_sees_every_code_once(
    tmp_path: Path, modem: ThreadModemHandle, notify: NotifySocket
) -> None:
    """A subscriber sees the code before the kill, the one that arrived while the daemon
    was down and the one after the restart, each exactly once."""
    config = write_config(tmp_path, tmp_path / "modem")
    seen: queue.Queue[CodeRecord | BaseException] = queue.Queue()
    with LoggedDaemon(config, notify) as first:
        first.wait_ready()
        client = Client(tmp_path / "gw.sock", reconnect_for=60.0)
        codes = client.subscribe()

        def follow() -> None:
            try:
                for record in codes:
                    seen.put(record)
            except BaseException as exc:  # handed to the test thread
                seen.put(exc)

        thread = threading.Thread(target=follow, daemon=True)
        thread.start()
        modem.inject_sms(f"@{ORIGIN} #100001")
        before = seen.get(timeout=30)
        assert isinstance(before, CodeRecord)
        assert before.code == "100001"
        assert before.cursor is not None
        first.kill()
    notify.seen.clear()
    modem.inject_sms(f"@{ORIGIN} #200002")  # while the daemon is down
    with LoggedDaemon(config, notify) as second:
        second.wait_ready()
        during = seen.get(timeout=60)
        assert isinstance(during, CodeRecord), during
        assert during.code == "200002"
        modem.inject_sms(f"@{ORIGIN} #300003")
        after = seen.get(timeout=30)
        assert isinstance(after, CodeRecord), after
        assert after.code == "300003"
        assert client.reconnects >= 1
        assert second.terminate() == 0
    client.close()
    thread.join(30)
    left = []
    while not seen.empty():
        item = seen.get()
        if isinstance(item, CodeRecord):
            left.append(item.code)
    assert left == []  # nothing twice
