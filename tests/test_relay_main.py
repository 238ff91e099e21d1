"""Tests for the standalone relay runner (python -m gateway.relay) as a real subprocess."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from gateway.client import Client
from gateway.relay.listener import activated_socket

RUNNER = [sys.executable, "-m", "gateway.relay"]


def test_runner_relays_codes_from_stdin_and_cleans_up_on_sigterm(tmp_path: Path) -> None:
    """Codes written to stdin reach a get; SIGTERM stops it with exit 0 and no socket file."""
    path = tmp_path / "g.sock"
    command = [*RUNNER, "--socket", os.fspath(path), "--grace", "60", "--codes-from-stdin"]
    command += ["--rule", "users=root;ops=get,status;origins=*"]
    proc = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdin is not None
        assert proc.stderr is not None
        while "relay listening" not in (line := proc.stderr.readline()):
            assert line, "runner exited before listening"
        proc.stdin.write(json.dumps({"origin": "shop.example", "code": "112233"}) + "\n")
        proc.stdin.write("not json\n")
        proc.stdin.flush()
        with Client(path) as client:
            assert client.get("shop.example", timeout=20).code == "112233"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        assert not path.exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdin, proc.stderr):
            if stream is not None:
                stream.close()


def test_runner_reports_bad_rules_and_occupied_paths_in_one_line(tmp_path: Path) -> None:
    """A malformed rule or a non-socket file at the path exits 2 with a one-line error."""
    bad = subprocess.run(
        [*RUNNER, "--socket", os.fspath(tmp_path / "g.sock"), "--rule", "users=a;ops=fly"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2
    assert bad.stderr.startswith("error: rule 'users=a;ops=fly'")
    (tmp_path / "file").write_text("x")
    occupied = subprocess.run(
        [*RUNNER, "--socket", os.fspath(tmp_path / "file")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert occupied.returncode == 2
    assert "is not a socket" in occupied.stderr
    assert "Traceback" not in bad.stderr + occupied.stderr


def test_activation_variables_for_another_process_are_ignored() -> None:
    """LISTEN_FDS meant for another pid, or garbage values, do not make us take fd 3."""
    assert activated_socket({"LISTEN_PID": str(os.getpid() + 1), "LISTEN_FDS": "1"}) is None
    assert activated_socket({"LISTEN_PID": "x", "LISTEN_FDS": "1"}) is None
    assert activated_socket({"LISTEN_PID": str(os.getpid()), "LISTEN_FDS": "0"}) is None
    assert activated_socket({}) is None
