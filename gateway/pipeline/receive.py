"""The durable receive pipeline of one modem: URC hints, sweeps, journal, codes.

``+CMTI``/``+CDSI``/``+CMT``/``+CDS`` (TS 27.005 §3.4.1) are hints: the message is read
(``AT+CMGR``), recorded in the journal (committed before ``record_pdu`` returns), and
only then deleted (``AT+CMGD``). Every read memory is swept (``AT+CMGL=4``) at start,
after every (re)initialisation and every ``sweep_interval``: the safety net for lost
URCs, a full storage and modems that announce the wrong memory. PDUs are decoded by
TP-MTI (TS 23.040 §9.2.3.1), never by the memory they were found in. Undecodable PDUs
are quarantined, duplicates recognised by the journal, multipart messages reassembled;
complete messages go through :mod:`gateway.pipeline.otp`. Logs carry reason tokens,
counts and masked senders only.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime

import structlog

from gateway.at import AtError
from gateway.at.events import Event, NewMessage, NewReport, RoutedMessage, RoutedReport
from gateway.config_schema import ReceiveSettings
from gateway.errors import GatewayError
from gateway.journal import Journal, PduStatus, dedupe_key
from gateway.modem.session import ModemSession, StateChanged
from gateway.modem.status import SessionState
from gateway.modem.storage import ReplyError
from gateway.pipeline.otp import Accepted, OtpRules, decide
from gateway.pipeline.reassembly import Assembled, Part, Reassembler
from gateway.relay.ports import CodeRecord
from gateway.sms import Deliver, PduError, StatusReport, decode_incoming

log = structlog.get_logger(__name__)

_SWEEP = "sweep"
_EXPIRE = "expire"
#: the journal's memory/index for PDUs routed to us (+CMT/+CDS): never stored on the modem
ROUTED_MEMORY = "routed"
ROUTED_INDEX = -1
#: <stat> of stored outgoing messages (TS 27.005 §3.1): not ours to read or delete
_STORED_MO = (2, 3)

OnCode = Callable[[CodeRecord], None]
OnReport = Callable[[str, StatusReport], None]
Decoded = Deliver | StatusReport | PduError


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
        self.modem = modem
        self.settings = settings
        self._session = session
        self._journal = journal
        self._on_code = on_code
        self._on_report = on_report
        self._clock = clock
        self._rules = OtpRules.from_settings(settings)
        self._reassembler = Reassembler(timeout=settings.multipart_timeout)
        self._counts: Counter[str] = Counter()
        self._work: asyncio.Queue[Event | str] = asyncio.Queue()
        self._lock = asyncio.Lock()
        self._changed = asyncio.Event()
        self._sweep_timer: asyncio.TimerHandle | None = None
        self._expire_timer: asyncio.TimerHandle | None = None
        self._swept_inits: int | None = None
        self._last_sweep: float | None = None

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
                self._arm_sweep()
            while True:
                item = await self._work.get()
                await self._guarded(self._handle(item))
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
            for timer in (self._sweep_timer, self._expire_timer):
                if timer is not None:
                    timer.cancel()

    async def sweep(self) -> int:
        """Read, record and delete everything in every read memory now.

        Returns the number of PDUs newly recorded (duplicates not counted). Raises
        ModemFault when the modem becomes unusable mid-sweep (the next sweep retries).
        """
        async with self._lock:
            try:
                return await self._sweep()
            finally:
                self._arm_sweep()

    def reload(self, settings: ReceiveSettings) -> None:
        """Apply re-read settings (SIGHUP): allow-list, sender lists, parse mode, expiry.

        Codes already handed to the relay are not re-judged; the next message is.
        """
        self.settings = settings
        self._rules = OtpRules.from_settings(settings)

    def snapshot(self) -> dict[str, object]:
        """Return counters and pending state for ``status`` (no message content)."""
        counts = dict(sorted(self._counts.items()))
        return {
            "modem": self.modem,
            **counts,
            "pending_messages": self._reassembler.pending,
            "pending_parts": self._reassembler.pending_parts,
            "last_sweep": self._last_sweep,
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
                changed = self._changed
                await changed.wait()

    # ------------------------------------------------------------------ the loop
    async def _read_events(self) -> None:
        async for event in self._session.events():
            self._work.put_nowait(event)

    async def _guarded(self, work: Awaitable[object]) -> None:
        try:
            await work
        except GatewayError as exc:
            # the modem copy stays where it is: the next sweep picks it up again
            self._count("errors")
            log.warning(
                "receive.error", modem=self.modem, error=type(exc).__name__, detail=str(exc)
            )

    async def _handle(self, item: Event | str) -> None:
        if isinstance(item, StateChanged):
            self._count("state_changes")
            if item.state is SessionState.READY and self._needs_sweep():
                await self.sweep()  # (re)initialised: settings and URCs may have been lost
            return
        if item == _SWEEP:
            await self.sweep()
            return
        async with self._lock:
            if item == _EXPIRE:
                self._expire()
            elif isinstance(item, NewMessage):
                self._count("urc_messages")
                await self._fetch(item.memory, item.index)
            elif isinstance(item, NewReport):
                self._count("urc_reports")
                await self._fetch_report(item.memory, item.index)
            elif isinstance(item, RoutedMessage | RoutedReport):
                self._count("routed")
                self._ingest(ROUTED_MEMORY, ROUTED_INDEX, item.pdu)
                await self._ack(item)
            else:
                self._count(f"ignored.{type(item).__name__}")

    # ------------------------------------------------------------------ modem side
    def _needs_sweep(self) -> bool:
        return self._session.status.counters.inits != self._swept_inits

    async def _sweep(self) -> int:
        status = self._session.status
        if not status.ready:
            self._count("sweeps_skipped")
            return 0
        self._swept_inits = status.counters.inits
        self._count("sweeps")
        recorded = 0
        for memory in status.memories:
            try:
                listed = await self._session.list_messages(memory)
            except (AtError, ReplyError) as exc:
                self._count("list_failed")
                log.warning("receive.list_failed", modem=self.modem, memory=memory, error=str(exc))
                continue
            for stored in listed:
                if stored.status in _STORED_MO:
                    self._count("skipped_outgoing")
                    continue
                recorded += self._ingest(memory, stored.index, stored.pdu)[0]
                await self._delete(memory, stored.index)
        self._last_sweep = self._clock()
        if recorded:
            self._count("swept", recorded)
            log.info("receive.sweep_recovered", modem=self.modem, recorded=recorded)
        return recorded

    async def _fetch(self, memory: str, index: int) -> Decoded | None:
        try:
            stored = await self._session.read_message(memory, index)
        except (AtError, ReplyError) as exc:
            self._count("read_failed")
            log.warning("receive.read_failed", modem=self.modem, memory=memory, error=str(exc))
            return None
        if stored is None:
            self._count("empty_reads")  # already swept, or announced in the wrong memory
            return None
        if stored.status in _STORED_MO:
            self._count("skipped_outgoing")
            return None
        _, decoded = self._ingest(memory, index, stored.pdu)
        await self._delete(memory, index)
        return decoded

    async def _fetch_report(self, memory: str, index: int) -> None:
        # EC25/EG25 store reports in "SR" but announce "SM" (field notes): look there too
        memories = [memory]
        if memory != "SR" and "SR" in self._session.status.memories:
            memories.append("SR")
        for name in memories:
            if isinstance(await self._fetch(name, index), StatusReport):
                return

    async def _delete(self, memory: str, index: int) -> None:
        try:
            await self._session.delete_message(memory, index)
        except AtError as exc:
            # left on the modem: the next sweep reads it again and the journal dedupes it
            self._count("delete_failed")
            log.warning("receive.delete_failed", modem=self.modem, memory=memory, error=str(exc))
            return
        self._count("deleted")

    async def _ack(self, event: RoutedMessage | RoutedReport) -> None:
        # TS 27.005 §3.4.1/§3.4.4: +CMT (<mt>=2) and +CDS (<ds>=1) need AT+CNMA when
        # AT+CSMS service 1 is in force; unknown here, so ack and tolerate "not expected"
        cnmi = (self._session.status.cnmi or "").split(",")
        slot, wanted = (1, "2") if isinstance(event, RoutedMessage) else (3, "1")
        if len(cnmi) > slot and cnmi[slot].strip() != wanted:
            return
        try:
            await self._session.ack_routed()
        except AtError as exc:
            self._count("ack_failed")
            log.info("receive.ack_failed", modem=self.modem, error=str(exc))
            return
        self._count("acked")

    # ------------------------------------------------------------------ journal side
    def _decode(self, pdu_hex: str) -> Decoded:
        try:
            return decode_incoming(pdu_hex)
        except PduError as exc:
            return exc
        except Exception as exc:  # one bad PDU must never stop reception
            return PduError(f"decoder failure ({type(exc).__name__})")

    def _ingest(self, memory: str, index: int, pdu_hex: str) -> tuple[int, Decoded]:
        """Record one PDU durably and act on it; return (1 if it was new else 0, decoded)."""
        now = self._clock()
        message = self._decode(pdu_hex)
        if isinstance(message, PduError):
            recorded = self._journal.record_pdu(
                modem=self.modem,
                memory=memory,
                index=index,
                pdu_hex=pdu_hex,
                now=now,
                status=PduStatus.QUARANTINED,
                reason=message.reason,
            )
            if recorded.new:
                self._count("quarantined")
                log.warning(
                    "receive.quarantined", modem=self.modem, memory=memory, reason=message.reason
                )
            else:
                self._count("duplicates")
            return int(recorded.new), message
        recorded = self._journal.record_pdu(
            modem=self.modem,
            memory=memory,
            index=index,
            pdu_hex=pdu_hex,
            now=now,
            key=_key(pdu_hex, message),
        )
        if not recorded.new:
            self._count("duplicates")
            log.info("receive.duplicate", modem=self.modem, memory=memory)
            return 0, message
        if message.timestamp_invalid:
            # decoded anyway (TS 23.040 §9.2.3.11 times only inform); counted for operators
            self._count("timestamp_invalid")
            log.info("receive.timestamp_invalid", modem=self.modem, memory=memory)
        if isinstance(message, StatusReport):
            self._count("reports")
            self._hand_on(recorded.id, message, now)
            return 1, message
        self._count("parts")
        part = Part.of(message, pdu_id=recorded.id, received_at=now)
        self._assembled(self._reassembler.add(part), now)
        return 1, message

    def _hand_on(self, pdu_id: int, report: StatusReport, now: float) -> None:
        """Give a recorded status report to ``on_report``, then mark it handled.

        A crash in between replays it once at the next start (at least once); a
        handled report is never read back from the journal again.
        """
        self._callback(self._on_report, self.modem, report)
        self._journal.mark_handled(pdu_id, now=now)

    def _rebuild(self) -> None:
        """Reload unjoined parts and replay reports recorded but never handed on."""
        parts = []
        reports: list[tuple[int, StatusReport]] = []
        now = self._clock()
        for record in self._journal.pdus(unassembled=True):
            if record.modem != self.modem:
                continue
            message = None if record.raw is None else self._decode(record.raw)
            if isinstance(message, Deliver):
                parts.append(Part.of(message, pdu_id=record.id, received_at=record.received_at))
            elif isinstance(message, StatusReport):
                reports.append((record.id, message))
            else:  # body purged: nothing left to join or hand on
                self._journal.mark_handled(record.id, now=now)
        for part in parts:
            self._assembled(self._reassembler.add(part), now)
        if parts:
            self._count("rebuilt_parts", len(parts))
            log.info("receive.rebuilt", modem=self.modem, parts=len(parts))
        for pdu_id, report in reports:
            self._count("replayed_reports")
            self._hand_on(pdu_id, report, now)
        if reports:
            log.info("receive.reports_replayed", modem=self.modem, reports=len(reports))
        self._expire()

    def _expire(self) -> None:
        now = self._clock()
        self._assembled(self._reassembler.expire(now), now)
        self._arm_expiry()

    def _assembled(self, messages: list[Assembled], now: float) -> None:
        for message in messages:
            self._finish(message, now)
        self._arm_expiry()

    def _finish(self, message: Assembled, now: float) -> None:
        # the journal's messages.scts is NOT NULL: when the SC sent an impossible TP-SCTS
        # (decoded as None) the time its first part was received stands in for it
        scts = message.scts or datetime.fromtimestamp(message.received_at, tz=UTC)
        message_id = self._journal.store_message(
            modem=self.modem,
            sender=message.sender,
            scts=scts,
            text=message.text,
            parts=message.parts,
            expected_parts=message.expected,
            now=message.received_at,
            pdu_ids=message.pdu_ids,
        )
        self._count("messages" if message.complete else "incomplete")
        decision = decide(
            self._rules,
            text=message.text,
            sender=message.sender,
            complete=message.complete,
            received_at=message.received_at,
            now=now,
        )
        if not isinstance(decision, Accepted):
            self._count("kept")
            self._count(f"kept.{decision.reason}")
            log.info(
                "receive.kept",
                modem=self.modem,
                reason=decision.reason,
                origin=decision.origin,
                sender=message.sender,
                message_id=message_id,
            )
            return
        stored = self._journal.store_code(
            origin=decision.origin,
            embedded=decision.embedded,
            code=decision.code,
            sender=message.sender,
            received_at=message.received_at,
            expires_at=decision.expires_at,
            message_id=message_id,
        )
        self._count("codes")
        log.info(
            "receive.code",
            modem=self.modem,
            origin=decision.origin,
            embedded_origin=decision.embedded,
            sender=message.sender,
            message_id=message_id,
            record_id=stored.id,
        )
        record = CodeRecord(
            origin=decision.origin,
            embedded_origin=decision.embedded,
            code=decision.code,
            sender=message.sender,
            received_at=datetime.fromtimestamp(message.received_at, tz=UTC),
            record_id=stored.id,
        )
        self._callback(self._on_code, record)

    # ------------------------------------------------------------------ helpers
    def _callback(self, function: Callable[..., None], *args: object) -> None:
        try:
            function(*args)
        except Exception as exc:  # a consumer's bug must not stop reception
            self._count("callback_errors")
            log.error("receive.callback_failed", modem=self.modem, error=type(exc).__name__)

    def _count(self, name: str, by: int = 1) -> None:
        self._counts[name] += by
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def _arm_sweep(self) -> None:
        if self._sweep_timer is not None:
            self._sweep_timer.cancel()
        loop = asyncio.get_running_loop()
        self._sweep_timer = loop.call_later(
            self.settings.sweep_interval, self._work.put_nowait, _SWEEP
        )

    def _arm_expiry(self) -> None:
        if self._expire_timer is not None:
            self._expire_timer.cancel()
            self._expire_timer = None
        deadline = self._reassembler.next_deadline()
        if deadline is not None:
            delay = max(0.0, deadline - self._clock())
            loop = asyncio.get_running_loop()
            self._expire_timer = loop.call_later(delay, self._work.put_nowait, _EXPIRE)


def _key(pdu_hex: str, message: Deliver | StatusReport) -> str:
    """Return the journal's dedupe key: sender, raw TP-SCTS and what identifies the content.

    The raw octets, not the decoded time, so an impossible TP-SCTS (decoded as None)
    still tells two messages apart exactly.
    """
    if isinstance(message, StatusReport):
        discharge = message.discharge_raw.hex()
        content = f"report\x00{message.reference}\x00{message.status}\x00{discharge}"
        return dedupe_key(
            pdu_hex, sender=message.recipient, scts=message.scts_raw.hex(), content=content
        )
    concat = message.concat
    where = f"{concat.reference}/{concat.total}/{concat.sequence}" if concat else "1"
    return dedupe_key(
        pdu_hex,
        sender=message.sender,
        scts=message.scts_raw.hex(),
        content=f"{where}\x00{message.text}",
    )


__all__ = ["ROUTED_INDEX", "ROUTED_MEMORY", "OnCode", "OnReport", "ReceivePipeline"]
