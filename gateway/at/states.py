"""The AT engine's command cycle as a table (house style §3): states, triggers, moves.

A command is written (IDLE -> AWAIT_RESPONSE, or AWAIT_PROMPT for one with a body such
as AT+CMGS, TS 27.005 §3.5.1); its final result returns to IDLE. Any timeout leads to
RESYNC: a probe is written and, once it is answered, DRAIN waits for silence before the
engine is IDLE again. :class:`Machine` applies the table and refuses any other move.
"""

from __future__ import annotations

from enum import Enum

from gateway.at.errors import AtUsageError


class State(Enum):
    """Where the engine is in the command cycle."""

    IDLE = "idle"
    AWAIT_RESPONSE = "await-response"
    AWAIT_PROMPT = "await-prompt"
    AWAIT_SEND_RESULT = "await-send-result"
    RESYNC = "resync"  # probe written, waiting for its OK
    DRAIN = "drain"  # probe answered, waiting for silence


class Trigger(Enum):
    """What makes the engine change state."""

    SEND = "send"
    SEND_BODY = "send-with-body"
    PROMPT = "prompt"
    FINAL = "final"
    TIMEOUT = "timeout"
    RESYNC = "resync"
    PROBE_OK = "probe-ok"
    STRAY = "stray"
    QUIET = "quiet"
    RESET = "reset"


S, E = State, Trigger
#: (state, trigger) -> next state. Anything not listed is illegal.
TRANSITIONS: dict[tuple[State, Trigger], State] = {
    (S.IDLE, E.SEND): S.AWAIT_RESPONSE,
    (S.IDLE, E.SEND_BODY): S.AWAIT_PROMPT,
    (S.IDLE, E.RESYNC): S.RESYNC,
    (S.AWAIT_RESPONSE, E.FINAL): S.IDLE,
    (S.AWAIT_RESPONSE, E.TIMEOUT): S.RESYNC,
    (S.AWAIT_PROMPT, E.PROMPT): S.AWAIT_SEND_RESULT,
    (S.AWAIT_PROMPT, E.FINAL): S.IDLE,  # e.g. +CMS ERROR instead of a prompt
    (S.AWAIT_PROMPT, E.TIMEOUT): S.RESYNC,
    (S.AWAIT_SEND_RESULT, E.FINAL): S.IDLE,
    (S.AWAIT_SEND_RESULT, E.TIMEOUT): S.RESYNC,
    (S.RESYNC, E.PROBE_OK): S.DRAIN,
    (S.RESYNC, E.TIMEOUT): S.RESYNC,  # probe unanswered: probe again
    (S.RESYNC, E.STRAY): S.RESYNC,
    (S.RESYNC, E.RESYNC): S.RESYNC,
    (S.DRAIN, E.STRAY): S.RESYNC,
    (S.DRAIN, E.QUIET): S.IDLE,
    (S.DRAIN, E.RESYNC): S.RESYNC,
    (S.AWAIT_RESPONSE, E.RESYNC): S.RESYNC,
    (S.AWAIT_PROMPT, E.RESYNC): S.RESYNC,
    (S.AWAIT_SEND_RESULT, E.RESYNC): S.RESYNC,
}


class Machine:
    """Applies :data:`TRANSITIONS`; raises on an illegal move."""

    def __init__(self) -> None:
        self.state = State.IDLE

    def allows(self, trigger: Trigger) -> bool:
        """Return True when ``trigger`` is a legal move from the current state."""
        return (self.state, trigger) in TRANSITIONS

    def apply(self, trigger: Trigger) -> State:
        """Make the move for ``trigger``; return the new state.

        Raises :class:`AtUsageError` for a move the table does not list.
        """
        try:
            self.state = TRANSITIONS[self.state, trigger]
        except KeyError:
            raise AtUsageError(f"{trigger.value} is illegal in state {self.state.value}") from None
        return self.state
