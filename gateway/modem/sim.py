"""The SIM: get it to READY, entering the configured PIN at most once (TS 27.007 §8.3).

AT+CPIN? says what the SIM wants. A PIN is sent once only: a wrong one is never retried,
because three wrong attempts lock the SIM behind its PUK (TS 31.102 §9). A SIM that is
missing, wants its PUK or is blocked needs a person; so does a missing PIN.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

import structlog

from gateway.at import CmeError, Command, Kind, query
from gateway.errors import ModemFault

if TYPE_CHECKING:
    from gateway.modem.init import InitConfig, Runner

log = structlog.get_logger("gateway.modem.init")

Reporter = Callable[[str, object], None]


class SimError(ModemFault):
    """The SIM cannot be used; retrying will not help (needs a person)."""


class PinRequired(SimError):
    """The SIM asks for a PIN and none is configured."""


class WrongPin(SimError):
    """The configured PIN was rejected (+CME ERROR: 16); it is never tried again."""


class SimLocked(SimError):
    """The SIM wants its PUK, is blocked, or is missing."""


async def unlock_sim(ok: Runner, config: InitConfig, report: Reporter) -> None:
    """Get the SIM to READY, entering the configured PIN at most once.

    ``ok`` runs a command and raises for a failure result (retrying busy ones);
    ``report("sim", state)`` receives each +CPIN state read. Returns when READY; raises
    PinRequired, WrongPin, SimLocked, or a typed AT error.
    """
    pin_sent = False
    delay = config.busy_backoff
    for _ in range(config.busy_retries + 1):
        try:
            response = await ok(query("AT+CPIN?", "+CPIN", kind=Kind.SIM))
        except CmeError as exc:
            if exc.code == 10:
                raise SimLocked("no SIM inserted (+CME ERROR: 10)") from exc
            if exc.code in (11, 12, 13):
                raise SimLocked(f"SIM unusable: {exc}") from exc
            raise
        state = next(
            (line.partition(":")[2].strip().upper() for line in response.lines),
            "",
        )
        report("sim", state)
        if state == "READY":
            return
        if state != "SIM PIN":
            raise SimLocked(f"SIM needs {state or 'an unknown code'}; enter it by hand")
        if pin_sent:
            # accepted, but the SIM is still starting: ask again after a pause (capped
            # backoff, bounded by busy_retries; +CPIN: READY URCs are not universal)
            await asyncio.sleep(delay)
            delay = min(delay * 2, config.busy_backoff_max)
            continue
        if config.pin is None:
            raise PinRequired("the SIM asks for a PIN and none is configured")
        pin_sent = True
        log.info("modem.pin", command="AT+CPIN=<redacted>")
        entry = Command(text=f'AT+CPIN="{config.pin}"', kind=Kind.SIM, secret=True)
        try:
            await ok(entry)
        except CmeError as exc:
            if exc.code == 16:
                raise WrongPin(
                    "the SIM rejected the configured PIN (+CME ERROR: 16); not retrying"
                ) from exc
            raise
    raise SimLocked("the SIM did not become ready")
