"""Benchmark: SMS stored in the simulator -> code in the hands of a waiting consumer.

Run: ``.venv/bin/python bench/e2e_latency.py [--samples 200] [--cli-samples 20]
[--concurrent 100] [--idle 10]``. Starts ``otp-gateway run --simulate`` as a subprocess
(daemon and simulated modem in one process, over a real pty) and measures, from the
moment the bench asks the simulator (control socket) to store an OTP SMS:

1. until a waiting asyncio client's ``get`` resolves (p50/p99 over ``--samples``);
2. until a waiting ``otp-gateway receive`` subprocess prints the code (``--cli-samples``);
3. the same as 1 with ``--concurrent`` consumers waiting at once, each SMS to one of them;
4. the daemon's idle CPU (utime+stime over ``--idle`` s) and RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

from gateway.client import AsyncClient, Client

ORIGIN = "example.com"
#: every SMS gets its own code: the same text from the same sender within the same
#: second is (rightly) taken for a network redelivery and not relayed twice
CODES = iter(range(100000, 999999))


def start_daemon() -> tuple[subprocess.Popen[str], Path, Path]:
    """Start ``run --simulate``; return it with its relay socket and simulator control path."""
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway", "run", "--simulate"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    paths: dict[str, str] = {}
    for line in process.stdout:
        key, _, value = line.strip().partition(": ")
        paths[key] = value.strip()
        if line.startswith("Stop with"):
            break
    return process, Path(paths["socket"]), Path(paths["simulator"])


async def inject(control: Path, code: str) -> None:
    """Ask the simulator to store (and announce) an OTP SMS; return when it answered."""
    reader, writer = await asyncio.open_unix_connection(str(control))
    request = {"op": "inject", "modem": 0, "text": f"Your code is {code}.\n\n@{ORIGIN} #{code}"}
    writer.write(json.dumps(request).encode() + b"\n")
    await writer.drain()
    reply = json.loads(await reader.readline())
    writer.close()
    await writer.wait_closed()
    if not reply.get("ok"):
        raise RuntimeError(f"inject failed: {reply}")


async def one_consumer(socket: Path, control: Path, samples: int) -> list[float]:
    """Latency of SMS -> get with one waiting consumer, ``samples`` times."""
    latencies = []
    async with AsyncClient(socket) as client:
        for _ in range(samples):
            waiting = asyncio.create_task(client.get(ORIGIN, timeout=30))
            await client.status()  # answered after the get: it is pending
            start = time.perf_counter()
            await inject(control, str(next(CODES)))
            await waiting
            latencies.append(time.perf_counter() - start)
    return latencies


async def many_consumers(socket: Path, control: Path, consumers: int) -> list[float]:
    """Latency of each of ``consumers`` SMS while ``consumers`` gets wait at once."""
    clients = [AsyncClient(socket) for _ in range(consumers)]
    for client in clients:
        await client.connect()
    done: dict[str, float] = {}

    async def wait(client: AsyncClient) -> None:
        record = await client.get(ORIGIN, timeout=60)
        done[record.code] = time.perf_counter()

    tasks = [asyncio.create_task(wait(c)) for c in clients]
    for client in clients:
        await client.status()
    started: dict[str, float] = {}
    for _ in range(consumers):
        code = str(next(CODES))
        started[code] = time.perf_counter()
        await inject(control, code)
    await asyncio.gather(*tasks)
    for client in clients:
        await client.close()
    return [done[code] - started[code] for code in started]


def cli_consumer(socket: Path, control: Path, samples: int) -> list[float]:
    """Latency of SMS -> code printed by a waiting ``otp-gateway receive`` subprocess."""
    latencies = []
    for _ in range(samples):
        receiver = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gateway",
                "receive",
                "--socket",
                str(socket),
                "--origin",
                ORIGIN,
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        with Client(socket) as probe:  # wait until its get is pending (status round trips)
            while probe.status()["relay"]["pending_gets"] < 1:  # type: ignore[index]
                continue
        start = time.perf_counter()
        asyncio.run(inject(control, str(next(CODES))))
        assert receiver.stdout is not None
        receiver.stdout.readline()
        latencies.append(time.perf_counter() - start)
        receiver.wait(30)
    return latencies


def report(name: str, values: list[float]) -> None:
    """Print p50/p99/max in milliseconds."""
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    print(
        f"{name:<44} n={len(values):<4} p50={statistics.median(values) * 1000:7.2f} ms  "
        f"p99={p99 * 1000:7.2f} ms  max={ordered[-1] * 1000:7.2f} ms"
    )


def cpu_seconds(pid: int) -> float:
    """Return the process's user+system CPU time (/proc/PID/stat, proc(5))."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid: int) -> int:
    """Return the resident set size in KiB (/proc/PID/status VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def main() -> None:
    """Run every measurement against one daemon and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--cli-samples", type=int, default=20)
    parser.add_argument("--concurrent", type=int, default=100)
    parser.add_argument("--idle", type=float, default=10.0)
    args = parser.parse_args()
    daemon, socket, control = start_daemon()
    try:
        asyncio.run(one_consumer(socket, control, 20))  # warm-up
        report(
            "SMS -> get (1 waiting asyncio client)",
            asyncio.run(one_consumer(socket, control, args.samples)),
        )
        report(
            "SMS -> `otp-gateway receive` prints it",
            cli_consumer(socket, control, args.cli_samples),
        )
        report(
            f"SMS -> get ({args.concurrent} consumers waiting)",
            asyncio.run(many_consumers(socket, control, args.concurrent)),
        )
        before = cpu_seconds(daemon.pid)
        time.sleep(args.idle)  # a benchmark measuring idleness, not a synchronisation
        idle = cpu_seconds(daemon.pid) - before
        print(
            f"daemon idle CPU over {args.idle:g} s: {idle * 1000:.0f} ms ({idle / args.idle:.2%})"
        )
        print(f"daemon RSS: {rss_kib(daemon.pid) / 1024:.1f} MiB")
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(30)


if __name__ == "__main__":
    main()
