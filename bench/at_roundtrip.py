"""Benchmark: AT command round trips per second through our session over a real pty.

The simulator runs in its own thread (``SimulatorThread``, its own event loop) so the
numbers include both sides of the pty and the kernel in between. Run:

    .venv/bin/python bench/at_roundtrip.py [--seconds 3] [--profile generic]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import tempfile
import time
from pathlib import Path

import structlog

from gateway.at import Command, action, bare, query
from gateway.modem.health import HealthConfig
from gateway.modem.link import LinkConfig
from gateway.modem.session import ModemSession, SessionConfig
from gateway.simulator import ModemConfig, SimulatorThread


async def measure(device: str, seconds: float, inject: int) -> list[tuple[str, int, float]]:
    """Return (command, round trips, seconds) for a few command shapes."""
    config = SessionConfig(link=LinkConfig(device=device), health=HealthConfig(interval=3600))
    session = ModemSession(config)
    await session.start()
    try:
        commands: list[Command] = [
            action("AT"),
            query("AT+CSQ", "+CSQ"),
            bare("AT+CGSN"),
            Command(text="AT+CMGR=1", prefixes=("+CMGR",), pdu=True),
        ]
        results = []
        for command in commands:
            count = 0
            start = time.perf_counter()
            while (elapsed := time.perf_counter() - start) < seconds:
                (await session.command(command)).raise_for_error()
                count += 1
            results.append((command.text, count, elapsed))
        listing = Command(text="AT+CMGL=4", prefixes=("+CMGL",), pdu=True)
        start = time.perf_counter()
        response = (await session.command(listing)).raise_for_error()
        results.append(
            (f"AT+CMGL=4 ({len(response.lines) // 2} messages)", 1, time.perf_counter() - start)
        )
        assert len(response.lines) // 2 == inject
        return results
    finally:
        await session.stop()


def main() -> None:
    """Parse arguments, run the simulator thread and print commands/s per command."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="per command shape")
    parser.add_argument(
        "--profile", default="generic", choices=["generic", "sim800", "e3372", "ec25"]
    )
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    inject = 20
    with tempfile.TemporaryDirectory() as tmp:
        modem = ModemConfig(profile=args.profile, link=Path(tmp) / "modem")
        with SimulatorThread([modem]) as simulator:
            handle = simulator.modems[0]
            for n in range(inject):
                handle.inject_sms(f"bench {n} @example.com #{n:06d}", notify=False)
            results = asyncio.run(measure(handle.device, args.seconds, inject))
    print(f"profile={args.profile} (simulator in its own thread, real pty)")
    for text, count, elapsed in results:
        print(f"{text:32} {count:7d} round trips in {elapsed:5.2f} s = {count / elapsed:9.1f} /s")


if __name__ == "__main__":
    main()
