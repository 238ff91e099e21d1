"""What becomes of an assembled message: stored, judged by the OTP rules, maybe relayed.

Every assembled message is stored in the journal (complete or given up on). The rules of
:mod:`gateway.pipeline.otp` then decide: an accepted code is stored as a code record and
handed to ``on_code``; anything else is kept and counted with the reason token. Logs
carry the origin, masked sender and row ids, never the code or the text.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import structlog

from gateway.journal import Journal
from gateway.pipeline.counters import Counters, call_consumer
from gateway.pipeline.otp import Accepted, OtpRules, decide
from gateway.pipeline.reassembly import Assembled
from gateway.relay.ports import CodeRecord

log = structlog.get_logger("gateway.pipeline.receive")  # the pipeline's events, one logger

OnCode = Callable[[CodeRecord], None]


class CodeStep:
    """Stores assembled messages of one modem and relays the codes the rules accept."""

    def __init__(
        self,
        *,
        modem: str,
        journal: Journal,
        rules: OtpRules,
        counters: Counters,
        on_code: OnCode,
    ) -> None:
        self.modem = modem
        self.rules = rules  # replaced on reload; the next message is judged by the new ones
        self._journal = journal
        self._counts = counters
        self._on_code = on_code

    def finish(self, message: Assembled, now: float) -> None:
        """Store ``message``; if the rules accept its code, store and hand it to on_code.

        Raises JournalError when the journal cannot be written.
        """
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
        self._counts.count("messages" if message.complete else "incomplete")
        decision = decide(
            self.rules,
            text=message.text,
            sender=message.sender,
            complete=message.complete,
            received_at=message.received_at,
            now=now,
        )
        if not isinstance(decision, Accepted):
            self._counts.count("kept")
            self._counts.count(f"kept.{decision.reason}")
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
        self._counts.count("codes")
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
        call_consumer(self._counts, self.modem, self._on_code, record)
