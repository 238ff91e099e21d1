"""Tests for the sans-I/O AT engine: tables of captured modem output, whole and byte-wise."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.at import AtEngine, AtUsageError, CmeError, CmsError, Command, Kind, State, Timeouts
from gateway.at.commands import action, bare, query
from gateway.at.engine import TRANSITIONS, Trigger, probe
from gateway.at.events import (
    Event,
    Final,
    MalformedUrc,
    Misfit,
    NewMessage,
    NewReport,
    NoticeKind,
    Phase,
    Prompt,
    Registration,
    Response,
    Resynced,
    ResyncFailed,
    ResyncStalled,
    Ring,
    RoutedMessage,
    RoutedReport,
    SimState,
    Stray,
    Timeout,
    Unrecognised,
    VendorNotice,
)

PDU = "07915155000000F0040B915155214365F700002211207080000005C8329BFD06"
CMGR = Command(text="AT+CMGR=3", prefixes=("+CMGR",), pdu=True, needs="+CMGR")
CMGL = Command(text="AT+CMGL=4", prefixes=("+CMGL",), pdu=True, kind=Kind.LIST)
CREG = query("AT+CREG?", "+CREG")
CGSN = Command(text="AT+CGSN", prefixes=("+CGSN",), bare=True)
CMGS = Command(
    text="AT+CMGS=18",
    prefixes=("+CMGS",),
    kind=Kind.SEND,
    body="0011000B915155214365F70000AA05C8329BFD06",
    needs="+CMGS",
)
FAST = Timeouts(quick=1.0, prompt=1.0, body=2.0, probe=0.5, drain=0.1)


def state(engine: AtEngine) -> State:
    """Return the engine's state (a call, so type narrowing does not stick)."""
    return engine.state


def run(command: Command | None, data: bytes, *, bytewise: bool) -> list[Event]:
    """Send ``command`` (if any) and feed ``data`` whole or one byte at a time."""
    engine = AtEngine(timeouts=FAST)
    if command is not None:
        engine.send(command, 0.0)
    if not bytewise:
        return engine.feed(data, 0.1)
    events: list[Event] = []
    for byte in data:
        events += engine.feed(bytes([byte]), 0.1)
    return events


# (command, captured bytes, expected events)
CASES: list[tuple[Command | None, bytes, list[Event]]] = [
    (action("AT"), b"\r\nOK\r\n", [Response(command="AT", final=Final.OK)]),
    (
        query("AT+CSQ", "+CSQ"),
        b"AT+CSQ\r\r\n+CSQ: 20,99\r\n\r\nOK\r\n",  # echo still on
        [Response(command="AT+CSQ", final=Final.OK, lines=("+CSQ: 20,99",))],
    ),
    (
        CMGR,  # Huawei ^RSSI and a +CMTI in the middle of a +CMGR reply (faucamp#40)
        f'\r\n+CMGR: 0,,23\r\n^RSSI:17\r\n{PDU}\r\n+CMTI: "SM",4\r\n\r\nOK\r\n'.encode(),
        [
            VendorNotice(kind=NoticeKind.SIGNAL, tag="^RSSI", line="^RSSI:17"),
            NewMessage(memory="SM", index=4),
            Response(command="AT+CMGR=3", final=Final.OK, lines=("+CMGR: 0,,23", PDU)),
        ],
    ),
    (
        CMGL,
        f"\r\n+CMGL: 1,0,,23\r\n{PDU}\r\n+CMGL: 2,1,,23\r\n{PDU}\r\n\r\nOK\r\n".encode(),
        [
            Response(
                command="AT+CMGL=4",
                final=Final.OK,
                lines=("+CMGL: 1,0,,23", PDU, "+CMGL: 2,1,,23", PDU),
            )
        ],
    ),
    (
        CREG,  # reply form <n>,<stat> vs URC form <stat>: both in one exchange
        b"\r\n+CREG: 1\r\n+CREG: 0,1\r\n\r\nOK\r\n",
        [
            Registration(domain="CREG", stat=1),
            Response(command="AT+CREG?", final=Final.OK, lines=("+CREG: 0,1",)),
        ],
    ),
    (
        CREG,
        b'\r\n+CREG: 2,5,"00C3","0000A1B2"\r\n\r\nOK\r\n',
        [Response(command="AT+CREG?", final=Final.OK, lines=('+CREG: 2,5,"00C3","0000A1B2"',))],
    ),
    (
        None,
        b'\r\n+CREG: 1,"00C3","0000A1B2",7\r\n\r\n+CEREG: 5\r\n',
        [
            Registration(domain="CREG", stat=1, area="00C3", cell="0000A1B2"),
            Registration(domain="CEREG", stat=5),
        ],
    ),
    (
        CGSN,
        b"\r\n867856030000001\r\n\r\nOK\r\n",
        [Response(command="AT+CGSN", final=Final.OK, lines=("867856030000001",))],
    ),
    (
        bare("AT+CGMI"),  # echo dropped, a value that merely starts with AT kept
        b"AT+CGMI\r\r\nATMEL Corp\r\n\r\nOK\r\n",
        [Response(command="AT+CGMI", final=Final.OK, lines=("ATMEL Corp",))],
    ),
    (
        bare("AT+CGMI"),
        b"\r\nSIMCOM_Ltd\r\nRING\r\n\r\nOK\r\n",
        [Ring(), Response(command="AT+CGMI", final=Final.OK, lines=("SIMCOM_Ltd",))],
    ),
    (
        query("AT+CPIN?", "+CPIN", kind=Kind.SIM),
        b"\r\n+CPIN: SIM PIN\r\n\r\nOK\r\n",
        [Response(command="AT+CPIN?", final=Final.OK, lines=("+CPIN: SIM PIN",))],
    ),
    (
        None,  # SIMCom start-up sequence
        b"\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n\r\nCall Ready\r\n\r\nSMS Ready\r\n",
        [
            VendorNotice(kind=NoticeKind.BOOT, tag="RDY", line="RDY", restart=True),
            VendorNotice(kind=NoticeKind.READY, tag="+CFUN", line="+CFUN: 1"),
            SimState(state="READY"),
            VendorNotice(kind=NoticeKind.READY, tag="CALL READY", line="Call Ready"),
            VendorNotice(kind=NoticeKind.READY, tag="SMS READY", line="SMS Ready", restart=True),
        ],
    ),
    (
        None,
        b'\r\n+CDSI: "SR",1\r\n\r\n+QIND: SMS DONE\r\n\r\n^BOOT:12,0,0,0,72\r\n',
        [
            NewReport(memory="SR", index=1),
            VendorNotice(kind=NoticeKind.INDICATION, tag="+QIND", line="+QIND: SMS DONE"),
            VendorNotice(kind=NoticeKind.BOOT, tag="^BOOT", line="^BOOT:12,0,0,0,72"),
        ],
    ),
    (
        query("AT+CSQ", "+CSQ"),  # +CMT header and its PDU line are one URC, mid-command
        f"\r\n+CMT: ,23\r\n{PDU}\r\n+CSQ: 9,99\r\n\r\nOK\r\n".encode(),
        [
            RoutedMessage(length=23, pdu=PDU),
            Response(command="AT+CSQ", final=Final.OK, lines=("+CSQ: 9,99",)),
        ],
    ),
    (
        None,
        b"\r\n+CDS: 25\r\n0791515500000\r\n+CDS: 6\r\n0006\r\n",
        [
            MalformedUrc(line="+CDS: 25", reason="PDU line missing"),
            Unrecognised(line="0791515500000"),
            RoutedReport(length=6, pdu="0006"),
        ],
    ),
    (
        action("AT+CMGD=1"),
        b"\r\n+CMS ERROR: 321\r\n",
        [Response(command="AT+CMGD=1", final=Final.CMS_ERROR, code=321)],
    ),
    (
        action("AT+CNMI=2,1,0,2,0"),
        b"\r\n+CME ERROR: SIM busy\r\n",  # verbose form (AT+CMEE=2)
        [Response(command="AT+CNMI=2,1,0,2,0", final=Final.CME_ERROR, code=14, text="SIM busy")],
    ),
    (
        action("ATD+15550000;"),
        b"\r\nNO CARRIER\r\n",
        [Response(command="ATD+15550000;", final=Final.NO_CARRIER)],
    ),
    (
        query("AT+CSQ", "+CSQ"),  # garbage and non-UTF-8 bytes around a reply
        b"\xff\xfe\x00garbage\r\n\r\n+CSQ: 20,99\r\n\x80\x81\r\nOK\r\n",
        [
            Unrecognised(line="\ufffd\ufffdgarbage"),
            Unrecognised(line="\ufffd\ufffd"),
            Response(command="AT+CSQ", final=Final.OK, lines=("+CSQ: 20,99",)),
        ],
    ),
    (None, b"\r\nOK\r\n", [Stray(line="OK")]),
]


@pytest.mark.parametrize(("command", "data", "expected"), CASES)
@pytest.mark.parametrize("bytewise", [False, True], ids=["whole", "bytewise"])
def test_captured_exchanges(
    command: Command | None, data: bytes, expected: list[Event], bytewise: bool
) -> None:
    """Captured modem output gives the same events whole and one byte at a time."""
    assert run(command, data, bytewise=bytewise) == expected


@pytest.mark.parametrize("bytewise", [False, True], ids=["whole", "bytewise"])
def test_cmgs_prompt_body_and_reference(bytewise: bool) -> None:
    """After ``> `` the engine writes the body and Ctrl-Z, then returns +CMGS."""
    engine = AtEngine(timeouts=FAST)
    assert engine.send(CMGS, 0.0) == b"AT+CMGS=18\r"
    assert state(engine) is State.AWAIT_PROMPT
    events: list[Event] = []
    for chunk in [b"\r\n> "] if not bytewise else [b"\r", b"\n", b">", b" "]:
        events += engine.feed(chunk, 0.1)
    assert events == [Prompt(command="AT+CMGS=18")]
    assert engine.data_to_send() == CMGS.body.encode() + b"\x1a"  # type: ignore[union-attr]
    assert engine.deadline == pytest.approx(0.1 + FAST.body)
    echo = CMGS.body.encode() + b"\x1a"  # type: ignore[union-attr]
    events = engine.feed(echo + b"\r\n+CMGS: 7\r\n\r\nOK\r\n", 0.2)
    assert events == [Response(command="AT+CMGS=18", final=Final.OK, lines=("+CMGS: 7",))]
    assert engine.idle


def test_cmgs_error_instead_of_prompt() -> None:
    """A +CMS ERROR instead of the prompt completes the command with that error."""
    engine = AtEngine(timeouts=FAST)
    engine.send(CMGS, 0.0)
    (response,) = engine.feed(b"\r\n+CMS ERROR: 500\r\n", 0.1)
    assert isinstance(response, Response)
    error = response.error()
    assert isinstance(error, CmsError)
    assert error.transient
    assert engine.data_to_send() == b""


def answer(nonce: int) -> bytes:
    """Return what a modem writes for the probe carrying ``nonce`` (V.250 §5.3.2)."""
    return f"\r\n{nonce:03d}\r\n\r\nOK\r\n".encode()


def test_late_reply_is_never_the_next_answer() -> None:
    """A reply arriving after the timeout is stale; only the probe's nonce ends the resync."""
    engine = AtEngine(timeouts=FAST)
    engine.send(query("AT+CSQ", "+CSQ"), 0.0)
    assert engine.timeout(0.5) == []
    assert engine.timeout(1.0) == [Timeout(command="AT+CSQ", phase=Phase.RESPONSE)]
    assert engine.data_to_send() == probe(1)
    assert state(engine) is State.RESYNC
    with pytest.raises(AtUsageError):
        engine.send(action("AT"), 1.0)
    # the late reply with its OK: stale, not the probe's answer (a bare OK proves nothing)
    events = engine.feed(b"\r\n+CSQ: 20,99\r\n\r\nOK\r\n", 1.1)
    assert events == [Stray(line="+CSQ: 20,99"), Stray(line="OK")]
    assert state(engine) is State.RESYNC
    assert engine.feed(answer(1), 1.2) == [Resynced(probes=1)]
    engine.send(query("AT+CREG?", "+CREG"), 2.0)
    (response,) = engine.feed(b"\r\n+CREG: 0,1\r\n\r\nOK\r\n", 2.1)
    assert response == Response(command="AT+CREG?", final=Final.OK, lines=("+CREG: 0,1",))


def test_answer_to_an_earlier_probe_is_stale() -> None:
    """Only the last probe's nonce counts: an earlier probe's answer may precede later replies."""
    engine = AtEngine(timeouts=FAST, nonce_seed=41)
    engine.resync(0.0)
    assert engine.data_to_send() == probe(42)
    assert engine.timeout(0.5) == [ResyncStalled(probes=1)]
    assert engine.data_to_send() == probe(43)
    assert engine.deadline == pytest.approx(0.5 + 2 * FAST.probe)  # doubled
    assert engine.feed(answer(42), 0.6) == [Stray(line="042"), Stray(line="OK")]
    assert state(engine) is State.RESYNC
    assert engine.feed(b"\r\n43\r\n\r\nOK\r\n", 0.7) == [Resynced(probes=2)]  # no zeros
    assert engine.idle


def test_urcs_during_resync_still_reach_the_urc_path() -> None:
    """A +CMTI among stale replies is delivered; a stale +CREG reply is not taken for a URC."""
    engine = AtEngine(timeouts=FAST)
    engine.resync(0.0)
    events = engine.feed(
        b'\r\n+CREG: 0,1\r\n\r\nOK\r\n\r\n+CMTI: "SM",7\r\n\r\n+CREG: 5\r\n' + answer(1), 0.1
    )
    assert events == [
        Stray(line="+CREG: 0,1"),
        Stray(line="OK"),
        NewMessage(memory="SM", index=7),
        Registration(domain="CREG", stat=5),
        Resynced(probes=1),
    ]


def test_stale_cmgr_reply_is_not_the_next_reads_answer() -> None:
    """After a read times out, its late +CMGR reply is discarded, never matched to index 4."""
    engine = AtEngine(timeouts=FAST)
    engine.send(CMGR, 0.0)
    engine.timeout(1.0)
    engine.data_to_send()
    late = f"\r\n+CMGR: 0,,23\r\n{PDU}\r\n\r\nOK\r\n".encode()
    assert engine.feed(late, 1.2) == [Stray(line="+CMGR: 0,,23"), Stray(line=PDU), Stray(line="OK")]
    assert engine.feed(answer(1), 1.3) == [Resynced(probes=1)]
    generation = engine.generation
    read4 = Command(text="AT+CMGR=4", prefixes=("+CMGR",), pdu=True, needs="+CMGR")
    engine.send(read4, 2.0)
    (response,) = engine.feed(b"\r\n+CMS ERROR: 321\r\n", 2.1)
    assert isinstance(response, Response)
    assert response.code == 321
    assert response.generation == generation


@pytest.mark.parametrize(
    ("command", "data", "phase"),
    [
        (CMGR, b"\r\nOK\r\n", Phase.RESPONSE),  # a bare OK to a read
        (CMGR, b"\r\n+CMGR: 0,,23\r\n\r\nOK\r\n", Phase.RESPONSE),  # header without PDU
        (CMGR, f"\r\n+CMGR: 0,,23\r\n+CMGR: 1,,23\r\n{PDU}\r\nOK\r\n".encode(), Phase.RESPONSE),
        (CMGS, b"\r\nOK\r\n", Phase.PROMPT),  # OK instead of the prompt
        (CMGS, b"\r\n> " + CMGS.body.encode() + b"\x1a\r\nOK\r\n", Phase.BODY),  # type: ignore[union-attr]
        (CMGS, b"\r\n> \r\n+CMGS: 9\r\n+CMGS: 7\r\n\r\nOK\r\n", Phase.BODY),
    ],
    ids=[
        "cmgr-bare-ok",
        "cmgr-no-pdu",
        "cmgr-two-headers",
        "cmgs-ok-before-prompt",
        "cmgs-ok-without-mr",
        "cmgs-two-results",
    ],
)
def test_reply_that_does_not_fit_its_command_resyncs(
    command: Command, data: bytes, phase: Phase
) -> None:
    """A bare OK to a read or a send is a misfit: no response, resynchronisation instead."""
    engine = AtEngine(timeouts=FAST)
    engine.send(command, 0.0)
    before = engine.generation
    events = engine.feed(data, 0.1)
    assert Misfit(command=command.log_text, phase=phase) in events
    assert not any(isinstance(event, Response) for event in events)
    assert state(engine) is State.RESYNC
    assert engine.generation == before + 1
    assert engine.data_to_send().endswith(probe(1))


def test_errors_still_answer_a_read_or_a_send() -> None:
    """+CMS ERROR needs no information line: it is the command's answer."""
    engine = AtEngine(timeouts=FAST)
    engine.send(CMGR, 0.0)
    (response,) = engine.feed(b"\r\n+CMS ERROR: 321\r\n", 0.1)
    assert isinstance(response, Response)
    assert response.final is Final.CMS_ERROR


def test_late_prompt_is_cancelled_with_esc() -> None:
    """A prompt that comes after the timeout is answered with ESC at once."""
    engine = AtEngine(timeouts=FAST)
    engine.send(CMGS, 0.0)
    assert engine.timeout(1.0) == [Timeout(command="AT+CMGS=18", phase=Phase.PROMPT)]
    assert engine.data_to_send() == probe(1)  # starts with ESC
    assert engine.feed(b"\r\n> ", 1.12) == [Stray(line=">")]
    assert engine.data_to_send() == b"\x1b\r"
    engine.feed(b"\r\nOK\r\n", 1.2)  # ESC's OK
    assert engine.feed(answer(1), 1.3) == [Resynced(probes=1)]
    assert engine.idle


def test_body_timeout_reports_outcome_unknown_phase() -> None:
    """A timeout after Ctrl-Z is reported as the BODY phase (outcome unknown)."""
    engine = AtEngine(timeouts=FAST)
    engine.send(CMGS, 0.0)
    engine.feed(b"\r\n> ", 0.1)
    assert engine.timeout(0.1 + FAST.body) == [Timeout(command="AT+CMGS=18", phase=Phase.BODY)]


def test_silent_modem_is_not_answering_after_bounded_probes() -> None:
    """Unanswered probes are repeated with doubling waits, then NOT_ANSWERING is reported."""
    engine = AtEngine(timeouts=FAST, max_probes=3)
    engine.resync(0.0)
    assert engine.data_to_send() == probe(1)
    assert engine.timeout(0.5) == [ResyncStalled(probes=1)]
    assert engine.data_to_send() == probe(2)
    assert engine.deadline == pytest.approx(1.5)  # 2 * probe, capped at quick
    assert engine.timeout(1.5) == [ResyncStalled(probes=2)]
    assert engine.data_to_send() == probe(3)
    assert engine.deadline == pytest.approx(2.5)
    assert engine.timeout(2.5) == [ResyncStalled(probes=3), ResyncFailed(probes=3)]
    assert state(engine) is State.NOT_ANSWERING
    assert engine.deadline is None
    assert engine.data_to_send() == b""
    with pytest.raises(AtUsageError):
        engine.send(action("AT"), 3.0)
    # the last probe's nonce turns up after all: in sync again
    assert engine.feed(answer(3), 9.0) == [Resynced(probes=3)]
    assert engine.idle


def test_resync_after_not_answering_uses_fresh_nonces() -> None:
    """A new resync from NOT_ANSWERING probes with a new nonce; an old one is stale."""
    engine = AtEngine(timeouts=FAST, max_probes=1)
    engine.resync(0.0)
    engine.timeout(0.5)
    engine.resync(1.0)
    assert engine.data_to_send() == probe(1) + probe(2)
    assert engine.feed(answer(1), 1.1) == [Stray(line="001"), Stray(line="OK")]
    assert engine.feed(answer(2), 1.2) == [Resynced(probes=1)]


def test_send_while_busy_is_a_usage_error() -> None:
    """Only one command may be in flight."""
    engine = AtEngine()
    engine.send(action("AT"), 0.0)
    with pytest.raises(AtUsageError):
        engine.send(action("AT"), 0.0)


def test_reset_forgets_pending_and_partial_lines() -> None:
    """After reset (port reopened) the engine is idle with empty buffers."""
    engine = AtEngine()
    engine.send(action("AT"), 0.0)
    engine.feed(b"\r\nO", 0.0)
    engine.reset()
    assert engine.idle
    assert engine.deadline is None
    assert engine.feed(b"K\r\n", 0.1) == [Unrecognised(line="K")]


def test_overlong_line_is_cut_and_reported() -> None:
    """A flood without line ends is reported in bounded pieces."""
    events = AtEngine().feed(b"x" * 10000, 0.0)
    assert events == [Unrecognised(line="x" * 4096)] * 2


def test_response_error_types() -> None:
    """Failure results turn into the typed errors with names and retry classes."""
    busy = Response(command="AT+CPIN?", final=Final.CME_ERROR, code=14).error()
    assert isinstance(busy, CmeError)
    assert busy.transient
    assert busy.name == "SIM busy"
    assert Response(command="AT", final=Final.OK).raise_for_error().ok


def test_transition_table_rejects_illegal_moves() -> None:
    """Every (state, trigger) pair not in the table is refused."""
    assert (State.IDLE, Trigger.FINAL) not in TRANSITIONS
    engine = AtEngine()
    engine.send(action("AT"), 0.0)
    with pytest.raises(AtUsageError):
        engine.send(CMGS, 0.0)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=64), max_size=20), st.booleans())
def test_random_bytes_never_raise(chunks: list[bytes], with_command: bool) -> None:
    """Random bytes, fed in random chunks, only ever produce events."""
    engine = AtEngine(timeouts=FAST)
    if with_command:
        engine.send(CMGS, 0.0)
    now = 0.0
    for chunk in chunks:
        now += 0.05
        for event in engine.feed(chunk, now):
            assert isinstance(event, Event)
        engine.timeout(now)
        engine.data_to_send()


def test_error_answer_to_probe_is_not_a_stall_and_switches_form() -> None:
    """A probe refused with an error is no stall; the next probe uses the +CSMP form."""
    engine = AtEngine(timeouts=FAST)
    engine.resync(0.0)
    engine.data_to_send()
    assert engine.feed(b"\r\n+CME ERROR: 14\r\n", 0.1) == [Stray(line="+CME ERROR: 14")]
    assert engine.timeout(0.5) == []  # heard from: no ResyncStalled
    assert engine.data_to_send() == probe(2, csmp=True) == b"\x1b\rAT+CSMP=17,2,0,0;+CSMP?\r"
    assert engine.feed(b"\r\n+CSMP: 17,1,0,0\r\n", 0.6) == [Stray(line="+CSMP: 17,1,0,0")]
    assert engine.feed(b"\r\n+CSMP: 17,2,0,0\r\n\r\nOK\r\n", 0.6) == [Resynced(probes=2)]
    # the form that worked is kept for the next resynchronisation
    engine.resync(1.0)
    assert engine.data_to_send() == probe(3, csmp=True)


def test_modem_refusing_both_forms_alternates_then_is_not_answering() -> None:
    """Refused S7 and +CSMP probes alternate; the bound still ends in NOT_ANSWERING."""
    engine = AtEngine(timeouts=FAST, max_probes=3)
    engine.resync(0.0)
    sent = [engine.data_to_send()]
    now = 0.0
    for _ in range(3):
        engine.feed(b"\r\nERROR\r\n", now + 0.1)
        assert engine.deadline is not None
        now = engine.deadline
        events = engine.timeout(now)
        sent.append(engine.data_to_send())
    assert sent[:3] == [probe(1), probe(2, csmp=True), probe(3)]
    assert events == [ResyncFailed(probes=3)]
    assert state(engine) is State.NOT_ANSWERING


def test_nonce_then_error_probes_again() -> None:
    """The nonce followed by an error is no proof of sync: probe again after a pause."""
    engine = AtEngine(timeouts=FAST)
    engine.resync(0.0)
    engine.data_to_send()
    assert engine.feed(b"\r\n001\r\n\r\nERROR\r\n", 0.1) == [Stray(line="ERROR")]
    assert state(engine) is State.RESYNC
    assert engine.deadline == pytest.approx(0.1 + FAST.drain)
    engine.timeout(0.1 + FAST.drain)
    assert engine.data_to_send() == probe(2)


def test_generation_changes_with_every_resync_and_reset() -> None:
    """Timeouts, explicit resyncs and resets each start a new generation."""
    engine = AtEngine(timeouts=FAST)
    seen = [engine.generation]
    engine.send(action("AT"), 0.0)
    engine.timeout(1.0)
    seen.append(engine.generation)
    engine.resync(1.1)
    seen.append(engine.generation)
    engine.reset()
    seen.append(engine.generation)
    assert seen == sorted(set(seen))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["late", "stale-probe", "garbage", "urc", "ok"]), max_size=12))
def test_resync_never_ends_on_anything_but_the_current_nonce(steps: list[str]) -> None:
    """Whatever stale output comes during a resync, only the current nonce ends it."""
    engine = AtEngine(timeouts=FAST, nonce_seed=200)
    engine.resync(0.0)
    chunks = {
        "late": f"\r\n+CMGR: 0,,23\r\n{PDU}\r\n\r\nOK\r\n".encode(),
        "stale-probe": answer(200),
        "garbage": b"\xff\xfe\x00\r\n17\r\n",
        "urc": b'\r\n+CMTI: "SM",2\r\n',
        "ok": b"\r\nOK\r\n",
    }
    for step in steps:
        engine.feed(chunks[step], 0.1)
        assert not engine.idle
    assert Resynced(probes=1) in engine.feed(answer(engine.nonce), 0.2)


def test_command_repr_hides_pin_and_body() -> None:
    """A command's repr never shows a secret argument or the PDU body."""
    pin = Command(text='AT+CPIN="1234"', kind=Kind.SIM, secret=True)
    assert "1234" not in repr(pin)
    assert pin.log_text == "AT+CPIN=<redacted>"
    assert CMGS.body is not None
    assert CMGS.body not in repr(CMGS)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"text": "ATD123\r"},
        {"text": "hello"},
        {"text": "AT+CMGS=5", "kind": Kind.SEND},
        {"text": "AT+CMGS=5", "kind": Kind.SEND, "body": "xyz"},
        {"text": "AT", "body": "00"},
        {"text": "AT+CSQ", "prefixes": ("+CSQ:",)},
    ],
)
def test_invalid_commands_are_refused(kwargs: dict[str, object]) -> None:
    """Commands with control characters, bad bodies or bad prefixes cannot be built."""
    with pytest.raises(AtUsageError):
        Command(**kwargs)  # type: ignore[arg-type]


FRAGMENTS = [
    b"\r\nOK\r\n",
    b"\r\nERROR\r\n",
    b"\r\n+CMS ERROR: 321\r\n",
    f"\r\n+CMGR: 0,,23\r\n{PDU}\r\n".encode(),
    b"\r\n+CMGR: ,,56\r\n",
    f"\r\n{PDU}\r\n".encode(),
    b"\r\n+CMGS: 7\r\n",
    b"\r\n> ",
    b'\r\n+CMTI: "SM",3\r\n',
    b"\r\n001\r\n",
    b"\xff\xfe\x00",
    b"\r\n",
]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.sampled_from(FRAGMENTS),
            st.binary(max_size=16),
            st.sampled_from(["send-read", "send-send", "tick", "resync"]),
        ),
        max_size=30,
    )
)
def test_reads_and_sends_only_complete_with_their_own_shape(steps: list[bytes | str]) -> None:
    """Whatever arrives, an OK completes a read only with +CMGR and a PDU, a send with +CMGS."""
    engine = AtEngine(timeouts=FAST, max_probes=2)
    now = 0.0
    for step in steps:
        now += 0.3
        if step == "tick":
            events = engine.timeout(now if engine.deadline is None else engine.deadline)
        elif step == "resync":
            engine.resync(now)
            events = []
        elif isinstance(step, str):
            if not engine.idle:
                continue
            engine.send(CMGR if step == "send-read" else CMGS, now)
            events = []
        else:
            events = engine.feed(step, now)
        engine.data_to_send()
        for event in events:
            assert isinstance(event, Event)
            if isinstance(event, Response) and event.ok:
                tags = [line.partition(":")[0] for line in event.lines]
                if event.command == CMGR.text:
                    assert "+CMGR" in tags
                    assert any(line == PDU for line in event.lines)
                else:
                    assert "+CMGS" in tags
