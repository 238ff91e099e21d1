"""The gateway on the simulator with consumers that go away: nothing stays, nothing is swallowed."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path

from gateway.client import AsyncClient
from gateway.config import Config
from gateway.journal import SqliteJournal
from gateway.relay.server import RelayServer
from gateway.testing import AsyncGatewayHandle, simulated_gateway

ORIGIN = "example.com"
GHOSTS = 200
WAYS = ("close", "reset", "shutdown-both", "half-close-then-close")
REQUESTS = b'{"id":1,"op":"get","origin":"example.com","timeout":300}\n{"id":2,"op":"subscribe"}\n'


def roomy(config: Config) -> Config:
    """No grace window (WebOTP rule) and room for every ghost of this test's single uid."""
    return replace(
        config,
        receive=replace(config.receive, grace_window=0.0),
        relay=replace(config.relay, max_connections_per_uid=GHOSTS + 10),
    )


def open_fds() -> int:
    """Return how many file descriptors this process (the daemon, in-process) holds."""
    return len(os.listdir("/proc/self/fd"))


def counts(relay: RelayServer) -> tuple[int, int, int]:
    """Return (connections, pending gets, subscriptions) of the relay."""
    return relay.connections, relay.broker.pending, relay.broker.subscriptions


def ghost(path: Path, way: str) -> socket.socket:
    """Connect, send a get and a subscribe, and read the replies unless it will reset."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(os.fspath(path))
    seen = sock.recv(4096)
    sock.sendall(REQUESTS)
    while way != "reset" and b'"subscribed":true' not in seen:
        seen += sock.recv(4096)
    if way == "half-close-then-close":
        sock.shutdown(socket.SHUT_WR)  # printf | socat style, closed for good below
    return sock


def scenario(tmp_path: Path, body: Callable[[AsyncGatewayHandle], Awaitable[None]]) -> None:
    """Run ``body(gw)`` against the gateway on a simulated modem, in one event loop."""

    async def main() -> None:
        async with simulated_gateway(tmp_path, configure=roomy) as gw:
            await body(gw)

    asyncio.run(main())


def test_two_hundred_closed_clients_leave_nothing_and_take_no_code(tmp_path: Path) -> None:
    """200 consumers that get+subscribe then go are released in 1 s; a live get gets the code."""

    async def body(gw: AsyncGatewayHandle) -> None:
        relay = gw.gateway.relay
        assert relay is not None
        async with AsyncClient(gw.socket) as probe:
            await probe.status()  # the loop's lazily made descriptors exist from here on
        await relay.wait_until(lambda r: r.connections == 0)
        baseline = (counts(relay), open_fds())
        ghosts = [
            await asyncio.to_thread(ghost, gw.socket, WAYS[n % len(WAYS)]) for n in range(GHOSTS)
        ]
        await relay.wait_until(lambda r: r.broker.pending == GHOSTS)
        loaded = (counts(relay), open_fds())
        assert loaded[0] == (GHOSTS, GHOSTS, GHOSTS)
        loop = asyncio.get_running_loop()
        started = loop.time()
        for n, sock in enumerate(ghosts):
            if WAYS[n % len(WAYS)] == "shutdown-both":
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        await relay.wait_until(lambda r: counts(r) == baseline[0])
        cleaned_in = loop.time() - started
        after = (counts(relay), open_fds())
        print(  # the figures for the closing note (pytest -s)
            f"\nclosed clients: {GHOSTS}; baseline (connections, gets, subscriptions), fds: "
            f"{baseline}; loaded: {loaded}; after: {after}; released in {cleaned_in:.3f} s"
        )
        assert after == baseline
        assert cleaned_in < 1.0
        assert relay.counters["peers_gone"] == GHOSTS * 3 // 4  # all but the resets (ECONNRESET)
        async with AsyncClient(gw.socket) as live:
            waiting = asyncio.create_task(live.get(ORIGIN, timeout=30))
            await gw.wait_pending_gets(1)
            gw.modem.inject_sms(f"@{ORIGIN} #271828")
            assert (await waiting).code == "271828"
        assert relay.counters["codes_delivered"] == 1
        assert relay.counters.get("codes_not_handed", 0) == 0  # no ghost was even tried
        journal = gw.gateway.journal
        assert isinstance(journal, SqliteJournal)  # what the daemon stored, read back
        [code] = journal.codes(origin=ORIGIN)
        assert (code.claimed_by or "").startswith("relay")  # "relay uid=… key=…": the get's key

    scenario(tmp_path, body)


def test_ghost_get_ahead_of_a_live_one_does_not_swallow_the_code(tmp_path: Path) -> None:
    """The oldest get's client closes just before the SMS arrives: the live get still gets it."""

    async def body(gw: AsyncGatewayHandle) -> None:
        relay = gw.gateway.relay
        assert relay is not None
        for attempt in range(6):  # the issue saw the ghost win 6 of 6 tries
            sock = await asyncio.to_thread(ghost, gw.socket, "close")
            async with AsyncClient(gw.socket) as live:
                waiting = asyncio.create_task(live.get(ORIGIN, timeout=30))
                await gw.wait_pending_gets(2)
                sock.close()
                gw.modem.inject_sms(f"@{ORIGIN} #50000{attempt}")
                assert (await waiting).code == f"50000{attempt}"
        journal = gw.gateway.journal
        assert isinstance(journal, SqliteJournal)  # what the daemon stored, read back
        assert sorted(str(c.code) for c in journal.codes(origin=ORIGIN)) == [
            f"50000{n}" for n in range(6)
        ]
        assert relay.counters["codes_delivered"] == 6

    scenario(tmp_path, body)


def test_printf_socat_half_close_still_gets_the_code(tmp_path: Path) -> None:
    """The documented `printf … | socat` one-shot (a half-close) receives its code, then EOF."""

    async def body(gw: AsyncGatewayHandle) -> None:
        line = '{"id":1,"op":"get","origin":"example.com","timeout":60}'
        shell = await asyncio.create_subprocess_exec(
            "sh",
            "-c",
            f"printf '%s\\n' '{line}' | socat -t 65 - UNIX-CONNECT:{gw.socket}",
            stdout=asyncio.subprocess.PIPE,
        )
        await gw.wait_pending_gets(1)
        gw.modem.inject_sms(f"@{ORIGIN} #314159")
        out, _ = await shell.communicate()  # socat ends once the server closes
        assert shell.returncode == 0
        assert b'"code":"314159"' in out
        journal = gw.gateway.journal
        assert isinstance(journal, SqliteJournal)  # what the daemon stored, read back
        [code] = journal.codes(origin=ORIGIN)
        assert (code.claimed_by or "").startswith("relay")  # "relay uid=… key=…": the get's key

    scenario(tmp_path, body)
