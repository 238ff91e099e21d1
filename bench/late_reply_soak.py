"""Soak: late replies, silence and garbage mixed with SMS both ways; nothing may go wrong.

Run: ``.venv/bin/python bench/late_reply_soak.py [--minutes 3] [--seed N] [--timeout 0.4]
[--delay 0.7] [--dir PATH]`` (issue 12 item 2; the issue's own figures are
``--timeout 3 --delay 5``, slower per round).

One simulated modem on a real pty, a real session, journal, receive pipeline and send
dispatcher in one loop. Each round arms one fault chosen by the seeded generator
(``late-reply`` with ``--delay`` +-40 %, ``silent``, ``garbage`` now/next/inside with a
stale ``OK``, a stale ``+CMGR`` header or random bytes, or none), injects 0-2 SMS
(100-slot storage; an SMS refused by a full storage stays with the network and is
counted apart), queues 0-1 send jobs, waits for 1-8 writes to reach the modem
(bounded), and clears the fault. At the end everything is swept and waited for, then
audited against the journal, the consumer and the simulator's storage and network log:

- lost: an injected code never relayed (and no longer on the modem),
- duplicated: a code relayed twice, or an SMS the network got twice for one job,
- wrong-state: a job ``sent`` the network never got (or under another reference), or a
  job ``failed``/``queued``/``expired`` the network did get,
- stuck: a code or job still pending after the final bound.

Prints those counts (all must be 0), the seed and what the rounds did. Exit status 1 if
any count is not 0.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import random
import secrets
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from gateway import log as gwlog
from gateway.config.schema import ModemSettings, ReceiveSettings, SendSettings
from gateway.daemon import wiring
from gateway.errors import ModemFault
from gateway.jobs import JobState
from gateway.journal import SqliteJournal
from gateway.modem.health import HealthConfig
from gateway.modem.init import InitConfig
from gateway.modem.link import LinkConfig
from gateway.modem.session import ModemSession, SessionConfig
from gateway.pipeline.receive import ReceivePipeline
from gateway.pipeline.send import Dispatcher, SendService
from gateway.ratelimit import Rate, RateLimiter
from gateway.relay.ports import CodeRecord, SendRequest
from gateway.simulator import ModemConfig, ModemHandle, Simulator
from gateway.sms import Deliver, decode_incoming

SENT = {JobState.SENT, JobState.DELIVERED}
NOT_SENT = {JobState.QUEUED, JobState.SENDING, JobState.FAILED, JobState.EXPIRED}
NOISE = [b"\r\nOK\r\n", b"\r\n+CMGR: 1,,23\r\n", b"\r\n+CMGS: 9\r\n", b"\r\n042\r\n"]


def session_config(device: str, timeout: float) -> SessionConfig:
    """The daemon's timeouts for ``command_timeout = timeout`` (gateway.daemon.wiring).

    ``send_timeout`` is ``3 * timeout``; unlike the daemon's, the resynchronisation
    probe and drain shrink with ``timeout`` too.
    """
    daemon = wiring.session_config(
        ModemSettings(name="m1", device=device, command_timeout=timeout, send_timeout=3 * timeout)
    )
    timeouts = dataclasses.replace(
        daemon.timeouts, probe=min(1.0, timeout / 2), drain=min(0.25, timeout / 4)
    )
    return SessionConfig(
        link=LinkConfig(device=device, backoff_initial=0.01, backoff_max=0.1),
        timeouts=timeouts,
        init=InitConfig(registration_timeout=10.0, registration_poll=0.05),
        health=HealthConfig(interval=3600.0),  # recovery is not what this soak measures
        ready_wait=30.0,
    )


class Writes:
    """Counts writes reaching the modem; waits for the next ``n`` (no polling)."""

    def __init__(self, modem: ModemHandle) -> None:
        self.count = 0
        self._changed = asyncio.Event()
        modem.observe_bytes(self._seen)

    def _seen(self, data: bytes) -> None:
        self.count += 1
        self._changed.set()

    async def more(self, n: int, bound: float) -> None:
        """Return once ``n`` more writes arrived, or after ``bound`` seconds."""
        target = self.count + n
        try:
            async with asyncio.timeout(bound):
                while self.count < target:
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            return


async def soak(args: argparse.Namespace, seed: int, work: Path) -> int:
    """Run the rounds, audit, print; return the number of problems found."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible fault schedule, not a secret
    codes: list[CodeRecord] = []
    relayed = asyncio.Event()

    def on_code(record: CodeRecord) -> None:
        codes.append(record)
        relayed.set()

    receive = ReceiveSettings(allowed_origins=("example.com",), sweep_interval=60.0)
    send = SendSettings(
        allowed_countries=("US",), backoff_initial=0.2, backoff_max=1.0, max_attempts=3
    )
    config = ModemConfig(number="+15550000001", link=work / "modem", storage_capacity=100)
    faults: Counter[str] = Counter()
    injected: list[str] = []
    jobs: list[str] = []
    async with Simulator([config]) as simulator:
        modem = simulator.modems[0]
        session = ModemSession(session_config(modem.device, args.timeout))
        journal = SqliteJournal(work / "journal.sqlite3")
        pipeline = ReceivePipeline(
            modem="m1",
            session=session,
            journal=journal,
            settings=receive,
            on_code=on_code,
            on_report=lambda modem, report: None,
        )
        dispatcher = Dispatcher(journal=journal, sessions={"m1": session}, settings=send)
        limiter = RateLimiter(per_number=(Rate(count=100000, period=60.0),))
        service = SendService(
            journal=journal, settings=send, limiter=limiter, dispatcher=dispatcher
        )
        await session.start()
        tasks = [asyncio.create_task(pipeline.run()), asyncio.create_task(dispatcher.run())]
        writes = Writes(modem)
        started = time.monotonic()
        rounds = serial = full = peak = 0
        try:
            while time.monotonic() - started < args.minutes * 60:
                rounds += 1
                fault = rng.choice(["late-reply", "silent", "garbage", "none"])
                faults[fault] += 1
                if fault == "late-reply":
                    modem.set_fault("late-reply", delay=args.delay * rng.uniform(0.6, 1.4))
                elif fault == "silent":
                    modem.set_fault("silent")
                elif fault == "garbage":
                    noise = rng.choice([*NOISE, rng.randbytes(rng.randint(1, 24))])
                    when = rng.choice(["now", "next", "inside"])
                    modem.set_fault("garbage", bytes=noise, when=when)
                for _ in range(rng.randint(0, 2)):
                    serial += 1
                    code = f"{seed % 1000:03d}{serial:05d}"
                    if modem.inject_sms(f"@example.com #{code}"):
                        injected.append(code)
                    else:
                        full += 1  # storage full: the network keeps it (TS 23.040 §10.1)
                peak = max(peak, len(modem.stored("SM")))
                if rng.random() < 0.4:
                    serial += 1
                    request = SendRequest(
                        number="+14155552671", origin="example.com", code=f"9{serial:07d}"
                    )
                    jobs.append((await service.submit(request)).job_id)
                await writes.more(rng.randint(1, 8), bound=4 * args.timeout + args.delay)
                modem.clear_fault()
            await settle(
                pipeline, service, codes=codes, relayed=relayed, injected=injected, jobs=jobs
            )
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            status = session.status
            received = {k: v for k, v in pipeline.snapshot().items() if isinstance(v, int)}
            await session.stop()
        result, states = audit(modem, journal, codes, injected, jobs)
        journal.close()
    problems = sum(result[key] for key in ("lost", "duplicated", "wrong-state", "stuck"))
    counters = status.counters
    print(f"seed={seed} minutes={args.minutes} timeout={args.timeout} delay={args.delay}")
    print(f"rounds={rounds} faults={dict(sorted(faults.items()))}")
    print(
        f"sms injected={len(injected)} relayed={len(codes)} refused-storage-full={full} "
        f"peak-stored={peak} jobs={len(jobs)}"
    )
    print(f"jobs by state={dict(sorted(states.items()))}")
    print(
        f"timeouts={counters.timeouts} resyncs={counters.resyncs} "
        f"stalled_probes={counters.stalled_probes} discarded_lines={counters.discarded_lines}"
    )
    print(f"receive counters={received}")
    print(" ".join(f"{key}={value}" for key, value in result.items()))
    return problems


async def settle(
    pipeline: ReceivePipeline,
    service: SendService,
    *,
    codes: list[CodeRecord],
    relayed: asyncio.Event,
    injected: list[str],
    jobs: list[str],
) -> None:
    """Sweep, then wait (at most 120 s) for every code to be relayed and every job to end."""
    wanted = set(injected)
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(120):
            while True:
                try:
                    await pipeline.sweep()
                    break
                except ModemFault:
                    continue  # the modem still catching up after the last fault
            while not wanted <= {c.code for c in codes}:
                relayed.clear()
                await relayed.wait()
            for job_id in jobs:
                async for _ in service.watch(job_id):
                    pass  # drained: the watch ends when the job reaches a final state


def contradicted(state: JobState, references: tuple[int, ...], copies: list[int]) -> bool:
    """True when the network's copies (their TP-MRs) contradict the job's state."""
    if state in SENT:
        return copies != list(references)
    return state in NOT_SENT and bool(copies)


def audit(
    modem: ModemHandle,
    journal: SqliteJournal,
    codes: list[CodeRecord],
    injected: list[str],
    jobs: list[str],
) -> tuple[dict[str, int], Counter[str]]:
    """Count lost, duplicated and stuck codes and jobs, and jobs the network contradicts.

    Stuck: a code not relayed whose SMS is still on the modem, a job still queued or
    sending; lost: a code not relayed whose SMS is gone from the modem.
    """
    relayed = Counter(record.code for record in codes)
    on_modem = set()
    for pdu in modem.stored("SM").values():
        message = decode_incoming(pdu)
        if isinstance(message, Deliver):
            on_modem.add(message.text.rpartition("#")[2])
    sent = modem.sent()
    wrong = duplicated = stuck = 0
    states: Counter[str] = Counter()
    for job_id in jobs:
        job = journal.job(job_id)
        states[job.state.value] += 1
        copies = [m.reference for m in sent if job.text is not None and m.text == job.text]
        if len(copies) > 1:
            duplicated += 1
        elif contradicted(job.state, job.references, copies):
            wrong += 1
            steps = [(e.state.value, e.detail) for e in journal.job_events(job_id)]
            print(f"wrong state: {job.state.value} refs={job.references} network={copies}")
            print(f"  events: {steps}")
        if job.state in (JobState.QUEUED, JobState.SENDING):
            stuck += 1
    missing = [code for code in injected if code not in relayed]
    if missing:
        explain(journal, missing, on_modem)
    counts = {
        "lost": sum(1 for code in missing if code not in on_modem),
        "duplicated": duplicated + sum(1 for n in relayed.values() if n > 1),
        "wrong-state": wrong,
        "stuck": stuck + sum(1 for code in missing if code in on_modem),
        "left-on-modem": len(modem.stored("SM")),
    }
    return counts, states


def explain(journal: SqliteJournal, missing: list[str], on_modem: set[str]) -> None:
    """Print where each code not relayed went: journal (as what), modem, or nowhere."""
    texts: dict[str, list[str]] = {}
    for pdu in journal.pdus():
        message = decode_incoming(pdu.raw or "")
        text = message.text if isinstance(message, Deliver) else type(message).__name__
        texts.setdefault(text.rpartition("#")[2], []).append(pdu.status.value)
    stored = {record.code: "stored" for record in journal.codes()}
    for code in missing:
        print(
            f"not relayed: {code} journal-pdus={texts.get(code)} code-record="
            f"{stored.get(code)} on-modem={code in on_modem}"
        )
    quarantined = [p for p in journal.pdus() if p.status.value == "quarantined"]
    print(f"quarantined pdus={len(quarantined)}")


def main() -> int:
    """Parse arguments, run the soak, print the figures; exit 1 on any problem."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--timeout", type=float, default=0.4, help="command_timeout, s")
    parser.add_argument("--delay", type=float, default=0.7, help="late-reply delay, s")
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else secrets.randbelow(2**31)
    gwlog.configure(level="error")
    with tempfile.TemporaryDirectory() as tmp:
        work = args.dir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        problems = asyncio.run(soak(args, seed, work))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
