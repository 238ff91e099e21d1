"""Benchmark: OTP sends per second and outbound latency through the whole send queue.

Run: ``.venv/bin/python bench/send_throughput.py [--jobs 200] [--modems 1] [--dir PATH]``.
Starts the simulator (instant timing) on real ptys, one ModemSession per modem with the
default (field) timeouts, a durable journal (SQLite WAL, synchronous=FULL) in a fresh
directory under ``--dir``, the Dispatcher and the SendService with no rate limits. Then:

- burst: ``--jobs`` requests submitted back to back (each committed to the journal before
  the answer), all sent; SMS/s = jobs / (last SMS accepted by the simulator's network -
  first submit). Latency per job = submit -> the network accepted it (the simulator's
  ``wait_sent`` readiness, resolved in the same event loop), so it includes queueing;
- paced: 50 jobs one at a time (submit, wait until accepted, next): the latency of an OTP
  on an idle gateway.

Each job carries its own code so the accepted SMS is matched back to its job by parsing
the text (gateway.webotp.parse).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from gateway.config.schema import SendSettings
from gateway.journal import SqliteJournal
from gateway.log import configure
from gateway.modem.link import LinkConfig
from gateway.modem.session import ModemSession, SessionConfig
from gateway.pipeline.send import Dispatcher, SendService
from gateway.ratelimit import RateLimiter
from gateway.relay.ports import SendRequest
from gateway.simulator import ModemConfig, ModemHandle, Simulator
from gateway.webotp import parse

DEST = "+14155552671"
SETTINGS = SendSettings(allowed_countries=("US",))


async def follow(handles: list[ModemHandle], total: int) -> dict[str, float]:
    """Return code -> perf_counter time the network accepted it, for ``total`` more SMS."""
    times: dict[tuple[int, int], float] = {}
    base = [len(h.sent()) for h in handles]

    progress = asyncio.Event()

    async def one(i: int, handle: ModemHandle) -> None:
        k = base[i]
        while True:
            await handle.wait_sent(k + 1)
            k = len(handle.sent())
            times[i, k] = time.perf_counter()  # every SMS up to k is in by now
            progress.set()

    tasks = [asyncio.create_task(one(i, h)) for i, h in enumerate(handles)]
    try:
        while sum(len(h.sent()) - b for h, b in zip(handles, base, strict=True)) < total:
            progress.clear()
            await progress.wait()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    seen: dict[str, float] = {}
    for (i, k), at in sorted(times.items(), key=lambda item: item[1]):
        for message in handles[i].sent()[base[i] : k]:
            seen.setdefault(parse(message.text).code, at)
    return seen


async def next_accept(handles: list[ModemHandle], counts: list[int]) -> float:
    """Return the perf_counter time a modem's network count first exceeds ``counts``."""
    tasks = [asyncio.create_task(h.wait_sent(n + 1)) for h, n in zip(handles, counts, strict=True)]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        return time.perf_counter()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def percentile(values: list[float], q: float) -> float:
    """Return the ``q`` quantile (0..1) by nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


async def bench(jobs: int, modems: int, directory: Path) -> None:
    """Run the burst and paced measurements and print the figures."""
    configs = [ModemConfig(number=f"+1555000000{i + 1}") for i in range(modems)]
    async with Simulator(configs, timing="instant") as simulator:
        sessions = {
            f"m{i}": ModemSession(SessionConfig(link=LinkConfig(device=h.device)))
            for i, h in enumerate(simulator.modems)
        }
        journal = SqliteJournal(directory / "journal.sqlite3")
        dispatcher = Dispatcher(journal=journal, sessions=sessions, settings=SETTINGS)
        service = SendService(
            journal=journal, settings=SETTINGS, limiter=RateLimiter(), dispatcher=dispatcher
        )
        for session in sessions.values():
            await session.start()
        runner = asyncio.create_task(dispatcher.run())
        try:
            # burst
            follower = asyncio.create_task(follow(simulator.modems, jobs))
            submitted: dict[str, float] = {}
            start = time.perf_counter()
            for i in range(jobs):
                code = f"B{i:05d}"
                submitted[code] = time.perf_counter()
                await service.submit(SendRequest(number=DEST, origin="example.com", code=code))
            submit_done = time.perf_counter()
            seen = await follower
            last = max(seen.values())
            burst = [(seen[c] - t) * 1000 for c, t in submitted.items()]
            # paced
            paced: list[float] = []
            for i in range(50):
                counts = [len(h.sent()) for h in simulator.modems]
                t0 = time.perf_counter()
                # submit never yields: the readiness waiters below are registered before
                # the modem can possibly have answered the AT+CMGS
                await service.submit(
                    SendRequest(number=DEST, origin="example.com", code=f"P{i:05d}")
                )
                paced.append((await next_accept(simulator.modems, counts) - t0) * 1000)
        finally:
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
            for session in sessions.values():
                await session.stop()
            journal.close()
    sent = sum(len(h.sent()) for h in simulator.modems)
    print(f"modems: {modems} (simulator, instant timing, real ptys, field timeouts)")
    print(f"journal: {directory} (WAL, synchronous=FULL)")
    print(f"burst: {jobs} jobs submitted in {(submit_done - start) * 1000:.0f} ms "
          f"({jobs / (submit_done - start):.0f} accepts/s)")  # fmt: skip
    print(f"burst: {jobs / (last - start):.1f} SMS/s (first submit -> last SMS accepted)")
    print(f"burst latency submit->accepted: p50 {percentile(burst, 0.5):.1f} ms, "
          f"p99 {percentile(burst, 0.99):.1f} ms (queueing included)")  # fmt: skip
    print(f"paced latency submit->accepted (50 jobs, one at a time): "
          f"p50 {percentile(paced, 0.5):.2f} ms, p99 {percentile(paced, 0.99):.2f} ms, "
          f"mean {statistics.fmean(paced):.2f} ms")  # fmt: skip
    print(f"SMS accepted by the network: {sent} (expected {jobs + 50})")


def main() -> None:
    """Parse options and run the benchmark (gateway logs: warnings only, to stderr)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--modems", type=int, default=1)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()))
    options = parser.parse_args()
    configure(level="warning", stream=sys.stderr)
    with tempfile.TemporaryDirectory(dir=options.dir, prefix="send-bench-") as tmp:
        print(f"cpu count: {os.cpu_count()}")
        asyncio.run(bench(options.jobs, options.modems, Path(tmp)))


if __name__ == "__main__":
    main()
