"""Tests for the relay server's socket file, socket activation and shutdown."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from relay_helpers import ROOT_RULES, Raw, relay, run

from gateway.errors import UsageError
from gateway.relay.access import AccessControl
from gateway.relay.client import Client
from gateway.relay.server import RelayConfig, RelayServer


def test_socket_file_has_mode_0660_and_group_and_is_unlinked(tmp_path: Path) -> None:
    """The socket file is created 0660 with the configured group and removed on close."""
    path = tmp_path / "g.sock"

    async def scenario() -> None:
        async with relay(path, group=65534):
            info = os.lstat(path)
            assert stat.S_ISSOCK(info.st_mode)
            assert stat.S_IMODE(info.st_mode) == 0o660
            assert info.st_gid == 65534
            assert [p.name for p in tmp_path.iterdir()] == ["g.sock"]
        assert not path.exists()

    run(scenario())


def test_stale_socket_file_is_replaced(tmp_path: Path) -> None:
    """A socket file nobody listens on (ECONNREFUSED) is replaced by ours."""
    path = tmp_path / "g.sock"
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(os.fspath(path))
    dead.close()

    async def scenario() -> None:
        async with relay(path):
            raw = await Raw.open(path)
            await raw.sync()
            await raw.close()

    run(scenario())


def test_live_socket_is_not_stolen(tmp_path: Path) -> None:
    """A second server on a path where one listens fails and the first keeps serving."""
    path = tmp_path / "g.sock"

    async def scenario() -> None:
        async with relay(path):
            with pytest.raises(UsageError, match="in use by a running process"):
                async with relay(path):
                    pass
            raw = await Raw.open(path)
            await raw.sync()
            await raw.close()

    run(scenario())


def test_a_regular_file_is_never_replaced(tmp_path: Path) -> None:
    """A non-socket file at the socket path is left alone and reported."""
    path = tmp_path / "g.sock"
    path.write_text("keep me")

    async def scenario() -> None:
        with pytest.raises(UsageError, match="not a socket"):
            async with relay(path):
                pass

    run(scenario())
    assert path.read_text() == "keep me"


def test_server_close_ends_pending_gets_with_unavailable(tmp_path: Path) -> None:
    """On shutdown a waiting client is told 'unavailable', then the connection closes."""

    async def scenario() -> None:
        async with relay(tmp_path / "g.sock") as server:
            raw = await Raw.open(server.config.path)
            raw.write({"id": 1, "op": "get", "origin": "shop.example"})
            await raw.sync()
        assert (await raw.reply(1))["error"]["code"] == "unavailable"
        with pytest.raises(EOFError):
            await raw.read()
        await raw.close()

    run(scenario())


def test_socket_activation_uses_the_passed_fd(tmp_path: Path) -> None:
    """Under systemd-socket-activate the relay serves on fd 3 and never binds its own path."""
    activate = shutil.which("systemd-socket-activate") or "/lib/systemd/systemd-socket-activate"
    path, unused = tmp_path / "activated.sock", tmp_path / "unused.sock"
    command = [activate, "-l", os.fspath(path), sys.executable, "-m", "gateway.relay"]
    command += ["--socket", os.fspath(unused), "--rule", "users=root;ops=status"]
    proc = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        assert "as 3" in proc.stderr.readline()  # "Listening on <path> as 3."
        with Client(path) as client:
            status = client.status()
        socket_info = status["relay"]["socket"]  # type: ignore[index]
        assert socket_info == {"path": os.fspath(path), "activated": True, "fd": 3}
        assert not unused.exists()
        proc.terminate()
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()


def test_bound_server_queues_clients_and_is_not_stolen_before_start(tmp_path: Path) -> None:
    """Between bind() and start() clients wait in the backlog, a second bind is refused."""
    path = tmp_path / "g.sock"

    async def scenario() -> None:
        first = RelayServer(RelayConfig(path=path), access=AccessControl(ROOT_RULES))
        await first.bind()
        try:
            waiting = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            waiting.connect(os.fspath(path))  # ECONNREFUSED without listen() at bind
            second = RelayServer(RelayConfig(path=path), access=AccessControl(ROOT_RULES))
            with pytest.raises(UsageError, match="in use by a running process"):
                await second.bind()
            assert path.exists()
            await first.start()
            reader, writer = await asyncio.open_unix_connection(sock=waiting)
            greeting = json.loads(await reader.readline())
            assert greeting["hello"] == "otp-gateway"
            writer.close()
            await writer.wait_closed()
        finally:
            await first.close()
        assert not path.exists()

    run(scenario())
