"""The measurements: inbound and outbound latency, throughput, idle CPU and memory.

All timestamps are ``time.monotonic()`` in the bench process, which also runs the
simulated modem, the inotify watches and the relay client in one event loop:

- inbound: just before the simulator stores the SMS (and writes ``+CMTI``) -> the code is
  usable (our ``get`` returned it; a peer's file was closed or renamed into its incoming
  directory; the peer's receive hook appended its line is recorded too);
- outbound: the hand-off (our ``send`` request written; a peer's file renamed into its
  outbox) -> the simulated network accepted the SMS, i.e. the modem got the ``^Z`` of
  ``AT+CMGS`` (``ModemHandle.wait_sent`` resolves in the same loop turn);
- throughput: N OTPs queued at once -> accepted by the network; SMS/s between the first
  and the last acceptance (so a poller's first wait does not count), capped in time.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

from bench.peers.programs import NUMBER, BenchError, Ledger, Program, code_in, otp_text
from gateway.simulator import ModemHandle, SimulatorError

#: a closed-loop message may take this long beyond the program's period
SLACK = 30.0
#: open loop: arrivals spread uniformly over this many polling periods (a poller then
#: finds a few messages per poll, as under moderate load, never more than it can handle)
OPEN_LOOP_PERIODS = 3
#: how long after the last file a peer's receive hook may still come
HOOK_TIMEOUT = 10.0


class SubmitTracker:
    """Times, per code, at which the simulated network accepted an SMS from ``modem``."""

    def __init__(self, modem: ModemHandle) -> None:
        self._modem = modem
        self._ledger = Ledger()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Follow the modem's accepted SMS from now on."""
        self._task = asyncio.create_task(self._follow())

    async def _follow(self) -> None:
        count = len(self._modem.sent())
        with contextlib.suppress(SimulatorError):  # the simulator stopped
            while True:
                await self._modem.wait_sent(count + 1)
                now = time.monotonic()
                new = self._modem.sent()[count:]
                count += len(new)
                for message in new:
                    code = code_in(message.text)
                    if code is not None:
                        self._ledger.seen(code, now)

    def expect(self, code: str) -> asyncio.Future[float]:
        """Return the future of the time the SMS with ``code`` is accepted."""
        return self._ledger.expect(code)

    async def close(self) -> None:
        """Stop following."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def codes(seed: int) -> Iterator[str]:
    """Yield distinct 6-digit codes (the same text twice in a second is a redelivery)."""
    start = random.Random(seed).randrange(100000, 500000)  # noqa: S311 - not a secret
    return (str(n) for n in range(start, 999999))


@dataclass(slots=True)
class Latencies:
    """Latency samples in seconds, plus the peers' receive-hook latencies."""

    samples: list[float] = field(default_factory=list)
    hook: list[float] = field(default_factory=list)


async def _arrivals(program: Program, count: int, rng: random.Random) -> AsyncIterator[None]:
    """Yield ``count`` times, each time the next message is due.

    Open loop: at times drawn uniformly over ``OPEN_LOOP_PERIODS`` polling periods from
    the first step on, whether or not earlier messages are done. Closed loop (the caller
    settles each message before the next step): after a random phase within the
    program's polling period. Both are a benchmark's pacing, not a synchronisation: what
    is measured is awaited on events.
    """
    window = OPEN_LOOP_PERIODS * program.period if program.open_loop else 0.0
    offsets = sorted(rng.uniform(0.0, window) for _ in range(count))
    began = time.monotonic()
    for offset in offsets:
        if program.open_loop:
            await asyncio.sleep(max(0.0, began + offset - time.monotonic()))
        else:
            await asyncio.sleep(rng.uniform(0.0, program.period))
        yield


async def inbound(
    program: Program, modem: ModemHandle, count: int, source: Iterator[str], rng: random.Random
) -> Latencies:
    """Measure ``count`` SMS from storage to a usable code; raise BenchError on a timeout."""
    result = Latencies()
    pending: list[tuple[str, float, asyncio.Future[float]]] = []
    async for _ in _arrivals(program, count, rng):
        code = next(source)
        future = await program.arm_inbound(code)
        start = time.monotonic()
        modem.inject_sms(otp_text(code), sender=NUMBER)
        pending.append((code, start, future))
        if not program.open_loop:
            await _settle(program, [future], program.period + SLACK, "inbound")
    await _settle(program, [f for _, _, f in pending], 2 * program.period + SLACK, "inbound")
    hooks = [program.hooks.expect(code) for code, _, _ in pending] if program.has_hook else []
    if hooks:  # the hook runs after the file is there: give the last one a moment
        await asyncio.wait(hooks, timeout=HOOK_TIMEOUT)
    for code, start, future in pending:
        result.samples.append(future.result() - start)
        hook = program.hooks.expect(code)
        if hook.done():
            result.hook.append(hook.result() - start)
    return result


async def outbound(
    program: Program,
    tracker: SubmitTracker,
    count: int,
    source: Iterator[str],
    rng: random.Random,
    *,
    busy: float = 0.0,
) -> Latencies:
    """Measure ``count`` OTPs from hand-off to the network; raise BenchError on a timeout.

    ``busy``: how long the modem may stay busy after a ``^Z`` (the network's longest
    submit time); the next message, and whatever the caller measures next, waits that
    long, so no sample includes the previous send's network time.
    """
    result = Latencies()
    pending: list[tuple[float, asyncio.Future[float]]] = []
    async for _ in _arrivals(program, count, rng):
        code = next(source)
        future = tracker.expect(code)
        pending.append((await program.submit(code), future))
        if not program.open_loop:
            await _settle(program, [future], program.period + SLACK, "outbound")
            await asyncio.sleep(busy)  # pacing: the modem is idle again
    # a poller sends what piled up one by one (gammu: ~0.7 s each)
    deadline = 2 * program.period + SLACK + count * (1 + busy)
    await _settle(program, [f for _, f in pending], deadline, "outbound")
    if program.open_loop:
        await asyncio.sleep(busy)
    result.samples = [future.result() - start for start, future in pending]
    return result


async def _settle(
    program: Program, futures: list[asyncio.Future[float]], timeout: float, what: str
) -> None:
    done, waiting = await asyncio.wait(futures, timeout=timeout)
    if waiting:
        raise BenchError(
            f"{program.label}: {len(waiting)} {what} message(s) not done after {timeout:.0f} s"
            f"\n{program.diagnostics()}"
        )
    for future in done:
        future.result()  # a failed get raises here


async def throughput(
    program: Program, tracker: SubmitTracker, count: int, source: Iterator[str], cap: float
) -> dict[str, object]:
    """Queue ``count`` OTPs at once; return how many were accepted within ``cap`` s and how fast."""
    batch = [next(source) for _ in range(count)]
    futures = [tracker.expect(code) for code in batch]
    start = time.monotonic()
    await program.submit_many(batch)
    queued = time.monotonic()
    done, waiting = await asyncio.wait(futures, timeout=cap)
    times = sorted(f.result() for f in done)
    steady = (
        (len(times) - 1) / (times[-1] - times[0])
        if len(times) >= 2 and times[-1] > times[0]
        else None
    )
    return {
        "queued": count,
        "accepted": len(times),
        "cap_s": cap,
        "capped": bool(waiting),
        "queue_s": queued - start,
        "first_accepted_s": times[0] - start if times else None,
        "last_accepted_s": times[-1] - start if times else None,
        "rate": steady,
        "rate_from_queueing": len(times) / (times[-1] - start) if times else None,
    }
