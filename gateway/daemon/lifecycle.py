"""Signals and the daemon's life from start to exit code (house style §7).

SIGTERM/SIGINT: stop (``STOPPING=1``, drain within a bound, unlink the socket), exit 0.
SIGHUP: ``RELOADING=1``, re-read the configuration, swap allow-lists and access rules,
``READY=1``; a broken file is logged and the running configuration kept. SIGTERM/SIGINT
during start-up abort the start cleanly; a SIGHUP then (or under ``run --simulate``,
which has no file) is ignored with a ``daemon.reload_ignored`` warning.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import structlog

from gateway.config import Config, load
from gateway.config.preflight import preflight
from gateway.daemon.app import Gateway, ModemStuck
from gateway.errors import GatewayError
from gateway.exits import EXIT
from gateway.sdnotify import Notifier
from gateway.tracebacks import frames

log = structlog.get_logger("gateway.daemon")

#: Seconds the send queue gets to finish or record its in-flight job on SIGTERM.
DRAIN_TIMEOUT = 10.0

#: Exit status when a modem stayed present but not ready through reopen and radio
#: reset (sysexits.h EX_UNAVAILABLE): not in RestartPreventExitStatus, so systemd
#: restarts the daemon, which re-opens and re-initialises every modem from scratch.
EXIT_MODEM_STUCK = EXIT["not_ready"]


def reload_from(gateway: Gateway, path: Path) -> bool:
    """Re-read ``path`` and apply it to ``gateway`` (the SIGHUP action).

    Returns True when applied; False (logged, old configuration kept) when the file is
    invalid or applying it failed. Tells the service manager ``RELOADING=1`` before and
    always ``READY=1`` after (systemd otherwise keeps the unit "reloading" for good).
    """
    notifier = gateway.notifier
    notifier.notify(RELOADING=1, MONOTONIC_USEC=time.monotonic_ns() // 1000)
    try:
        gateway.reload(load(path))
        return True
    except GatewayError as exc:
        log.error("daemon.reload_failed", error=str(exc))
        return False
    except Exception as exc:  # a bug must not leave the unit reloading or kill the daemon
        log.error("daemon.reload_failed", error=type(exc).__name__, frames=frames(exc))
        return False
    finally:
        notifier.ready(gateway.status_line())


async def serve(
    gateway: Gateway,
    *,
    config_path: Path | None = None,
    on_ready: Callable[[Gateway], Awaitable[None] | None] | None = None,
    drain: float = DRAIN_TIMEOUT,
) -> int:
    """Start ``gateway``, serve until SIGTERM/SIGINT, stop; return the exit status.

    0 after a signal, 1 when a part of the daemon failed, 69
    (:data:`EXIT_MODEM_STUCK`) when a modem stayed not ready through every escalation
    step. SIGHUP reloads from
    ``config_path`` once started; before that, or without a path (``run --simulate``),
    it is ignored and ``daemon.reload_ignored`` says why. Start-up errors propagate
    (after cleanup).
    """
    loop = asyncio.get_running_loop()
    starting = asyncio.current_task()
    started = False

    def terminate() -> None:
        if started:
            gateway.request_stop()
        elif starting is not None:
            starting.cancel()

    def hangup() -> None:
        if config_path is None:
            log.warning("daemon.reload_ignored", reason="no configuration file to re-read")
        elif not started:
            log.warning(
                "daemon.reload_ignored", reason="still starting; send SIGHUP again once ready"
            )
        else:
            reload_from(gateway, config_path)

    signals = {signal.SIGTERM: terminate, signal.SIGINT: terminate, signal.SIGHUP: hangup}
    for number, handler in signals.items():
        loop.add_signal_handler(number, handler)
    try:
        try:
            await gateway.start()
        except asyncio.CancelledError:
            if starting is not None:
                starting.uncancel()
            log.info("daemon.start_aborted")
            return 0
        started = True
        if on_ready is not None:
            result = on_ready(gateway)
            if result is not None:
                await result
        try:
            await gateway.serve_forever()
            status = 0
        except ModemStuck as exc:
            log.error("daemon.failed", error=str(exc), exit_status=EXIT_MODEM_STUCK)
            status = EXIT_MODEM_STUCK
        except GatewayError as exc:
            log.error("daemon.failed", error=str(exc))
            status = 1
        await gateway.stop(drain)
        return status
    finally:
        for number in signals:
            with contextlib.suppress(ValueError, RuntimeError):
                loop.remove_signal_handler(number)


def run_config(path: Path, *, config: Config | None = None) -> int:
    """Load ``path`` (unless ``config`` is given) and run the daemon in a new event loop.

    Returns the exit status; raises :class:`ConfigError` for a bad file and the start-up
    errors of :meth:`Gateway.start`.
    """
    loaded = config if config is not None else load(path)
    # check-config's checks, now as the daemon's real user and with its credentials:
    # what would keep the daemon from working is refused here, with the key named
    for warning in preflight(loaded, path, credentials=True):
        log.warning(warning.event, key=warning.key, problem=warning.problem)
    return asyncio.run(serve(Gateway(loaded, notifier=Notifier()), config_path=path))
