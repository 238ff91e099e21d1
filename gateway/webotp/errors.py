"""Errors of the WebOTP codec.

:class:`FormatError` is the fault of the *message* (an SMS that is not origin-bound, a host
that is not a valid host); :class:`InputError` is the fault of our *caller* (a bad
``compose`` argument, a bad allow-list entry). Both are also :class:`ValueError`, so code
that only knows the standard library can catch them.

Messages never quote an OTP code or a message body, so they are safe to log.
"""

from __future__ import annotations

from gateway.errors import GatewayError, UsageError

#: hosts are quoted in error sentences; a hostile 1 MB "host" is cut to this many characters
_SHOW_MAX = 80


def show(value: str) -> str:
    """Return ``value`` quoted for an error sentence, escaped and cut to a readable length."""
    if len(value) > _SHOW_MAX:
        return repr(value[:_SHOW_MAX]) + f"… ({len(value)} characters)"
    return repr(value)


class FormatError(GatewayError, ValueError):
    """A text is not a valid origin-bound message, or a host is not a valid host.

    ``reason`` is a stable machine-readable token (``"no-origin-line"``,
    ``"host-has-port"``, …); ``message`` is one human sentence without the code or body.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message

    def __reduce__(self) -> tuple[type[FormatError], tuple[str, str]]:
        return (type(self), (self.reason, self.message))


class InputError(UsageError, ValueError):
    """A caller passed an invalid argument: ``key`` names it, ``reason`` is a token."""

    def __init__(self, key: str, reason: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key = key
        self.reason = reason
        self.problem = problem

    def __reduce__(self) -> tuple[type[InputError], tuple[str, str, str]]:
        return (type(self), (self.key, self.reason, self.problem))
