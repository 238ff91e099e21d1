"""The AT engine's command cycle as a table (house style §3): states, triggers, moves.

A command is written (IDLE -> AWAIT_RESPONSE, or AWAIT_PROMPT for one with a body such
as AT+CMGS, TS 27.005 §3.5.1); its final result returns to IDLE. Any timeout, and a reply
whose shape does not fit its command (MISFIT), leads to RESYNC: a probe carrying a nonce
is written; once the nonce comes back (CONFIRM) and the probe's OK follows, the engine is
IDLE again. Probes that stay unanswered end in NOT_ANSWERING, left by a new resync or by
the last probe's nonce arriving after all. :class:`Machine` applies the table and refuses
any other move.
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
    RESYNC = "resync"  # probe written, waiting for its nonce
    CONFIRM = "confirm"  # the nonce came back, waiting for the probe's final OK
    NOT_ANSWERING = "not-answering"  # every probe of the resync went unanswered


class Trigger(Enum):
    """What makes the engine change state."""

    SEND = "send"
    SEND_BODY = "send-with-body"
    PROMPT = "prompt"
    FINAL = "final"
    TIMEOUT = "timeout"
    MISFIT = "misfit"  # a final result whose reply does not fit the command
    RESYNC = "resync"
    NONCE = "nonce"  # the current probe's nonce came back
    PROBE_OK = "probe-ok"
    STRAY = "stray"
    GIVE_UP = "give-up"
    RESET = "reset"


S, E = State, Trigger
#: (state, trigger) -> next state. Anything not listed is illegal.
TRANSITIONS: dict[tuple[State, Trigger], State] = {
    (S.IDLE, E.SEND): S.AWAIT_RESPONSE,
    (S.IDLE, E.SEND_BODY): S.AWAIT_PROMPT,
    (S.IDLE, E.RESYNC): S.RESYNC,
    (S.AWAIT_RESPONSE, E.FINAL): S.IDLE,
    (S.AWAIT_RESPONSE, E.MISFIT): S.RESYNC,
    (S.AWAIT_RESPONSE, E.TIMEOUT): S.RESYNC,
    (S.AWAIT_PROMPT, E.PROMPT): S.AWAIT_SEND_RESULT,
    (S.AWAIT_PROMPT, E.FINAL): S.IDLE,  # e.g. +CMS ERROR instead of a prompt
    (S.AWAIT_PROMPT, E.MISFIT): S.RESYNC,  # a bare OK instead of a prompt: not ours
    (S.AWAIT_PROMPT, E.TIMEOUT): S.RESYNC,
    (S.AWAIT_SEND_RESULT, E.FINAL): S.IDLE,
    (S.AWAIT_SEND_RESULT, E.MISFIT): S.RESYNC,  # OK without +CMGS: outcome unknown
    (S.AWAIT_SEND_RESULT, E.TIMEOUT): S.RESYNC,
    (S.RESYNC, E.NONCE): S.CONFIRM,
    (S.RESYNC, E.TIMEOUT): S.RESYNC,  # probe unanswered: probe again (new nonce)
    (S.RESYNC, E.STRAY): S.RESYNC,
    (S.RESYNC, E.RESYNC): S.RESYNC,
    (S.RESYNC, E.GIVE_UP): S.NOT_ANSWERING,
    (S.CONFIRM, E.PROBE_OK): S.IDLE,
    (S.CONFIRM, E.STRAY): S.RESYNC,  # the nonce, then no OK: probe again
    (S.CONFIRM, E.TIMEOUT): S.RESYNC,
    (S.CONFIRM, E.RESYNC): S.RESYNC,
    (S.CONFIRM, E.GIVE_UP): S.NOT_ANSWERING,
    (S.NOT_ANSWERING, E.NONCE): S.CONFIRM,  # the last probe answered after all
    (S.NOT_ANSWERING, E.RESYNC): S.RESYNC,
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
