"""Benchmark: receive latency, SMS stored in the simulator -> code record handed on.

Run: ``.venv/bin/python bench/receive_latency.py [--messages 200] [--idle 5] [--dir PATH]``.

One simulated modem (instant timing) on a real pty, a real :class:`ModemSession`, a real
journal (SQLite WAL, synchronous=FULL) in ``--dir`` (default: a temporary directory) and
a :class:`ReceivePipeline`, all in one process and one event loop. Each OTP SMS is
injected into the simulator's storage (which writes its ``+CMTI``) one at a time; the
latency is the wall time from just before the injection to the ``on_code`` callback
(URC -> AT+CMGR -> journal commit -> message, decision, code commit -> callback). Then a
burst of the same size with no URCs at all is injected and one sweep drains it
(throughput). Finally the process sits idle for ``--idle`` seconds and its CPU time
(resource.getrusage, user + system, the simulator and the session's health pings
included) and resident memory (/proc/self/statm now, ru_maxrss peak) are reported.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from gateway import log as gwlog
from gateway.at import Timeouts
from gateway.config.schema import ReceiveSettings
from gateway.journal import SqliteJournal
from gateway.modem.health import HealthConfig
from gateway.modem.init import InitConfig
from gateway.modem.link import LinkConfig
from gateway.modem.session import ModemSession, SessionConfig
from gateway.pipeline.receive import ReceivePipeline
from gateway.relay.ports import CodeRecord
from gateway.simulator import ModemConfig, Simulator
from gateway.sms import StatusReport


def percentile(values: list[float], p: float) -> float:
    """Return the ``p``-th percentile (nearest rank) of ``values``."""
    ordered = sorted(values)
    rank = max(1, round(p / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def reached(snapshot: Mapping[str, object], name: str, value: int) -> bool:
    """Return True when the pipeline counter ``name`` is at least ``value``."""
    got = snapshot.get(name, 0)
    return isinstance(got, int) and got >= value


def rss_mib() -> float:
    """Return the current resident set size in MiB (Linux /proc)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


async def bench(messages: int, idle: float, directory: Path) -> None:
    """Run the three measurements and print them."""
    codes: list[CodeRecord] = []
    arrived = asyncio.Event()

    def on_code(record: CodeRecord) -> None:
        codes.append(record)
        arrived.set()

    def on_report(modem: str, report: StatusReport) -> None:
        """Reports are not part of this benchmark."""

    settings = ReceiveSettings(allowed_origins=("example.com",), sweep_interval=3600.0)
    link = directory / "modem"
    async with Simulator([ModemConfig(link=link, storage_capacity=max(30, messages))]) as sim:
        modem = sim.modems[0]
        session = ModemSession(
            SessionConfig(
                link=LinkConfig(device=modem.device),
                timeouts=Timeouts(),
                init=InitConfig(registration_poll=0.05),
                health=HealthConfig(),  # the field default: periodic AT pings
            )
        )
        journal = SqliteJournal(directory / "journal.sqlite3")
        await session.start()
        pipeline = ReceivePipeline(
            modem="bench",
            session=session,
            journal=journal,
            settings=settings,
            on_code=on_code,
            on_report=on_report,
        )
        task = asyncio.create_task(pipeline.run())
        try:
            await pipeline.wait_for(lambda s: reached(s, "sweeps", 1), timeout=10)
            latencies = []
            for i in range(messages):
                arrived.clear()
                start = time.perf_counter()
                modem.inject_sms(f"Your code\n@example.com #{100000 + i}", sender="+15557654321")
                await asyncio.wait_for(arrived.wait(), 10)
                latencies.append(time.perf_counter() - start)
            await pipeline.wait_for(lambda s: reached(s, "deleted", messages), timeout=10)

            modem.set_fault("no-urc")
            for i in range(messages):
                modem.inject_sms(f"@example.com #{500000 + i}", sender=f"+1555800{i:04d}")
            start = time.perf_counter()
            swept = await pipeline.sweep()
            burst = time.perf_counter() - start
            modem.clear_fault("no-urc")

            before = resource.getrusage(resource.RUSAGE_SELF)
            wall = time.perf_counter()
            await asyncio.sleep(idle)  # a benchmark measuring idleness, not a test
            wall = time.perf_counter() - wall
            after = resource.getrusage(resource.RUSAGE_SELF)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await session.stop()
            journal.close()
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    ms = [x * 1000 for x in latencies]
    print(f"receive latency over {messages} SMS, one at a time (stored -> on_code):")
    print(
        f"  p50 {statistics.median(ms):.2f} ms   p99 {percentile(ms, 99):.2f} ms   "
        f"min {min(ms):.2f} ms   max {max(ms):.2f} ms"
    )
    print(
        f"sweep of {swept} unannounced SMS: {burst * 1000:.0f} ms "
        f"({swept / burst:.0f} SMS/s recorded, decided and deleted)"
    )
    print(f"idle for {wall:.1f} s: CPU {cpu * 1000:.1f} ms ({cpu / wall * 100:.2f} % of one core)")
    print(
        f"RSS now {rss_mib():.1f} MiB, peak {after.ru_maxrss / 1024:.1f} MiB "
        "(whole process: simulator, session, journal, pipeline)"
    )
    print(f"codes handed on: {len(codes)}; journal: {directory}")


def main() -> None:
    """Parse options and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--idle", type=float, default=5.0)
    parser.add_argument("--dir", type=Path, default=None, help="journal directory")
    options = parser.parse_args()
    gwlog.configure(level="warning", fmt="console", stream=sys.stderr)
    if options.dir is not None:
        options.dir.mkdir(parents=True, exist_ok=True)
        asyncio.run(bench(options.messages, options.idle, options.dir))
        return
    with tempfile.TemporaryDirectory(prefix="otpgw-bench-") as tmp:
        asyncio.run(bench(options.messages, options.idle, Path(tmp)))


if __name__ == "__main__":
    main()
