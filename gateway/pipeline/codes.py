"""What becomes of an assembled message: stored, judged by the OTP rules, maybe relayed.

Every assembled message (complete or given up on) is judged by the rules of
:mod:`gateway.pipeline.otp`, then stored in the journal together with the decision and,
when accepted, the code record: one transaction, so a crash or a full disk never leaves
a stored message whose code was lost. Only then is an accepted code handed to
``on_code``; anything else is kept and counted with the reason token. Logs carry the
origin, masked sender and row ids, never the code or the text.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import structlog

from gateway.journal import CODE_DECISION, Journal, MessageRecord, NewCode, StoredMessage
from gateway.pipeline.counters import Counters, call_consumer
from gateway.pipeline.otp import REFUSED, Accepted, Decision, OtpRules, Rejected, decide
from gateway.pipeline.reassembly import Assembled
from gateway.relay.ports import CodeRecord
from gateway.sms.address import SENDER_TYPES, SenderType

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
        """Judge ``message``, store it with its decision and code, then hand the code on.

        The message, its PDU links and the code record are one journal transaction: on
        JournalError nothing was stored, the PDUs stay unassembled, and the caller may
        call again with the same message. Raises JournalError when the write fails
        (JournalRefused when the journal refuses this message: retrying cannot help).
        """
        decision = self._judge(message, message.text, now)
        stored = self._store(message, _token(decision), _new_code(decision))
        self._counts.count("messages" if message.complete else "incomplete")
        self._act(decision, stored, message.sender, message.received_at, _kind(message))

    def keep_refused(self, message: Assembled) -> None:
        """Store ``message`` without a code, decided ``refused`` (kept, counted, logged).

        For a message the journal refused as judged, so it cannot hold up later ones.
        Raises JournalError (JournalRefused when this is refused too).
        """
        stored = self._store(message, REFUSED, None)
        self._counts.count("messages" if message.complete else "incomplete")
        self._act(Rejected(reason=REFUSED), stored, message.sender, message.received_at)

    def _store(self, message: Assembled, decision: str, code: NewCode | None) -> StoredMessage:
        # the journal's messages.scts is NOT NULL: when the SC sent an impossible TP-SCTS
        # (decoded as None) the time it arrived stands in for it
        scts = message.scts or datetime.fromtimestamp(message.received_at, tz=UTC)
        return self._journal.store_decided(
            modem=self.modem,
            sender=message.sender,
            scts=scts,
            text=message.text,
            parts=message.parts,
            expected_parts=message.expected,
            now=message.received_at,
            pdu_ids=message.pdu_ids,
            decision=decision,
            code=code,
            sender_type=None if message.sender_kind is None else message.sender_kind.value,
        )

    def redecide(self, message: MessageRecord, now: float) -> None:
        """Judge a message an older version stored without a decision, and act on it.

        A purged text cannot be judged: it is recorded as ``purged``. Raises JournalError
        when the write fails.
        """
        if message.text is None:
            self._journal.record_decision(message.id, decision="purged")
            return
        decision = self._judge(message, message.text, now)
        stored = self._journal.record_decision(
            message.id, decision=_token(decision), code=_new_code(decision)
        )
        if stored is None:
            return  # decided meanwhile (another process)
        self._counts.count("redecided")
        self._act(decision, stored, message.sender, message.received_at, _kind(message))

    def _judge(self, message: Assembled | MessageRecord, text: str, now: float) -> Decision:
        return decide(
            self.rules,
            text=text,
            sender=message.sender,
            complete=message.complete,
            received_at=message.received_at,
            now=now,
            scts=message.scts,
            sender_kind=_kind(message),
        )

    def _act(
        self,
        decision: Decision,
        stored: StoredMessage,
        sender: str,
        received_at: float,
        kind: SenderType | None = None,
    ) -> None:
        message_id = stored.message_id
        if not isinstance(decision, Accepted) or stored.code is None:
            reason = decision.reason if isinstance(decision, Rejected) else "unknown"
            self._counts.count("kept")
            self._counts.count(f"kept.{reason}")
            log.info(
                "receive.kept",
                modem=self.modem,
                reason=reason,
                origin=decision.origin,
                sender=sender,
                # which allow-list entry would match: short:/national:/... (None: unknown)
                sender_type=None if kind is None else kind.value,
                message_id=message_id,
            )
            return
        self._counts.count("codes")
        log.info(
            "receive.code",
            modem=self.modem,
            origin=decision.origin,
            embedded_origin=decision.embedded,
            sender=sender,
            message_id=message_id,
            record_id=stored.code.id,
        )
        record = CodeRecord(
            origin=decision.origin,
            embedded_origin=decision.embedded,
            code=decision.code,
            sender=sender,
            received_at=datetime.fromtimestamp(received_at, tz=UTC),
            record_id=stored.code.id,
        )
        call_consumer(self._counts, self.modem, self._on_code, record)


def _token(decision: Decision) -> str:
    """Return the journal's ``messages.decision`` for ``decision``."""
    return CODE_DECISION if isinstance(decision, Accepted) else decision.reason


def _new_code(decision: Decision) -> NewCode | None:
    return decision if isinstance(decision, Accepted) else None


def _kind(message: Assembled | MessageRecord) -> SenderType | None:
    """Return the kind of a message's sender: from its TP-OA, or as stored; None if unknown."""
    if isinstance(message, Assembled):
        return message.sender_kind
    return SENDER_TYPES.get(message.sender_type or "")
