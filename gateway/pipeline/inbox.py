"""The modem side of receiving: read, hand over for recording, then delete (TS 27.005).

``AT+CMGR`` reads one announced message, ``AT+CMGL=4`` lists a whole memory (the sweep),
``AT+CMGD`` deletes, ``AT+CNMA`` acknowledges a routed ``+CMT``/``+CDS``. A message is
deleted only after ``ingest`` returned, i.e. after the journal commit, and only with the
read that recorded it: the session deletes in the epoch that read was matched in, or
after reading the slot again and finding the same PDU (a resync in between may mean the
reply was someone else's). A failed or refused delete leaves the message for the next
sweep, and the journal recognises it again. A read that failed asks for an early sweep.
Stored outgoing messages (<stat> 2/3, TS 27.005 §3.1) are not ours to read or delete.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog

from gateway.at import AtError, AtTimeout
from gateway.at.events import RoutedMessage, RoutedReport
from gateway.modem.session import ModemSession
from gateway.modem.storage import ReplyError, StoredMessage
from gateway.pipeline.counters import Counters
from gateway.pipeline.intake import Decoded, Recorded
from gateway.sms import StatusReport

log = structlog.get_logger("gateway.pipeline.receive")  # the pipeline's events, one logger

Ingest = Callable[[str, int, str], Recorded]  # (memory, index, pdu hex) -> recorded


class Inbox:
    """Reads, hands over and deletes what one modem stores or routes to us."""

    def __init__(
        self,
        *,
        modem: str,
        session: ModemSession,
        counters: Counters,
        ingest: Ingest,
        clock: Callable[[], float],
    ) -> None:
        self.modem = modem
        self._session = session
        self._counts = counters
        self._ingest = ingest
        self._clock = clock
        self._swept_inits: int | None = None
        self.last_sweep: float | None = None
        self.retry_wanted = False  # a read failed: its message waits for a sweep
        #: memory -> why its last listing failed (cleared by a listing that works)
        self.unreadable: dict[str, str] = {}

    def needs_sweep(self) -> bool:
        """Return True when the modem was (re)initialised since the last sweep."""
        return self._session.status.counters.inits != self._swept_inits

    async def sweep(self) -> int:
        """List every read memory; record and delete what is there.

        Returns the number of PDUs newly recorded (0 when the modem is not ready).
        Raises ModemFault when the modem becomes unusable mid-sweep.
        """
        status = self._session.status
        if not status.ready:
            self._counts.count("sweeps_skipped")
            return 0
        self._swept_inits = status.counters.inits
        self._counts.count("sweeps")
        recorded = 0
        for memory in status.memories:
            try:
                listed = await self._session.list_messages(memory)
            except (AtError, ReplyError) as exc:
                self._counts.count("list_failed")
                self.unreadable[memory] = str(exc)
                log.warning("receive.list_failed", modem=self.modem, memory=memory, error=str(exc))
                continue
            self.unreadable.pop(memory, None)
            for stored in listed:
                if stored.outgoing:  # <stat> 2/3, or an SMS-SUBMIT without <stat>
                    self._counts.count("skipped_outgoing")
                    continue
                recorded += self._ingest(memory, stored.index, stored.pdu).new
                await self.delete(memory, stored.index, stored)
        self.last_sweep = self._clock()
        if recorded:
            self._counts.count("swept", recorded)
            log.info("receive.sweep_recovered", modem=self.modem, recorded=recorded)
        return recorded

    async def fetch(self, memory: str, index: int) -> Decoded | None:
        """Read one announced message, record it, delete it; return what it decoded to.

        Returns None when nothing (of ours) was there or the read failed (counted).
        Raises ModemFault when the modem becomes unusable.
        """
        try:
            stored = await self._session.read_message(memory, index)
        except (AtError, ReplyError) as exc:
            self._counts.count("read_failed")
            self.retry_wanted = True
            log.warning("receive.read_failed", modem=self.modem, memory=memory, error=str(exc))
            return None
        except AtTimeout:
            self._counts.count("read_failed")
            self.retry_wanted = True
            raise
        if stored is None:
            self._counts.count("empty_reads")  # already swept, or announced in the wrong memory
            return None
        if stored.outgoing:  # <stat> 2/3, or an SMS-SUBMIT without <stat>
            self._counts.count("skipped_outgoing")
            return None
        decoded = self._ingest(memory, index, stored.pdu).message
        await self.delete(memory, index, stored)
        return decoded

    async def fetch_report(self, memory: str, index: int) -> None:
        """Fetch an announced status report, looking in "SR" too when another memory is named.

        Raises ModemFault when the modem becomes unusable.
        """
        # EC25/EG25 store reports in "SR" but announce "SM" (field notes): look there too
        memories = [memory]
        if memory != "SR" and "SR" in self._session.status.memories:
            memories.append("SR")
        for name in memories:
            if isinstance(await self.fetch(name, index), StatusReport):
                return

    async def delete(self, memory: str, index: int, read: StoredMessage) -> None:
        """Delete the message ``read`` recorded; a failure is counted and left for the sweep.

        Raises ModemFault when the modem becomes unusable (AtTimeout included).
        """
        try:
            deleted = await self._session.delete_message(memory, index, read=read)
        except (AtError, ReplyError) as exc:
            # left on the modem: the next sweep reads it again and the journal dedupes it
            self._counts.count("delete_failed")
            log.warning("receive.delete_failed", modem=self.modem, memory=memory, error=str(exc))
            return
        if not deleted:
            # the slot no longer holds what was recorded (or the read was someone else's
            # reply): never delete it unrecorded; the next sweep records and deletes it
            self._counts.count("delete_revalidation_failed")
            self.retry_wanted = True
            return
        self._counts.count("deleted")

    async def ack(self, event: RoutedMessage | RoutedReport) -> None:
        """Acknowledge a routed ``+CMT``/``+CDS`` with ``AT+CNMA`` when CNMI routes it.

        A refusal is counted and logged; raises ModemFault when the modem is unusable.
        """
        # TS 27.005 §3.4.1/§3.4.4: +CMT (<mt>=2) and +CDS (<ds>=1) need AT+CNMA when
        # AT+CSMS service 1 is in force; unknown here, so ack and tolerate "not expected"
        cnmi = (self._session.status.cnmi or "").split(",")
        slot, wanted = (1, "2") if isinstance(event, RoutedMessage) else (3, "1")
        if len(cnmi) > slot and cnmi[slot].strip() != wanted:
            return
        try:
            await self._session.ack_routed()
        except AtError as exc:
            self._counts.count("ack_failed")
            log.info("receive.ack_failed", modem=self.modem, error=str(exc))
            return
        self._counts.count("acked")
