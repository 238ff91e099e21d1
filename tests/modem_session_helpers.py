"""A session rig for tests: a simulated modem on a real pty and a ModemSession on it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

from gateway.at import Timeouts
from gateway.at.events import Event
from gateway.modem.health import HealthConfig
from gateway.modem.init import InitConfig
from gateway.modem.link import LinkConfig
from gateway.modem.session import ModemSession, SessionConfig
from gateway.modem.status import ModemStatus, SessionState
from gateway.simulator import ModemConfig, ModemHandle, Simulator

T = TypeVar("T", bound=Event)

PROFILES = ["generic", "sim800", "e3372", "ec25"]
FAST = Timeouts(
    quick=0.4, sim=1.0, list=2.0, network=0.4, prompt=0.3, body=1.0, probe=0.2, drain=0.05
)
QUIET = HealthConfig(interval=3600.0)  # no pings: the test drives every command


def config(
    device: str,
    *,
    pin: str | None = None,
    health: HealthConfig = QUIET,
    busy_retries: int = 8,
) -> SessionConfig:
    """Session settings with short timeouts so faults play out in well under a second."""
    return SessionConfig(
        link=LinkConfig(device=device, backoff_initial=0.01, backoff_max=0.1),
        timeouts=FAST,
        init=InitConfig(
            pin=pin,
            busy_retries=busy_retries,
            busy_backoff=0.01,
            busy_backoff_max=0.05,
            registration_timeout=3.0,
            registration_poll=0.02,
        ),
        health=health,
        resync_probes=8,
        ready_wait=5.0,
    )


def ignore_progress(key: str, value: object) -> None:
    """Progress sink for an Initialiser run by hand."""


Scenario = Callable[[ModemHandle, ModemSession], Awaitable[None]]


def run(
    tmp_path: Path,
    scenario: Scenario,
    *,
    modem: ModemConfig | None = None,
    session_config: Callable[[str], SessionConfig] = config,
    start: bool = True,
) -> None:
    """Run ``scenario`` with a simulated modem on a pty and a session on it, then clean up."""

    async def main() -> None:
        base = modem or ModemConfig()
        async with Simulator([replace(base, link=tmp_path / "modem")]) as simulator:
            handle = simulator.modems[0]
            session = ModemSession(session_config(handle.device))
            try:
                if start:
                    await session.start()
                await scenario(handle, session)
            finally:
                await session.stop()

    asyncio.run(asyncio.wait_for(main(), 30))


async def next_of(session: ModemSession, kind: type[T]) -> T:
    """Return the next event of ``kind`` from the session's stream."""
    while True:
        event = await session.next_event()
        if isinstance(event, kind):
            return event


def ready_after(inits: int) -> Callable[[ModemStatus], bool]:
    """Predicate: READY again after more than ``inits`` initialisations."""
    return lambda s: s.state is SessionState.READY and s.counters.inits > inits
