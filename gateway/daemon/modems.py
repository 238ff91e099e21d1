"""Starting the configured modems together: the gateway serves if at least one is up."""

from __future__ import annotations

import asyncio

import structlog

from gateway.daemon.restart import failure_fields
from gateway.modem.session import ModemSession
from gateway.modem.sim import SimError

log = structlog.get_logger("gateway.daemon")


async def start_sessions(sessions: dict[str, ModemSession]) -> dict[str, ModemSession]:
    """Start every session concurrently; log each one that fails to initialise.

    Returns the sessions that started, by name. When none did, raises a cancellation
    first, else a SimError (wrong PIN, locked SIM: the caller exits 78 and systemd must
    not restart and re-enter a PIN), else the first session's error.
    """
    names = list(sessions)
    results = await asyncio.gather(
        *(sessions[name].start() for name in names), return_exceptions=True
    )
    active: dict[str, ModemSession] = {}
    errors: list[BaseException] = []
    for name, result in zip(names, results, strict=True):
        if isinstance(result, BaseException):
            errors.append(result)
            log.warning("modem.start_failed", modem=name, **failure_fields(result))
        else:
            active[name] = sessions[name]
    if not active:
        raise first_error(errors)
    return active


def first_error(errors: list[BaseException]) -> BaseException:
    """Return the error to raise when no modem started: cancellation, SimError, the first."""
    for kind in (asyncio.CancelledError, SimError):
        chosen = [e for e in errors if isinstance(e, kind)]
        if chosen:
            return chosen[0]
    return errors[0]
