"""The journal side of receiving one PDU: decode it, record it durably, recognise repeats.

PDUs are decoded by TP-MTI (TS 23.040 §9.2.3.1), never by the memory they were found
in. An undecodable one is recorded as quarantined (raw hex kept, reason token logged);
a decoded one is recorded under a dedupe key built from its sender, raw TP-SCTS octets
and content, so a network redelivery or a failed ``AT+CMGD`` is recognised. The journal
commit is on disk when :meth:`Intake.record` returns: only then may the modem copy go.
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from gateway.journal import Journal, PduStatus, dedupe_key
from gateway.pipeline.counters import Counters
from gateway.sms import Deliver, PduError, StatusReport, decode_incoming
from gateway.tracebacks import frames

log = structlog.get_logger("gateway.pipeline.receive")  # the pipeline's events, one logger

Decoded = Deliver | StatusReport | PduError


def decode(pdu_hex: str) -> Decoded:
    """Return the SMS-DELIVER or SMS-STATUS-REPORT in ``pdu_hex``, or the PduError why not.

    Raises nothing: one bad PDU (even a decoder bug) must never stop reception.
    """
    try:
        return decode_incoming(pdu_hex)
    except PduError as exc:
        return exc
    except Exception as exc:  # one bad PDU must never stop reception
        # a decoder bug: where it is, for debugging (frames only: the PDU never is logged)
        log.debug("receive.decoder_failure", error=type(exc).__name__, frames=frames(exc))
        return PduError(f"decoder failure ({type(exc).__name__})")


def key_of(pdu_hex: str, message: Deliver | StatusReport) -> str:
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


@dataclass(frozen=True, slots=True, kw_only=True)
class Recorded:
    """One PDU after :meth:`Intake.record`: its journal row, whether new, what it holds."""

    pdu_id: int
    new: bool
    message: Decoded


class Intake:
    """Decodes and records the PDUs one modem receives."""

    def __init__(self, *, modem: str, journal: Journal, counters: Counters) -> None:
        self.modem = modem
        self._journal = journal
        self._counts = counters

    def record(self, memory: str, index: int, pdu_hex: str, now: float) -> Recorded:
        """Decode ``pdu_hex`` and record it durably (quarantined if undecodable).

        Counts ``quarantined``, ``duplicates`` and ``timestamp_invalid``. Returns the row,
        whether it was new and the decoded value; raises JournalError when the write fails.
        """
        message = decode(pdu_hex)
        if isinstance(message, PduError):
            return self._quarantine(memory, index, pdu_hex, now, message)
        recorded = self._journal.record_pdu(
            modem=self.modem,
            memory=memory,
            index=index,
            pdu_hex=pdu_hex,
            now=now,
            key=key_of(pdu_hex, message),
        )
        if not recorded.new:
            self._counts.count("duplicates")
            log.info("receive.duplicate", modem=self.modem, memory=memory)
        elif message.timestamp_invalid:
            # decoded anyway (TS 23.040 §9.2.3.11 times only inform); counted for operators
            self._counts.count("timestamp_invalid")
            log.info("receive.timestamp_invalid", modem=self.modem, memory=memory)
        return Recorded(pdu_id=recorded.id, new=recorded.new, message=message)

    def _quarantine(
        self, memory: str, index: int, pdu_hex: str, now: float, error: PduError
    ) -> Recorded:
        recorded = self._journal.record_pdu(
            modem=self.modem,
            memory=memory,
            index=index,
            pdu_hex=pdu_hex,
            now=now,
            status=PduStatus.QUARANTINED,
            reason=error.reason,
        )
        if recorded.new:
            self._counts.count("quarantined")
            log.warning("receive.quarantined", modem=self.modem, memory=memory, reason=error.reason)
        else:
            self._counts.count("duplicates")
        return Recorded(pdu_id=recorded.id, new=recorded.new, message=error)
