"""The SIM: get it to READY, entering the configured PIN at most once (TS 27.007 §8.3).

AT+CPIN? says what the SIM wants. A PIN is sent once only: a wrong one is never retried,
because three wrong attempts lock the SIM behind its PUK (TS 31.102 §9). Before sending
it, the SIM is identified (ICCID) and its remaining attempts read (:mod:`.simid`); the
:class:`~gateway.modem.pinguard.PinGuard` refuses a PIN this SIM rejected before (also in
an earlier process) and refuses to spend the last attempt. The PIN is recorded as pending
before it is sent, so an entry whose reply never comes counts as a used attempt at the
next start (the rule is in :func:`~gateway.modem.pinguard.decide`). A SIM that is missing, wants
its PUK or is blocked needs a person; so does a missing PIN.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import structlog

from gateway.at import CmeError, Command, Kind
from gateway.at.events import Response
from gateway.errors import ModemFault
from gateway.modem.pinguard import Decision, PinGuard, PinRecordError, SimKey
from gateway.modem.simid import Tolerant, read_iccid, read_pin_attempts

log = structlog.get_logger("gateway.modem.init")

Reporter = Callable[[str, object], None]


class Runner(Protocol):
    """Runs one AT command and returns its response (raising only on timeout/link loss)."""

    async def __call__(self, command: Command, /) -> Response: ...


class PinSettings(Protocol):
    """What unlocking reads of the initialisation's settings (:class:`.init.InitConfig`)."""

    @property
    def pin(self) -> str | None:
        """The configured SIM PIN, or None."""

    @property
    def busy_retries(self) -> int:
        """How often a busy SIM is asked again."""

    @property
    def busy_backoff(self) -> float:
        """The first wait (seconds) before asking a busy SIM again."""

    @property
    def busy_backoff_max(self) -> float:
        """The longest such wait (the wait doubles up to it)."""


class SimError(ModemFault):
    """The SIM cannot be used; retrying will not help (needs a person)."""


class PinRequired(SimError):
    """The SIM asks for a PIN and none is configured."""


class WrongPin(SimError):
    """The configured PIN was rejected (+CME ERROR: 16); it is never tried again."""


class SimLocked(SimError):
    """The SIM wants its PUK, is blocked, or is missing."""


class PinNotSent(SimError):
    """The PIN was not entered: one attempt left, or the rejection record is unusable."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PinContext:
    """What PIN entry needs besides the runner: the guard and the device (fallback key)."""

    guard: PinGuard
    device: str


async def unlock_sim(
    ok: Runner,
    config: PinSettings,
    report: Reporter,
    *,
    tolerant: Tolerant,
    pins: PinContext,
    cpin_info_final: bool = False,
) -> None:
    """Get the SIM to READY, entering the configured PIN at most once.

    ``ok`` runs a command and raises for a failure result (retrying busy ones);
    ``tolerant`` returns None instead; ``report("sim", state)`` receives each +CPIN
    state read; ``cpin_info_final`` takes the ``+CPIN:`` line alone as the answer (the
    dialect quirk of modems that send no ``OK`` after it). Returns when READY; raises
    PinRequired, WrongPin (now or before), PinNotSent (last attempt, unusable record),
    SimLocked, or a typed AT error.
    """
    pin_sent = False
    delay = config.busy_backoff
    for _ in range(config.busy_retries + 1):
        try:
            response = await ok(
                Command(
                    text="AT+CPIN?", prefixes=("+CPIN",), kind=Kind.SIM, info_final=cpin_info_final
                )
            )
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
            if not pin_sent and config.pin is not None:
                await _settle_pending(tolerant, pins)
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
        await _enter_pin(ok, config.pin, tolerant, pins)
    raise SimLocked("the SIM did not become ready")


async def _settle_pending(tolerant: Tolerant, pins: PinContext) -> None:
    """A READY SIM had a correct PIN entered: drop its pending entries (lost replies)."""
    try:
        if not await pins.guard.has_pending():
            return
        await pins.guard.accepted(
            await _sim_key(tolerant, pins), device=pins.device, pending_only=True
        )
    except PinRecordError as exc:
        log.warning("modem.pin_record", error=str(exc))


async def _sim_key(tolerant: Tolerant, pins: PinContext) -> SimKey:
    """Name the SIM by its ICCID, or by the device when the modem cannot read it."""
    iccid = await read_iccid(tolerant)
    return SimKey(kind="iccid", value=iccid) if iccid else SimKey(kind="device", value=pins.device)


async def _enter_pin(ok: Runner, pin: str, tolerant: Tolerant, pins: PinContext) -> None:
    """Send ``pin`` once if the guard allows it; record the outcome for this SIM."""
    key = await _sim_key(tolerant, pins)
    attempts = await read_pin_attempts(tolerant)
    try:
        decision = await pins.guard.decide(key, pin, attempts, device=pins.device)
    except PinRecordError as exc:
        raise PinNotSent(f"PIN not entered: {exc}") from exc
    log.info("modem.pin_check", sim=key.label, attempts_left=attempts, decision=decision.value)
    if decision is Decision.REJECTED_BEFORE:
        raise WrongPin(
            f"{key.label} rejected the configured PIN before; not sending it again "
            "(correct the PIN in the configuration)"
        )
    if decision is Decision.LAST_ATTEMPT:
        left = "one attempt is" if attempts is not None else "at most one attempt is"
        raise PinNotSent(
            f"{key.label}: {left} left before the PUK lock; not entering the PIN "
            "automatically (check it, then enter it by hand with AT+CPIN)"
        )
    if decision is Decision.UNCONFIRMED:
        raise PinNotSent(
            f"{key.label}: the configured PIN was sent before but its reply never came, "
            "and the modem cannot count the attempts left; not sending it again (check "
            "the SIM by hand, then remove the PIN record)"
        )
    try:
        # written before sending: a reply lost to a timeout, unplug or crash still counts
        await pins.guard.attempting(key, pin, device=pins.device)
    except PinRecordError as exc:
        raise PinNotSent(f"PIN not entered: {exc}") from exc
    log.info("modem.pin", command="AT+CPIN=<redacted>")
    entry = Command(text=f'AT+CPIN="{pin}"', kind=Kind.SIM, secret=True)
    try:
        await ok(entry)
    except CmeError as exc:
        if exc.code != 16:
            raise
        note = ""
        try:
            await pins.guard.rejected(key, pin, device=pins.device)
        except PinRecordError as record:
            note = f"; the rejection could not be recorded ({record}): fix the PIN first"
        raise WrongPin(
            f"{key.label} rejected the configured PIN (+CME ERROR: 16); not retrying{note}"
        ) from exc
    try:
        await pins.guard.accepted(key, device=pins.device)
    except PinRecordError as exc:
        log.warning("modem.pin_record", error=str(exc))
