"""Values the journal hands out: rows as frozen dataclasses, never live cursors."""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass, field
from datetime import datetime

from gateway.errors import UsageError
from gateway.jobs import Job, JobState

#: ``messages.decision`` of a message whose code was stored (anything else is a reason)
CODE_DECISION = "code"


class PduStatus(enum.Enum):
    """Whether a received PDU decoded (``ok``) or was kept aside (``quarantined``)."""

    OK = "ok"
    QUARANTINED = "quarantined"


def dedupe_key(
    pdu_hex: str, *, sender: str | None = None, scts: str | None = None, content: str = ""
) -> str:
    """Return the key that recognises the same SMS seen twice.

    With a decoded sender and TP-SCTS the key is (sender, scts, content hash): a network
    redelivery or a failed ``AT+CMGD`` reproduces all three. ``content`` should identify
    the part (text plus concatenation reference/sequence). Without them (undecodable
    PDUs) it is the hash of the raw hex.
    """
    if sender is not None and scts is not None:
        material = f"sms\x00{sender}\x00{scts}\x00{content}"
    else:
        material = "raw\x00" + pdu_hex.strip().upper()
    return hashlib.sha256(material.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordedPdu:
    """The outcome of :meth:`Journal.record_pdu`: the row id and whether it was new."""

    id: int
    new: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class PduRecord:
    """A stored PDU (``raw`` is None once bodies were purged)."""

    id: int
    modem: str
    memory: str
    index: int
    raw: str | None
    received_at: float
    status: PduStatus
    reason: str | None
    message_id: int | None
    handled_at: float | None = None  # set once a status report was handed on


@dataclass(frozen=True, slots=True, kw_only=True)
class CodeRecord:
    """An origin-bound code received by SMS."""

    id: int
    origin: str
    embedded: str | None
    code: str | None  # None once expired
    sender: str
    received_at: float
    expires_at: float
    message_id: int | None
    claimed_by: str | None
    claimed_at: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class NewCode:
    """A code the OTP rules accepted, stored together with its message."""

    origin: str
    embedded: str | None
    code: str = field(repr=False)
    expires_at: float

    def __post_init__(self) -> None:
        if not self.origin or not self.code:
            raise UsageError("new code: need an origin and a code")


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageRecord:
    """A stored assembled message; ``decision`` is None until the OTP rules judged it."""

    id: int
    modem: str
    sender: str
    scts: datetime
    text: str | None = field(repr=False)  # None once bodies were purged
    parts: int
    expected_parts: int
    received_at: float
    decision: str | None  # CODE_DECISION, a rejection reason token, or None: not judged
    #: the sender's kind (a :class:`gateway.sms.address.SenderType` value) from its TP-OA
    #: type of number; None for rows stored before it was kept (schema v3 and older)
    sender_type: str | None = None

    @property
    def complete(self) -> bool:
        """Return True when every expected part was stored."""
        return self.parts == self.expected_parts


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredMessage:
    """The outcome of storing a judged message: its row and its code record, if any."""

    message_id: int
    code: CodeRecord | None


@dataclass(frozen=True, slots=True, kw_only=True)
class JobRecord:
    """A stored send job with its scheduling state."""

    id: str
    number: str
    origin: str
    embedded: str | None
    text: str | None  # None once bodies were purged
    state: JobState
    attempts: int
    not_before: float
    expires_at: float
    created_at: float
    updated_at: float
    modem: str | None
    references: tuple[int, ...]
    requested_by: int | None = None  # uid of the local user who asked for it (SO_PEERCRED)

    def as_job(self) -> Job:
        """Return the pure state-machine view of this job."""
        return Job(
            id=self.id,
            state=self.state,
            attempts=self.attempts,
            not_before=self.not_before,
            expires_at=self.expires_at,
            references=self.references,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class JobEventRecord:
    """One step in a job's history."""

    job_id: str
    at: float
    event: str
    state: JobState
    detail: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportMatch:
    """A delivery report matched to a part of a job, and where the job's parts stand."""

    job_id: str
    part: int
    parts: int
    reported: int  # parts with a report so far
    delivered: int  # parts whose report says delivered (TP-ST 0x00-0x1F, TS 23.040)

    def __post_init__(self) -> None:
        if not 0 <= self.delivered <= self.reported <= self.parts:
            raise UsageError("report match: need delivered <= reported <= parts")

    @property
    def complete(self) -> bool:
        """Return True when every part of the job has a report."""
        return self.reported == self.parts


@dataclass(frozen=True, slots=True, kw_only=True)
class PurgeCounts:
    """How many rows :meth:`Journal.purge` changed, per kind."""

    codes_expired: int
    codes_deleted: int
    bodies_purged: int
    records_deleted: int = 0  # whole rows past record_retention
