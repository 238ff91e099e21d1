"""A whole-modem rig for late-reply tests: receive pipeline and send queue on one modem.

One simulated modem on a real pty, a real session with short timeouts, a journal, the
receive pipeline and the send dispatcher, so a test can mix faults with traffic both
ways and then audit the outcome against the journal and the simulator's storage and
network log (:func:`audit`): SMS lost or relayed twice, jobs in a state the network
contradicts.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

from pipeline_receive_helpers import SETTINGS as RECEIVE
from pipeline_receive_helpers import Sink, session_config
from pipeline_send_helpers import SETTINGS as SEND
from pipeline_send_helpers import open_limiter, request

from gateway.jobs import JobState
from gateway.journal import SqliteJournal
from gateway.modem.session import ModemSession
from gateway.pipeline.receive import ReceivePipeline
from gateway.pipeline.send import Dispatcher, SendService
from gateway.simulator import ModemConfig, ModemHandle, Simulator

#: job states that say the network has the SMS, and those that say it never got it
SENT_STATES = {JobState.SENT, JobState.DELIVERED}
NOT_SENT_STATES = {JobState.QUEUED, JobState.SENDING, JobState.FAILED, JobState.EXPIRED}


@dataclass
class Rig:
    """One modem with everything on it; ``codes`` are the codes injected so far."""

    modem: ModemHandle
    session: ModemSession
    journal: SqliteJournal
    pipeline: ReceivePipeline
    dispatcher: Dispatcher
    service: SendService
    sink: Sink
    injected: list[str] = field(default_factory=list)
    jobs: list[str] = field(default_factory=list)

    async def swept(self) -> None:
        """Wait for the pipeline's start-up sweep (SMS injected later arrive by +CMTI)."""
        await self.pipeline.wait_for(lambda s: s.get("last_sweep") is not None, timeout=10)

    def inject(self, code: str) -> None:
        """Inject an SMS carrying ``code`` for example.com (remembered for the audit)."""
        self.injected.append(code)
        self.modem.inject_sms(f"@example.com #{code}")

    async def submit(self, code: str) -> str:
        """Queue a send job carrying ``code``; return its id."""
        accepted = await self.service.submit(request(code=code))
        self.jobs.append(accepted.job_id)
        return accepted.job_id

    async def settle(self, timeout: float = 25.0, *, sweep: bool = False) -> None:
        """Wait until every injected code was relayed and every job left the queue.

        ``sweep``: sweep the storage once first (what a URC lost to a fault left).
        """
        async with asyncio.timeout(timeout):
            if sweep:
                await self.pipeline.sweep()
            await self.sink.until(lambda: self.relayed() >= set(self.injected))
            for job_id in self.jobs:
                async for _ in self.service.watch(job_id):
                    pass  # drained: the watch ends when the job reaches a final state
            # a code is relayed before its SMS is deleted: a last sweep waits for the
            # pipeline (its lock) and deletes whatever a refused delete left behind
            await self.pipeline.sweep()

    def relayed(self) -> set[str]:
        """The codes handed to the consumer so far."""
        return {record.code for record in self.sink.codes}


@dataclass(frozen=True)
class Audit:
    """What went wrong, counted: all zero when the promise held."""

    lost: int
    duplicated: int
    wrong_state: int
    left_on_modem: int
    detail: tuple[str, ...] = ()


def audit(rig: Rig) -> Audit:
    """Compare what was injected and queued with the journal, the consumer and the network.

    Lost: injected, never relayed and no longer on the modem. Wrong state: a job the
    journal calls sent that the network never got (or got under another reference), a
    job it calls not sent that the network got, any job sent twice.
    """
    detail: list[str] = []
    relayed = Counter(record.code for record in rig.sink.codes)
    stored = rig.modem.stored("SM")
    lost = [code for code in rig.injected if code not in relayed]
    duplicated = [code for code, n in relayed.items() if n > 1]
    sent = rig.modem.sent()
    wrong = 0
    for job_id in rig.jobs:
        job = rig.journal.job(job_id)
        copies = [m for m in sent if job.text is not None and m.text == job.text]
        if len(copies) > 1:
            wrong += 1
            detail.append(f"{job_id}: sent {len(copies)} times")
        elif job.state in SENT_STATES and (not copies or job.references != (copies[0].reference,)):
            wrong += 1
            detail.append(f"{job_id}: {job.state.value} but the network has {copies}")
        elif job.state in NOT_SENT_STATES and copies:
            wrong += 1
            detail.append(f"{job_id}: {job.state.value} but the network has it")
    detail += [f"lost {code}" for code in lost] + [f"twice {code}" for code in duplicated]
    return Audit(
        lost=len(lost),
        duplicated=len(duplicated),
        wrong_state=wrong,
        left_on_modem=len(stored),
        detail=tuple(detail),
    )


@contextlib.asynccontextmanager
async def whole_modem(tmp_path: Path) -> AsyncIterator[Rig]:
    """Yield a started :class:`Rig`; everything is stopped and closed on exit."""
    config = ModemConfig(number="+15550000001", link=tmp_path / "modem")
    async with Simulator([config]) as simulator:
        handle = simulator.modems[0]
        session = ModemSession(session_config(handle.device))
        journal = SqliteJournal(tmp_path / "journal.sqlite3")
        sink = Sink()
        pipeline = ReceivePipeline(
            modem="m1",
            session=session,
            journal=journal,
            settings=RECEIVE,
            on_code=sink.code,
            on_report=sink.report,
        )
        dispatcher = Dispatcher(journal=journal, sessions={"m1": session}, settings=SEND)
        service = SendService(
            journal=journal, settings=SEND, limiter=open_limiter(), dispatcher=dispatcher
        )
        rig = Rig(handle, session, journal, pipeline, dispatcher, service, sink)
        tasks: list[asyncio.Task[None]] = []
        try:
            await session.start()
            tasks = [
                asyncio.create_task(pipeline.run()),
                asyncio.create_task(dispatcher.run()),
            ]
            yield rig
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await session.stop()
            journal.close()


class Writes:
    """Counts the writes the modem receives; lets a test wait for the next ``n`` of them."""

    def __init__(self, modem: ModemHandle) -> None:
        self.count = 0
        self._changed = asyncio.Event()
        self.stop = modem.observe_bytes(self._seen)

    def _seen(self, data: bytes) -> None:
        self.count += 1
        self._changed.set()

    async def more(self, n: int) -> None:
        """Return once ``n`` more writes arrived after this call."""
        target = self.count + n
        while self.count < target:
            self._changed.clear()
            await self._changed.wait()


def once(predicate: Callable[[str], bool], action: Callable[[], None]) -> Callable[[str], None]:
    """A command observer that runs ``action`` for the first line matching ``predicate``."""
    done = False

    def observe(line: str) -> None:
        nonlocal done
        if not done and predicate(line):
            done = True
            action()

    return observe
