"""The simulated SIM: PIN/PUK with attempt counters (TS 27.007 §8.3, TS 31.102 §9).

Three wrong PINs lock the SIM behind its PUK; ten wrong PUKs block it for good.
"""

from __future__ import annotations

import enum

from gateway.simulator.atcommand import is_number
from gateway.simulator.results import CommandFailed, cme

PIN_ATTEMPTS = 3
PUK_ATTEMPTS = 10
DEFAULT_PUK = "12345678"


class SimState(enum.Enum):
    """What ``AT+CPIN?`` reports."""

    READY = "READY"
    PIN = "SIM PIN"
    PUK = "SIM PUK"
    BLOCKED = "BLOCKED"


class SimEvent(enum.Enum):
    """Outcome of one code entry."""

    CORRECT = "correct"
    WRONG = "wrong"
    EXHAUSTED = "exhausted"


TRANSITIONS: dict[tuple[SimState, SimEvent], SimState] = {
    (SimState.PIN, SimEvent.CORRECT): SimState.READY,
    (SimState.PIN, SimEvent.WRONG): SimState.PIN,
    (SimState.PIN, SimEvent.EXHAUSTED): SimState.PUK,
    (SimState.PUK, SimEvent.CORRECT): SimState.READY,
    (SimState.PUK, SimEvent.WRONG): SimState.PUK,
    (SimState.PUK, SimEvent.EXHAUSTED): SimState.BLOCKED,
}


class Sim:
    """PIN state and attempt counters; survives modem reboots like a real card."""

    __slots__ = ("pin", "pin_left", "puk", "puk_left", "state")

    def __init__(self, pin: str | None) -> None:
        self.pin = pin
        self.puk = DEFAULT_PUK
        self.pin_left = PIN_ATTEMPTS
        self.puk_left = PUK_ATTEMPTS
        self.state = SimState.READY if pin is None else SimState.PIN

    def power_on(self) -> None:
        """A power cycle asks for the PIN again (if one is set and the SIM is not locked)."""
        if self.pin is not None and self.state is SimState.READY:
            self.state = SimState.PIN

    def _move(self, event: SimEvent) -> None:
        self.state = TRANSITIONS[(self.state, event)]

    def enter(self, code: str, new_pin: str | None) -> None:
        """Apply ``AT+CPIN=<code>[,<newpin>]``; raise CommandFailed like a modem would."""
        if self.state is SimState.READY:
            raise CommandFailed(cme(3))  # no PIN needed: operation not allowed
        if self.state is SimState.BLOCKED:
            raise CommandFailed(cme(13))
        if self.state is SimState.PIN:
            if code == self.pin:
                self.pin_left = PIN_ATTEMPTS
                self._move(SimEvent.CORRECT)
                return
            self.pin_left -= 1
            self._move(SimEvent.EXHAUSTED if self.pin_left == 0 else SimEvent.WRONG)
            raise CommandFailed(cme(16))
        # SIM PUK: TS 27.007 §8.3 needs the new PIN as second parameter
        if new_pin is None or not is_number(new_pin) or not 4 <= len(new_pin) <= 8:
            raise CommandFailed(cme(3))
        if code == self.puk:
            self.pin, self.pin_left, self.puk_left = new_pin, PIN_ATTEMPTS, PUK_ATTEMPTS
            self._move(SimEvent.CORRECT)
            return
        self.puk_left -= 1
        self._move(SimEvent.EXHAUSTED if self.puk_left == 0 else SimEvent.WRONG)
        raise CommandFailed(cme(16))

    def require_ready(self) -> None:
        """Raise CommandFailed (+CME ERROR 11/12/13) unless the SIM is unlocked."""
        code = {SimState.PIN: 11, SimState.PUK: 12, SimState.BLOCKED: 13}.get(self.state)
        if code is not None:
            raise CommandFailed(cme(code))
