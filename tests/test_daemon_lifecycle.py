"""The daemon as systemd runs it: sd_notify order, SIGTERM mid-send, SIGHUP reload, logs."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import pytest
from daemon_helpers import (
    PIN,
    ROOT,
    Daemon,
    NotifySocket,
    get_after_inject,
    journal_at,
    leaked,
    write_config,
)
from relay_helpers import Raw

from gateway.client import AsyncClient, Client, Forbidden
from gateway.daemon import Gateway
from gateway.daemon.lifecycle import serve
from gateway.daemon.simulate import SimulatedSetup
from gateway.jobs import JobState
from gateway.log import capture
from gateway.simulator import Simulator, ThreadModemHandle

ORIGIN = "example.com"


@pytest.fixture
def modem(pin_modem: ThreadModemHandle) -> ThreadModemHandle:
    """This module's modem asks for the SIM PIN (conftest's ``pin_modem``)."""
    return pin_modem


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


def _hangup(daemon: Daemon, notify: NotifySocket) -> list[str]:
    """Send SIGHUP and block until the daemon is READY=1 again; return the datagrams seen."""
    notify.seen.clear()
    daemon.process.send_signal(signal.SIGHUP)
    seen = notify.wait_for("READY=1")
    assert seen.index("RELOADING=1") < seen.index("READY=1")
    return seen


def test_sighup_revokes_pending_gets_and_subscriptions(
    tmp_path: Path, modem: ThreadModemHandle, notify: NotifySocket
) -> None:
    """After SIGHUP narrows the rules, a waiting get and a subscription end 'forbidden'."""
    config = write_config(tmp_path, tmp_path / "modem", pin=PIN)
    narrow = 'users = ["0"]\noperations = ["status"]'

    async def scenario(daemon: Daemon) -> list[dict[str, object]]:
        raw = await Raw.open(tmp_path / "gw.sock")
        raw.write({"id": "sub", "op": "subscribe"})
        raw.write({"id": "get", "op": "get", "origin": ORIGIN, "timeout": 30})
        assert (await raw.reply("sub"))["result"]["subscribed"] is True
        await raw.sync()
        write_config(tmp_path, tmp_path / "modem", pin=PIN, rules=[narrow])
        await asyncio.to_thread(_hangup, daemon, notify)
        ended = [await raw.reply("get"), await raw.reply("sub")]
        await raw.close()
        return ended

    with Daemon(tmp_path, config, notify) as daemon:
        daemon.wait_ready()
        get, sub = asyncio.run(scenario(daemon))
        assert get["error"]["code"] == "forbidden"  # type: ignore[index]
        assert sub["error"]["code"] == "forbidden"  # type: ignore[index]
        assert daemon.terminate() == 0
    events = [e["event"] for e in daemon.log_events()]
    assert "relay.revoked" in events


def test_sighup_with_a_broken_file_keeps_the_running_configuration(
    tmp_path: Path, modem: ThreadModemHandle, notify: NotifySocket
) -> None:
    """A SIGHUP with invalid TOML is logged; READY=1 still follows and the old rules hold."""
    config = write_config(tmp_path, tmp_path / "modem", pin=PIN)
    with Daemon(tmp_path, config, notify) as daemon:
        daemon.wait_ready()
        config.write_text("[[modem]\nname = ", encoding="utf-8")
        _hangup(daemon, notify)
        assert get_after_inject(tmp_path / "gw.sock", modem, f"@{ORIGIN} #402040") == "402040"
        assert daemon.terminate() == 0
    failed = [e for e in daemon.log_events() if e["event"] == "daemon.reload_failed"]
    assert len(failed) == 1
    assert "invalid TOML" in str(failed[0]["error"])


def test_sighup_reloads_the_allow_list(
    tmp_path: Path, modem: ThreadModemHandle, notify: NotifySocket
) -> None:
    """An origin added by SIGHUP is relayed from then on; one removed by it no longer is."""
    config = write_config(tmp_path, tmp_path / "modem", pin=PIN, origins=["old.example"])

    async def scenario(daemon: Daemon) -> list[str]:
        async with AsyncClient(tmp_path / "gw.sock") as client:
            codes = await client.subscribe()
            modem.inject_sms("@old.example #100001")
            seen = [(await anext(codes)).code]
            write_config(tmp_path, tmp_path / "modem", pin=PIN, origins=["new.example"])
            await asyncio.to_thread(_hangup, daemon, notify)
            # the pipeline handles one modem's messages in arrival order: once the second
            # one is relayed, the first was judged (and kept, not relayed)
            modem.inject_sms("@old.example #200002")
            modem.inject_sms("@new.example #300003")
            seen.append((await anext(codes)).code)
            return seen

    with Daemon(tmp_path, config, notify) as daemon:
        daemon.wait_ready()
        assert asyncio.run(scenario(daemon)) == ["100001", "300003"]
        assert daemon.terminate() == 0
    kept = [e for e in daemon.log_events() if e["event"] == "receive.kept"]
    assert [e["origin"] for e in kept] == ["old.example"]


def test_socket_activated_daemon_serves_on_the_passed_fd(
    tmp_path: Path, modem: ThreadModemHandle, notify: NotifySocket
) -> None:
    """`run --config` under systemd-socket-activate serves clients on fd 3, not its own path."""
    activate = shutil.which("systemd-socket-activate") or "/lib/systemd/systemd-socket-activate"
    config = write_config(tmp_path, tmp_path / "modem", pin=PIN)
    path, unused = tmp_path / "activated.sock", tmp_path / "gw.sock"  # gw.sock: the config's
    command = [activate, "-l", os.fspath(path), "-E", f"NOTIFY_SOCKET={notify.path}"]
    command += [sys.executable, "-m", "gateway", "run", "--config", os.fspath(config)]
    with (tmp_path / "daemon.log").open("wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert proc.stderr is not None
        assert "as 3" in proc.stderr.readline()  # "Listening on <path> as 3."
        # the first connection makes systemd-socket-activate start the daemon; the client
        # is greeted once the daemon is ready
        assert get_after_inject(path, modem, f"@{ORIGIN} #909090") == "909090"
        notify.wait_for("READY=1")
        with Client(path) as client:
            relay = client.status()["relay"]
        assert relay["socket"] == {"path": os.fspath(path), "activated": True, "fd": 3}  # type: ignore[index]
        assert not unused.exists()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        assert path.exists()  # systemd's socket: not ours to unlink
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()


def test_sighup_during_start_up_is_logged_as_ignored(tmp_path: Path) -> None:
    """A SIGHUP while the modem registers is logged as ignored; SIGTERM then aborts the start."""
    setup = SimulatedSetup.in_directory(tmp_path)

    async def main() -> tuple[int, list[MutableMapping[str, Any]]]:
        async with Simulator([setup.modem()]) as simulator:
            modem = simulator.modems[0]
            modem.set_fault("no-network")  # start-up waits for registration

            def registering(line: str) -> None:
                if "CREG?" in line:
                    remove()
                    signal.raise_signal(signal.SIGHUP)
                    signal.raise_signal(signal.SIGTERM)

            remove = modem.observe_commands(registering)
            gateway = Gateway(setup.config())
            with capture() as events:
                status = await serve(gateway, config_path=tmp_path / "gateway.toml")
            return status, events

    status, events = asyncio.run(asyncio.wait_for(main(), 30))
    assert status == 0
    names = [e["event"] for e in events]
    ignored = names.index("daemon.reload_ignored")
    assert ignored < names.index("daemon.start_aborted")
    assert "still starting" in events[ignored]["reason"]
    assert "daemon.reloaded" not in names
