"""Turning relay replies into values and exceptions (shared by both clients)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import NoReturn

from gateway.relay.errors import error_for
from gateway.relay.messages import Error
from gateway.relay.ports import CodeRecord, JobEvent, JobStatus, SendAccepted


def code_from(data: Mapping[str, object]) -> CodeRecord:
    """Return the :class:`CodeRecord` of a ``get`` result or ``code`` event.

    Its ``cursor`` (``record_id``) is the one the gateway sent, if any.
    """
    embedded = data.get("embedded_origin")
    cursor = data.get("cursor")
    return CodeRecord(
        origin=str(data["origin"]),
        embedded_origin=None if embedded is None else str(embedded),
        code=str(data["code"]),
        sender=str(data["sender"]),
        received_at=dt.datetime.fromisoformat(str(data["received_at"])),
        record_id=cursor if isinstance(cursor, int) and not isinstance(cursor, bool) else None,
    )


def accepted_from(data: Mapping[str, object]) -> SendAccepted:
    """Return the :class:`SendAccepted` of a ``send`` result (job id, status, code)."""
    code = data.get("code")
    return SendAccepted(
        job_id=str(data["job"]),
        status=JobStatus(data.get("status", JobStatus.QUEUED.value)),
        code=None if code is None else str(code),
    )


def job_event_from(data: Mapping[str, object]) -> JobEvent:
    """Return the :class:`JobEvent` of a ``job`` event."""
    detail = data.get("detail")
    return JobEvent(
        job_id=str(data["job"]),
        status=JobStatus(data["status"]),
        at=dt.datetime.fromisoformat(str(data["at"])),
        detail=None if detail is None else str(detail),
    )


def raise_error(message: Error) -> NoReturn:
    """Raise the typed exception of an error reply."""
    raise error_for(message.code, message.message, retry_after=message.retry_after)
