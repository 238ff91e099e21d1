"""Benchmark: the relay client library's own cost, over a real Unix socket.

Run: ``.venv/bin/python bench/relay_client.py [--calls 2000] [--gets 200]``.
A :class:`RelayServer` (no daemon, a status port that answers at once) listens on a
socket in a fresh temporary directory, in this process's event loop; then:

1. ``--calls`` ``status`` round trips one after the other on one ``AsyncClient``;
2. the same on one blocking ``Client`` (in a worker thread, the server in the loop);
3. ``--gets`` concurrent ``get`` requests pending on one ``AsyncClient`` connection,
   then as many codes offered at once: the time until every ``get`` returned (the
   replies interleave on the one connection; each is routed to its request).

The server's share is the same before and after a client change, so the difference
between two runs is the client's. Prints each figure per call and the total.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import pwd
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from gateway.client import AsyncClient, Client
from gateway.log import configure
from gateway.relay.access import AccessControl, parse_rule
from gateway.relay.ports import CodeRecord
from gateway.relay.server import RelayConfig, RelayServer

ORIGIN = "shop.example"


class _Status:
    """A status port with nothing to refresh."""

    async def refresh(self) -> None:
        """Nothing to bring up to date."""

    def snapshot(self) -> Mapping[str, object]:
        """Return a fixed snapshot."""
        return {"modems": []}


def _code(i: int) -> CodeRecord:
    return CodeRecord(
        origin=ORIGIN,
        embedded_origin=None,
        code=f"{100000 + i}",
        sender="+15557654321",
        received_at=dt.datetime.now(dt.UTC),
    )


def _sync_calls(path: Path, calls: int) -> float:
    with Client(path) as client:
        start = time.perf_counter()
        for _ in range(calls):
            client.status()
        return time.perf_counter() - start


async def run(calls: int, gets: int, directory: Path) -> list[tuple[str, int, float]]:
    """Return (what, count, seconds) for each measurement."""
    user = pwd.getpwuid(os.getuid()).pw_name
    rule = parse_rule(f"users={user};ops=get,status;origins={ORIGIN}")
    config = RelayConfig(path=directory / "g.sock", max_pending_gets=gets)
    server = RelayServer(config, access=AccessControl([rule]), status=_Status())
    figures: list[tuple[str, int, float]] = []
    async with server, AsyncClient(config.path) as client:
        start = time.perf_counter()
        for _ in range(calls):
            await client.status()
        figures.append(("status round trip, AsyncClient", calls, time.perf_counter() - start))

        took = await asyncio.to_thread(_sync_calls, config.path, calls)
        figures.append(("status round trip, Client", calls, took))

        waiting = [asyncio.create_task(client.get(ORIGIN, timeout=60)) for _ in range(gets)]
        while server.broker.pending < gets:  # each get's request is out and pending
            await client.status()
        start = time.perf_counter()
        for i in range(gets):
            server.offer(_code(i))
        codes = await asyncio.gather(*waiting)
        took = time.perf_counter() - start
        assert len({c.code for c in codes}) == gets, "every get took a code of its own"
        figures.append((f"{gets} concurrent gets on one AsyncClient", gets, took))
    return figures


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--gets", type=int, default=200)
    args = parser.parse_args(argv)
    configure(level="warning", stream=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="otpgw-bench-") as directory:
        figures = asyncio.run(run(args.calls, args.gets, Path(directory)))
    for what, count, seconds in figures:
        print(f"{what:<40} n={count:<5} {seconds * 1e6 / count:8.1f} us each  {seconds:.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
