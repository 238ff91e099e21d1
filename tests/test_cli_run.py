"""``otp-gateway run``: --simulate end to end with CLI clients, and one-line start errors."""

from __future__ import annotations

import fcntl
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_helpers import ROOT, cli, spawn, wait_log_event
from daemon_helpers import write_config

from gateway.cli.run import invocation
from gateway.modem.pinguard import FILENAME as PIN_RECORD
from gateway.simulator import ModemConfig, SimulatorThread

CODE = "602214"


@pytest.fixture
def simulated() -> Iterator[tuple[subprocess.Popen[str], dict[str, str]]]:
    """``otp-gateway run --simulate`` running; yields it and the paths from its banner."""
    process = spawn("run", "--simulate", "--origin", "shop.example")
    assert process.stdout is not None
    paths: dict[str, str] = {}
    for line in process.stdout:  # blocks until the daemon prints: its ready signal
        key, _, value = line.strip().partition(": ")
        if key in ("socket", "simulator", "state", "origins"):
            paths[key] = value.strip()
        if line.startswith("Stop with"):
            break
    try:
        yield process, paths
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=30)


def test_simulate_serves_the_cli(simulated: tuple[subprocess.Popen[str], dict[str, str]]) -> None:
    """run --simulate: receive prints the code after simulator inject; send reaches the network."""
    daemon, paths = simulated
    assert paths["origins"] == "example.com, shop.example"
    socket, control = paths["socket"], paths["simulator"]
    receiver = spawn("receive", "--socket", socket, "--origin", "example.com", "--timeout", "30")
    assert daemon.stderr is not None
    early = wait_log_event(daemon.stderr, "relay.get_pending")  # the receiver's get waits
    injected = cli(
        "simulator", "inject", "--control", control, f"Code {CODE}\n\n@example.com #{CODE}"
    )
    assert injected.returncode == 0, injected.stderr
    out, err = receiver.communicate(timeout=30)
    assert (receiver.returncode, out, err) == (0, f"{CODE}\n", "")

    sent = cli("send", "--socket", socket, "+15557654321", "--origin", "shop.example",
               "--code", "731904", "--wait", "sent", "--json")  # fmt: skip
    assert sent.returncode == 0, sent.stderr
    lines = [json.loads(line) for line in sent.stdout.splitlines()]
    assert (lines[0]["status"], lines[0]["code"]) == ("queued", "731904")
    assert lines[-1]["status"] == "sent"
    network = json.loads(cli("simulator", "sent", "--control", control).stdout)
    assert network[-1]["number"] == "+15557654321"
    assert network[-1]["text"].endswith("@shop.example #731904")

    status = cli("status", "--socket", socket, "--json")
    modem = json.loads(status.stdout)["modems"][0]
    assert (modem["state"], modem["operator"]) == ("ready", "Fake Operator")
    table = cli("status", "--socket", socket).stdout
    assert "sim0" in table
    assert "home (Fake Operator)" in table

    daemon.send_signal(signal.SIGTERM)
    _, rest = daemon.communicate(timeout=30)
    logs = "".join(early) + rest
    assert daemon.returncode == 0
    assert CODE not in logs
    assert "731904" not in logs
    assert not Path(socket).exists()


def test_sighup_under_simulate_is_logged_as_ignored(
    simulated: tuple[subprocess.Popen[str], dict[str, str]],
) -> None:
    """run --simulate has no file to re-read: SIGHUP is logged as ignored and serving goes on."""
    daemon, paths = simulated
    assert daemon.stderr is not None
    daemon.send_signal(signal.SIGHUP)
    seen = wait_log_event(daemon.stderr, "daemon.reload_ignored")
    assert "no configuration file to re-read" in seen[-1]
    status = cli("status", "--socket", paths["socket"], "--json")
    assert status.returncode == 0, status.stderr
    daemon.send_signal(signal.SIGTERM)
    daemon.communicate(timeout=30)
    assert daemon.returncode == 0


def test_config_error_is_one_line(tmp_path: Path) -> None:
    """An invalid configuration: one line naming the key on stderr, exit status 2."""
    bad = tmp_path / "gateway.toml"
    bad.write_text('[[modem]]\ndevice = "/dev/ttyUSB0"\nbaudrate = "fast"\n', encoding="utf-8")
    result = cli("run", "--config", str(bad))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "modem[0].baudrate" in result.stderr


def test_missing_config_file(tmp_path: Path) -> None:
    """A config path that does not exist is a configuration error (exit 2), not a traceback."""
    result = cli("run", "--config", str(tmp_path / "absent.toml"))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_missing_port_is_one_line(tmp_path: Path) -> None:
    """The modem port is not there: one line, exit status 1, no socket left behind."""
    config = write_config(tmp_path, tmp_path / "no-modem")
    result = cli("run", "--config", str(config))
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert "no-modem" in result.stderr
    assert not (tmp_path / "gw.sock").exists()


def test_wrong_pin_is_one_line(tmp_path: Path) -> None:
    """A wrong SIM PIN: one line, exit status 78 (systemd must not restart), PIN not printed."""
    with SimulatorThread([ModemConfig(link=tmp_path / "modem", pin="2468")]) as sim:
        config = write_config(tmp_path, tmp_path / "modem", pin="8642")
        result = cli("run", "--config", str(config))
        attempts = sim.modems[0].state()
    assert result.returncode == 78
    assert attempts["pin_attempts_left"] == 2  # exactly one attempt spent
    assert result.stderr.count("\n") == 1
    assert "PIN" in result.stderr
    # as a number of its own: a timestamp's digits (".186420") may hold it by chance
    assert not re.search(r"(?<!\d)8642(?!\d)", result.stderr + result.stdout)


def test_wrong_pin_is_not_entered_again_by_a_later_run(tmp_path: Path) -> None:
    """A second run with the same wrong PIN sends no AT+CPIN=; a corrected PIN gets one try."""
    with SimulatorThread([ModemConfig(link=tmp_path / "modem", pin="2468")]) as sim:
        modem = sim.modems[0]
        seen: list[str] = []
        modem.observe_commands(seen.append)
        config = write_config(tmp_path, tmp_path / "modem", pin="8642")
        first = cli("run", "--config", str(config))
        record = tmp_path / "state" / PIN_RECORD
        assert first.returncode == 78
        assert record.exists()
        assert not re.search(r"(?<!\d)8642(?!\d)", record.read_text(encoding="utf-8"))
        second = cli("run", "--config", str(config))
        assert second.returncode == 78
        assert "not sending it again" in second.stderr
        assert second.stderr.count("\n") == 1
        assert sum(line.upper().startswith("AT+CPIN=") for line in seen) == 1
        assert modem.state()["pin_attempts_left"] == 2
        config = write_config(tmp_path, tmp_path / "modem", pin="1357")  # the operator fixed it
        third = cli("run", "--config", str(config))
        assert third.returncode == 78
        assert sum(line.upper().startswith("AT+CPIN=") for line in seen) == 2
        assert modem.state()["pin_attempts_left"] == 1


def test_busy_first_modem_and_wrong_pin_second_exits_78(tmp_path: Path) -> None:
    """Modem A's port is busy, modem B's PIN is wrong: the SIM error wins, exit status 78."""
    modems = [
        ModemConfig(link=tmp_path / "modem-a"),
        ModemConfig(link=tmp_path / "modem-b", pin="2468", number="+15550000002"),
    ]
    with SimulatorThread(modems) as sim:
        second = f"""
[[modem]]
name = "sim1"
device = "{tmp_path / "modem-b"}"
command_timeout = "2s"
pin = "8642"
"""
        config = write_config(tmp_path, tmp_path / "modem-a", extra=second)
        with open(tmp_path / "modem-a", "rb+", buffering=0) as holder:
            fcntl.flock(holder.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)  # as pyserial does
            result = cli("run", "--config", str(config))
        attempts = sim.modems[1].state()["pin_attempts_left"]
    assert result.returncode == 78, result.stderr
    assert attempts == 2
    assert "PIN" in result.stderr


#: the console script pip installed next to this interpreter (``.venv/bin/otp-gateway``)
SCRIPT = Path(sys.executable).parent / "otp-gateway"


def banner_commands(
    argv: list[str], *, cwd: Path, path: str, check_from: Path | None = None
) -> list[str]:
    """Run ``argv run --simulate`` until its banner is out; return the example command lines.

    The banner's status command is run as printed, from ``check_from`` (default ``cwd``).
    """
    env = {**os.environ, "PATH": path}
    process = subprocess.Popen(
        [*argv, "run", "--simulate"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env=env,
    )
    assert process.stdout is not None
    commands = []
    try:
        for line in process.stdout:  # the banner is printed once the daemon is ready
            if line.startswith("Stop with"):
                break
            if line.startswith("  ") and " --" in line:
                commands.append(line.strip())
        status = next(c for c in commands if " status --socket " in c)
        checked = subprocess.run(
            shlex.split(status),
            capture_output=True,
            text=True,
            cwd=cwd if check_from is None else check_from,
            env=env,
            timeout=30,
            check=False,
        )
        assert checked.returncode == 0, checked.stderr  # the printed command runs as printed
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
    return commands


def test_banner_commands_for_python_m(tmp_path: Path) -> None:
    """python -m gateway: the examples start with this interpreter and -m gateway."""
    commands = banner_commands([sys.executable, "-m", "gateway"], cwd=ROOT, path="/usr/bin:/bin")
    assert commands[0].startswith(f"{shlex.quote(sys.executable)} -m gateway receive ")


def test_banner_commands_for_a_venv_not_on_path(tmp_path: Path) -> None:
    """.venv/bin/otp-gateway with the venv not on PATH: the examples use its absolute path."""
    cwd = SCRIPT.parent.parent.parent
    relative = os.path.relpath(SCRIPT, cwd)
    # the printed status command is run from another directory (tmp_path) and works
    commands = banner_commands([relative], cwd=cwd, path="/usr/bin:/bin", check_from=tmp_path)
    assert commands[0].startswith(f"{shlex.quote(os.path.join(cwd, relative))} receive ")


def test_banner_commands_when_on_path(tmp_path: Path) -> None:
    """otp-gateway found on PATH is this program: the examples say plain otp-gateway."""
    commands = banner_commands(["otp-gateway"], cwd=tmp_path, path=f"{SCRIPT.parent}:/usr/bin:/bin")
    assert all(command.startswith("otp-gateway ") for command in commands)


def test_invocation_compares_the_resolved_program(tmp_path: Path) -> None:
    """A different otp-gateway on PATH does not count; the path as given is printed."""
    other = tmp_path / "bin"
    other.mkdir()
    shutil.copy(SCRIPT, other / "otp-gateway")

    def on_path(name: str) -> str | None:
        return shutil.which(name, path=str(other))

    assert invocation(str(other / "otp-gateway"), executable="py", which=on_path) == "otp-gateway"
    assert invocation("./my dir/otp-gateway", executable="py", which=on_path) == (
        shlex.quote(os.path.abspath("my dir/otp-gateway"))
    )
    assert invocation("/opt/bin/otp-gateway", executable="py", which=on_path) == (
        "/opt/bin/otp-gateway"
    )
    assert invocation("/x/gateway/__main__.py", executable="/v/python", which=on_path) == (
        "/v/python -m gateway"
    )
