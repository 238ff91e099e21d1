"""The sans-I/O AT engine: bytes in, events out; commands in, bytes out; deadlines as data.

Three verbs, as h11 has: :meth:`AtEngine.feed` takes bytes read from the modem and returns
events; :meth:`AtEngine.send` turns a command into bytes to write; :meth:`AtEngine.timeout`
is called by the shell once ``now >= engine.deadline``. Anything else the engine wants
written (the PDU body after ``> ``, ESC, resynchronisation probes) is collected by
:meth:`AtEngine.data_to_send`. No clock, no I/O: ``now`` is passed in.

Resynchronisation (after any timeout, after a reply that does not fit its command, and
on demand): write ESC (cancels a ``> `` prompt that came late, TS 27.005 §3.5.1) and a
probe whose answer identifies itself: ``ATS7=<nonce>S7?`` writes a nonce to S-parameter 7
and reads it back in one command line (V.250 §5.3.2: basic commands concatenate, an
S-parameter read answers its value as three decimal digits). A modem answers commands in
order, so once the current nonce comes back followed by ``OK``, every answer to anything
written before the probe has been seen: the engine is IDLE again. Until then everything
that arrives is stale and discarded (URCs among it still go out as URCs). A bare ``OK``
proves nothing, which is why the probe is not ``AT``. The nonce changes with every probe
(1..255, cycling from a seed), so a late answer to an earlier probe is stale too.

Why S7: V.250 §6.3.9 "connection completion timeout" only matters when dialling a data
call, which this gateway never does; it takes 1..255; it is implemented widely (listed in
AT+CLAC of the Huawei K3715/E1752 and ZTE K3565-Z recordings, SIMCom, Quectel manuals).
S0 (auto-answer), S3/S4/S5 (line framing characters) would be harmful to write. A modem
that refuses the S7 probe (an error and no nonce before the probe's deadline) is probed
next with ``AT+CSMP=17,<nonce>,0,0;+CSMP?`` (TS 27.005 §3.3.2: the validity period of
*text-mode* sends, which this gateway never uses: it sends in PDU mode), answered by
``+CSMP: 17,<nonce>,0,0``; the forms alternate while refused. Either way only a reply
carrying the current nonce ends the resynchronisation.

Unanswered probes are repeated with a doubling wait (``probe`` up to ``quick``): a modem
that answers later than that is not answering within our limits. After ``max_probes`` the
engine reports :class:`ResyncFailed` and rests in NOT_ANSWERING until a new resync is
asked for, or until the last probe's nonce turns up after all.

Every entry into resynchronisation increments :attr:`AtEngine.generation`; a
:class:`Response` carries the generation it was matched in, so a caller can tell whether
anything was lost between a read and the delete that depends on it.
"""

from __future__ import annotations

import re

from gateway.at.commands import Command, Kind, Timeouts
from gateway.at.errors import AtUsageError
from gateway.at.events import (
    Event,
    Final,
    MalformedUrc,
    Misfit,
    Phase,
    Prompt,
    Response,
    Resynced,
    ResyncFailed,
    ResyncStalled,
    RoutedMessage,
    RoutedReport,
    Stray,
    Timeout,
    Unrecognised,
)
from gateway.at.lines import FinalResult, fields, is_hex, is_int, parse_final, pdu_text, tag_of
from gateway.at.states import TRANSITIONS, Machine, State, Trigger
from gateway.at.urc import PduHeader, classify

__all__ = [
    "CTRL_Z",
    "ESC",
    "MAX_LINE",
    "PROBE_REGISTER",
    "TRANSITIONS",
    "AtEngine",
    "State",
    "Trigger",
    "probe",
]

ESC = b"\x1b"
CTRL_Z = b"\x1a"
MAX_LINE = 4096  # longer than any PDU line (2 * 176 hex digits); beyond it: garbage
PROBE_REGISTER = 7  # V.250 §6.3.9, see the module docstring
_NONCES = 255  # S7 takes 1..255 (V.250 §6.3.9)
_NONCE_LINE = re.compile(r"\d{1,3}")
#: tags whose reply form can be told from their URC form (gateway.at.urc.REPLY_FORMS):
#: while resynchronising, a reply-form line is a stale answer, not a URC
_STALE_REPLY_TAGS = ("+CREG", "+CGREG", "+CEREG", "+C5GREG", "+CLIP")
_SYNCING = (State.RESYNC, State.CONFIRM, State.NOT_ANSWERING)


def probe(nonce: int, register: int = PROBE_REGISTER, *, csmp: bool = False) -> bytes:
    """Return the resynchronisation probe for ``nonce``: ESC, CR, ``ATS<r>=<n>S<r>?``, CR.

    ``csmp``: the fallback form ``AT+CSMP=17,<n>,0,0;+CSMP?`` instead. ESC + CR first
    cancel a prompt that may be pending (TS 27.005 §3.5.1); a modem in command state
    ignores the empty line.
    """
    line = f"AT+CSMP=17,{nonce},0,0;+CSMP?" if csmp else f"ATS{register}={nonce}S{register}?"
    return ESC + b"\r" + line.encode("ascii") + b"\r"


class AtEngine:
    """Frames modem output, matches it to the one pending command and classifies URCs."""

    def __init__(
        self,
        *,
        timeouts: Timeouts | None = None,
        max_probes: int = 5,
        nonce_seed: int = 0,
        register: int = PROBE_REGISTER,
    ) -> None:
        if max_probes < 1 or not 0 <= register <= 255:
            raise AtUsageError("max_probes must be positive and register 0..255")
        self.timeouts = timeouts or Timeouts()
        self.max_probes = max_probes
        self.register = register
        self.generation = 0  # incremented at every entry into resynchronisation
        self._machine = Machine()
        self._buffer = bytearray()
        self._out = bytearray()
        self._pending: Command | None = None
        self._lines: list[str] = []
        self._header: PduHeader | None = None
        self._deadline: float | None = None
        self._probes = 0
        self._nonce = nonce_seed % _NONCES  # the next probe carries _nonce + 1
        self._heard = False  # the modem wrote something since the last probe: alive
        self._refused = False  # an error final came since the last probe: try the other form
        self._csmp = False  # probing with the AT+CSMP form (the modem refused S7)

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

    @property
    def nonce(self) -> int:
        """The nonce of the last probe written (1..255)."""
        return self._nonce

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
        if state in (State.RESYNC, State.CONFIRM):
            if not self._heard:
                events.append(ResyncStalled(probes=self._probes))
            if self._refused:
                self._csmp = not self._csmp  # this form is refused here: the other one
            if self._probes >= self.max_probes:
                self._machine.apply(Trigger.GIVE_UP)
                self._deadline = None
                events.append(ResyncFailed(probes=self._probes))
            else:
                self._machine.apply(Trigger.TIMEOUT)
                self._probe(now)
        elif self._info_complete():
            # dialect quirk (Command.info_final): the information line was the whole answer;
            # completed as if OK had come, through the same path as a real final result
            self._on_final("OK", FinalResult(final=Final.OK), events, now)
        elif self._pending is not None:
            events.append(Timeout(command=self._pending.log_text, phase=self._phase()))
            self._machine.apply(Trigger.TIMEOUT)
            self._start_resync(now)
        return events

    def data_to_send(self) -> bytes:
        """Return (and forget) bytes the engine wants written: bodies, ESC, probes."""
        out = bytes(self._out)
        self._out.clear()
        return out

    def resync(self, now: float) -> None:
        """Abandon any pending command and resynchronise (e.g. after opening the port)."""
        self._machine.apply(Trigger.RESYNC)
        self._start_resync(now)

    def reset(self) -> None:
        """Forget everything (the link was reopened): IDLE, no buffers, nothing pending.

        Starts a new generation: nothing matched before the reset is trusted after it.
        """
        self._machine = Machine()
        self._buffer.clear()
        self._out.clear()
        self._pending = None
        self._lines = []
        self._header = None
        self._deadline = None
        self._probes = 0
        self._heard = False
        self.generation += 1

    # ------------------------------------------------------------------ internals
    @staticmethod
    def _decode(raw: bytes) -> str:
        # Replacement decoding: no byte sequence can raise (field notes: babca#121).
        text = raw.decode("utf-8", errors="replace")
        return "".join(c for c in text if c >= " " or c == "\t").strip()

    def _phase(self) -> Phase:
        return {
            State.AWAIT_RESPONSE: Phase.RESPONSE,
            State.AWAIT_PROMPT: Phase.PROMPT,
            State.AWAIT_SEND_RESULT: Phase.BODY,
        }[self.state]

    def _start_resync(self, now: float) -> None:
        """Entered RESYNC: forget the pending command, new generation, first probe."""
        self.generation += 1
        self._pending = None
        self._lines = []
        self._probes = 0
        self._probe(now)

    def _probe(self, now: float) -> None:
        self._heard = False
        self._refused = False
        self._probes += 1
        self._nonce = self._nonce % _NONCES + 1
        self._out += probe(self._nonce, self.register, csmp=self._csmp)
        # doubling waits, capped at the quick-command timeout (see the module docstring)
        wait = min(self.timeouts.probe * 2 ** (self._probes - 1), self.timeouts.quick)
        self._deadline = now + max(wait, self.timeouts.probe)

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
        elif self.state in _SYNCING:
            # A late prompt: cancel it at once; the ESC answer (OK) is discarded as stale.
            self._buffer.clear()
            self._out += ESC + b"\r"  # a bare ESC CR is ignored by a modem not in entry
            events.append(Stray(line=">"))
            if self.state is State.CONFIRM:
                self._machine.apply(Trigger.STRAY)  # after the ESC: a fresh nonce is needed

    def _end_line(self, events: list[Event], now: float) -> None:
        line = self._decode(bytes(self._buffer))
        self._buffer.clear()
        if line:
            self._heard = True
            self._on_line(line, events, now)

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
        if state in (State.RESYNC, State.NOT_ANSWERING) and self._is_nonce(line):
            self._machine.apply(Trigger.NONCE)
            self._deadline = now + self.timeouts.probe  # its OK follows at once
            return
        if state is State.AWAIT_SEND_RESULT and pending is not None and line == pending.body:
            return  # echo of the body typed after the prompt
        final = parse_final(line)
        if final is not None:
            self._on_final(line, final, events, now)
            return
        if pending is not None:
            expected = pending.prefixes
        else:
            expected = _STALE_REPLY_TAGS if state in _SYNCING else ()
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
        if state in _SYNCING:
            events.append(Stray(line=line))
            if state is State.CONFIRM:
                self._machine.apply(Trigger.STRAY)  # not the probe's answer after all
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

    def _is_nonce(self, line: str) -> bool:
        # V.250 §5.3.2: three digits with leading zeros; some firmwares drop the zeros
        if _NONCE_LINE.fullmatch(line):
            return int(line) == self._nonce
        # the fallback form: +CSMP: <fo>,<vp>,<pid>,<dcs> (TS 27.005 §3.3.2)
        if tag_of(line) != "+CSMP":
            return False
        parts = fields(line)
        return len(parts) == 4 and is_int(parts[1]) and int(parts[1]) == self._nonce

    @staticmethod
    def _fits(command: Command, lines: list[str]) -> bool:
        """True when an OK reply has the shape ``command`` needs (structural only).

        Exactly one line with the needed tag (a read or a send answers one ``+CMGR``
        header or one ``+CMGS`` result; two mean noise or a stray line mixed in), and
        for a PDU command a PDU line after it: an untagged line :meth:`_belongs` took
        (whatever it accepts as a PDU line, the check follows). Optional fields are not
        looked at: dialects differ there (``+CMGR: ,,56``).
        """
        if command.needs is None:
            return True
        tagged = [at for at, line in enumerate(lines) if tag_of(line) == command.needs]
        if len(tagged) != 1:
            return False
        rest = lines[tagged[0] + 1 :]
        return not command.pdu or any(tag_of(line) is None for line in rest)

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
        if state is State.CONFIRM:
            if result.final is Final.OK:
                self._machine.apply(Trigger.PROBE_OK)
                self._deadline = None
                events.append(Resynced(probes=self._probes))
                self._probes = 0
            else:
                # the nonce then an error: not a shape S7 gives; probe again after a pause
                events.append(Stray(line=line))
                self._machine.apply(Trigger.STRAY)
                self._pause(now)
            return
        if state in (State.RESYNC, State.NOT_ANSWERING):
            # A late final result (or a modem refusing the probe): stale, keep waiting for
            # the nonce; the probe's own deadline decides when to probe again (with the
            # other form if an error came: the modem may refuse this one).
            events.append(Stray(line=line))
            if result.final is not Final.OK:
                self._refused = True
            return
        pending = self._pending
        if pending is None:
            events.append(Stray(line=line))
            return
        if result.final is Final.OK and (
            state is State.AWAIT_PROMPT or not self._fits(pending, self._lines)
        ):
            # TS 27.005 §3.5.1: AT+CMGS answers "> " or an error, never a bare OK; a read
            # or send without its information line is not this command's answer. Its own
            # answer may still be on the way: resynchronise, discard whatever comes.
            events.append(Misfit(command=pending.log_text, phase=self._phase()))
            self._machine.apply(Trigger.MISFIT)
            self._start_resync(now)
            return
        self._machine.apply(Trigger.FINAL)
        events.append(
            Response(
                command=pending.log_text,
                final=result.final,
                lines=tuple(self._lines),
                code=result.code,
                text=result.text,
                generation=self.generation,
            )
        )
        self._pending = None
        self._lines = []
        self._deadline = None

    def _pause(self, now: float) -> None:
        if self._deadline is None or self._deadline > now + self.timeouts.drain:
            self._deadline = now + self.timeouts.drain
