"""The daemon under its unit's syscall filter and a connect storm past its descriptor limit."""

from __future__ import annotations

import asyncio
import os
import resource
import socket
from pathlib import Path

import pytest
from daemon_helpers import PIN, Daemon, NotifySocket, write_config
from seccomp_helpers import under_unit_filter

from gateway.client import AsyncClient, Timeout
from gateway.simulator import ThreadModemHandle

ORIGIN = "example.com"
STORM = 200
HEADROOM = 20  # descriptors the daemon may still open once the limit is lowered


@pytest.fixture
def modem(pin_modem: ThreadModemHandle) -> ThreadModemHandle:
    """This module's modem asks for the SIM PIN (conftest's ``pin_modem``)."""
    return pin_modem


def counters(status: dict[str, object]) -> dict[str, int]:
    """Return the relay's counters from a status snapshot."""
    relay = status["relay"]
    assert isinstance(relay, dict)
    found: dict[str, int] = relay["counters"]
    return found


async def get_code(client: AsyncClient, modem: ThreadModemHandle, code: str) -> str:
    """Start a get, inject an SMS once it is pending (status round trip), return the code."""
    waiting = asyncio.create_task(client.get(ORIGIN, timeout=30))
    await client.status()  # requests of one connection are handled in order
    modem.inject_sms(f"@{ORIGIN} #{code}")
    return (await waiting).code


def ghost_get(path: Path) -> None:
    """Send a get, see it pending (a status after it is answered), and close the socket."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(os.fspath(path))
        sock.sendall(
            b'{"id":1,"op":"get","origin":"example.com","timeout":60}\n{"id":2,"op":"status"}\n'
        )
        seen = b""
        while b'"id":2,"result"' not in seen:
            seen += sock.recv(65536)


async def storm(daemon: Daemon, modem: ThreadModemHandle, path: Path) -> None:
    """Exhaust the daemon's descriptors with connects; check it serves old and new clients."""
    pid = daemon.process.pid
    async with AsyncClient(path) as old:
        await old.status()
        await asyncio.to_thread(ghost_get, path)  # the oldest get, of a client that has gone
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        limit = len(os.listdir(f"/proc/{pid}/fd")) + HEADROOM
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (limit, hard))
        crowd = []
        for _ in range(STORM):  # into the listen backlog: connect(2) does not wait for accept
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(os.fspath(path))
            crowd.append(sock)
        # the status task runs after the accept batch that hit the limit (batch > headroom)
        assert counters(await old.status())["accept_exhausted"] == 1
        # served while exhausted, and the gone client's older get did not take the code
        assert await get_code(old, modem, "404001") == "404001"
        with pytest.raises(Timeout):  # the daemon's own 1.6 s timer; its acceptor retries meanwhile
            await old.get(ORIGIN, timeout=1.6)
        during = counters(await old.status())
        assert during["accept_exhausted"] == 1  # one episode, however many retries
        assert during["accept_retries"] >= 3
        assert len(os.listdir(f"/proc/{pid}/fd")) <= limit
        for sock in crowd:
            sock.close()
        async with AsyncClient(path) as new:  # accepted once the storm's descriptors are free
            assert await get_code(new, modem, "404002") == "404002"
        assert await get_code(old, modem, "404003") == "404003"


def test_connect_storm_past_the_descriptor_limit(
    tmp_path: Path, modem: ThreadModemHandle, notify: NotifySocket
) -> None:
    """Out of descriptors, the daemon logs once per episode, serves its clients, then new ones."""
    config = write_config(tmp_path, tmp_path / "modem", pin=PIN)
    with Daemon(tmp_path, config, notify, launcher=under_unit_filter()) as daemon:
        daemon.wait_ready()
        asyncio.run(asyncio.wait_for(storm(daemon, modem, tmp_path / "gw.sock"), 60))
        assert daemon.terminate() == 0
    events = daemon.log_events()
    exhausted = [e for e in events if e["event"] == "relay.accept_exhausted"]
    recovered = [e for e in events if e["event"] == "relay.accept_recovered"]
    print(  # the figures for the closing note (pytest -s)
        f"\nstorm of {STORM} connects, {HEADROOM} descriptors of headroom: "
        f"episodes {[(e['seconds'], e['retries']) for e in recovered]} (seconds, retries)"
    )
    assert exhausted[0]["error"] == "EMFILE"
    assert len(exhausted) == len(recovered) == 1  # one warning and one recovery line
    retries = recovered[0]["retries"]
    assert isinstance(retries, int)
    assert retries >= 3
    assert not [e for e in events if e.get("level") in ("error", "critical")]
