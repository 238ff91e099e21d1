"""Entry point: ``.venv/bin/python -m bench.peers [--quick] [--timing instant|realistic]``.

Plans the sessions (A/B/A/B rounds), runs them, runs the shared idle phase, writes the
markdown table, the JSON file and the PNG plot under ``bench/results/`` and prints their
paths. See bench/README.md for what is measured and how.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.peers import report, system
from bench.peers.measure import codes
from bench.peers.ours import OtpGateway
from bench.peers.programs import BenchError, GammuSmsd, Program, Smstools
from bench.peers.runner import Figures, Workload, idle_phase, session
from gateway.log import configure as configure_logging

RESULTS = Path(__file__).resolve().parents[1] / "results"

#: key (for --only) -> a fresh program. Periods: how often each looks for SMS/outgoing files (from
#: its config, at-conformance.md); defaults poll so rarely that they run open-loop once.
MAKERS: dict[str, Callable[[], Program]] = {
    "otp-gateway": lambda: OtpGateway("defaults"),
    "gammu-smsd-fast": lambda: GammuSmsd("fastest sane", "smsdrc.fast1s", 1.0, False),
    "smsd-fast": lambda: Smstools("fastest sane", "smstools.fast.conf", 1.0, False),
    "gammu-smsd-defaults": lambda: GammuSmsd("defaults", "smsdrc.default", 15.0, True),
    "smsd-defaults": lambda: Smstools("defaults", "smstools.default.conf", 10.0, True),
}
QUICK = ("otp-gateway", "gammu-smsd-fast", "smsd-fast")


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.peers",
        description="otp-gateway vs gammu-smsd vs smsd on the same simulated modem.",
    )
    parser.add_argument("--quick", action="store_true", help="CI mode: under 2 minutes")
    parser.add_argument("--timing", choices=("instant", "realistic"), default="instant")
    parser.add_argument("--profile", default="generic", help="simulated modem profile")
    parser.add_argument("--messages", type=int, help="latency samples per direction (30)")
    parser.add_argument("--rounds", type=int, help="A/B/A/B rounds (2)")
    parser.add_argument("--throughput", type=int, help="OTPs queued at once (200)")
    parser.add_argument("--cap", type=float, help="seconds a throughput run may take (20)")
    parser.add_argument("--idle", type=float, help="idle CPU window in seconds (30)")
    parser.add_argument("--only", nargs="+", choices=sorted(MAKERS), help="a subset")
    parser.add_argument("--seed", type=int, default=1, help="random arrival times")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results directory")
    parser.add_argument("--setup", action="store_true", help="install the peers and exit")
    parser.add_argument(
        "--cprofile", type=Path, help="run otp-gateway under cProfile, .prof files into DIR"
    )
    args = parser.parse_args(argv)
    quick = args.quick
    defaults: dict[str, float] = {"messages": 10 if quick else 30, "rounds": 2}
    defaults["throughput"] = 50 if quick else 200
    defaults |= {"cap": 8.0 if quick else 20.0, "idle": 5.0 if quick else 30.0}
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.only is None:
        args.only = list(QUICK if quick else MAKERS)
    if args.messages < 1 or args.rounds < 1 or args.throughput < 2:
        parser.error("--messages and --rounds must be >= 1, --throughput >= 2")
    return args


def ensure_peers() -> str | None:
    """Install missing peer packages (apt-get, as root); return None or why they are missing."""
    missing = system.missing_packages()
    if not missing:
        return None
    if os.geteuid() == 0:
        print(f"installing {' '.join(missing)} with apt-get", file=sys.stderr)
    problem = system.install_peers(missing)
    return None if problem is None else f"{' '.join(missing)} missing: {problem}"


async def run(args: argparse.Namespace, work: Path) -> tuple[list[Figures], list[str]]:
    """Run every session and the idle phase; return the figures and the errors met."""
    rng = random.Random(args.seed)  # noqa: S311 - arrival times, not secrets
    source = codes(args.seed)
    samples = {key: MAKERS[key]() for key in args.only}
    figures = {
        key: Figures(label=p.label, program=p.name, variant=p.variant) for key, p in samples.items()
    }
    keys = {p.label: key for key, p in samples.items()}
    errors: list[str] = []
    share = [
        args.messages // args.rounds + (r < args.messages % args.rounds) for r in range(args.rounds)
    ]
    for r in range(args.rounds):
        for key in args.only:
            program = MAKERS[key]()
            if program.open_loop and r > 0:
                continue  # multi-second pollers: one open-loop session with every message
            count = args.messages if program.open_loop else share[r]
            plan = Workload(
                inbound=count,
                outbound=count,
                throughput=args.throughput if r == 0 else 0,
                cap=args.cap,
                warmup=not program.open_loop,
            )
            print(f"round {r + 1}/{args.rounds}: {program.label}", file=sys.stderr, flush=True)
            try:
                await session(
                    program,
                    work / f"round{r}-{key}",  # a fresh spool: nothing left from another run
                    plan,
                    figures[key],
                    timing=args.timing,
                    profile=args.profile,
                    source=source,
                    rng=rng,
                )
            except BenchError as exc:
                errors.append(f"{program.label}, round {r + 1}: {exc}")
                print(f"  failed: {exc}", file=sys.stderr)
    print(f"idle phase: {args.idle:g} s, all programs at once", file=sys.stderr, flush=True)
    try:
        idle = await idle_phase(
            [MAKERS[key] for key in args.only],
            work / "idle",
            args.idle,
            timing=args.timing,
            profile=args.profile,
        )
        for label, values in idle.items():
            figures[keys[label]].idle = values
    except BenchError as exc:
        errors.append(f"idle phase: {exc}")
    return list(figures.values()), errors


def notes(args: argparse.Namespace, wall: float) -> list[str]:
    """Return the method notes printed under the table."""
    return [
        f"`python -m bench.peers{' --quick' if args.quick else ''} --timing {args.timing}`, "
        f"simulated modem profile {args.profile}; wall time {wall:.0f} s.",
        f"latency: {args.messages} messages per direction and program, {args.rounds} "
        "A/B/A/B rounds (each round restarts every program on a fresh simulated modem); "
        "programs polling every 10-15 s (peer defaults) get one open-loop session with "
        "arrivals spread uniformly over three polling periods (gammu-smsd 45 s, smsd 30 s); "
        "what arrives within one period is then read or sent in one batch, one by one.",
        "inbound: simulator stores the SMS -> otp-gateway: a waiting relay `get` "
        "(gateway.client.AsyncClient) returns the code; peers: the file is complete in "
        "the incoming directory (inotify, event-driven, µs resolution).",
        "outbound: otp-gateway: `send` request written (ack time in the JSON); peers: "
        "file renamed into the outbox -> the simulator receives the ^Z of AT+CMGS. One "
        "clock: time.monotonic() in the bench process, which also runs the simulator.",
        f"throughput: {args.throughput} OTPs queued at once, SMS/s between the first and "
        f"the last accepted, at most {args.cap:g} s per program.",
        f"idle CPU: utime+stime (+children) of the process group over {args.idle:g} s "
        f"with every program idle at once (resolution one clock tick, "
        f"{100 / system.TICK / args.idle:.2g} %); peak RSS: VmHWM summed over the group.",
    ]


def main(argv: list[str] | None = None) -> int:
    """Run the bench; return the exit status (0, 1 if a program failed, 2 for setup)."""
    args = arguments(argv)
    if args.cprofile is not None:
        directory = args.cprofile.absolute()
        MAKERS["otp-gateway"] = lambda: OtpGateway("defaults", cprofile=directory)
    configure_logging("warning", "console", stream=sys.stderr)
    problem = ensure_peers()
    if problem is not None:
        print(f"bench.peers: {problem}", file=sys.stderr)
        return 2
    if args.setup:
        print("peers installed", file=sys.stderr)
        return 0
    context: dict[str, object] = {
        "machine": system.machine(),
        "versions": system.versions(),
        "settings": {k: v for k, v in vars(args).items() if k not in ("out", "setup", "cprofile")},
    }
    work = Path(tempfile.mkdtemp(prefix="bench-peers-"))
    began = time.monotonic()
    try:
        all_figures, errors = asyncio.run(run(args, work))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    wall = time.monotonic() - began
    context["wall_s"] = wall
    context["errors"] = errors
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    args.out.mkdir(parents=True, exist_ok=True)
    base = args.out / f"peers-{stamp}-{args.timing}{'-quick' if args.quick else ''}"
    text = report.markdown(all_figures, [*notes(args, wall), *errors])
    base.with_suffix(".md").write_text(text, encoding="utf-8")
    report.write_json(base.with_suffix(".json"), report.document(all_figures, context))
    why = report.plot(base.with_suffix(".png"), all_figures, f"{args.timing} simulator")
    print(text)
    print(f"table: {base.with_suffix('.md')}")
    print(f"json:  {base.with_suffix('.json')}")
    print(f"plot:  {why or base.with_suffix('.png')}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
