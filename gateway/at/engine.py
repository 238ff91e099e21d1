"""The sans-I/O AT engine: bytes in, events out; commands in, bytes out; deadlines as data.

Three verbs, as h11 has: :meth:`AtEngine.feed` takes bytes read from the modem and returns
events; :meth:`AtEngine.send` turns a command into bytes to write; :meth:`AtEngine.timeout`
is called by the shell once ``now >= engine.deadline``. Anything else the engine wants
written (the PDU body after ``> ``, ESC, resynchronisation probes) is collected by
:meth:`AtEngine.data_to_send`. No clock, no I/O: ``now`` is passed in.

Resynchronisation (after any timeout, and on demand): write ESC (cancels a ``> `` prompt
that came late, TS 27.005 §3.5.1) and a bare ``AT`` probe; on ``OK`` wait a quiet
``drain`` period. Any final result or reply line during that period is a late answer (to
the timed-out command or to an earlier probe), so the engine probes again. Only a probe
answered by ``OK`` followed by silence returns the engine to IDLE, so a late reply is never
handed to the next command.
"""

from __future__ import annotations

from gateway.at.commands import Command, Kind, Timeouts
from gateway.at.errors import AtUsageError
from gateway.at.events import (
    Event,
    Final,
    MalformedUrc,
    Phase,
    Prompt,
    Response,
    Resynced,
    ResyncStalled,
    RoutedMessage,
    RoutedReport,
    Stray,
    Timeout,
    Unrecognised,
)
from gateway.at.lines import FinalResult, is_hex, parse_final, pdu_text, tag_of
from gateway.at.states import TRANSITIONS, Machine, State, Trigger
from gateway.at.urc import PduHeader, classify

__all__ = ["CTRL_Z", "ESC", "MAX_LINE", "PROBE", "TRANSITIONS", "AtEngine", "State", "Trigger"]

ESC = b"\x1b"
CTRL_Z = b"\x1a"
PROBE = b"\x1b\rAT\r"  # ESC + CR first: cancels a pending prompt, then an empty line
MAX_LINE = 4096  # longer than any PDU line (2 * 176 hex digits); beyond it: garbage


class AtEngine:
    """Frames modem output, matches it to the one pending command and classifies URCs."""

    def __init__(self, *, timeouts: Timeouts | None = None) -> None:
        self.timeouts = timeouts or Timeouts()
        self._machine = Machine()
        self._buffer = bytearray()
        self._out = bytearray()
        self._pending: Command | None = None
        self._lines: list[str] = []
        self._header: PduHeader | None = None
        self._deadline: float | None = None
        self._probes = 0
        self._reprobe = False  # the modem answered a probe with an error: alive, not stalled

    # ------------------------------------------------------------------ observers
    @property
    def state(self) -> State:
        """The current :class:`State`."""
        return self._machine.state

    @property
    def deadline(self) -> float | None:
        """When the shell must call :meth:`timeout` (same clock as ``now``), or ``None``."""
        return self._deadline

    @property
    def pending(self) -> Command | None:
        """The command in flight, if any."""
        return self._pending

    @property
    def idle(self) -> bool:
        """True when a new command may be sent."""
        return self._machine.state is State.IDLE

    # ------------------------------------------------------------------ verbs
    def send(self, command: Command, now: float) -> bytes:
        """Start ``command``; return the bytes to write.

        Raises AtUsageError when a command is in flight or the engine is resynchronising.
        """
        trigger = Trigger.SEND_BODY if command.kind is Kind.SEND else Trigger.SEND
        if not self._machine.allows(trigger):
            raise AtUsageError(f"cannot send while {self.state.value}")
        self._machine.apply(trigger)
        self._pending = command
        self._lines = []
        self._deadline = now + self.timeouts.response(command.kind)
        return command.encode()

    def feed(self, data: bytes, now: float) -> list[Event]:
        """Consume bytes read from the modem; return the events they complete. Never raises."""
        events: list[Event] = []
        for byte in data:
            if byte in (0x0D, 0x0A):
                self._end_line(events, now)
                continue
            if len(self._buffer) >= MAX_LINE:
                events.append(Unrecognised(line=self._decode(bytes(self._buffer))))
                self._buffer.clear()
            self._buffer.append(byte)
            if byte == 0x3E:  # '>' - the prompt has no line terminator (TS 27.005 §3.5.1)
                self._maybe_prompt(events, now)
        return events

    def timeout(self, now: float) -> list[Event]:
        """Handle an expired deadline; return the resulting events (none if not yet due)."""
        if self._deadline is None or now < self._deadline:
            return []
        events: list[Event] = []
        state = self.state
        if state is State.DRAIN:
            self._machine.apply(Trigger.QUIET)
            self._deadline = None
            events.append(Resynced(probes=self._probes))
            self._probes = 0
        elif state is State.RESYNC:
            if not self._reprobe:
                events.append(ResyncStalled(probes=self._probes))
            self._reprobe = False
            self._machine.apply(Trigger.TIMEOUT)
            self._probe(now)
        elif self._info_complete():
            # dialect quirk (Command.info_final): the information line was the whole answer;
            # completed as if OK had come, through the same path as a real final result
            self._on_final("OK", FinalResult(final=Final.OK), events, now)
        elif self._pending is not None:
            phase = {
                State.AWAIT_RESPONSE: Phase.RESPONSE,
                State.AWAIT_PROMPT: Phase.PROMPT,
                State.AWAIT_SEND_RESULT: Phase.BODY,
            }[state]
            events.append(Timeout(command=self._pending.log_text, phase=phase))
            self._machine.apply(Trigger.TIMEOUT)
            self._pending = None
            self._probes = 0
            self._probe(now)
        return events

    def data_to_send(self) -> bytes:
        """Return (and forget) bytes the engine wants written: bodies, ESC, probes."""
        out = bytes(self._out)
        self._out.clear()
        return out

    def resync(self, now: float) -> None:
        """Abandon any pending command and resynchronise (e.g. after opening the port)."""
        self._machine.apply(Trigger.RESYNC)
        self._pending = None
        self._lines = []
        self._probes = 0
        self._probe(now)

    def reset(self) -> None:
        """Forget everything (the link was reopened): IDLE, no buffers, nothing pending."""
        self._machine = Machine()
        self._buffer.clear()
        self._out.clear()
        self._pending = None
        self._lines = []
        self._header = None
        self._deadline = None
        self._probes = 0
        self._reprobe = False

    # ------------------------------------------------------------------ internals
    @staticmethod
    def _decode(raw: bytes) -> str:
        # Replacement decoding: no byte sequence can raise (field notes: babca#121).
        text = raw.decode("utf-8", errors="replace")
        return "".join(c for c in text if c >= " " or c == "\t").strip()

    def _probe(self, now: float) -> None:
        self._reprobe = False
        self._probes += 1
        self._out += PROBE
        self._deadline = now + self.timeouts.probe

    def _maybe_prompt(self, events: list[Event], now: float) -> None:
        if self._decode(bytes(self._buffer)) != ">":
            return
        if self.state is State.AWAIT_PROMPT and self._pending is not None:
            self._buffer.clear()
            body = self._pending.body or ""
            self._machine.apply(Trigger.PROMPT)
            self._out += body.encode("ascii") + CTRL_Z
            self._deadline = now + self.timeouts.body
            events.append(Prompt(command=self._pending.log_text))
        elif self.state in (State.RESYNC, State.DRAIN):
            # A late prompt: cancel it at once; the ESC answer (OK) is drained as stray.
            self._buffer.clear()
            self._out += ESC + b"\r"  # a bare ESC CR is ignored by a modem not in entry
            events.append(Stray(line=">"))
            self._stray(now)

    def _end_line(self, events: list[Event], now: float) -> None:
        line = self._decode(bytes(self._buffer))
        self._buffer.clear()
        if line:
            self._on_line(line, events, now)

    def _stray(self, now: float) -> None:
        if self.state is State.DRAIN:
            self._machine.apply(Trigger.STRAY)
            self._probe(now)

    def _on_line(self, line: str, events: list[Event], now: float) -> None:
        header, self._header = self._header, None
        if header is not None:
            if is_hex(line):
                cls = RoutedMessage if header.tag == "+CMT" else RoutedReport
                events.append(cls(length=header.length, pdu=line.upper()))
                return
            events.append(MalformedUrc(line=header.line, reason="PDU line missing"))
        state = self.state
        pending = self._pending
        if self._is_echo(line, pending):
            return  # echo of a command line, even after ATE0 (V.250 §6.2.4)
        if state is State.AWAIT_SEND_RESULT and pending is not None and line == pending.body:
            return  # echo of the body typed after the prompt
        final = parse_final(line)
        if final is not None:
            self._on_final(line, final, events, now)
            return
        expected = pending.prefixes if pending is not None else ()
        urc = classify(line, expected)
        if isinstance(urc, PduHeader):
            self._header = urc
            return
        if urc is not None:
            events.append(urc)
            return
        if pending is not None and self._belongs(line, pending):
            self._lines.append(line)
            if pending.info_final and self._deadline is not None:
                # the final result, if this modem sends one, comes with the line: wait
                # only the drain period for it (see _info_complete)
                self._deadline = min(self._deadline, now + self.timeouts.drain)
            return
        if state in (State.RESYNC, State.DRAIN):
            events.append(Stray(line=line))
            self._stray(now)
            return
        events.append(Unrecognised(line=line))

    @staticmethod
    def _is_echo(line: str, pending: Command | None) -> bool:
        upper = line.upper()
        if not upper.startswith("AT"):
            return False
        if pending is None or not pending.bare:
            return True  # no reply line of a tagged command starts with AT
        # a bare value may start with "AT" (a manufacturer, say): drop only exact echoes
        return upper in (pending.text.upper(), "AT")

    def _info_complete(self) -> bool:
        pending = self._pending
        return (
            self.state is State.AWAIT_RESPONSE
            and pending is not None
            and pending.info_final
            and bool(self._lines)
        )

    def _belongs(self, line: str, pending: Command) -> bool:
        tag = tag_of(line)
        if tag is not None and tag in pending.prefixes:
            return True
        if pending.pdu and self._lines and pdu_text(line) is not None:
            return True  # pdu_text: also a PDU line with a stray quote (gammu at-sms/04)
        # An untagged value must look like one: printable, no replacement characters.
        return pending.bare and tag is None and "\ufffd" not in line and line.isprintable()

    def _on_final(self, line: str, result: FinalResult, events: list[Event], now: float) -> None:
        state = self.state
        if state is State.RESYNC:
            if result.final is Final.OK:
                self._machine.apply(Trigger.PROBE_OK)
                self._deadline = now + self.timeouts.drain
            else:
                # A late error, or a modem answering probes with +CME ERROR: 14 while the
                # SIM starts: probe again soon (after a drain period, so never a tight loop).
                events.append(Stray(line=line))
                self._reprobe = True
                if self._deadline is None or self._deadline > now + self.timeouts.drain:
                    self._deadline = now + self.timeouts.drain
            return
        if state is State.DRAIN:
            events.append(Stray(line=line))
            self._stray(now)
            return
        pending = self._pending
        if pending is None:
            events.append(Stray(line=line))
            return
        self._machine.apply(Trigger.FINAL)
        events.append(
            Response(
                command=pending.log_text,
                final=result.final,
                lines=tuple(self._lines),
                code=result.code,
                text=result.text,
            )
        )
        self._pending = None
        self._lines = []
        self._deadline = None
