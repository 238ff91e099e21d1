"""Starting the configured modems together: the gateway serves if at least one is up."""

from __future__ import annotations

import asyncio

import structlog

from gateway.modem.session import ModemSession

log = structlog.get_logger("gateway.daemon")


async def start_sessions(sessions: dict[str, ModemSession]) -> dict[str, ModemSession]:
    """Start every session concurrently; log each one that fails to initialise.

    Returns the sessions that started, by name. Raises the first session's error (a
    cancellation first) when none did.
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
            log.warning(
                "modem.start_failed",
                modem=name,
                error=type(result).__name__,
                reason=str(result),
            )
        else:
            active[name] = sessions[name]
    if not active:
        cancelled = [e for e in errors if isinstance(e, asyncio.CancelledError)]
        raise cancelled[0] if cancelled else errors[0]
    return active
