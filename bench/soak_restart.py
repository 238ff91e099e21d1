"""Soak: ``kill -9`` the daemon every 1.5-4 s while codes arrive; who got which code?

Run: ``.venv/bin/python bench/soak_restart.py [--duration 300] [--seed N]``
(issue 13.2). A simulated modem on a pty (``timing="realistic"``) and ``otp-gateway run``
as a subprocess that is killed with SIGKILL after a random 1.5-4 s of life and started
again at once, for ``--duration`` seconds. Meanwhile, like a login page, a consumer asks
for a code (a ``get`` with the reconnecting :class:`~gateway.client.AsyncClient`, each
for its own origin, ``since`` = when it asked) and the code's SMS reaches the modem 1-5 s
later (the realistic network's delivery delay), whether the daemon is up or not. One
subscriber follows every code with the resume cursor. At the end the daemon runs
undisturbed until every get has its answer (or its timeout) and the subscriber caught up,
then the figures are printed: codes sent / delivered once / delivered twice / never
delivered, for the gets and for the subscriber, with the seed. The journal is checked
too: each code stored once, claimed once.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from gateway.client import AsyncClient, RelayError
from gateway.journal import SqliteJournal
from gateway.simulator import ModemConfig, SimulatorThread, ThreadModemHandle

DOMAIN = "soak.example"
MODEM_NUMBER = "+15550000001"


def write_config(base: Path) -> Path:
    """Write the daemon's configuration under ``base``; return its path."""
    path = base / "gateway.toml"
    path.write_text(
        f"""
[[modem]]
name = "sim0"
device = "{base / "modem"}"
command_timeout = "2s"

[receive]
allowed_origins = ["*.{DOMAIN}"]
grace_window = "5s"

[relay]
socket = "{base / "gw.sock"}"
socket_mode = "0600"

[[relay.access]]
users = ["{os.getuid()}"]
operations = ["get", "subscribe", "status"]
origins = ["*"]

[journal]
state_dir = "{base / "state"}"

[log]
level = "warning"
""",
        encoding="utf-8",
    )
    return path


@dataclass
class Tally:
    """What the consumers saw."""

    sent: dict[str, str] = field(default_factory=dict)  # code -> origin
    gets: collections.Counter[str] = field(default_factory=collections.Counter)
    wrong: int = 0  # a get answered with a code of another origin
    get_errors: collections.Counter[str] = field(default_factory=collections.Counter)
    subscriber: collections.Counter[str] = field(default_factory=collections.Counter)
    restarts: int = 0


class Killer:
    """Runs the daemon, SIGKILLs it after a random 1.5-4 s, starts it again."""

    def __init__(self, config: Path, log: Path, rng: random.Random, tally: Tally) -> None:
        self.config = config
        self.log = log
        self.rng = rng
        self.tally = tally
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start one daemon process."""
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gateway", "run", "--config", str(self.config)],
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    async def storm(self, until: float) -> None:
        """Kill and restart until ``until`` (monotonic); leave a daemon running."""
        while time.monotonic() < until:
            # a soak's pacing, not a synchronisation: the kill lands wherever it lands
            await asyncio.sleep(self.rng.uniform(1.5, 4.0))
            if time.monotonic() >= until:
                break  # the last one lives on
            assert self.process is not None
            self.process.kill()
            await asyncio.to_thread(self.process.wait, 30)
            self.tally.restarts += 1
            self.start()

    def stop(self) -> int | None:
        """SIGTERM the running daemon; return its exit status."""
        if self.process is None:
            return None
        self.process.terminate()
        return self.process.wait(60)


async def consumer(socket: Path, origin: str, code: str, *, timeout: float, tally: Tally) -> None:
    """One login page: ask for the code of ``origin`` and wait for it (reconnecting)."""
    asked = time.time()
    client = AsyncClient(socket)
    try:
        await client.connect(wait=timeout)
        left = timeout - (time.time() - asked)
        record = await client.get(origin, timeout=max(0.1, left), since=asked)
        if record.code == code and record.origin == origin:
            tally.gets[code] += 1
        else:
            tally.wrong += 1
    except RelayError as exc:
        tally.get_errors[type(exc).__name__] += 1
    finally:
        await client.close()


async def arrive(modem: ThreadModemHandle, origin: str, code: str, delay: float) -> None:
    """The SMS reaches the modem ``delay`` s after the consumer asked (network delay)."""
    await asyncio.sleep(delay)  # the simulated network's delivery delay
    stamp = datetime.now(UTC).replace(microsecond=0)
    await asyncio.to_thread(
        modem.inject_sms, f"Your code is {code}.\n\n@{origin} #{code}", scts=stamp
    )


async def follow(socket: Path, tally: Tally, changed: asyncio.Event) -> None:
    """The subscriber: every code it is shown, counted (resumes across restarts)."""
    client = AsyncClient(socket, reconnect_for=3600.0)
    await client.connect(wait=60.0)
    try:
        async for record in await client.subscribe():
            tally.subscriber[record.code] += 1
            changed.set()
    finally:
        await client.close()


def print_figures(who: str, sent: list[str], seen: collections.Counter[str]) -> None:
    """Print sent / once / twice / never for one kind of consumer."""
    once = sum(1 for c in sent if seen[c] == 1)
    twice = sum(1 for c in sent if seen[c] >= 2)
    never = sum(1 for c in sent if seen[c] == 0)
    print(
        f"{who:<11} codes sent {len(sent):4d} / delivered once {once:4d} / "
        f"delivered twice {twice:3d} / never delivered {never:3d}"
    )


async def soak(args: argparse.Namespace, base: Path, modem: ThreadModemHandle) -> Tally:
    """Run the storm and the traffic; return the tally."""
    rng = random.Random(args.seed)  # noqa: S311 - reproducible timing, not secrets
    tally = Tally()
    config = write_config(base)
    killer = Killer(config, base / "daemon.log", rng, tally)
    killer.start()
    socket = base / "gw.sock"
    changed = asyncio.Event()
    subscriber = asyncio.create_task(follow(socket, tally, changed))
    end = time.monotonic() + args.duration
    storm = asyncio.create_task(killer.storm(end))
    tasks: list[asyncio.Task[None]] = []
    number = 0
    try:
        while time.monotonic() < end:
            number += 1
            code = f"{rng.randrange(10**7, 10**8)}"
            origin = f"c{number}.{DOMAIN}"
            tally.sent[code] = origin
            tasks.append(
                asyncio.create_task(
                    consumer(socket, origin, code, timeout=args.get_timeout, tally=tally)
                )
            )
            tasks.append(asyncio.create_task(arrive(modem, origin, code, rng.uniform(1.0, 5.0))))
            await asyncio.sleep(rng.uniform(0.4, 2.0))  # the next login
        await storm
        await asyncio.gather(*tasks)
        # the daemon now runs undisturbed: give the subscriber time to catch up
        async with asyncio.timeout(args.settle):
            while any(tally.subscriber[c] == 0 for c in tally.sent):
                changed.clear()
                await changed.wait()
    except TimeoutError:
        pass  # settle time is over: whatever the subscriber has not seen counts as missed
    finally:
        subscriber.cancel()
        await asyncio.gather(subscriber, return_exceptions=True)
        print(f"daemon exit status on SIGTERM: {killer.stop()}")
    return tally


def main() -> None:
    """Parse the arguments, run the soak, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=300.0, help="seconds of storm")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--get-timeout", type=float, default=120.0)
    parser.add_argument("--settle", type=float, default=60.0)
    parser.add_argument(
        "--keep", type=Path, default=None, help="keep the daemon's log and journal here"
    )
    args = parser.parse_args()
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(2**31)
    print(f"seed {args.seed}, duration {args.duration:g} s, kill -9 every 1.5-4 s")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="otp-soak-") as tmp:
        base = Path(tmp) if args.keep is None else args.keep
        base.mkdir(parents=True, exist_ok=True)
        modem_config = ModemConfig(link=base / "modem", number=MODEM_NUMBER)
        with SimulatorThread([modem_config], timing="realistic", seed=args.seed) as sim:
            tally = asyncio.run(soak(args, base, sim.modems[0]))
        with SqliteJournal.in_state_dir(
            base / "state", body_retention=86400.0, code_retention=86400.0
        ) as journal:
            rows = journal.codes()
            stored = collections.Counter(str(c.code) for c in rows)
            claimed = sum(1 for c in rows if c.claimed_at is not None)
            for row in rows:
                missed = [
                    who
                    for who, seen in (("get", tally.gets), ("subscriber", tally.subscriber))
                    if seen[str(row.code)] == 0
                ]
                if missed:
                    print(
                        f"never delivered to {'+'.join(missed)}: code id {row.id} "
                        f"(origin {row.origin}), arrived {row.received_at:.3f}, claimed "
                        f"{row.claimed_at or 0:.3f} by {row.claimed_by}"
                    )
    sent = list(tally.sent)
    print(f"restarts (kill -9) {tally.restarts}, wall time {time.monotonic() - started:.0f} s")
    print_figures("gets", sent, tally.gets)
    print_figures("subscriber", sent, tally.subscriber)
    print(f"gets answered with another origin's code: {tally.wrong}")
    print(f"gets that ended in an error: {dict(tally.get_errors) or 0}")
    print(
        f"journal: {len(stored)} codes stored, {sum(1 for n in stored.values() if n > 1)} "
        f"stored twice, {claimed} claimed, {sum(1 for c in sent if c not in stored)} missing"
    )
    print(f"seed {args.seed}")


if __name__ == "__main__":
    main()
