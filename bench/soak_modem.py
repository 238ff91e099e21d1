"""The issue-12 soak: modem faults, unplugs and kill -9 under traffic, then a reckoning.

A real daemon (``otp-gateway run`` in a subprocess) on a simulated modem in another
process (``otp-gateway simulator``), both on loopback and files under a fresh
directory. For ``--duration`` seconds (default 600):

- SMS with one-time codes arrive (injected through the simulator's control socket) and
  a consumer keeps a ``get`` pending for them;
- OTP SMS are sent (``send``), each to its own number;
- every few seconds one fault: ``late-reply`` (5 s, with ``command_timeout`` 3 s) for a
  while, ``silent`` for a while, ``garbage``, an unplug/replug, a double unplug (the
  second within 0.2-1.2 s of the replug), or ``kill -9`` of the daemon and a restart.

Then the faults stop and the modem gets ``--bound`` seconds to be ready and the queue to
drain; the daemon is stopped and the journal and the simulator's network log are read:

- lost: an SMS injected that is neither journaled nor still on the modem;
- duplicated: a code relayed twice (handed to two ``get`` requests);
- wrong-state: a send job whose final state contradicts the network log (``sent`` but
  not on the network, ``failed`` but on it);
- stuck: the modem not ready within ``--bound`` seconds after the faults stopped.

Prints those counts with the seed (and the details behind them)::

    .venv/bin/python bench/soak_modem.py --duration 120 --seed 7
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from gateway.client import AsyncClient
from gateway.jobs import JobState
from gateway.journal import SqliteJournal
from gateway.simulator.control import ControlError, request
from gateway.sms import pdu as pducodec

ROOT = Path(__file__).resolve().parent.parent
ORIGIN = "example.com"
CODE = re.compile(r"#([0-9]{6,8})\b")
SENT_STATES = {JobState.SENT, JobState.DELIVERED}


@dataclass
class Tally:
    """What the soak did and saw."""

    injected: dict[str, float] = field(default_factory=dict)  # code -> when
    relayed: Counter[str] = field(default_factory=Counter)
    jobs: dict[str, str] = field(default_factory=dict)  # job id -> code sent
    faults: Counter[str] = field(default_factory=Counter)
    refused_sends: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)


def config_text(directory: Path) -> str:
    """The daemon's configuration: the modem link, 3 s command timeout, generous limits."""
    return f"""
[[modem]]
name = "sim0"
device = "{directory / "modem"}"
command_timeout = "3s"
send_timeout = "10s"
health_interval = "5s"
not_ready_limit = "60s"

[receive]
allowed_origins = ["{ORIGIN}"]
sweep_interval = "20s"

[send]
allowed_countries = ["US"]
valid_numbers_only = false

[ratelimit]
per_number = ["100/10min"]
per_origin = ["100000/h"]
global_per_minute = 0
global_per_day = 0

[relay]
socket = "{directory / "gw.sock"}"
socket_mode = "0600"

[[relay.access]]
users = ["{os.getuid()}"]
operations = ["get", "subscribe", "send", "status"]
origins = ["*"]

[journal]
state_dir = "{directory / "state"}"

[log]
level = "info"
"""


class Soak:
    """The processes, the traffic and the faults of one soak run."""

    def __init__(self, directory: Path, seed: int, bound: float) -> None:
        self.dir = directory
        self.rng = random.Random(seed)  # noqa: S311 - a repeatable experiment, not a secret
        self.bound = bound
        self.control = directory / "sim.ctl"
        self.socket = directory / "gw.sock"
        self.config = directory / "gateway.toml"
        self.config.write_text(config_text(directory), encoding="utf-8")
        self.tally = Tally()
        self.simulator: subprocess.Popen[str] | None = None
        self.daemon: subprocess.Popen[bytes] | None = None
        self.exits: list[int] = []
        self.faulting = True

    # ------------------------------------------------------------------ processes
    def start_simulator(self, seed: int) -> None:
        """Run ``otp-gateway simulator`` and wait for its ready line."""
        self.simulator = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gateway",
                "simulator",
                "--link",
                str(self.dir / "modem"),
                "--control",
                str(self.control),
                "--seed",
                str(seed),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            cwd=ROOT,
        )
        assert self.simulator.stdout is not None
        line = self.simulator.stdout.readline()
        if not json.loads(line).get("ready"):
            raise RuntimeError(f"simulator did not start: {line!r}")

    def start_daemon(self) -> None:
        """Run ``otp-gateway run`` with its log appended to daemon.log."""
        with (self.dir / "daemon.log").open("ab") as out:
            self.daemon = subprocess.Popen(
                [sys.executable, "-m", "gateway", "run", "--config", str(self.config)],
                stdout=out,
                stderr=out,
                cwd=ROOT,
            )

    def reap(self) -> None:
        """Record the daemon's exit status if it ended (e.g. exit 69 when stuck)."""
        if self.daemon is not None and self.daemon.poll() is not None:
            self.exits.append(self.daemon.returncode)
            self.daemon = None

    async def sim(self, op: str, **fields: object) -> object:
        """One simulator control request (in a thread: the client blocks)."""
        return await asyncio.to_thread(request, self.control, op, fields)

    async def status(self) -> dict[str, object] | None:
        """The daemon's status snapshot, or None when it does not answer."""
        try:
            async with asyncio.timeout(5), AsyncClient(self.socket) as client:
                return await client.status()
        except Exception:  # down, restarting, refusing: all mean "no answer"
            return None

    # ------------------------------------------------------------------ traffic
    async def inbound(self, stop: asyncio.Event) -> None:
        """Inject an SMS with a fresh code every 0.5-3 s."""
        while not stop.is_set():
            code = f"{self.rng.randrange(10**7, 10**8)}"
            try:
                await self.sim("inject", text=f"Your code is {code}.\n\n@{ORIGIN} #{code}")
                self.tally.injected[code] = time.time()
            except ControlError:
                self.tally.errors["inject refused"] += 1  # e.g. unplugged: nothing stored
            await self.pause(stop, 0.5, 3.0)

    async def consumer(self, stop: asyncio.Event) -> None:
        """Keep a ``get`` pending; count every code handed out."""
        while not stop.is_set():
            try:
                async with AsyncClient(self.socket) as client:
                    while not stop.is_set():
                        with contextlib.suppress(TimeoutError):
                            async with asyncio.timeout(35):
                                record = await client.get(ORIGIN, timeout=30)
                                if record.code is not None:
                                    self.tally.relayed[record.code] += 1
            except Exception as exc:  # the daemon is being killed on purpose
                self.tally.errors[f"get: {type(exc).__name__}"] += 1
                await self.pause(stop, 0.2, 0.5)

    async def outbound(self, stop: asyncio.Event) -> None:
        """Send an OTP to a fresh number every 1-4 s."""
        while not stop.is_set():
            number = f"+1555{self.rng.randrange(10**6, 10**7)}"
            try:
                async with asyncio.timeout(10), AsyncClient(self.socket) as client:
                    accepted = await client.send(number, ORIGIN)
                self.tally.jobs[accepted.job_id] = accepted.code or ""
            except Exception as exc:  # counted: refusals are not wrong states
                self.tally.refused_sends[type(exc).__name__] += 1
            await self.pause(stop, 1.0, 4.0)

    async def pause(self, stop: asyncio.Event, low: float, high: float) -> None:
        """Wait a random time, or until ``stop``: the traffic's pacing."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), self.rng.uniform(low, high))

    # ------------------------------------------------------------------ faults
    async def faults(self, stop: asyncio.Event) -> None:
        """One random fault every 5-15 s."""
        while not stop.is_set():
            await self.pause(stop, 5.0, 15.0)
            if stop.is_set():
                return
            kind = self.rng.choice(
                ["late-reply", "silent", "garbage", "unplug", "double-unplug", "kill"]
            )
            self.tally.faults[kind] += 1
            try:
                await self.fault(kind, stop)
            except ControlError as exc:
                self.tally.errors[f"fault {kind}: {exc}"] += 1

    async def fault(self, kind: str, stop: asyncio.Event) -> None:
        """Apply one fault (and undo it where it lasts)."""
        if kind == "late-reply":
            await self.sim("fault", name="late-reply", params={"delay": 5.0})
            await self.pause(stop, 10.0, 30.0)
            await self.sim("clear", name="late-reply")
        elif kind == "silent":
            await self.sim("fault", name="silent")
            await self.pause(stop, 5.0, 20.0)
            await self.sim("clear", name="silent")
        elif kind == "garbage":
            await self.sim("fault", name="garbage", params={"when": "next"})
        elif kind == "unplug":
            await self.sim("unplug")
            await self.pause(stop, 0.2, 3.0)
            await self.sim("replug")
        elif kind == "double-unplug":
            await self.sim("unplug")
            await self.pause(stop, 0.05, 0.5)
            await self.sim("replug")
            await asyncio.sleep(self.rng.uniform(0.2, 1.2))  # the window under test
            await self.sim("unplug")
            await self.pause(stop, 0.05, 0.5)
            await self.sim("replug")
        elif kind == "kill" and self.daemon is not None:
            self.daemon.send_signal(signal.SIGKILL)
            self.daemon.wait()
            self.daemon = None
            await self.pause(stop, 0.2, 2.0)
            self.start_daemon()

    async def keeper(self, stop: asyncio.Event) -> None:
        """Restart the daemon if it exited by itself (as systemd would), recording why."""
        while not stop.is_set():
            await self.pause(stop, 1.0, 1.0)
            if self.daemon is not None and self.daemon.poll() is not None:
                self.reap()
                self.tally.errors[f"daemon exited {self.exits[-1]}"] += 1
                self.start_daemon()

    # ------------------------------------------------------------------ the run
    async def run(self, duration: float) -> dict[str, object]:
        """Soak for ``duration`` s, settle, stop, check; return the figures."""
        self.start_daemon()
        stop = asyncio.Event()
        tasks = [
            asyncio.create_task(work(stop))
            for work in (self.inbound, self.consumer, self.outbound, self.faults, self.keeper)
        ]
        await asyncio.sleep(duration)  # the soak itself: traffic and faults run meanwhile
        stop.set()
        await asyncio.gather(*tasks)
        await self.sim("clear")
        with contextlib.suppress(ControlError):
            await self.sim("replug")
        if self.daemon is None or self.daemon.poll() is not None:
            self.reap()
            self.start_daemon()
        stuck = 0 if await self.settle() else 1
        if self.daemon is not None:
            self.daemon.send_signal(signal.SIGTERM)
            self.exits.append(await asyncio.to_thread(self.daemon.wait, 60))
        return await self.reckon(stuck)

    async def settle(self) -> bool:
        """Wait up to ``bound`` s for the modem to be ready and the queue to drain."""
        deadline = time.monotonic() + self.bound
        ready = False
        while time.monotonic() < deadline:
            snapshot = await self.status()
            modems = snapshot.get("modems") if snapshot else None
            if isinstance(modems, list) and modems and modems[0].get("state") == "ready":
                ready = True
                queue = snapshot.get("queue") if snapshot else None
                if isinstance(queue, dict) and queue.get("depth") == 0:
                    stored = await self.sim("stored", memory="SM")
                    if not stored:
                        return True
            await asyncio.sleep(1.0)  # a bench waiting for a subprocess: a slow poll is fine
        return ready

    async def reckon(self, stuck: int) -> dict[str, object]:
        """Compare what was injected and sent with the journal and the network log."""
        on_modem: set[str] = set()
        for memory in ("SM", "ME"):
            with contextlib.suppress(ControlError):
                stored = await self.sim("stored", memory=memory)
                if isinstance(stored, dict):
                    on_modem |= codes_in(str(p) for p in stored.values())
        sent = await self.sim("sent")
        network = Counter(
            code for m in (sent if isinstance(sent, list) else []) for code in codes_in([m["text"]])
        )
        journal = SqliteJournal.in_state_dir(
            self.dir / "state", body_retention=86400.0, code_retention=86400.0
        )
        try:
            journaled = {c.code for c in journal.codes() if c.code}
            journaled |= codes_in(p.raw for p in journal.pdus() if p.raw)
            states = {job.id: job.state for job in journal.jobs()}
        finally:
            journal.close()
        lost = sorted(set(self.tally.injected) - journaled - on_modem)
        duplicated = sorted(code for code, n in self.tally.relayed.items() if n > 1)
        wrong: list[str] = []
        unfinished: Counter[str] = Counter()
        for job_id, code in self.tally.jobs.items():
            state = states.get(job_id)
            on_network = network[code] > 0
            if state is None:
                wrong.append(f"{job_id}: not in the journal")
            elif state in SENT_STATES and not on_network:
                wrong.append(f"{job_id}: {state.value} but not on the network")
            elif state in (JobState.FAILED, JobState.EXPIRED) and on_network:
                wrong.append(f"{job_id}: {state.value} but on the network")
            elif state in (JobState.QUEUED, JobState.SENDING):
                unfinished[state.value] += 1
        return {
            "lost": lost,
            "duplicated": duplicated,
            "wrong": wrong,
            "stuck": stuck,
            "unfinished": dict(unfinished),
            "sent_twice": sorted(c for c, n in network.items() if n > 1),
            "job_states": dict(Counter(s.value for s in states.values())),
        }


def codes_in(texts: object) -> set[str]:
    """The ``#code`` values in SMS texts or in SMS-DELIVER PDUs (hex)."""
    found: set[str] = set()
    for item in texts:  # type: ignore[attr-defined]
        text = str(item)
        if re.fullmatch(r"[0-9A-Fa-f]+", text):
            try:
                text = pducodec.decode_incoming(text).text  # type: ignore[union-attr]
            except Exception:  # noqa: S112 - a report or a part: no code in it
                continue
        found |= set(CODE.findall(text))
    return found


def main() -> int:
    """Parse arguments, run the soak, print the counts; exit 1 unless all are 0."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=600.0, help="seconds (default 600)")
    parser.add_argument("--seed", type=int, default=None, help="default: random, printed")
    parser.add_argument("--bound", type=float, default=120.0, help="seconds to settle after")
    parser.add_argument("--keep", action="store_true", help="keep the directory (logs, journal)")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(10**6)
    directory = Path(tempfile.mkdtemp(prefix="soak-"))
    soak = Soak(directory, seed, args.bound)
    started = time.monotonic()
    try:
        soak.start_simulator(seed)
        result = asyncio.run(soak.run(args.duration))
    finally:
        for process in (soak.daemon, soak.simulator):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()
        if not args.keep:
            shutil.rmtree(directory, ignore_errors=True)
    tally = soak.tally
    lost, duplicated, wrong = result["lost"], result["duplicated"], result["wrong"]
    assert isinstance(lost, list)
    assert isinstance(duplicated, list)
    assert isinstance(wrong, list)
    print(f"soak: seed={seed} duration={args.duration:g}s wall={time.monotonic() - started:.0f}s")
    print(f"  injected {len(tally.injected)} SMS, relayed {sum(tally.relayed.values())} codes, "
          f"{len(tally.jobs)} send jobs ({dict(tally.refused_sends)} refused)")  # fmt: skip
    print(f"  faults {dict(tally.faults)}; daemon exits {soak.exits}")
    twice = result["sent_twice"]
    assert isinstance(twice, list)
    print(f"  job states {result['job_states']}; unfinished {result['unfinished']}; "
          f"sent twice on the network {len(twice)}")  # fmt: skip
    if tally.errors:
        print(f"  client/control errors {dict(tally.errors)}")
    for label, items in (("lost", lost), ("duplicated", duplicated), ("wrong-state", wrong)):
        for item in items[:20]:
            print(f"  {label}: {item}")
    if args.keep:
        print(f"  files kept in {directory}")
    print(
        f"lost={len(lost)} duplicated={len(duplicated)} wrong-state={len(wrong)} "
        f"stuck={result['stuck']} seed={seed}"
    )
    return 0 if not (lost or duplicated or wrong or result["stuck"]) else 1


if __name__ == "__main__":
    sys.exit(main())
