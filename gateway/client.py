"""The otp-gateway client library (re-exported from :mod:`gateway.relay.client`).

from gateway.client import Client
with Client("/run/otp-gateway/gateway.sock") as client:
    print(client.get("shop.example", timeout=120).code)
"""

from __future__ import annotations

from gateway.relay.aclient import AsyncClient, AsyncJobWatch
from gateway.relay.client import Client, JobWatch
from gateway.relay.errors import (
    BadRequest,
    Cancelled,
    ErrorCode,
    Forbidden,
    LineTooLong,
    NotFound,
    RateLimited,
    RelayError,
    Timeout,
    TooManyPending,
    Unavailable,
)
from gateway.relay.messages import DEFAULT_SOCKET
from gateway.relay.ports import CodeRecord, JobEvent, JobStatus

__all__ = [
    "DEFAULT_SOCKET",
    "AsyncClient",
    "AsyncJobWatch",
    "BadRequest",
    "Cancelled",
    "Client",
    "CodeRecord",
    "ErrorCode",
    "Forbidden",
    "JobEvent",
    "JobStatus",
    "JobWatch",
    "LineTooLong",
    "NotFound",
    "RateLimited",
    "RelayError",
    "Timeout",
    "TooManyPending",
    "Unavailable",
]
