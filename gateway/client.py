"""The otp-gateway client library (re-exported from :mod:`gateway.relay.client`).

from gateway.client import Client
with Client("/run/otp-gateway/gateway.sock") as client:
    print(client.get("shop.example", timeout=120).code)
"""

from __future__ import annotations

from gateway.relay.aclient import AsyncClient, AsyncJobWatch
from gateway.relay.client import Client, JobWatch, connect, connect_async
from gateway.relay.errors import (
    BadRequest,
    Cancelled,
    ErrorCode,
    Forbidden,
    LineTooLong,
    NotFound,
    NumberTypeRefused,
    OriginMismatch,
    RateLimited,
    RelayError,
    Timeout,
    TooManyPending,
    Unavailable,
)
from gateway.relay.messages import DEFAULT_SOCKET
from gateway.relay.ports import CodeRecord, JobEvent, JobStatus

#: what ``get`` returns and ``subscribe`` yields
Code = CodeRecord

__all__ = [
    "DEFAULT_SOCKET",
    "AsyncClient",
    "AsyncJobWatch",
    "BadRequest",
    "Cancelled",
    "Client",
    "Code",
    "CodeRecord",
    "ErrorCode",
    "Forbidden",
    "JobEvent",
    "JobStatus",
    "JobWatch",
    "LineTooLong",
    "NotFound",
    "NumberTypeRefused",
    "OriginMismatch",
    "RateLimited",
    "RelayError",
    "Timeout",
    "TooManyPending",
    "Unavailable",
    "connect",
    "connect_async",
]
