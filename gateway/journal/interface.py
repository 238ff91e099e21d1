"""What the rest of the gateway asks of the journal, whatever stores it.

:class:`Journal` names the operations the pipelines and the daemon call, and nothing
else: a backend (today :class:`gateway.journal.SqliteJournal`) implements them, and the
daemon chooses one in :func:`gateway.journal.open_journal`. Records are the frozen values
of :mod:`gateway.journal.records`; failures are :class:`~gateway.journal.JournalError`
and its subclasses, whichever backend raised them.

Every write is durable when it returns: the caller acts on it at once (deletes the SMS
from the modem, answers the consumer). Times are passed in as ``now`` (epoch seconds).

The operations that take a record's worth of keyword arguments name them once, as a
``TypedDict`` (:class:`PduArgs`, :class:`MessageArgs`, :class:`JobArgs`,
:class:`TransitionArgs`, :class:`ReportArgs`), which the protocol and every backend
take as ``**kwargs: Unpack[...]``: callers still pass keywords, and mypy checks them.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from pathlib import Path
from typing import NotRequired, Protocol, TypedDict, Unpack

from gateway.jobs import JobEvent, JobState
from gateway.journal.health import JournalHealth
from gateway.journal.records import (
    CodeRecord,
    JobEventRecord,
    JobRecord,
    MessageRecord,
    NewCode,
    PduRecord,
    PduStatus,
    PurgeCounts,
    RecordedPdu,
    ReportMatch,
    StoredMessage,
)


class PduArgs(TypedDict):
    """What :meth:`Journal.record_pdu` takes: a PDU as read from ``index`` of ``memory``."""

    modem: str
    memory: str
    index: int
    pdu_hex: str
    now: float
    #: what recognises the same SMS seen again (:func:`~gateway.journal.dedupe_key`);
    #: absent or None: the hash of the raw hex
    key: NotRequired[str | None]
    status: NotRequired[PduStatus]  # absent: PduStatus.OK
    reason: NotRequired[str | None]  # why it was quarantined (log-safe, no content)


class AssembledMessage(TypedDict):
    """A message joined from its parts, as the journal stores it."""

    modem: str
    sender: str
    scts: datetime
    text: str
    parts: int
    expected_parts: int
    now: float  # when its first part was received
    #: the sender's kind (a :class:`gateway.sms.address.SenderType` value); absent: None
    sender_type: NotRequired[str | None]


class MessageArgs(AssembledMessage):
    """What :meth:`Journal.store_decided` takes besides the decision: the message, linked."""

    pdu_ids: Sequence[int]  # its PDUs' rows: linked to it, so no longer "unassembled"


class JobArgs(TypedDict):
    """What :meth:`Journal.create_job` takes: a new send job."""

    job_id: str
    number: str
    origin: str
    embedded: str | None
    text: str
    now: float
    expires_at: float
    requested_by: NotRequired[int | None]  # the uid that asked (SO_PEERCRED); absent: None


class TransitionArgs(TypedDict):
    """What :meth:`Journal.transition_job` takes besides the job and the event."""

    now: float
    references: NotRequired[Sequence[int]]  # one TP-MR per part, with ACCEPTED
    not_before: NotRequired[float | None]  # the retry time; absent or None: the job's own
    modem: NotRequired[str | None]  # the modem that took the job; absent or None: kept
    detail: NotRequired[str | None]  # for the job's history (log-safe, no secrets)


class ReportArgs(TypedDict):
    """What :meth:`Journal.record_delivery_report` takes: a status report and its window."""

    modem: str
    reference: int  # TP-MR (TS 23.040 §9.2.3.6)
    recipient: str  # TP-RA
    status: int  # TP-ST (§9.2.3.15)
    now: float
    window: float  # how far back a sent part may match


class Journal(Protocol):
    """The gateway's durable record: received PDUs, messages and codes, send jobs, counters."""

    #: where the records are (shown by ``status``)
    path: Path

    def close(self) -> None:
        """Let go of the store (idempotent)."""

    # -- health: is a write durable where it belongs -------------------------------------
    def health(self) -> JournalHealth:
        """Return the current health (as of the last write or check)."""

    def on_health(self, listener: Callable[[JournalHealth], None]) -> None:
        """Call ``listener`` with the new health each time it changes, after the write."""

    def verify(self) -> JournalHealth:
        """Check now that the store written to is the one configured; never raises.

        Returns the health after the check; it may mark the journal degraded, never healthy.
        """

    def durable(self) -> bool:
        """Return True when what was committed is where it belongs and writes work.

        Asked before an SMS is deleted from the modem; never raises.
        """

    def probe(self) -> JournalHealth:
        """Try one write of a received SMS's size; return the health after it; never raises."""

    def counters(self) -> dict[str, int]:
        """Return every counter by name."""

    # -- receive: PDUs, messages and codes -----------------------------------------------
    def record_pdu(self, **pdu: Unpack[PduArgs]) -> RecordedPdu:
        """Store a PDU read from the modem, unless the same SMS (``key``) was stored before.

        Durable when it returns: only then may the caller delete the SMS from the modem.
        Returns the row id and whether it was new; raises ``JournalError`` when the
        write fails.
        """

    def pdus(self, *, unassembled: bool = False) -> list[PduRecord]:
        """Return stored PDUs, oldest first; ``unassembled``: decoded, not yet acted on."""

    def mark_handled(self, pdu_id: int, *, now: float) -> bool:
        """Record that the status report ``pdu_id`` was handed on.

        Returns False when it is unknown or already handled; raises ``JournalError``
        when the write fails.
        """

    def store_decided(
        self, *, decision: str, code: NewCode | None = None, **message: Unpack[MessageArgs]
    ) -> StoredMessage:
        """Store a judged message, its PDU links and its code (if any) all at once.

        Returns the message id and the code record; raises ``JournalRefused`` for
        inconsistent arguments, ``JournalError`` for a failed write (nothing stored).
        """

    def record_decision(
        self, message_id: int, *, decision: str, code: NewCode | None = None
    ) -> StoredMessage | None:
        """Record the decision on a stored, undecided message (and its code) at once.

        Returns None when the message is unknown or already decided; raises
        ``JournalError`` when the write fails.
        """

    def undecided(self, modem: str) -> list[MessageRecord]:
        """Return ``modem``'s stored messages the OTP rules never judged, oldest first."""

    def recent_codes(self, *, since: float, now: float) -> list[CodeRecord]:
        """Return the unexpired codes received at or after ``since``, in id order.

        Claimed ones too (a resuming subscriber replays them). For the relay's start.
        """

    def last_code_id(self) -> int:
        """Return the highest code id stored (0 when there is none): the resume cursor."""

    def mark_claimed(self, code_id: int, *, now: float, claimant: str) -> bool:
        """Record that the code ``code_id`` was handed to a consumer.

        Returns False when it was already claimed or is unknown, True otherwise.
        """

    def release_claim(self, code_id: int, *, claimant: str) -> bool:
        """Undo ``claimant``'s claim of ``code_id`` (its answer never reached the consumer).

        Returns whether a claim by ``claimant`` was there to undo.
        """

    # -- send: jobs and delivery reports -------------------------------------------------
    def create_job(self, **job: Unpack[JobArgs]) -> JobRecord:
        """Store a new queued job; return it; raise ``JournalError`` on a reused id."""

    def job(self, job_id: str) -> JobRecord:
        """Return one job; raise ``JournalError`` when there is none with that id."""

    def transition_job(
        self, job_id: str, event: JobEvent, **step: Unpack[TransitionArgs]
    ) -> JobRecord:
        """Apply ``event`` through :data:`gateway.jobs.TRANSITIONS` and record it.

        Returns the updated job; raises ``IllegalTransition`` for a move the table
        forbids and ``JournalError`` for an unknown job.
        """

    def jobs(self, states: Collection[JobState] | None = None) -> list[JobRecord]:
        """Return jobs (optionally only in ``states``), oldest first."""

    def job_events(self, job_id: str) -> list[JobEventRecord]:
        """Return a job's history, oldest first."""

    def recover_jobs(self, *, now: float) -> list[JobRecord]:
        """Settle jobs left by a stopped daemon; return the queued ones still valid.

        A job found ``sending`` becomes ``unknown`` (never resent); expired ones ``expired``.
        """

    def send_history(self, *, since: float) -> list[tuple[str, str, float]]:
        """Return ``(number, origin, created_at)`` of jobs created since ``since``."""

    def record_delivery_report(self, **report: Unpack[ReportArgs]) -> ReportMatch | None:
        """Store a status report; match it to the newest part sent within ``window``.

        Returns the match with the job's per-part tally, or None (the report is kept).
        """

    # -- retention -----------------------------------------------------------------------
    def purge(self, now: float) -> PurgeCounts:
        """Apply retention at ``now``; return how many rows changed per kind.

        Raises ``JournalError`` when the write fails (nothing changed then).
        """
