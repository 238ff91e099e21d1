"""Tests for the sd_notify client against a real notify socket."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.sdnotify import Notifier, watchdog_settings


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    """A real AF_UNIX datagram socket standing in for the service manager."""
    path = tmp_path / "notify"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(5)
    yield sock, str(path)
    sock.close()


def test_messages_arrive_in_order(notify_socket: tuple[socket.socket, str]) -> None:
    """READY, STATUS, WATCHDOG and STOPPING reach the socket as KEY=VALUE datagrams."""
    sock, path = notify_socket
    notifier = Notifier({"NOTIFY_SOCKET": path})
    assert notifier.enabled
    assert notifier.ready("modem ready")
    assert notifier.watchdog()
    assert notifier.stopping()
    notifier.close()
    first = sock.recv(4096).decode().split("\n")
    assert first[0] == "READY=1"
    assert f"MAINPID={os.getpid()}" in first
    assert "STATUS=modem ready" in first
    assert sock.recv(4096) == b"WATCHDOG=1"
    assert sock.recv(4096) == b"STOPPING=1"


def test_abstract_namespace_address() -> None:
    """An address starting with '@' is sent to the abstract namespace."""
    name = f"otp-gateway-test-{os.getpid()}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(b"\0" + name.encode())
    sock.settimeout(5)
    try:
        notifier = Notifier({"NOTIFY_SOCKET": "@" + name})
        assert notifier.status("hello")
        notifier.close()
        assert sock.recv(4096) == b"STATUS=hello"
    finally:
        sock.close()


def test_without_socket_is_noop() -> None:
    """Without NOTIFY_SOCKET nothing is sent and nothing fails."""
    notifier = Notifier({})
    assert not notifier.enabled
    assert not notifier.ready()


def test_vanished_manager_is_swallowed(tmp_path: Path) -> None:
    """A notify socket path that no longer exists makes notify() return False, not raise."""
    notifier = Notifier({"NOTIFY_SOCKET": str(tmp_path / "gone")})
    assert not notifier.watchdog()
    notifier.close()


@pytest.mark.parametrize(
    ("env", "interval"),
    [
        ({"WATCHDOG_USEC": "30000000"}, 30.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}, 30.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}, None),
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "x"}, None),
        ({}, None),
    ],
)
def test_watchdog_settings(env: dict[str, str], interval: float | None) -> None:
    """WATCHDOG_USEC applies only to the named PID; the ping period is half of it."""
    settings = watchdog_settings(env)
    if interval is None:
        assert settings is None
    else:
        assert settings is not None
        assert settings.interval == interval
        assert settings.ping_every == interval / 2
