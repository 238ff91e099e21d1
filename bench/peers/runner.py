"""Sessions: one program on its own fresh simulated modem, measured, stopped; the idle phase."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from bench.peers import measure
from bench.peers.programs import Program
from bench.peers.system import group_cpu_seconds, group_peak_rss_kib
from gateway.simulator import ModemConfig, Simulator
from gateway.simulator.network import DELAYS

Timing = Literal["instant", "realistic"]
#: big enough that a poller with a 15 s period never finds the SIM full (default 30)
CAPACITY = 255


@dataclass(frozen=True, slots=True, kw_only=True)
class Workload:
    """What one session does."""

    inbound: int
    outbound: int
    throughput: int  # 0: none in this session
    cap: float  # seconds the throughput run may take
    warmup: bool


@dataclass(slots=True)
class Figures:
    """Everything measured for one program and configuration, over all its sessions."""

    label: str
    program: str
    variant: str
    config: str = ""
    inbound: list[float] = field(default_factory=list)
    inbound_hook: list[float] = field(default_factory=list)
    outbound: list[float] = field(default_factory=list)
    outbound_ack: list[float] = field(default_factory=list)
    startup: list[float] = field(default_factory=list)
    throughput: dict[str, object] | None = None
    rss_kib: int = 0
    idle: dict[str, float] | None = None
    sessions: int = 0


async def session(
    program: Program,
    root: Path,
    work: Workload,
    figures: Figures,
    *,
    timing: Timing,
    profile: str,
    source: Iterator[str],
    rng: random.Random,
) -> None:
    """Run ``work`` with ``program`` on a fresh simulated modem; add to ``figures``.

    Raises BenchError (from the measurements) when the program does not deliver.
    """
    root.mkdir(parents=True)  # fresh: a peer must not find files left by another session
    modem_config = ModemConfig(link=root / "modem", profile=profile, storage_capacity=CAPACITY)
    busy = DELAYS[timing].submit[1]  # longest network submit: the modem is busy that long
    async with Simulator([modem_config], timing=timing) as simulator:
        modem = simulator.modems[0]
        tracker = measure.SubmitTracker(modem)
        tracker.start()
        began = time.monotonic()
        try:
            await program.start(modem, root / "program")
            figures.startup.append(time.monotonic() - began)
            figures.config = program.config_text
            if work.warmup:  # first message of a fresh process: not counted
                await measure.inbound(program, modem, 1, source, rng)
                await measure.outbound(program, tracker, 1, source, rng, busy=busy)
                program.ack_latencies.clear()
            if work.inbound:
                got = await measure.inbound(program, modem, work.inbound, source, rng)
                figures.inbound += got.samples
                figures.inbound_hook += got.hook
            if work.outbound:
                sent = await measure.outbound(
                    program, tracker, work.outbound, source, rng, busy=busy
                )
                figures.outbound += sent.samples
                figures.outbound_ack += program.ack_latencies
            if work.throughput:
                figures.throughput = await measure.throughput(
                    program, tracker, work.throughput, source, work.cap
                )
            figures.rss_kib = max(figures.rss_kib, group_peak_rss_kib(program.pgid))
            figures.sessions += 1
        finally:
            await tracker.close()
            await program.stop()


async def idle_phase(
    makers: Sequence[Callable[[], Program]],
    root: Path,
    window: float,
    *,
    timing: Timing,
    profile: str,
    settle: float = 2.0,
) -> dict[str, dict[str, float]]:
    """Run every program at once, each on its own modem, idle for ``window`` s.

    Returns label -> cpu_s, percent (of one core), rss_kib (peak, whole process group).
    Idle daemons barely compete for the CPU, so one shared window keeps the run short.
    """
    programs = [make() for make in makers]
    root.mkdir(parents=True, exist_ok=True)
    configs = [
        ModemConfig(number=f"+1555000{i + 10:04d}", link=root / f"modem{i}", profile=profile)
        for i in range(len(programs))
    ]
    async with Simulator(configs, timing=timing) as simulator:
        try:
            starts = await asyncio.gather(
                *(
                    p.start(m, root / f"program{i}")
                    for i, (p, m) in enumerate(zip(programs, simulator.modems, strict=True))
                ),
                return_exceptions=True,
            )
            for outcome in starts:
                if isinstance(outcome, BaseException):
                    raise outcome
            # after "ready": let start-up work (first sweep, gammu's init tail) finish
            await asyncio.sleep(settle)
            before = {p.label: group_cpu_seconds(p.pgid) for p in programs}
            began = time.monotonic()
            await asyncio.sleep(window)  # measuring idleness: nothing to wait for
            elapsed = time.monotonic() - began
            result = {}
            for p in programs:
                cpu = group_cpu_seconds(p.pgid) - before[p.label]
                result[p.label] = {
                    "cpu_s": cpu,
                    "window_s": elapsed,
                    "percent": 100.0 * cpu / elapsed,
                    "rss_kib": float(group_peak_rss_kib(p.pgid)),
                }
            return result
        finally:
            await asyncio.gather(*(p.stop() for p in programs))
