"""Dialects: the quirk table, and the tolerant parsers fed with real devices' recorded lines.

Recorded lines come verbatim from gateway/simulator/data/recorded-replies.json
(python-gsmmodem's recordings of six devices), from ModemManager's test table (Huawei
MU609) and from gammu's AT SMS test data (a stray quote after a +CMGR PDU line).
"""

from __future__ import annotations

import contextlib
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from modem_session_helpers import config, run

from gateway.at import AtEngine, AtTimeout, Command, CommandFailed, Kind, Timeouts, query
from gateway.at.events import Final, Response, Timeout, VendorNotice
from gateway.at.lines import pdu_text
from gateway.config.schema import PROFILES as CONFIG_PROFILES
from gateway.errors import UsageError
from gateway.modem.dialects import (
    AUTO,
    DIALECTS,
    GENERIC,
    PROFILE_NAMES,
    Quirk,
    by_name,
    detect,
)
from gateway.modem.init import InitConfig
from gateway.modem.session import ModemSession, ReceiveUnavailable, SessionConfig
from gateway.modem.storage import ReplyError, StoredMessage, parse_cpms_test, parse_read
from gateway.simulator import ModemConfig, ModemHandle
from gateway.simulator.model import ModemModel
from gateway.simulator.profiles import RECORDED
from gateway.simulator.recorded import devices, replies, source
from gateway.sms import Deliver, decode_incoming, encode_submit

#: simulator profile -> recorded device
DEVICE = {
    "huawei-k3715": "HuaweiK3715",
    "huawei-e1752": "HuaweiE1752",
    "wavecom": "WavecomMultiband900E1800",
    "qualcomm-m6280": "QualcommM6280",
    "zte-k3565z": "ZteK3565Z",
    "nokia-n79": "NokiaN79",
}


def info_lines(device: str, command: str) -> tuple[str, ...]:
    """The recorded reply to ``command`` as the engine hands it on: lines without CR/LF."""
    lines = (line.strip("\r\n") for line in replies(device)[command + "\r"])
    return tuple(line.strip() for line in lines if line.strip())


# ------------------------------------------------------------------ the table


def test_every_recorded_device_has_a_profile() -> None:
    """The simulator plays each recorded device; the recordings name their source."""
    assert sorted(DEVICE.values()) == sorted(devices())
    assert set(DEVICE) == set(RECORDED)
    assert source()["repository"] == "github.com/babca/python-gsmmodem"


@pytest.mark.parametrize(
    ("device", "dialect"),
    [
        ("HuaweiK3715", "huawei"),
        ("HuaweiE1752", "huawei"),
        ("WavecomMultiband900E1800", "wavecom"),
        ("QualcommM6280", "qualcomm"),
        ("ZteK3565Z", "zte"),
        ("NokiaN79", "nokia"),
    ],
)
def test_dialect_detected_from_the_recorded_cgmi(device: str, dialect: str) -> None:
    """The manufacturer each device recorded for AT+CGMI selects its dialect."""
    manufacturer = info_lines(device, "AT+CGMI")[0]
    assert detect(manufacturer).name == dialect


def test_quirks_are_data() -> None:
    """Only Wavecom needs the +CPIN-without-OK quirk; unknown makers are generic."""
    assert [d.name for d in DIALECTS.values() if d.has(Quirk.CPIN_WITHOUT_OK)] == ["wavecom"]
    assert detect("OTPGW") is GENERIC
    assert detect("") is GENERIC


def test_config_profiles_follow_the_dialect_table() -> None:
    """The ``profile`` key accepts exactly "auto" and the dialect names."""
    assert CONFIG_PROFILES == PROFILE_NAMES
    assert PROFILE_NAMES[0] == AUTO


def test_unknown_dialect_is_refused() -> None:
    """An unknown dialect name is a UsageError, in the table and in InitConfig."""
    with pytest.raises(UsageError):
        by_name("motorola")
    with pytest.raises(UsageError):
        InitConfig(dialect="motorola")
    assert InitConfig(dialect="wavecom").dialect == "wavecom"


# ------------------------------------------------------------------ +CPMS=?


@pytest.mark.parametrize(
    ("device", "slots"),
    [
        ("HuaweiK3715", (("ME", "MT", "SM", "SR"),) * 3),
        ("HuaweiE1752", (("ME", "MT", "SM", "SR"),) * 3),
        ("QualcommM6280", (("ME", "MT", "SM", "SR"),) * 3),
        ("ZteK3565Z", (("ME", "MT", "SM", "SR"),) * 3),
        ("WavecomMultiband900E1800", (("SM", "BM", "SR"), ("SM",))),  # nested, two groups
        ("NokiaN79", ((), (), ())),  # a phone: no storage over AT
    ],
)
def test_cpms_test_reply_of_each_recorded_device(
    device: str, slots: tuple[tuple[str, ...], ...]
) -> None:
    """Each device's recorded AT+CPMS=? reply gives its memories per slot."""
    assert parse_cpms_test(info_lines(device, "AT+CPMS=?")) == slots


def test_cpms_without_parentheses_is_one_memory_per_slot() -> None:
    """Huawei MU609 (ModemManager's test table): three bare memories are three slots."""
    assert parse_cpms_test(('+CPMS: "ME","MT","SM"', "OK")) == (("ME",), ("MT",), ("SM",))


@pytest.mark.parametrize(
    "line",
    [
        '+CPMS: ("SM","ME"',  # unbalanced
        '+CPMS: ("SM","ME"))',
        '+CPMS: ("SM),("ME")',  # unterminated string
        '+CPMS: ("SMS","ME")',  # not a memory name
        '+CPMS: (("SM"),"ME")',  # a list and a name mixed in one group
        '+CPMS: ("SM"),("SM"),("SM"),("SM")',  # four slots
        "+CPMS:",
    ],
)
def test_malformed_cpms_is_a_reply_error(line: str) -> None:
    """A +CPMS=? reply that is no list of memory lists raises ReplyError."""
    with pytest.raises(ReplyError):
        parse_cpms_test((line,))


NAME = st.sampled_from(['"SM"', '"ME"', '"MT"', '"SR"', '"BM"', "SM", '""', '"X"', "("])


def _group(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.lists(inner, max_size=4).map(lambda items: "(" + ",".join(items) + ")")


CPMS_BODY = st.recursive(NAME, lambda inner: _group(inner) | inner, max_leaves=12)


@settings(deadline=None)  # shared 2-core CI: no per-example deadline
@given(st.lists(CPMS_BODY, max_size=4), st.text(max_size=30))
def test_cpms_parser_gives_slots_or_reply_error(parts: list[str], noise: str) -> None:
    """Random (nested) +CPMS=? lists and random text give slots or ReplyError only."""
    for line in ("+CPMS: " + ",".join(parts), "+CPMS: " + noise):
        try:
            slots = parse_cpms_test((line,))
        except ReplyError:
            continue
        assert 1 <= len(slots) <= 3
        assert all(len(m) == 2 and m.isupper() for slot in slots for m in slot)


# ------------------------------------------------------------------ +CMGR

#: gammu tests/at-sms/12.dump (a received SMS-DELIVER, 30 TPDU octets)
DELIVER = "0791261229064012040C912622192340800000700191218253820CE130681C5E97E12072190D"
#: gammu tests/at-sms/02.dump (<stat> 3: a stored SMS-SUBMIT)
SUBMIT = "0791361907001003B17A0C913619397750320000AD11CD701E340FB3C3F23CC81D0689C3BF"
#: gammu tests/at-sms/04.dump (commit d434fc1f): the PDU line ends with a stray quote
QUOTED = (
    "07914487200030230406D04F59040000601191806243009F4F990E947DD741EEF71D840EDBCBA0FCBB2E"
    "0751CB783A28E8CED3D3ED3268068381AA4B10BD8CA7CF412650AC2904BDCD2072981E06D1DFA0FABC0C"
    "A2A3D373509B8E7681A4E576B92D2ECB41F43788FE86B7EA7010280603BDE5A0F65B5E0689CBE6B7BC0C"
    "8ADD6232980D447F83CE653A28FFAECB416679B90C0AB3D9EF7BD83D2E83DC653C1DD4A6A301"
    '"'
)


def test_cmgr_without_stat_is_read_with_stat_unknown() -> None:
    """ZTE K3565-Z ``+CMGR: ,,<len>``: read, <stat> unknown, incoming by its TP-MTI."""
    message = parse_read("SM", 4, ("+CMGR: ,,30", DELIVER))
    assert message is not None
    assert message.status is None
    assert message.length == 30
    assert not message.outgoing
    submit = parse_read("SM", 5, ("+CMGR: ,,29", SUBMIT))
    assert submit is not None
    assert submit.outgoing  # an SMS-SUBMIT stored without <stat> is still not ours
    with pytest.raises(ReplyError):
        parse_read("SM", 4, ("+CMGR: x,,30", DELIVER))


def test_stray_quote_after_the_pdu_is_dropped() -> None:
    """gammu's dump with ``"`` after the PDU line: read, quote dropped, PDU decodes."""
    message = parse_read("SM", 5, ("+CMGR: 1,,156", QUOTED))
    assert message is not None
    assert message.pdu == QUOTED[:-1]
    assert message.status == 1
    assert isinstance(decode_incoming(message.pdu), Deliver)
    assert pdu_text(QUOTED) == QUOTED[:-1]
    assert pdu_text('"' + DELIVER) is None  # only a trailing quote is tolerated
    assert pdu_text(DELIVER + '""') is None


@settings(deadline=None)  # shared 2-core CI: no per-example deadline
@given(
    st.text(alphabet="0123456789,x ", max_size=10),
    st.sampled_from([DELIVER, SUBMIT, QUOTED, DELIVER[:-1], ""]) | st.text(max_size=20),
)
def test_cmgr_parser_gives_a_message_none_or_reply_error(header: str, pdu: str) -> None:
    """Random +CMGR headers and PDU lines give a StoredMessage, None or ReplyError."""
    with contextlib.suppress(ReplyError):
        message = parse_read("SM", 1, (f"+CMGR: {header}", pdu))
        assert message is None or isinstance(message, StoredMessage)
        if message is not None:
            assert isinstance(message.outgoing, bool)


# ------------------------------------------------------------------ the engine


def feed(engine: AtEngine, text: str, now: float = 0.0) -> list[object]:
    """Feed ``text`` to ``engine`` as modem bytes; return the events."""
    return list(engine.feed(text.encode("latin-1"), now))


def test_cpin_without_ok_completes_after_the_drain_with_the_quirk() -> None:
    """Wavecom's recorded ``+CPIN: READY`` (no OK) answers AT+CPIN? when the quirk is on."""
    engine = AtEngine(timeouts=Timeouts(sim=10.0, drain=0.25))
    reply = "".join(replies("WavecomMultiband900E1800")["AT+CPIN?\r"])
    cpin = Command(text="AT+CPIN?", prefixes=("+CPIN",), kind=Kind.SIM, info_final=True)
    engine.send(cpin, 0.0)
    assert feed(engine, reply, 0.1) == []
    assert engine.deadline == pytest.approx(0.35)
    (response,) = engine.timeout(0.35)
    assert isinstance(response, Response)
    assert response.final is Final.OK
    assert response.lines == ("+CPIN: READY",)
    assert engine.idle


def test_cpin_without_ok_times_out_without_the_quirk() -> None:
    """Without the quirk the same reply is a timeout (what the daemon did before)."""
    engine = AtEngine(timeouts=Timeouts(sim=10.0))
    engine.send(query("AT+CPIN?", "+CPIN", kind=Kind.SIM), 0.0)
    feed(engine, "+CPIN: READY\r\n", 0.1)
    assert engine.timeout(5.0) == []
    (event,) = engine.timeout(10.0)
    assert isinstance(event, Timeout)


def test_cpin_quirk_still_takes_an_ok_that_comes() -> None:
    """With the quirk on, a modem that does send OK is answered at once, as usual."""
    engine = AtEngine()
    cpin = Command(text="AT+CPIN?", prefixes=("+CPIN",), kind=Kind.SIM, info_final=True)
    engine.send(cpin, 0.0)
    (response,) = feed(engine, "".join(replies("HuaweiK3715")["AT+CPIN?\r"]), 0.1)
    assert isinstance(response, Response)
    assert response.ok
    assert response.lines == ("+CPIN: READY",)


def test_info_final_needs_a_tagged_one_line_reply() -> None:
    """info_final is refused for bare, PDU or untagged commands."""
    with pytest.raises(UsageError):
        Command(text="AT+CGMI", bare=True, info_final=True)
    with pytest.raises(UsageError):
        Command(text="AT+CPIN?", info_final=True)


def test_command_not_support_is_an_error_final_result() -> None:
    """Huawei E1752's recorded ``COMMAND NOT SUPPORT`` ends the command as an error."""
    engine = AtEngine()
    engine.send(query("AT+ZPAS?", "+ZPAS"), 0.0)
    (response,) = feed(engine, "".join(replies("HuaweiE1752")["AT+ZPAS?\r"]))
    assert isinstance(response, Response)
    assert response.final is Final.ERROR
    assert isinstance(response.error(), CommandFailed)
    assert engine.idle


def test_zte_urcs_inside_a_reply_are_vendor_notices() -> None:
    """+ZDONR/+ZPASR inside a +CMGR reply are URCs; the reply keeps header and PDU."""
    engine = AtEngine()
    engine.send(Command(text="AT+CMGR=1", prefixes=("+CMGR",), pdu=True), 0.0)
    events = feed(
        engine,
        '\r\n+CMGR: ,,30\r\n+ZDONR: "Orange",234,33,"CS_PS","ROAM_OFF"\r\n'
        f'{DELIVER}\r\n+ZPASR: "UMTS"\r\n+ZEND\r\n\r\nOK\r\n',
    )
    notices = [e for e in events if isinstance(e, VendorNotice)]
    assert [n.tag for n in notices] == ["+ZDONR", "+ZPASR", "+ZEND"]
    (response,) = [e for e in events if isinstance(e, Response)]
    assert response.lines == ("+CMGR: ,,30", DELIVER)


def test_stray_quote_pdu_line_belongs_to_the_read() -> None:
    """The engine keeps a PDU line with a stray quote as part of the +CMGR reply."""
    engine = AtEngine()
    engine.send(Command(text="AT+CMGR=5", prefixes=("+CMGR",), pdu=True), 0.0)
    (response,) = feed(engine, f"\r\n+CMGR: 1,,156\r\n{QUOTED}\r\n\r\nOK\r\n")
    assert isinstance(response, Response)
    assert parse_read("SM", 5, response.lines) is not None


# ------------------------------------------------------------------ the simulator


@pytest.mark.parametrize("profile", sorted(RECORDED))
def test_recorded_profile_replays_every_recorded_line_verbatim(profile: str) -> None:
    """Each recorded command line is answered with the recorded bytes, exactly."""
    model = ModemModel(ModemConfig(profile=profile))
    model.receive_data(b"ATE0\r", 1.0)
    model.take_output()
    for line, reply in replies(DEVICE[profile]).items():
        model.receive_data(line.encode("latin-1"), 1.0)
        model.scheduler.run_due(1.0)
        assert model.take_output() == "".join(reply).encode("latin-1"), line


# ------------------------------------------------------------------ identity


@pytest.mark.parametrize(
    ("profile", "refusal"),
    [("generic", {"cme": 4}), ("huawei-e1752", {}), ("generic", {})],
)
def test_refused_identity_commands_leave_fields_empty(
    tmp_path: Path, profile: str, refusal: dict[str, int]
) -> None:
    """+CME ERROR, COMMAND NOT SUPPORT or ERROR to AT+CGMM/CGSN: start anyway, fields empty."""

    async def scenario(modem: ModemHandle, session: ModemSession) -> None:
        modem.set_fault("refuse", on=["AT+CGMM", "AT+CGSN", "AT+CGMR"], **refusal)
        await session.start()
        identity = session.status.identity
        assert identity is not None
        assert (identity.model, identity.imei, identity.revision) == ("", "", "")
        assert identity.manufacturer != ""
        assert session.status.counters.timeouts == 0

    run(tmp_path, scenario, modem=ModemConfig(profile=profile), start=False)


@settings(deadline=None)  # shared 2-core CI: no per-example deadline
@given(st.lists(st.binary(max_size=40), max_size=12), st.floats(min_value=0.0, max_value=20.0))
def test_engine_with_the_cpin_quirk_never_raises(chunks: list[bytes], later: float) -> None:
    """Any bytes while an info_final command waits give events, at most one Response."""
    engine = AtEngine()
    engine.send(Command(text="AT+CPIN?", prefixes=("+CPIN",), kind=Kind.SIM, info_final=True), 0.0)
    events = [event for chunk in chunks for event in engine.feed(chunk, 0.1)]
    events += engine.timeout(later)
    assert len([e for e in events if isinstance(e, Response)]) <= 1


def test_a_configured_dialect_overrides_detection(tmp_path: Path) -> None:
    """profile = "generic" on a Wavecom: no quirk, so AT+CPIN? times out as before."""

    def generic(device: str) -> SessionConfig:
        base = config(device)
        return replace(base, init=replace(base.init, dialect="generic"))

    async def scenario(modem: ModemHandle, session: ModemSession) -> None:
        with pytest.raises(AtTimeout):
            await session.start()

    run(
        tmp_path,
        scenario,
        modem=ModemConfig(profile="wavecom"),
        session_config=generic,
        start=False,
    )


def test_zte_stored_submit_without_stat_is_outgoing(tmp_path: Path) -> None:
    """ZTE reads a message written with AT+CMGW without <stat>: it is known as outgoing."""

    async def scenario(modem: ModemHandle, session: ModemSession) -> None:
        (pdu,) = encode_submit("+15557654321", "draft")
        write = Command(
            text=f"AT+CMGW={pdu.tpdu_length}", prefixes=("+CMGW",), kind=Kind.SEND, body=pdu.hex
        )
        response = (await session.command(write)).raise_for_error()
        index = int(response.lines[0].partition(":")[2])
        stored = await session.read_message("SM", index)
        assert stored is not None
        assert stored.status is None
        assert stored.outgoing

    run(tmp_path, scenario, modem=ModemConfig(profile="zte-k3565z"))


def test_send_only_session_refuses_storage_operations(tmp_path: Path) -> None:
    """Nokia N79: the session says why it cannot read, without sending AT+CPMS/AT+CMGL."""

    async def scenario(modem: ModemHandle, session: ModemSession) -> None:
        status = session.status
        assert status.receive_unavailable is not None
        assert "no SMS storage over AT" in status.receive_unavailable
        assert status.memories == ()
        assert status.cnmi is None
        seen: list[str] = []
        modem.observe_commands(seen.append)
        with pytest.raises(ReceiveUnavailable):
            await session.list_messages("SM")
        with pytest.raises(ReceiveUnavailable):
            await session.read_message("SM", 1)
        assert seen == []

    run(tmp_path, scenario, modem=ModemConfig(profile="nokia-n79"))


def test_dialect_detected_after_the_sim_when_cgmi_was_refused_before(tmp_path: Path) -> None:
    """AT+CGMI refused before the SIM (as PIN-locked modems do): detected at identity."""

    async def scenario(modem: ModemHandle, session: ModemSession) -> None:
        asked: list[str] = []

        def refuse_first(line: str) -> None:
            if line == "AT+CGMI":
                asked.append(line)
                if len(asked) == 1:  # observers run before the command: this one fails
                    modem.set_fault("refuse", on="AT+CGMI", cme=11)
                else:
                    modem.clear_fault("refuse")

        modem.observe_commands(refuse_first)
        await session.start()
        assert len(asked) == 2
        assert session.status.dialect == "huawei"
        assert session.status.identity is not None
        assert session.status.identity.manufacturer == "huawei"

    run(tmp_path, scenario, modem=ModemConfig(profile="huawei-k3715"), start=False)
