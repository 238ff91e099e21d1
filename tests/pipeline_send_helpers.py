"""A send rig for tests: simulated modems on real ptys, real sessions, journal and queue."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from gateway.at import Timeouts
from gateway.at.events import NewReport, RoutedReport
from gateway.config.schema import SendSettings
from gateway.journal import SqliteJournal
from gateway.modem.health import HealthConfig
from gateway.modem.init import InitConfig
from gateway.modem.link import LinkConfig
from gateway.modem.session import ModemSession, SessionConfig
from gateway.pipeline.send import Dispatcher, SendService
from gateway.ratelimit import Rate, RateLimiter
from gateway.relay.ports import JobEvent, JobStatus, SendRequest
from gateway.simulator import ModemConfig, ModemHandle, Simulator
from gateway.sms import StatusReport, decode_incoming

T = TypeVar("T")

FAST = Timeouts(
    quick=0.4, sim=1.0, list=2.0, network=0.4, prompt=0.3, body=1.0, probe=0.2, drain=0.05
)
#: a valid US number (phonenumbers accepts it); the simulator's network takes any number
DEST = "+14155552671"
SETTINGS = SendSettings(
    allowed_countries=("US",),
    backoff_initial=0.05,
    backoff_max=0.2,
    max_attempts=3,
)


def session_config(device: str) -> SessionConfig:
    """Session settings with short timeouts and no health pings (the test drives all)."""
    return SessionConfig(
        link=LinkConfig(device=device, backoff_initial=0.01, backoff_max=0.1),
        timeouts=FAST,
        init=InitConfig(
            busy_retries=8,
            busy_backoff=0.01,
            busy_backoff_max=0.05,
            registration_timeout=3.0,
            registration_poll=0.02,
        ),
        health=HealthConfig(interval=3600.0),
        resync_probes=8,
        ready_wait=5.0,
    )


def open_limiter() -> RateLimiter:
    """A limiter generous enough never to refuse in tests that are not about limits."""
    return RateLimiter(per_number=(Rate(count=1000, period=60.0),))


def request(number: str = DEST, origin: str = "example.com", **extra: str | None) -> SendRequest:
    """A send request for ``origin`` to ``number``."""
    return SendRequest(number=number, origin=origin, **extra)  # type: ignore[arg-type]


@dataclass(kw_only=True)
class Rig:
    """Everything one send test touches."""

    simulator: Simulator
    modems: list[ModemHandle]
    sessions: dict[str, ModemSession]
    journal: SqliteJournal
    dispatcher: Dispatcher
    service: SendService
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def start_dispatcher(self) -> None:
        """Run the dispatcher in the background (stopped when the rig closes)."""
        self.tasks.append(asyncio.create_task(self.dispatcher.run()))

    def feed_reports(self) -> None:
        """Read each modem's status reports like the receive pipeline does, into the queue.

        +CDSI names the stored report: read it (AT+CMGR), decode it, hand it to
        ``Dispatcher.on_status_report``, delete it; a routed +CDS carries the PDU itself.
        """
        for name, session in self.sessions.items():
            self.tasks.append(asyncio.create_task(self._reports(name, session)))

    async def _reports(self, name: str, session: ModemSession) -> None:
        async for event in session.events():
            if isinstance(event, RoutedReport):
                pdu = event.pdu
            elif isinstance(event, NewReport):
                stored = await session.read_message(event.memory, event.index)
                if stored is None:
                    continue
                pdu = stored.pdu
                await session.delete_message(event.memory, event.index)
            else:
                continue
            report = decode_incoming(pdu)
            assert isinstance(report, StatusReport)
            self.dispatcher.on_status_report(name, report)

    async def events(self, job_id: str) -> list[JobEvent]:
        """Return every event ``watch`` yields for the job, up to its last one."""
        return [event async for event in self.service.watch(job_id)]

    async def reach(self, job_id: str, status: JobStatus) -> None:
        """Return once the job's watch shows ``status`` (fail if it ends without it)."""
        async for event in self.service.watch(job_id):
            if event.status is status:
                return
        raise AssertionError(f"job {job_id} ended without reaching {status.value}")

    async def last(self, job_id: str) -> JobStatus:
        """Return the status the job's watch ends with."""
        return (await self.events(job_id))[-1].status


@contextlib.asynccontextmanager
async def rig(
    tmp_path: Path,
    *,
    modems: int = 1,
    settings: SendSettings = SETTINGS,
    limiter: RateLimiter | None = None,
    run: bool = True,
    submit_clock: Callable[[], float] = time.time,
    journal_type: type[SqliteJournal] = SqliteJournal,
) -> AsyncIterator[Rig]:
    """Yield a :class:`Rig` with ``modems`` simulated modems, started sessions and a queue.

    ``journal_type`` may be a SqliteJournal subclass that fails on purpose (fault injection).
    """
    configs = [
        ModemConfig(number=f"+1555000000{i + 1}", link=tmp_path / f"modem{i}")
        for i in range(modems)
    ]
    async with Simulator(configs) as simulator:
        sessions = {
            f"m{i}": ModemSession(session_config(handle.device))
            for i, handle in enumerate(simulator.modems)
        }
        journal = journal_type(tmp_path / "journal.sqlite3")
        dispatcher = Dispatcher(journal=journal, sessions=sessions, settings=settings)
        service = SendService(
            journal=journal,
            settings=settings,
            limiter=open_limiter() if limiter is None else limiter,
            dispatcher=dispatcher,
            clock=submit_clock,
        )
        the_rig = Rig(
            simulator=simulator,
            modems=simulator.modems,
            sessions=sessions,
            journal=journal,
            dispatcher=dispatcher,
            service=service,
        )
        try:
            for session in sessions.values():
                await session.start()
            if run:
                the_rig.start_dispatcher()
            yield the_rig
        finally:
            for task in the_rig.tasks:
                task.cancel()
            await asyncio.gather(*the_rig.tasks, return_exceptions=True)
            for session in sessions.values():
                await session.stop()
            journal.close()


def run(scenario: Callable[[], Awaitable[T]], timeout: float = 30.0) -> T:
    """Run an async scenario with a hard bound and return its result."""

    async def bounded() -> T:
        async with asyncio.timeout(timeout):
            return await scenario()

    return asyncio.run(bounded())
