"""Run the relay alone, without a modem: ``python -m gateway.relay --socket PATH --rule SPEC``.

For trying the protocol with ``socat`` and for tests (socket activation with
``systemd-socket-activate``). There is no send queue (``send`` answers ``unavailable``);
codes may be fed as JSON lines on stdin (``{"origin": ..., "code": ..., "sender": ...}``)
with ``--codes-from-stdin``. The daemon serves the same protocol with real ports.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from gateway.errors import GatewayError
from gateway.relay.access import AccessControl, parse_rule
from gateway.relay.messages import DEFAULT_SOCKET, normalise_origin
from gateway.relay.ports import CodeRecord
from gateway.relay.server import RelayConfig, RelayServer


def _record(line: str) -> CodeRecord:
    data = json.loads(line)
    embedded = data.get("embedded_origin")
    return CodeRecord(
        origin=normalise_origin(str(data["origin"])),
        embedded_origin=None if embedded is None else normalise_origin(str(embedded)),
        code=str(data["code"]),
        sender=str(data.get("sender", "unknown")),
        received_at=dt.datetime.now(dt.UTC),
    )


async def _feed_codes(server: RelayServer) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        try:
            server.offer(_record(line.decode()))
        except (ValueError, KeyError, GatewayError) as exc:
            print(f"ignored input line: {type(exc).__name__}", file=sys.stderr)


async def _serve(args: argparse.Namespace) -> None:
    access = AccessControl([parse_rule(spec) for spec in args.rule])
    group = int(args.group) if args.group and args.group.isdigit() else args.group
    config = RelayConfig(path=args.socket, group=group, grace=args.grace)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with RelayServer(config, access=access) as server:
        print(f"relay listening on {args.socket}", file=sys.stderr, flush=True)
        feeder = asyncio.create_task(_feed_codes(server)) if args.codes_from_stdin else None
        await stop.wait()
        if feeder is not None:
            feeder.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await feeder


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments and serve until SIGTERM/SIGINT; return the exit status."""
    parser = argparse.ArgumentParser(prog="python -m gateway.relay", description=__doc__)
    parser.add_argument("--socket", type=Path, default=DEFAULT_SOCKET)
    parser.add_argument("--group", help="group owning the socket file (name or gid)")
    parser.add_argument(
        "--rule", action="append", default=[], help="users=a;groups=g;ops=get,status;origins=*"
    )
    parser.add_argument("--grace", type=float, default=0.0, help="grace window in seconds")
    parser.add_argument("--codes-from-stdin", action="store_true")
    args = parser.parse_args(argv)
    try:
        asyncio.run(_serve(args))
    except GatewayError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
