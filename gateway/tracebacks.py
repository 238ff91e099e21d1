"""Where an unexpected exception came from, in a form that is always safe to log.

A full traceback may quote values (an exception message with a code, a line of source
holding a body); the redaction of :mod:`gateway.log` catches origin lines, PDUs and
numbers, but not a bare code. :func:`frames` keeps only file, line and function of each
frame: enough to find a programming bug, never data. Pipelines log it at debug level
next to the exception's type. Every layer (pipeline, relay, daemon, modem
session) uses it for the errors it survives.
"""

from __future__ import annotations

import traceback
from pathlib import PurePath

from gateway.errors import GatewayError

#: innermost frames kept (the outer ones are the event loop's)
MAX_FRAMES = 12


def frames(exc: BaseException) -> list[str]:
    """Return ``"dir/file.py:line in function"`` per traceback frame of ``exc``, innermost last.

    No locals, no source lines, no exception message. Returns [] for an exception that
    was never raised. Raises nothing.
    """
    summary = traceback.extract_tb(exc.__traceback__)[-MAX_FRAMES:]
    return [f"{_short(frame.filename)}:{frame.lineno} in {frame.name}" for frame in summary]


def safe_reason(exc: BaseException) -> str:
    """Return text about ``exc`` that may be logged or shown in ``status``.

    Our own errors (:class:`gateway.errors.GatewayError`) are written to be safe and keep
    their message; anything else may carry data (a code, a PIN, a PDU), so only its type
    name is returned. Raises nothing.
    """
    if isinstance(exc, GatewayError):
        return str(exc)
    return type(exc).__name__


def _short(filename: str) -> str:
    parts = PurePath(filename).parts
    return "/".join(parts[-2:])
