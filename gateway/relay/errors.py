"""Errors a relay consumer can receive, each with its stable wire code.

Every error reply on the socket carries one :class:`ErrorCode`; the client library raises
the matching :class:`RelayError` subclass, so ``except Forbidden`` works on both sides.
They are :class:`~gateway.errors.RequestError` subclasses: the request could not be served.
"""

from __future__ import annotations

import enum
from typing import ClassVar

from gateway.errors import RequestError


class ErrorCode(enum.Enum):
    """The stable error codes of the relay protocol (``error.code`` on the wire)."""

    FORBIDDEN = "forbidden"
    BAD_REQUEST = "bad-request"
    RATE_LIMITED = "rate-limited"
    TIMEOUT = "timeout"
    UNAVAILABLE = "unavailable"
    NOT_FOUND = "not-found"
    TOO_MANY_PENDING = "too-many-pending"
    LINE_TOO_LONG = "line-too-long"
    CANCELLED = "cancelled"
    ORIGIN_MISMATCH = "origin-mismatch"
    NUMBER_TYPE_REFUSED = "number-type-refused"


class RelayError(RequestError):
    """A request failed with a stable :class:`ErrorCode` and a one-sentence message."""

    code: ClassVar[ErrorCode] = ErrorCode.BAD_REQUEST

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Forbidden(RelayError):
    """The peer may not perform this operation (or see this origin)."""

    code = ErrorCode.FORBIDDEN


class BadRequest(RelayError):
    """The request was malformed: invalid JSON, unknown operation, wrong types."""

    code = ErrorCode.BAD_REQUEST


class OriginMismatch(BadRequest):
    """A ``send`` whose SMS some reader would not read back as exactly the request.

    The composed text, parsed by the spec's reader and by Chromium's, must give the
    requested origin, embedded origin and code; a template carrying an ``@host #code``
    of its own (another origin, another code) or a code/host Chromium reads differently
    is refused. A :class:`BadRequest`, so ``except BadRequest`` still catches it.
    """

    code = ErrorCode.ORIGIN_MISMATCH


class NumberTypeRefused(BadRequest):
    """A ``send`` to a number whose type is not allowed (premium rate, shared cost, ...).

    ``send.allowed_number_types`` lists the accepted types (mobile and
    fixed-line-or-mobile by default): no SMS pumping to revenue-sharing ranges.
    """

    code = ErrorCode.NUMBER_TYPE_REFUSED


class RateLimited(RelayError):
    """A send was refused by a rate limit; ``retry_after`` says when to try again."""

    code = ErrorCode.RATE_LIMITED

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Timeout(RelayError):
    """A ``get`` ended without a matching code within its timeout."""

    code = ErrorCode.TIMEOUT


class Unavailable(RelayError):
    """The gateway (or the part of it this operation needs) cannot serve now."""

    code = ErrorCode.UNAVAILABLE


class NotFound(RelayError):
    """The request names something that does not exist (a job, a pending request)."""

    code = ErrorCode.NOT_FOUND


class TooManyPending(RelayError):
    """The connection already has as many pending ``get`` requests as allowed."""

    code = ErrorCode.TOO_MANY_PENDING


class LineTooLong(RelayError):
    """A request line exceeded the maximum line length; the connection is closed."""

    code = ErrorCode.LINE_TOO_LONG


class Cancelled(RelayError):
    """A pending ``get`` was aborted by a ``cancel`` request (the AbortSignal)."""

    code = ErrorCode.CANCELLED


_BY_CODE: dict[ErrorCode, type[RelayError]] = {
    cls.code: cls
    for cls in (
        Forbidden,
        BadRequest,
        RateLimited,
        Timeout,
        Unavailable,
        NotFound,
        TooManyPending,
        LineTooLong,
        Cancelled,
        OriginMismatch,
        NumberTypeRefused,
    )
}


def error_for(code: ErrorCode, message: str, *, retry_after: float | None = None) -> RelayError:
    """Build the exception for a wire error.

    Returns the :class:`RelayError` subclass instance matching ``code``.
    """
    if code is ErrorCode.RATE_LIMITED:
        return RateLimited(message, retry_after=retry_after)
    return _BY_CODE[code](message)
