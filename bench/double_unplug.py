"""Random double-unplug cycles against a modem session (issue 12 item 1).

Each cycle unplugs the simulated modem, plugs it back, and unplugs it a second time
while the session reopens and re-initialises the port: either after a random delay, or
as a random command line of the re-initialisation arrives (the simulator's ``unplug``
fault). Then it plugs it back for good and waits up to ``--bound`` seconds for the
session to be ready. Prints how many cycles ended ready and how many stuck, with the
seed, so a run can be repeated::

    .venv/bin/python bench/double_unplug.py --cycles 200 --seed 12
    .venv/bin/python bench/double_unplug.py --cycles 200 --seed 21 --timing realistic \
        --min-gap 0.2 --max-gap 1.2

With the instant simulator a re-initialisation takes tens of milliseconds, so the
default gaps are short; with ``--timing realistic`` the issue's 0.2-1.2 s window lands
inside it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import structlog

from gateway.at import Timeouts
from gateway.modem.health import HealthConfig
from gateway.modem.init import InitConfig
from gateway.modem.link import LinkConfig
from gateway.modem.session import ModemSession, SessionConfig
from gateway.modem.status import ModemStatus, SessionState
from gateway.simulator import ModemConfig, Simulator


def session_config(device: str) -> SessionConfig:
    """Short timeouts (a simulated modem answers in microseconds), no periodic pings."""
    return SessionConfig(
        link=LinkConfig(device=device, backoff_initial=0.01, backoff_max=0.2),
        timeouts=Timeouts(
            quick=0.5, sim=1.0, list=2.0, network=1.0, prompt=0.5, body=1.0, probe=0.2, drain=0.05
        ),
        init=InitConfig(busy_backoff=0.01, busy_backoff_max=0.05, registration_timeout=5.0),
        health=HealthConfig(interval=3600.0),
        resync_probes=8,
    )


async def cycles(
    count: int,
    seed: int,
    *,
    gaps: tuple[float, float],
    bound: float,
    profile: str,
    timing: str,
) -> int:
    """Run ``count`` cycles; print the tally; return the number stuck."""
    rng = random.Random(seed)  # noqa: S311 - a repeatable experiment, not a secret
    ready = stuck = during_init = 0
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        modem_config = ModemConfig(profile=profile, link=Path(tmp) / "modem")
        realistic = timing == "realistic"
        async with Simulator(
            [modem_config], timing="realistic" if realistic else "instant", seed=seed
        ) as simulator:
            modem = simulator.modems[0]
            session = ModemSession(session_config(modem.device))
            await session.start()
            try:
                for cycle in range(count):
                    status = session.status
                    downs, inits = status.counters.link_downs, status.counters.inits
                    modem.unplug()
                    await session.wait_for(_downs_above(downs), bound)
                    if rng.random() < 0.5:
                        how = f"on command #{rng.randint(1, 25)}"
                        modem.set_fault("unplug", on="AT", nth=int(how.rpartition("#")[2]))
                        modem.replug()
                        with contextlib.suppress(TimeoutError):  # counted below either way
                            await session.wait_for(_down_or_ready(downs + 1), bound)
                        modem.clear_fault("unplug")
                    else:
                        gap = rng.uniform(*gaps)
                        how = f"after {gap * 1000:.0f} ms"
                        modem.replug()
                        await asyncio.sleep(gap)  # the random delay is the experiment
                        modem.unplug()
                    if session.status.state is not SessionState.READY:
                        during_init += 1
                    modem.replug()
                    try:
                        await session.wait_for(_ready_after(inits), bound)
                        ready += 1
                    except TimeoutError:
                        stuck += 1
                        state = session.status
                        print(
                            f"cycle {cycle}: stuck in {state.state.value} (second unplug {how};"
                            f" error {state.error!r})",
                            flush=True,
                        )
                        await session.stop()
                        session = ModemSession(session_config(modem.device))
                        await session.start()
            finally:
                await session.stop()
    elapsed = time.monotonic() - started
    print(
        f"double-unplug: seed={seed} cycles={count} ready={ready} stuck={stuck} "
        f"(second unplug landed before ready in {during_init}; gaps {gaps[0]:g}-{gaps[1]:g} s; "
        f"bound {bound:g} s; "
        f"profile {profile}; timing {timing}; {elapsed:.1f} s)"
    )
    return stuck


def _downs_above(count: int) -> Callable[[ModemStatus], bool]:
    return lambda status: status.counters.link_downs > count


def _down_or_ready(count: int) -> Callable[[ModemStatus], bool]:
    return lambda s: s.counters.link_downs > count or s.state is SessionState.READY


def _ready_after(inits: int) -> Callable[[ModemStatus], bool]:
    def check(status: ModemStatus) -> bool:
        return status.state is SessionState.READY and status.counters.inits > inits

    return check


def main() -> int:
    """Parse arguments, run, exit 1 if any cycle ended stuck."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=200)
    parser.add_argument("--seed", type=int, default=None, help="default: random, printed")
    parser.add_argument("--min-gap", type=float, default=0.0, help="seconds (default 0)")
    parser.add_argument("--max-gap", type=float, default=0.12, help="seconds (default 0.12)")
    parser.add_argument("--bound", type=float, default=20.0, help="seconds to be ready again")
    parser.add_argument("--profile", default="generic")
    parser.add_argument(
        "--timing",
        choices=["instant", "realistic"],
        default="instant",
        help="the simulator's reply delays (realistic: re-initialisation takes longer)",
    )
    parser.add_argument("--verbose", action="store_true", help="log at info level")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(10**6)
    level = logging.INFO if args.verbose else logging.CRITICAL
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(level))
    run = cycles(
        args.cycles,
        seed,
        gaps=(args.min_gap, args.max_gap),
        bound=args.bound,
        profile=args.profile,
        timing=args.timing,
    )
    stuck = asyncio.run(run)
    return 1 if stuck else 0


if __name__ == "__main__":
    sys.exit(main())
