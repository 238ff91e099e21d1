"""What the relay needs from the daemon, as typed ports (house style §6).

The daemon implements these and passes them to :class:`~gateway.relay.server.RelayServer`
at composition time. Codes flow the other way: the daemon calls
:meth:`RelayServer.offer(record) <gateway.relay.server.RelayServer.offer>` for each code
record (that hands it to the :class:`~gateway.relay.broker.Broker`).
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Protocol

from gateway.relay.errors import RelayError
from gateway.relay.messages import normalise_origin


def _check_host(name: str, value: str | None) -> None:
    if value is None:
        return
    try:
        valid = normalise_origin(value) == value
    except RelayError:
        valid = False
    if not valid:
        raise ValueError(f"{name} must be a normalised host")


def _check_aware(name: str, value: dt.datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime")


@dataclass(frozen=True, slots=True, kw_only=True)
class CodeRecord:
    """An origin-bound code the gateway received (what a ``get`` resolves with)."""

    origin: str
    embedded_origin: str | None = None
    code: str
    sender: str
    received_at: dt.datetime
    # the journal's id for it; sent to clients only as the ``cursor`` a subscriber resumes
    # from (a client's records carry the cursor they were sent with here)
    record_id: int | str | None = None
    # who it was handed to (the relay's claimant: ``relay``, or the peer's uid and the
    # get's ``key``); set on what the relay reports through ``on_claim``, never sent
    claimed_by: str | None = None

    def __post_init__(self) -> None:
        _check_host("origin", self.origin)
        _check_host("embedded_origin", self.embedded_origin)
        if not self.code:
            raise ValueError("code must not be empty")
        _check_aware("received_at", self.received_at)

    @property
    def cursor(self) -> int | None:
        """Return the code's place in the gateway's sequence (``record_id``), if an integer."""
        rid = self.record_id
        return rid if isinstance(rid, int) and not isinstance(rid, bool) else None

    def __repr__(self) -> str:
        # Codes never reach logs or tracebacks through a repr (house style §8).
        return (
            f"CodeRecord(origin={self.origin!r}, embedded_origin={self.embedded_origin!r}, "
            f"code='***', sender='***', received_at={self.received_at.isoformat()!r})"
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class SendRequest:
    """A consumer's request to send an origin-bound OTP SMS (validated by the daemon)."""

    number: str
    origin: str
    embedded_origin: str | None = None
    code: str | None = None
    text: str | None = None
    peer_uid: int | None = None

    def __post_init__(self) -> None:
        if not self.number:
            raise ValueError("number must not be empty")
        _check_host("origin", self.origin)
        _check_host("embedded_origin", self.embedded_origin)

    def __repr__(self) -> str:
        return f"SendRequest(number='***', origin={self.origin!r}, code='***')"


class JobStatus(enum.Enum):
    """The states of a send job a consumer can observe."""

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    EXPIRED = "expired"
    UNKNOWN = "unknown"

    @property
    def final(self) -> bool:
        """Whether no further status can follow."""
        return self in {JobStatus.DELIVERED, JobStatus.FAILED, JobStatus.EXPIRED}


@dataclass(frozen=True, slots=True, kw_only=True)
class SendAccepted:
    """The daemon stored the job; ``job_id`` names it in later events.

    ``code`` is the code the SMS carries (the requester's or the one generated for it):
    the sender has to know it to check what the user types.
    """

    job_id: str
    status: JobStatus = JobStatus.QUEUED
    code: str | None = None

    def __post_init__(self) -> None:
        if not self.job_id:
            raise ValueError("job_id must not be empty")

    def __repr__(self) -> str:
        shown = None if self.code is None else "***"
        return f"SendAccepted(job_id={self.job_id!r}, status={self.status}, code={shown!r})"


@dataclass(frozen=True, slots=True, kw_only=True)
class JobEvent:
    """One status change of a send job."""

    job_id: str
    status: JobStatus
    at: dt.datetime
    detail: str | None = None

    def __post_init__(self) -> None:
        _check_aware("at", self.at)


class SendPort(Protocol):
    """The daemon's send queue as the relay sees it."""

    async def submit(self, request: SendRequest) -> SendAccepted:
        """Validate and store a send job; return its id at once.

        Raises a :class:`~gateway.relay.errors.RelayError` subclass: ``RateLimited``
        (with ``retry_after``), ``BadRequest`` (invalid number, refused country, code too
        long), ``Unavailable``.
        """
        ...

    def watch(self, job_id: str) -> AsyncIterator[JobEvent]:
        """Iterate the job's status changes, ending after a final one.

        Raises ``NotFound`` (from the iterator) for an unknown job.
        """
        ...


class StatusPort(Protocol):
    """The daemon's health as the relay reports it for ``status``."""

    async def refresh(self) -> None:
        """Start bringing slow figures up to date; return promptly, never wait on a modem."""
        ...

    def snapshot(self) -> Mapping[str, object]:
        """Return modems (state, signal, registration, operator, storage), queue depth,
        counters and uptime as JSON-serialisable data."""
        ...
