"""A receive rig for tests: a simulated modem on a pty, a real session, journal and pipeline."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from gateway import log as gwlog
from gateway.at import Timeouts
from gateway.config.schema import ReceiveSettings
from gateway.journal import SqliteJournal
from gateway.modem.health import HealthConfig
from gateway.modem.init import InitConfig
from gateway.modem.link import LinkConfig
from gateway.modem.session import ModemSession, SessionConfig
from gateway.pipeline.receive import ReceivePipeline
from gateway.relay.ports import CodeRecord
from gateway.simulator import ModemConfig, ModemHandle, Simulator
from gateway.sms import StatusReport

FAST = Timeouts(
    quick=0.4, sim=1.0, list=2.0, network=0.4, prompt=0.3, body=1.0, probe=0.2, drain=0.05
)
SENDER = "+15557654321"
SCTS = datetime(2026, 11, 27, 10, 0, 0, tzinfo=UTC)
SETTINGS = ReceiveSettings(allowed_origins=("example.com", "*.example.org"), sweep_interval=3600.0)


def fresh_scts() -> datetime:
    """Return a TP-SCTS of now (whole seconds): a code stamped with it is not stale."""
    return datetime.now(UTC).replace(microsecond=0)


Snapshot = Mapping[str, object]


def count(name: str, at_least: int) -> Callable[[Snapshot], bool]:
    """Predicate on a pipeline snapshot: counter ``name`` reached ``at_least``."""

    def check(snapshot: Snapshot) -> bool:
        value = snapshot.get(name, 0)
        return isinstance(value, int) and value >= at_least

    return check


def session_config(device: str, cnmi: tuple[str, ...] | None = None) -> SessionConfig:
    """Session settings with short timeouts and no health pings."""
    init = InitConfig(
        busy_retries=8,
        busy_backoff=0.01,
        busy_backoff_max=0.05,
        registration_timeout=3.0,
        registration_poll=0.02,
    )
    if cnmi is not None:
        init = replace(init, cnmi_choices=cnmi)
    return SessionConfig(
        link=LinkConfig(device=device, backoff_initial=0.01, backoff_max=0.1),
        timeouts=FAST,
        init=init,
        health=HealthConfig(interval=3600.0),
        resync_probes=8,
        ready_wait=5.0,
    )


@dataclass
class Sink:
    """Collects what the pipeline hands on; lets tests wait for it without polling."""

    codes: list[CodeRecord] = field(default_factory=list)
    reports: list[tuple[str, StatusReport]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    failures: int = 0  # raise on this many first codes, like a consumer with a bug

    def code(self, record: CodeRecord) -> None:
        """on_code callback."""
        if self.failures:
            self.failures -= 1
            raise RuntimeError("consumer bug")
        self.codes.append(record)
        self._notify()

    def report(self, modem: str, report: StatusReport) -> None:
        """on_report callback."""
        self.reports.append((modem, report))
        self._notify()

    def _notify(self) -> None:
        changed, self.changed = self.changed, asyncio.Event()
        changed.set()

    async def until(self, predicate: Callable[[], bool]) -> None:
        """Return once ``predicate()`` holds (checked after each callback)."""
        while not predicate():
            changed = self.changed
            await changed.wait()


@dataclass
class Rig:
    """One simulated modem, its session, a journal and a running pipeline."""

    modem: ModemHandle
    session: ModemSession
    journal: SqliteJournal
    pipeline: ReceivePipeline
    sink: Sink
    secrets: set[str]
    task: asyncio.Task[None] | None = None

    async def wait(self, predicate: Callable[[Snapshot], bool]) -> Snapshot:
        """Wait for a pipeline snapshot satisfying ``predicate``."""
        return await self.pipeline.wait_for(predicate, timeout=15)

    async def codes(self, n: int) -> list[CodeRecord]:
        """Wait until ``n`` codes were handed on; return them."""
        async with asyncio.timeout(15):
            await self.sink.until(lambda: len(self.sink.codes) >= n)
        return self.sink.codes

    def inject(self, text: str, **kwargs: object) -> list[int]:
        """Inject an SMS and remember its text and code as secrets."""
        self.secrets.add(text)
        for word in text.split():
            if word.startswith("#"):
                self.secrets.add(word[1:])
        return self.modem.inject_sms(text, **kwargs)  # type: ignore[arg-type]

    def restart_pipeline(self, task: asyncio.Task[None]) -> ReceivePipeline:
        """Return a fresh pipeline on the same session and journal (after ``task`` ended)."""
        assert task.done()
        self.pipeline = ReceivePipeline(
            modem="m1",
            session=self.session,
            journal=self.journal,
            settings=self.pipeline.settings,
            on_code=self.sink.code,
            on_report=self.sink.report,
        )
        return self.pipeline


Scenario = Callable[[Rig], Awaitable[None]]


@contextlib.contextmanager
def no_leaks() -> Iterator[set[str]]:
    """Capture every log event; on exit fail if one holds a secret added to the yielded set."""
    secrets: set[str] = set()
    with gwlog.capture() as events:
        yield secrets
    dumped = json.dumps(events, default=str)
    assert events, "the pipeline logged nothing"
    for secret in secrets:
        assert secret not in dumped, "a secret reached the logs"


def run(
    tmp_path: Path,
    secrets: set[str],
    scenario: Scenario,
    *,
    modem: ModemConfig | None = None,
    settings: ReceiveSettings = SETTINGS,
    cnmi: tuple[str, ...] | None = None,
    sink: Sink | None = None,
    journal_type: type[SqliteJournal] = SqliteJournal,
    before: Callable[[SqliteJournal], None] | None = None,
    clock: Callable[[], float] = time.time,
) -> None:
    """Run ``scenario`` against a simulator, a session, a journal and a pipeline.

    ``journal_type`` may be a SqliteJournal that fails on purpose; ``before`` writes to the
    journal before the pipeline starts (what an earlier run left).
    """

    async def main() -> None:
        base = modem or ModemConfig()
        async with Simulator([replace(base, link=tmp_path / "modem")]) as simulator:
            handle = simulator.modems[0]
            session = ModemSession(session_config(handle.device, cnmi))
            journal = journal_type(tmp_path / "journal.sqlite3")
            if before is not None:
                before(journal)
            collector = sink if sink is not None else Sink()
            pipeline = ReceivePipeline(
                modem="m1",
                session=session,
                journal=journal,
                settings=settings,
                on_code=collector.code,
                on_report=collector.report,
                clock=clock,
            )
            rig = Rig(handle, session, journal, pipeline, collector, secrets)
            try:
                await session.start()
                rig.task = asyncio.create_task(pipeline.run())
                await scenario(rig)
                for pdu in journal.pdus():
                    if pdu.raw:
                        secrets.add(pdu.raw)
            finally:
                if rig.task is not None:
                    rig.task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await rig.task
                await session.stop()
                journal.close()

    asyncio.run(asyncio.wait_for(main(), 45))
