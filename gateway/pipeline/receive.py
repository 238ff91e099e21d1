"""The durable receive pipeline of one modem: URC hints, sweeps, journal, codes.

``+CMTI``/``+CDSI``/``+CMT``/``+CDS`` (TS 27.005 §3.4.1) are hints: the message is read
(``AT+CMGR``), recorded in the journal (committed before ``record_pdu`` returns), and
only then deleted (``AT+CMGD``). Every read memory is swept (``AT+CMGL=4``) at start,
after every (re)initialisation and every ``sweep_interval``: the safety net for lost
URCs, a full storage and modems that announce the wrong memory. Undecodable PDUs are
quarantined, duplicates recognised by the journal, multipart messages reassembled;
complete messages go through :mod:`gateway.pipeline.otp`. Logs carry reason tokens,
counts and masked senders only.

This module runs the loop and wires the steps, each in its own module:
:mod:`~gateway.pipeline.inbox` (modem: read, delete, sweep, ack),
:mod:`~gateway.pipeline.intake` (journal: decode, record, dedupe),
:mod:`~gateway.pipeline.reassembly`, :mod:`~gateway.pipeline.codes` (store, judge,
relay), :mod:`~gateway.pipeline.reports` (hand on, replay after a restart),
:mod:`~gateway.pipeline.schedule` (sweep and expiry timers) and
:mod:`~gateway.pipeline.counters`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping

import structlog

from gateway.at.events import (
    Event,
    NewMessage,
    NewReport,
    Resynced,
    RoutedMessage,
    RoutedReport,
)
from gateway.config.schema import ReceiveSettings
from gateway.errors import GatewayError, ModemFault
from gateway.journal import Journal, JournalError, JournalRefused, JournalUnavailable
from gateway.modem.session import ModemSession, StateChanged
from gateway.modem.status import SessionState
from gateway.pipeline.arrival import arrival
from gateway.pipeline.codes import CodeStep, OnCode
from gateway.pipeline.counters import Counters
from gateway.pipeline.inbox import Inbox
from gateway.pipeline.intake import Intake, Recorded
from gateway.pipeline.otp import OtpRules
from gateway.pipeline.reassembly import Assembled, Part, Reassembler
from gateway.pipeline.reports import OnReport, ReportStep, pending
from gateway.pipeline.schedule import EXPIRE, SWEEP, Timers
from gateway.sms import Deliver, StatusReport

log = structlog.get_logger(__name__)

#: the journal's memory/index for PDUs routed to us (+CMT/+CDS): never stored on the modem
ROUTED_MEMORY = "routed"
ROUTED_INDEX = -1
#: seconds before a message whose journal write failed (full disk) is stored again
STORE_RETRY = 1.0
#: seconds between such retries while the journal is degraded (disk full, file gone):
#: its recovery queues a retry at once (:meth:`ReceivePipeline.sweep_soon`), so this is
#: only a backstop, and a degraded daemon does not wake every second for nothing
DEGRADED_RETRY = 60.0
#: the most +CMTI times remembered for messages not read yet
MAX_ANNOUNCED = 1024
#: seconds before an early sweep when a read failed (timeout, reply that did not fit), a
#: delete was refused or the modem was resynchronised (URCs may have been lost): the
#: message stays on the modem and must not wait a whole interval
READ_RETRY = 2.0


class ReceivePipeline:
    """Turns what one modem receives into journal records, code records and reports."""

    def __init__(
        self,
        *,
        modem: str,
        session: ModemSession,
        journal: Journal,
        settings: ReceiveSettings,
        on_code: OnCode,
        on_report: OnReport,
        clock: Callable[[], float] = time.time,
    ) -> None:
        # ``clock`` is wall-clock time, for journal fields and code expiry; timers and
        # reassembly deadlines run on the event loop's monotonic clock (_monotonic)
        self.modem = modem
        self.settings = settings
        self._session = session
        self._journal = journal
        self._clock = clock
        self._counts = Counters()
        self._work: asyncio.Queue[Event | str] = asyncio.Queue()
        self._lock = asyncio.Lock()
        self._timers = Timers(self._work.put_nowait)
        self._reassembler = Reassembler(timeout=settings.multipart_timeout)
        self._unstored: deque[Assembled] = deque()  # assembled, but the journal write failed
        self._retry_in = STORE_RETRY  # until a failed store is tried again (longer if degraded)
        # when this run saw each (memory, index) announced: its arrival, if read later
        self._announced: dict[tuple[str, int], float] = {}
        self._sweep_failures = 0  # consecutive sweeps the modem failed: early retry backoff
        self._intake = Intake(modem=modem, journal=journal, counters=self._counts)
        self._inbox = Inbox(
            modem=modem,
            session=session,
            counters=self._counts,
            ingest=self._ingest,
            clock=clock,
        )
        self._codes = CodeStep(
            modem=modem,
            journal=journal,
            rules=OtpRules.from_settings(settings),
            counters=self._counts,
            on_code=on_code,
        )
        self._reports = ReportStep(
            modem=modem, journal=journal, counters=self._counts, on_report=on_report
        )

    # ------------------------------------------------------------------ public API
    async def run(self) -> None:
        """Rebuild pending multipart parts, sweep, then follow the modem until cancelled."""
        reader = asyncio.create_task(self._read_events(), name=f"receive-events-{self.modem}")
        try:
            async with self._lock:
                self._rebuild()
            if self._session.status.ready:
                await self._guarded(self.sweep())
            else:
                self._timers.arm_sweep(self.settings.sweep_interval)
            while True:
                item = await self._work.get()
                await self._guarded(self._handle(item))
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
            self._timers.cancel()

    async def sweep(self) -> int:
        """Read, record and delete everything in every read memory now.

        Returns the number of PDUs newly recorded (duplicates not counted). Raises
        ModemFault when the modem becomes unusable mid-sweep; the next sweep then comes
        early (``READ_RETRY``, doubling with each failure up to ``sweep_interval``), as
        it does when a delete was refused.
        """
        async with self._lock:
            interval = self.settings.sweep_interval
            failed = False  # the modem failed it (a degraded journal has its own retry)
            try:
                return await self._inbox.sweep()
            except ModemFault:
                failed = True
                raise
            finally:
                self._sweep_failures = self._sweep_failures + 1 if failed else 0
                if failed or self._inbox.retry_wanted:
                    self._inbox.retry_wanted = False
                    backoff = READ_RETRY * 2 ** min(self._sweep_failures, 16)
                    interval = min(interval, backoff)
                self._timers.arm_sweep(interval)
                # the parts the modem held are in: held groups may time out from now on
                due = self._reassembler.expire(_monotonic()) if self._may_expire() else []
                if due:
                    self._assembled(due, self._clock())
                else:
                    self._arm_expiry()

    def sweep_soon(self) -> None:
        """Store what waits in memory, then sweep (the journal records again).

        Messages whose store failed are retried first, then every read memory is swept:
        what stayed on the modem while the journal was degraded is recorded and deleted.
        """
        self._work.put_nowait(EXPIRE)
        self._work.put_nowait(SWEEP)

    def reload(self, settings: ReceiveSettings) -> None:
        """Apply re-read settings (SIGHUP): allow-list, sender lists, parse mode, expiry.

        Codes already handed to the relay are not re-judged; the next message is.
        """
        self.settings = settings
        self._codes.rules = OtpRules.from_settings(settings)

    @property
    def unreadable(self) -> dict[str, str]:
        """Memory -> why its last listing failed (for ``status``; empty when all read)."""
        return dict(self._inbox.unreadable)

    def snapshot(self) -> dict[str, object]:
        """Return counters and pending state for ``status`` (no message content)."""
        return {
            "modem": self.modem,
            **self._counts.snapshot(),
            "pending_messages": self._reassembler.pending,
            "pending_parts": self._reassembler.pending_parts,
            "last_sweep": self._inbox.last_sweep,
        }

    async def wait_for(
        self, predicate: Callable[[Mapping[str, object]], bool], timeout: float | None = None
    ) -> dict[str, object]:
        """Return the first snapshot satisfying ``predicate`` (woken by changes, no polling).

        Raises TimeoutError after ``timeout`` seconds.
        """
        async with asyncio.timeout(timeout):
            while True:
                snapshot = self.snapshot()
                if predicate(snapshot):
                    return snapshot
                await self._counts.changed()

    # ------------------------------------------------------------------ the loop
    async def _read_events(self) -> None:
        async for event in self._session.events():
            if isinstance(event, NewMessage) and len(self._announced) < MAX_ANNOUNCED:
                # stamped as it comes, not when the queue gets to it (issue 12.4)
                self._announced.setdefault((event.memory, event.index), self._clock())
            self._work.put_nowait(event)

    async def _guarded(self, work: Awaitable[object]) -> None:
        try:
            await work
        except JournalUnavailable as exc:
            # the modem copy stays where it is; the daemon logs the journal's degraded
            # episode once and sweeps again when it is over, so no warning per SMS here
            self._counts.count("journal_unavailable")
            log.debug("receive.journal_unavailable", modem=self.modem, detail=str(exc))
        except GatewayError as exc:
            # the modem copy stays where it is: the next sweep picks it up again
            self._counts.count("errors")
            log.warning(
                "receive.error", modem=self.modem, error=type(exc).__name__, detail=str(exc)
            )

    async def _handle(self, item: Event | str) -> None:
        if isinstance(item, StateChanged):
            self._counts.count("state_changes")
            if item.state is SessionState.READY and self._inbox.needs_sweep():
                await self.sweep()  # (re)initialised: settings and URCs may have been lost
            return
        if item == SWEEP:
            await self.sweep()
            return
        if isinstance(item, Resynced):
            # the modem was out of step: a +CMTI may have been lost with what was discarded
            self._counts.count("resyncs")
            self._timers.arm_sweep(min(READ_RETRY, self.settings.sweep_interval))
            return
        async with self._lock:
            if item == EXPIRE:
                self._expire()
            elif isinstance(item, NewMessage):
                self._counts.count("urc_messages")
                try:
                    await self._retrying(self._inbox.fetch(item.memory, item.index))
                finally:
                    # read or not: a stamp left behind could date a later SMS at this index
                    self._announced.pop((item.memory, item.index), None)
            elif isinstance(item, NewReport):
                self._counts.count("urc_reports")
                await self._retrying(self._inbox.fetch_report(item.memory, item.index))
            elif isinstance(item, RoutedMessage | RoutedReport):
                self._counts.count("routed")
                self._ingest(ROUTED_MEMORY, ROUTED_INDEX, item.pdu)
                await self._inbox.ack(item)
            else:
                self._counts.count(f"ignored.{type(item).__name__}")

    async def _retrying(self, work: Awaitable[object]) -> None:
        """Run a fetch; if a read failed or a delete was refused, sweep early."""
        try:
            await work
        finally:
            if self._inbox.retry_wanted:
                self._inbox.retry_wanted = False
                self._timers.arm_sweep(min(READ_RETRY, self.settings.sweep_interval))

    # ------------------------------------------------------------------ acting on PDUs
    def _ingest(self, memory: str, index: int, pdu_hex: str) -> Recorded:
        """Record one PDU durably, act on it if it is new and decoded, check it is durable.

        The inbox deletes the modem copy (or acknowledges a routed one) only once this
        returns. Raises JournalError when the write fails, and JournalUnavailable when the
        record is not in the journal file at its path (deleted or replaced meanwhile).
        """
        now = self._clock()
        announced = self._announced.pop((memory, index), None)
        recorded = self._intake.record(memory, index, pdu_hex, now)
        message = recorded.message
        if recorded.new:
            if isinstance(message, StatusReport):
                self._counts.count("reports")
                self._reports.hand_on(recorded.pdu_id, message, now)
            elif isinstance(message, Deliver):
                self._counts.count("parts")
                arrived = arrival(
                    now, message.scts, announced_at=announced, skew=self.settings.clock_skew
                )
                part = Part.of(message, pdu_id=recorded.pdu_id, received_at=arrived)
                # the multipart deadline counts from its arrival too, on the loop's clock
                at = _monotonic() - max(0.0, now - arrived)
                self._assembled(self._reassembler.add(part, at=at), now)
        self._durable_or_keep()
        return recorded

    def _durable_or_keep(self) -> None:
        """Raise JournalUnavailable unless the journal file at its path holds the record.

        The delete guard: a commit into a file deleted or replaced since (or a journal
        failing meanwhile) is no reason to drop the only other copy, on the modem. Checked
        after acting, so a code is relayed at once either way; the sweep after recovery
        records the SMS again (or recognises it) and only then deletes it.
        """
        if not self._journal.durable():
            self._counts.count("delete_withheld")
            raise JournalUnavailable(self._journal.health().reason or "journal not durable")

    def _rebuild(self) -> None:
        """Reload unjoined parts, judge undecided messages, replay unhanded reports."""
        now, mono = self._clock(), _monotonic()
        left = pending(self._journal, self.modem, now)
        for read in left.parts:
            # the journal has the time it was read; the timing rules want its arrival
            part = dataclasses.replace(
                read,
                received_at=arrival(read.received_at, read.scts, skew=self.settings.clock_skew),
            )
            # its age so far, carried over to the loop's clock (never negative)
            arrived = mono - max(0.0, now - part.received_at)
            self._assembled(self._reassembler.add(part, at=arrived), now)
        if left.parts:
            self._counts.count("rebuilt_parts", len(left.parts))
            log.info("receive.rebuilt", modem=self.modem, parts=len(left.parts))
        # an older version stored message and code in two transactions: a crash between
        # them left a message nobody judged
        for message in self._journal.undecided(self.modem):
            self._codes.redecide(message, now)
        self._reports.replay(left.reports, now)
        self._expire()

    def _may_expire(self) -> bool:
        """Whether no part can still be waiting unread on the modem (issue 12.4).

        Until the modem is ready and swept since it (re)started, the missing parts of a
        held message may be stored there: an incomplete message is never handed out then.
        """
        return self._session.status.ready and not self._inbox.needs_sweep()

    def _expire(self) -> None:
        due = self._reassembler.expire(_monotonic()) if self._may_expire() else []
        self._assembled(due, self._clock())

    def _assembled(self, messages: list[Assembled], now: float) -> None:
        """Store and judge ``messages`` after any a failed journal write left behind.

        A message the journal refuses (a check or constraint) is kept without its code
        or dropped, never retried (:meth:`_refused`). A message whose store fails
        (counted ``store_failed``) stays queued here and is retried by the expiry timer
        (after :data:`DEGRADED_RETRY` while the journal is degraded, or at its recovery);
        its PDUs stay unassembled in the journal, so a restart finds them too. The failure
        does not propagate: the PDU itself is recorded, so the modem copy may go and the
        sweep goes on. Raises nothing.
        """
        self._unstored.extend(messages)
        wait = STORE_RETRY
        try:
            while self._unstored:
                head = self._unstored[0]
                try:
                    self._codes.finish(head, now)
                except JournalRefused as exc:
                    self._refused(head, exc)  # a retry would be refused again
                self._unstored.popleft()
        except JournalError as exc:
            self._counts.count("store_failed")
            # a degraded journal is logged once per episode by the daemon, not every retry
            degraded = isinstance(exc, JournalUnavailable)
            wait = DEGRADED_RETRY if degraded else STORE_RETRY
            (log.debug if degraded else log.warning)(
                "receive.store_failed",
                modem=self.modem,
                waiting=len(self._unstored),
                retry_in=wait,
                detail=str(exc),
            )
        finally:
            self._retry_in = wait
            self._arm_expiry()

    def _arm_expiry(self) -> None:
        """Arm the expiry timer: the next multipart deadline, or a retry of a failed store."""
        mono = _monotonic()
        # held while parts may be on the modem: the sweep that reads them expires them
        deadline = self._reassembler.next_deadline() if self._may_expire() else None
        if self._unstored:
            retry = mono + self._retry_in
            deadline = retry if deadline is None else min(deadline, retry)
        self._timers.arm_expiry(deadline, mono)

    def _refused(self, message: Assembled, exc: JournalRefused) -> None:
        """Keep a message the journal refused as judged without its code, or drop it.

        Counted ``store_refused``; when even that is refused it is counted ``dropped``
        (its PDUs stay unassembled in the journal). Raises JournalError for a failed write.
        """
        self._counts.count("store_refused")
        log.warning("receive.store_refused", modem=self.modem, detail=str(exc))
        try:
            self._codes.keep_refused(message)
        except JournalRefused as again:
            self._counts.count("dropped")
            log.warning("receive.dropped", modem=self.modem, detail=str(again))


def _monotonic() -> float:
    """Return the running event loop's monotonic time (what its timers are armed on)."""
    return asyncio.get_running_loop().time()


__all__ = ["ROUTED_INDEX", "ROUTED_MEMORY", "STORE_RETRY", "OnCode", "OnReport", "ReceivePipeline"]
