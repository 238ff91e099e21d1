"""Tests of the modem-side AT framing (atparse) and command splitting (atcommand)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.simulator.atcommand import CommandSyntaxError, Form, parse_args, split_line
from gateway.simulator.atparse import (
    MAX_LINE,
    AtParser,
    CommandLine,
    Echo,
    EntryDone,
    Event,
    LineTooLong,
    Mode,
    Repeat,
    TextPrompt,
)


def events(parser: AtParser, data: bytes) -> list[Event]:
    """Feed ``data`` and drain every event."""
    parser.feed(data)
    out: list[Event] = []
    while (event := parser.next_event()) is not None:
        out.append(event)
    return out


def commands(data: bytes) -> list[Event]:
    """Events of ``data`` with echo off."""
    return events(AtParser(echo=False), data)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"AT\r", [CommandLine(text="AT")]),
        (b"at+csq\r\n", [CommandLine(text="at+csq")]),
        (b"\x1b\r", []),
        (b"\r\n\r\n", []),
        (b"\xff\x00noiseAT+CMGF=0\r", [CommandLine(text="AT+CMGF=0")]),
        (b"AT\rAT+CSQ\r", [CommandLine(text="AT"), CommandLine(text="AT+CSQ")]),
        (b"A/", [Repeat()]),
        (b"a/", [Repeat()]),
        (b"AT" + b"9" * MAX_LINE + b"\r", [LineTooLong()]),
        (b"ATX\x08\x08\x08AT\r", [CommandLine(text="AT")]),
    ],
)
def test_framing_table(data: bytes, expected: list[Event]) -> None:
    """Lines end in CR; LF after it, garbage before AT and a bare ESC are ignored."""
    assert commands(data) == expected


def test_echo_precedes_the_command_event() -> None:
    """With echo on the consumed bytes come out before the command they end."""
    assert events(AtParser(echo=True), b"AT\r") == [Echo(data=b"AT\r"), CommandLine(text="AT")]


def test_pdu_entry_ctrl_z_and_escape() -> None:
    """In PDU entry CR/LF are stripped; Ctrl-Z submits, ESC cancels; then commands again."""
    parser = AtParser(echo=False)
    parser.start_entry(Mode.PDU)
    assert events(parser, b"0011\r\n2233\x1aAT\r") == [
        EntryDone(text="00112233", cancelled=False),
        CommandLine(text="AT"),
    ]
    parser.start_entry(Mode.PDU)
    assert events(parser, b"00\x1b") == [EntryDone(text="00", cancelled=True)]
    assert parser.mode is Mode.COMMAND


def test_text_entry_reprompts_on_cr() -> None:
    """In text entry a CR becomes a line break and asks for another prompt."""
    parser = AtParser(echo=False)
    parser.start_entry(Mode.TEXT)
    assert events(parser, b"one\rtwo\x1a") == [
        TextPrompt(),
        EntryDone(text="one\ntwo", cancelled=False),
    ]


def test_entry_overflow_flagged() -> None:
    """An endless PDU is cut and flagged instead of growing without bound."""
    parser = AtParser(echo=False)
    parser.start_entry(Mode.PDU)
    (done,) = events(parser, b"0" * 5000 + b"\x1a")
    assert isinstance(done, EntryDone)
    assert done.overflow


def test_start_entry_needs_an_entry_mode() -> None:
    """start_entry(COMMAND) is a programming error."""
    with pytest.raises(ValueError, match="PDU or TEXT"):
        AtParser().start_entry(Mode.COMMAND)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=300), st.integers(min_value=1, max_value=17))
def test_echo_reproduces_input_in_any_chunking(data: bytes, chunk: int) -> None:
    """With echo on, echoed bytes are the input minus LFs that follow a CR, however fed."""
    parser = AtParser(echo=True)
    echoed = b""
    for i in range(0, len(data), chunk):
        for event in events(parser, data[i : i + chunk]):
            if isinstance(event, Echo):
                echoed += event.data
    assert echoed == data.replace(b"\r\n", b"\r")


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=300))
def test_chunking_does_not_change_commands(data: bytes) -> None:
    """Whole or byte by byte, the same command events come out (echo off)."""
    parser = AtParser(echo=False)
    one_by_one = [e for b in data for e in events(parser, bytes([b]))]
    assert one_by_one == commands(data)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("AT", []),
        ("ATZ", [("Z", Form.EXEC, "")]),
        ("ATE0V1", [("E", Form.SET, "0"), ("V", Form.SET, "1")]),
        ("AT+CMEE=1;+CREG=2", [("+CMEE", Form.SET, "1"), ("+CREG", Form.SET, "2")]),
        ("AT+CPMS=?", [("+CPMS", Form.TEST, "")]),
        ("AT+CPMS?", [("+CPMS", Form.READ, "")]),
        ('AT+CSCA="+1;5",145', [("+CSCA", Form.SET, '"+1;5",145')]),
        ("AT^CURC=0", [("^CURC", Form.SET, "0")]),
        ("ATS0?", [("S0", Form.READ, "")]),
        ("ATD+15551234;", [("D", Form.SET, "+15551234;")]),
        ("AT&F", [("&F", Form.EXEC, "")]),
    ],
)
def test_split_line_table(line: str, expected: list[tuple[str, Form, str]]) -> None:
    """Basic and extended commands split into (name, form, raw arguments)."""
    assert [(c.name, c.form, c.args) for c in split_line(line)] == expected


@pytest.mark.parametrize("line", ['AT+CSCA="x', "AT+", "AT&", "AT!", "AT+CSQ junk", "ATE²"])
def test_split_line_rejects(line: str) -> None:
    """Malformed lines raise CommandSyntaxError (the modem answers ERROR)."""
    with pytest.raises(CommandSyntaxError):
        split_line(line)


def test_superscript_digits_are_not_numbers() -> None:
    """Latin-1 '²' from the wire is not a digit (str.isdigit would say it is)."""
    with pytest.raises(CommandSyntaxError):
        parse_args("²")


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=60))
def test_split_and_parse_never_raise_foreign_errors(body: str) -> None:
    """Any text gives commands or CommandSyntaxError, never another exception."""
    try:
        for command in split_line("AT" + body):
            parse_args(command.args)
    except CommandSyntaxError:
        pass
