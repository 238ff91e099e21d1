"""Sans-I/O AT command-line framing on the modem side (ITU-T V.250 §5.2, TS 27.005 §3.5.1).

Bytes go in with :meth:`AtParser.feed`; :meth:`AtParser.next_event` hands out one event at a
time so the model can switch the parser into PDU/text entry mode (after ``AT+CMGS``) before
the bytes that follow the command are interpreted. Echo (``ATE1``) is decided per byte when
the byte is consumed, so a line containing ``ATE1`` is not echoed if echo was off.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

#: longest command line we accept; V.250 §5.2.1 requires at least 40 characters after "AT"
MAX_LINE = 560
#: longest PDU/text entry (2 x (SCA 12 + TPDU 176) hex digits, with room for CR/LF)
MAX_ENTRY = 1024

CR = 0x0D
LF = 0x0A
CTRL_Z = 0x1A
ESC = 0x1B
BACKSPACE = 0x08


class Mode(enum.Enum):
    """What the next bytes are: command lines, or a message typed after the ``> `` prompt."""

    COMMAND = "command"
    PDU = "pdu"
    TEXT = "text"


@dataclass(frozen=True, slots=True, kw_only=True)
class Echo:
    """Bytes to echo back now (only produced while echo is on)."""

    data: bytes

    def __post_init__(self) -> None:
        if not self.data:
            raise ValueError("empty echo")


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandLine:
    """A complete command line; ``text`` starts with ``AT`` as typed (any case)."""

    text: str

    def __post_init__(self) -> None:
        if self.text[:2].upper() != "AT":
            raise ValueError("command line must start with AT")


@dataclass(frozen=True, slots=True, kw_only=True)
class Repeat:
    """``A/``: execute the previous command line again (V.250 §5.2.4)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LineTooLong:
    """A command line exceeded :data:`MAX_LINE`; the modem answers ``ERROR``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EntryDone:
    """The message typed after ``> `` ended with Ctrl-Z (submit) or ESC (cancelled)."""

    text: str
    cancelled: bool
    overflow: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class TextPrompt:
    """In text entry a CR starts a new line of the message; the modem prompts again."""


Event = Echo | CommandLine | Repeat | LineTooLong | EntryDone | TextPrompt


class AtParser:
    """Frames AT command lines and message entry from a byte stream; never raises on input."""

    __slots__ = ("_buf", "_entry", "_last_cr", "_line", "_overflow", "_pending", "echo", "mode")

    def __init__(self, *, echo: bool = True) -> None:
        self.echo = echo
        self.mode = Mode.COMMAND
        self._buf = bytearray()
        self._line = bytearray()
        self._entry = bytearray()
        self._overflow = False
        self._last_cr = False
        self._pending: Event | None = None

    def feed(self, data: bytes) -> None:
        """Append received bytes; call :meth:`next_event` until it returns None."""
        self._buf += data

    def clear_line(self) -> None:
        """Forget a partially received command line (a new client opened the port)."""
        self._line.clear()
        self._overflow = False
        self._last_cr = False

    def start_entry(self, mode: Mode) -> None:
        """Switch to PDU or text entry after the ``> `` prompt was sent."""
        if mode is Mode.COMMAND:
            raise ValueError("start_entry needs PDU or TEXT")
        self.mode = mode
        self._entry.clear()
        self._overflow = False

    def next_event(self) -> Event | None:
        """Return the next event, or None when more bytes are needed."""
        if self._pending is not None:
            event, self._pending = self._pending, None
            return event
        if self.mode is Mode.COMMAND:
            return self._next_command()
        return self._next_entry()

    def _emit(self, consumed: bytes, event: Event | None) -> Event | None:
        if self.echo and consumed:
            self._pending = event
            return Echo(data=consumed)
        return event

    def _next_command(self) -> Event | None:
        buf = self._buf
        echoed = bytearray()
        i = 0
        event: Event | None = None
        while i < len(buf):
            byte = buf[i]
            i += 1
            if byte == LF and self._last_cr:
                # V.250: LF after the terminator is ignored (and not echoed)
                self._last_cr = False
                continue
            self._last_cr = byte == CR
            echoed.append(byte)
            if byte == CR:
                event = self._finish_line()
                if event is not None:
                    break
                continue
            if byte == BACKSPACE:
                if self._line:
                    self._line.pop()
                continue
            if len(self._line) >= MAX_LINE:
                self._overflow = True
                continue
            self._line.append(byte)
            upper = self._line.upper()
            if upper.endswith(b"A/") and b"AT" not in upper:
                self._line.clear()
                event = Repeat()
                break
        del buf[:i]
        return self._emit(bytes(echoed), event)

    def _finish_line(self) -> Event | None:
        line, overflow = bytes(self._line), self._overflow
        self._line.clear()
        self._overflow = False
        if overflow:
            return LineTooLong()
        start = line.upper().find(b"AT")
        if start < 0:
            return None  # garbage, bare ESC, empty line: no reply (gammu sends ESC CR)
        return CommandLine(text=line[start:].decode("latin-1"))

    def _next_entry(self) -> Event | None:
        buf = self._buf
        echoed = bytearray()
        i = 0
        event: Event | None = None
        while i < len(buf):
            byte = buf[i]
            i += 1
            if byte in (CTRL_Z, ESC):
                event = EntryDone(
                    text=self._entry.decode("latin-1"),
                    cancelled=byte == ESC,
                    overflow=self._overflow,
                )
                self._entry.clear()
                self._overflow = False
                self.mode = Mode.COMMAND
                self._last_cr = False
                break
            echoed.append(byte)
            if byte == BACKSPACE:
                if self._entry:
                    self._entry.pop()
                continue
            if byte in (CR, LF):
                if self.mode is Mode.TEXT and byte == CR:
                    # TS 27.005 §3.5.1: in text mode CR inserts a line break and re-prompts
                    self._append_entry(LF)
                    event = TextPrompt()
                    break
                continue  # CR/LF inside a PDU are stripped
            self._append_entry(byte)
        del buf[:i]
        return self._emit(bytes(echoed), event)

    def _append_entry(self, byte: int) -> None:
        if len(self._entry) >= MAX_ENTRY:
            self._overflow = True
        else:
            self._entry.append(byte)
