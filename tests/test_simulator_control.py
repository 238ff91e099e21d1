"""Tests of the control socket and the ``otp-gateway simulator`` CLI as real subprocesses."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from simulator_client import PtyClient

from gateway.simulator import ModemConfig, SimulatorError, SimulatorThread
from gateway.simulator.control import ControlError, request
from gateway.sms import pdu as pducodec

CLI = [sys.executable, "-m", "gateway"]


def raw_request(path: Path, payload: bytes) -> dict[str, object]:
    """Send raw bytes as one request line and return the decoded reply."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        sock.connect(str(path))
        sock.sendall(payload)
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    reply = json.loads(data)
    assert isinstance(reply, dict)
    return reply


@pytest.fixture
def controlled(tmp_path: Path) -> Iterator[tuple[SimulatorThread, Path]]:
    """A simulator with two modems and a control socket."""
    control = tmp_path / "ctl"
    configs = [
        ModemConfig(number="+15550000001", link=tmp_path / "m0"),
        ModemConfig(number="+15550000002", link=tmp_path / "m1"),
    ]
    with SimulatorThread(configs, control_path=control) as sim:
        yield sim, control
    assert not control.exists()


def test_inject_stored_and_state(controlled: tuple[SimulatorThread, Path]) -> None:
    """inject stores parts and returns indexes; stored and state reflect them."""
    _, control = controlled
    assert request(control, "inject", {"text": "x" * 200, "sender": "Bank"}) == [1, 2]
    stored = request(control, "stored", {"memory": "SM"})
    assert isinstance(stored, dict)
    assert sorted(stored) == ["1", "2"]
    state = request(control, "state", {"modem": 1})
    assert isinstance(state, dict)
    assert state["number"] == "+15550000002"
    modems = request(control, "modems")
    assert isinstance(modems, list)
    assert len(modems) == 2


def test_inject_options(controlled: tuple[SimulatorThread, Path]) -> None:
    """order, drop, memory, scts and force_ucs2 reach the modem."""
    sim, control = controlled
    indexes = request(
        control,
        "inject",
        {
            "text": "y" * 200,
            "order": [3, 2, 1],
            "drop": [2],
            "memory": "ME",
            "scts": "2026-01-02T03:04:05+01:00",
            "force_ucs2": True,
            "notify": False,
        },
    )
    assert indexes == [1, 2]
    message = pducodec.decode_incoming(sim.modems[0].stored("ME")[1])
    assert isinstance(message, pducodec.Deliver)
    assert message.encoding == "ucs2"
    assert message.concat is not None
    assert message.concat.sequence == 3
    assert message.scts is not None
    assert message.scts.isoformat() == "2026-01-02T03:04:05+01:00"


def test_inject_pdu_and_sent(controlled: tuple[SimulatorThread, Path]) -> None:
    """inject_pdu stores a raw PDU; sent lists what the client sent over the pty."""
    sim, control = controlled
    scts = datetime(2026, 11, 27, tzinfo=UTC)
    deliver = pducodec.encode_deliver("+15557654321", "raw", scts=scts)
    assert request(control, "inject_pdu", {"pdu": deliver[0].hex}) == 1
    part = pducodec.encode_submit("+15559990000", "otp 777")[0]
    with PtyClient(sim.modems[0].device) as client:
        client.send(f"AT+CMGS={part.tpdu_length}\r".encode())
        client.read_until(b"> ")
        client.send(part.hex.encode() + b"\x1a")
        client.read_until(b"OK\r\n")
    sent = request(control, "sent")
    assert isinstance(sent, list)
    assert sent[0]["number"] == "+15559990000"
    assert sent[0]["text"] == "otp 777"
    assert sent[0]["reference"] == 0


def test_fault_clear_unplug_replug_reboot(controlled: tuple[SimulatorThread, Path]) -> None:
    """fault/clear/unplug/replug/reboot act on the chosen modem."""
    sim, control = controlled
    request(control, "fault", {"name": "late-reply", "params": {"delay": 1}, "modem": 1})
    assert sim.modems[1].state()["faults"] == ["late-reply"]
    request(control, "clear", {"modem": 1})
    assert sim.modems[1].state()["faults"] == []
    link = Path(sim.modems[0].device)
    request(control, "unplug")
    assert not link.is_symlink()
    request(control, "replug")
    assert link.is_symlink()
    request(control, "reboot")
    with PtyClient(str(link)) as client:
        assert client.command(b"AT") == b"AT\r\r\nOK\r\n"


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        (b"not json\n", "Expecting value"),
        (b"[1, 2]\n", "JSON object"),
        (b'{"op": "explode"}\n', "unknown op"),
        (b'{"op": "state", "modem": 9}\n', "no modem 9"),
        (b'{"op": "state", "modem": true}\n', "'modem' must be an integer"),
        (b'{"op": "inject"}\n', "needs 'text'"),
        (b'{"op": "inject", "text": 5}\n', "wrong type"),
        (b'{"op": "inject", "text": "a", "order": [9]}\n', "order/drop"),
        (b'{"op": "inject", "text": "a", "scts": "yesterday"}\n', "ISO 8601"),
        (b'{"op": "inject", "text": "a", "scts": "2026-01-01T00:00:00"}\n', "time zone"),
        (b'{"op": "inject_pdu", "pdu": "xyz"}\n', "not a PDU"),
        (b'{"op": "stored", "memory": "XX"}\n', "unknown memory"),
        (b'{"op": "fault", "name": "melt"}\n', "unknown fault"),
        (b'{"op": "fault", "name": "late-reply", "params": [1]}\n', "wrong type"),
        (b"\xff\xfe\n", "utf-8"),
    ],
)
def test_bad_requests_get_error_replies(
    controlled: tuple[SimulatorThread, Path], payload: bytes, error: str
) -> None:
    """Every malformed request gets {"ok": false, "error": ...} and the server lives on."""
    _, control = controlled
    reply = raw_request(control, payload)
    assert reply["ok"] is False
    assert error in str(reply["error"])
    assert raw_request(control, b'{"op": "state"}\n')["ok"] is True


def test_oversized_request(controlled: tuple[SimulatorThread, Path]) -> None:
    """A request longer than the limit is refused with an error reply."""
    _, control = controlled
    reply = raw_request(control, b'{"op": "inject", "text": "' + b"a" * 70000 + b'"}\n')
    assert reply == {"ok": False, "error": "request too long"}


def test_live_control_socket_not_stolen(controlled: tuple[SimulatorThread, Path]) -> None:
    """A second simulator refuses a control path a running one listens on; stale files go."""
    _, control = controlled
    with pytest.raises(SimulatorError), SimulatorThread(control_path=control):
        pass
    assert request(control, "state") is not None


def test_stale_control_socket_replaced(tmp_path: Path) -> None:
    """A socket file left by a crashed simulator is replaced."""
    control = tmp_path / "ctl"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as dead:
        dead.bind(str(control))
    with SimulatorThread(control_path=control):
        assert request(control, "state") is not None


def test_request_to_missing_socket(tmp_path: Path) -> None:
    """The client helper raises ControlError when nothing listens."""
    with pytest.raises(ControlError):
        request(tmp_path / "none", "state")


@pytest.fixture
def cli_simulator(tmp_path: Path) -> Iterator[tuple[dict[str, object], Path]]:
    """``otp-gateway simulator`` as a subprocess, ready once its one ready line is printed."""
    control = tmp_path / "ctl"
    proc = subprocess.Popen(
        [
            *CLI,
            "simulator",
            "--link",
            str(tmp_path / "modem"),
            "--control",
            str(control),
            "--profile",
            "sim800",
            "--modems",
            "2",
            "--number",
            "+15550000010",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        ready = json.loads(proc.stdout.readline())
        assert isinstance(ready, dict)
        yield ready, control
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        assert proc.stdout.read() == b""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        assert proc.stdout is not None
        assert proc.stderr is not None
        proc.stdout.close()
        proc.stderr.close()
    assert not control.exists()
    assert not (tmp_path / "modem0").is_symlink()


def test_cli_ready_line_and_subcommands(cli_simulator: tuple[dict[str, object], Path]) -> None:
    """The run form prints one JSON ready line; inject/state/fault/clear/sent drive it."""
    ready, control = cli_simulator
    modems = ready["modems"]
    assert isinstance(modems, list)
    assert [m["number"] for m in modems] == ["+15550000010", "+15550000011"]
    assert ready["control"] == str(control)

    def sub(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*CLI, "simulator", *args, "--control", str(control)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )

    assert sub("inject", "hello", "--sender", "Shop", "--modem", "1").stdout.strip() == "[1]"
    assert json.loads(sub("stored", "--modem", "1").stdout) == {
        "1": request(control, "stored", {"modem": 1})["1"]  # type: ignore[index]
    }
    assert sub("fault", "late-reply", "--param", "delay=0.5").returncode == 0
    state = json.loads(sub("state").stdout)
    assert state["faults"] == ["late-reply"]
    assert state["profile"] == "sim800"
    assert sub("clear").returncode == 0
    assert json.loads(sub("sent").stdout) == []
    for action in ("unplug", "replug", "reboot"):
        assert sub(action).returncode == 0
    bad = sub("inject", "x", "--order", "9")
    assert bad.returncode == 1
    assert "order/drop" in bad.stderr
    device = str(modems[0]["device"])
    with PtyClient(device) as client:
        assert client.command(b"AT+CGMI") == b"AT+CGMI\r\r\nSIMCOM_Ltd\r\n\r\nOK\r\n"


def test_cli_sigint_stops_cleanly(tmp_path: Path) -> None:
    """SIGINT ends the simulator with exit 0 and removes link and socket."""
    link, control = tmp_path / "m", tmp_path / "c"
    proc = subprocess.Popen(
        [*CLI, "simulator", "--link", str(link), "--control", str(control)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    with proc.stdout, proc.stderr:
        assert json.loads(proc.stdout.readline())["ready"] is True
        assert os.readlink(link).startswith("/dev/pts/")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
    assert not link.is_symlink()
    assert not control.exists()


def test_cli_client_without_simulator(tmp_path: Path) -> None:
    """A subcommand with no simulator behind the socket exits 5 (unavailable), clearly."""
    done = subprocess.run(
        [*CLI, "simulator", "state", "--control", str(tmp_path / "none")],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 5  # unavailable, as for the gateway (docs/cli.md)
    assert "cannot reach the simulator" in done.stderr
