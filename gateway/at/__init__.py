"""Sans-I/O AT command engine (TS 27.007 / TS 27.005 framing, URCs, typed errors).

Feed bytes to :class:`AtEngine`, get :mod:`gateway.at.events` back; no I/O, no clock.
"""

from __future__ import annotations

from gateway.at.commands import Command, Kind, Timeouts, action, bare, query
from gateway.at.engine import AtEngine, State
from gateway.at.errors import (
    AtError,
    AtTimeout,
    AtUsageError,
    CmeError,
    CmsError,
    CommandFailed,
    Retry,
)

__all__ = [
    "AtEngine",
    "AtError",
    "AtTimeout",
    "AtUsageError",
    "CmeError",
    "CmsError",
    "Command",
    "CommandFailed",
    "Kind",
    "Retry",
    "State",
    "Timeouts",
    "action",
    "bare",
    "query",
]
