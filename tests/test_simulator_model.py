"""Tests of the sans-I/O modem model: command -> reply tables, echo, framing, PDU entry."""

from __future__ import annotations

import pytest

from gateway.simulator import model as model_module
from gateway.simulator.commands_general import ok
from gateway.simulator.config import ModemConfig, SimulatorError
from gateway.simulator.device import Spec
from gateway.simulator.model import ModemModel
from gateway.sms import pdu as pducodec


def talk(model: ModemModel, data: bytes, now: float = 1.0) -> bytes:
    """Feed ``data`` at ``now``, run due timers and return what the modem wrote."""
    model.receive_data(data, now)
    model.scheduler.run_due(now)
    return model.take_output()


def quiet(config: ModemConfig | None = None) -> ModemModel:
    """Return a modem with echo off."""
    model = ModemModel(config or ModemConfig())
    talk(model, b"ATE0\r")
    return model


OK = b"\r\nOK\r\n"

REPLIES: list[tuple[bytes, bytes]] = [
    (b"AT\r", OK),
    (b"at\r", OK),
    (b"\x1b\r", b""),
    (b"\r", b""),
    (b"xx\xffAT\r", OK),
    (b"AT\r\n", OK),
    (b"AT+CMEE=1;+CREG=2\r", OK),
    (b"ATE0V1\r", OK),
    (b"AT+MODE=2\r", b"\r\nERROR\r\n"),
    (b"AT+CPROT=?\r", b"\r\nERROR\r\n"),
    (b"AT+CSCS?\r", b'\r\n+CSCS: "GSM"\r\n' + OK),
    (b"AT+CSCS=?\r", b'\r\n+CSCS: ("GSM","IRA","UCS2","HEX","PCCP437","8859-1")\r\n' + OK),
    (b'AT+CSCS="UCS2"\r', OK),
    (b"AT+CGMI\r", b"\r\nOTPGW\r\n" + OK),
    (b"AT+GMI\r", b"\r\nOTPGW\r\n" + OK),
    (b"AT+CGMM\r", b"\r\nSIMULATED-3GPP\r\n" + OK),
    (b"AT+CGMR\r", b"\r\n1.0.0\r\n" + OK),
    (b"AT+CGSN\r", b"\r\n867856030000001\r\n" + OK),
    (b"AT+GSN\r", b"\r\n867856030000001\r\n" + OK),
    (b"AT+CIMI\r", b"\r\n310260000000001\r\n" + OK),
    (b"ATI\r", b"\r\nOTPGW\r\nSIMULATED-3GPP\r\nRevision: 1.0.0\r\n" + OK),
    (b"AT+CFUN?\r", b"\r\n+CFUN: 1\r\n" + OK),
    (b"AT+CFUN=1\r", OK),
    (b"AT+CPIN?\r", b"\r\n+CPIN: READY\r\n" + OK),
    (b"AT+CSQ\r", b"\r\n+CSQ: 20,99\r\n" + OK),
    (b"AT+CBC\r", b"\r\n+CBC: 0,95\r\n" + OK),
    (b"AT+CREG?\r", b"\r\n+CREG: 0,1\r\n" + OK),
    (b"AT+CREG=2;+CREG?\r", b'\r\n+CREG: 2,1,"00C3","0000A1B2"\r\n' + OK),
    (b"AT+CGREG?\r", b"\r\n+CGREG: 0,1\r\n" + OK),
    (b"AT+CEREG=2;+CEREG?\r", b'\r\n+CEREG: 2,1,"00C3","0000A1B2",7\r\n' + OK),
    (b"AT+CGATT?\r", b"\r\n+CGATT: 1\r\n" + OK),
    (b"AT+COPS?\r", b'\r\n+COPS: 0,0,"Fake Operator"\r\n' + OK),
    (b"AT+COPS=3,2;+COPS?\r", b'\r\n+COPS: 0,2,"310260"\r\n' + OK),
    (b"AT+CNMI=?\r", b"\r\n+CNMI: (0-2),(0-3),(0,2),(0-2),(0,1)\r\n" + OK),
    (b"AT+CNMI=2,1,0,2,0;+CNMI?\r", b"\r\n+CNMI: 2,1,0,2,0\r\n" + OK),
    (b"AT+CUSD=1;+CLIP=1;+CRC=1;+CCWA=1\r", OK),
    (b"AT+CMGF=0\r", OK),
    # V.250 §5.3.2: S-parameters set and read back as three digits, concatenated on one line
    (b"ATS7=45S7?\r", b"\r\n045\r\n" + OK),
    (b"ATS7?\r", b"\r\n060\r\n" + OK),
    (b"ATS0=0\r", OK),
    (b"ATS7=0\r", b"\r\nERROR\r\n"),
    (b"AT+CMGF?\r", b"\r\n+CMGF: 0\r\n" + OK),
    (b"AT+CMGF=?\r", b"\r\n+CMGF: (0,1)\r\n" + OK),
    (b"AT+CMGF=1;+CSDH=1;+CSMP=17,167,0,0\r", OK),
    (b'AT+CSCA="+15550000000"\r', OK),
    (b"AT+CSCA?\r", b'\r\n+CSCA: "+15550000000",145\r\n' + OK),
    (b"AT+CPMS=?\r", b'\r\n+CPMS: ("SM","ME","SR"),("SM","ME"),("SM","ME")\r\n' + OK),
    (b'AT+CPMS="SM"\r', b"\r\n+CPMS: 0,30,0,30,0,30\r\n" + OK),
    (b'AT+CPMS="ME","ME"\r', b"\r\n+CPMS: 0,30,0,30,0,30\r\n" + OK),
    (b"AT+CPMS?\r", b'\r\n+CPMS: "SM",0,30,"SM",0,30,"SM",0,30\r\n' + OK),
    (b'AT+CPMS="XX"\r', b"\r\nERROR\r\n"),
    (b'AT+CMEE=1;+CPMS="XX"\r', b"\r\n+CMS ERROR: 302\r\n"),
    (b"AT+CMGL=4\r", OK),
    (b"AT+CMEE=1;+CMGR=1\r", b"\r\n+CMS ERROR: 321\r\n"),
    (b"AT+CMEE=1;+CMGR=99\r", b"\r\n+CMS ERROR: 321\r\n"),
    (b"AT+CMEE=2;+CMGR=99\r", b"\r\n+CMS ERROR: invalid memory index\r\n"),
    (b"AT+CMGD=1\r", OK),
    (b"AT+CMGD=1,4\r", OK),
    (b"AT+CMEE=1;+CNMA\r", b"\r\n+CMS ERROR: 340\r\n"),
    (b"AT+CSMS?\r", b"\r\n+CSMS: 0,1,1,1\r\n" + OK),
    (b"AT+CMEE?\r", b"\r\n+CMEE: 0\r\n" + OK),
    (b"AT+CMEE=1;+FOO\r", b"\r\nERROR\r\n"),
    (b"AT+CMEE=1;+CREG=7\r", b"\r\n+CME ERROR: 50\r\n"),
    (b'AT+CMEE=2;+CPIN="1234"\r', b"\r\n+CME ERROR: operation not allowed\r\n"),
    (b"ATZ\r", OK),
    (b"AT&F\r", OK),
    (b'AT"unterminated\r', b"\r\nERROR\r\n"),
    (b"AT^CURC=0\r", b"\r\nERROR\r\n"),
    (b"AT+CCLK?\r", b'\r\n+CCLK: "26/11/27,00:00:01+00"\r\n' + OK),
    (b"AT+CMEE=1;+CMGS=0\r", b"\r\n+CMS ERROR: 304\r\n"),
    (b"AT+CMEE=1;+CMGS=999\r", b"\r\n+CMS ERROR: 304\r\n"),
    (b"ATV0\r", b"0\r"),
    (b"ATV0;+CSQ\r", b"+CSQ: 20,99\r\n0\r"),
    (b"ATV0;+FOO\r", b"4\r"),
    (b"AT+CMGR=\xb2\r", b"\r\nERROR\r\n"),
    (b"ATE\xb2\r", b"\r\nERROR\r\n"),
]


@pytest.mark.parametrize(("command", "reply"), REPLIES)
def test_reply_table(command: bytes, reply: bytes) -> None:
    """Each command gets exactly the reply a 3GPP modem gives (at-conformance §5.2)."""
    assert talk(quiet(), command) == reply


@pytest.mark.parametrize(("command", "reply"), REPLIES)
def test_reply_table_byte_at_a_time(command: bytes, reply: bytes) -> None:
    """Feeding one byte at a time (as gammu does) gives the same reply."""
    model = quiet()
    out = b"".join(talk(model, bytes([b])) for b in command)
    assert out == reply


#: the one-integer settings share one handler: a bad or second value is refused with the
#: setting's own error (+CME 50 for TS 27.007 ones, +CMS 302 for TS 27.005 ones)
SETTINGS: list[tuple[str, bytes, bytes]] = [
    ("generic", b"AT+CMEE=1;+CMEE=3\r", b"\r\n+CME ERROR: 50\r\n"),
    ("generic", b"AT+CMEE=1;+CMEE=1,2\r", b"\r\n+CME ERROR: 50\r\n"),
    ("generic", b"AT+CMEE\r", b"\r\nERROR\r\n"),
    ("generic", b"AT+CMEE=1;+CMGF=2\r", b"\r\n+CMS ERROR: 302\r\n"),
    ("generic", b"AT+CMEE=1;+CSDH=0,1\r", b"\r\n+CMS ERROR: 302\r\n"),
    ("generic", b"AT+CMGF\r", b"\r\nERROR\r\n"),
    ("generic", b"AT+CSDH=?\r", b"\r\n+CSDH: (0,1)\r\n" + OK),
    ("e3372", b"AT+CMEE=1;^CURC=2\r", b"\r\n+CME ERROR: 50\r\n"),
    ("e3372", b"AT^CURC=?\r", b"\r\n^CURC: (0-1)\r\n" + OK),
    ("e3372", b"AT^CURC\r", b"\r\nERROR\r\n"),
]


@pytest.mark.parametrize(("profile", "command", "reply"), SETTINGS)
def test_one_integer_settings(profile: str, command: bytes, reply: bytes) -> None:
    """A one-integer setting takes exactly one allowed value and refuses others its way."""
    assert talk(quiet(ModemConfig(profile=profile)), command) == reply


def test_clac_lists_sms_commands() -> None:
    """AT+CLAC lists the supported commands, one per line."""
    out = talk(quiet(), b"AT+CLAC\r").decode()
    assert "\r\nAT+CMGS\r\n" in out
    assert "\r\nAT+CNMI\r\n" in out
    assert out.endswith("\r\nOK\r\n")


def test_echo_each_byte_at_once() -> None:
    """With E1 every byte is echoed as it arrives, before the command completes."""
    model = ModemModel()
    assert talk(model, b"A") == b"A"
    assert talk(model, b"T") == b"T"
    assert talk(model, b"\r") == b"\r" + OK


def test_line_with_ate1_not_echoed_when_echo_was_off() -> None:
    """Echo is per command: ATE1 typed while echo is off is not echoed, the next line is."""
    model = quiet()
    assert talk(model, b"ATE1\r") == OK
    assert talk(model, b"AT\r") == b"AT\r" + OK


def test_line_with_ate0_is_echoed() -> None:
    """ATE0 typed while echo is on is echoed, then echo stops."""
    model = ModemModel()
    assert talk(model, b"ATE0\r") == b"ATE0\r" + OK
    assert talk(model, b"AT\r") == OK


def test_two_lines_in_one_write_echo_switches_between_them() -> None:
    """A write holding ATE0 and a second line echoes only the first."""
    model = ModemModel()
    assert talk(model, b"ATE0\rAT\r") == b"ATE0\r" + OK + OK


def test_repeat_last_line() -> None:
    """A/ runs the previous command line again without a CR (V.250 §5.2.4)."""
    model = quiet()
    talk(model, b"AT+CSQ\r")
    assert talk(model, b"A/") == b"\r\n+CSQ: 20,99\r\n" + OK


def test_overlong_line_is_error_and_parser_recovers() -> None:
    """A line beyond the buffer gets ERROR, and the next command works."""
    model = quiet()
    assert talk(model, b"AT" + b"X" * 2000 + b"\r") == b"\r\nERROR\r\n"
    assert talk(model, b"AT\r") == OK


def test_backspace_edits_the_line() -> None:
    """Backspace removes the previous character (V.250 S5)."""
    assert talk(quiet(), b"AT+CSQX\x08\r") == b"\r\n+CSQ: 20,99\r\n" + OK


def test_reset_restores_power_on_settings() -> None:
    """ATZ resets echo, CMGF and CNMI (at-conformance §5.2)."""
    model = quiet()
    talk(model, b"AT+CMGF=1;+CNMI=2,1,0,2,0;+CMEE=2\r")
    assert talk(model, b"ATZ\r") == OK
    assert talk(model, b"AT+CMGF?;+CNMI?;+CMEE?\r") == (
        b"AT+CMGF?;+CNMI?;+CMEE?\r\r\n+CMGF: 0\r\n+CNMI: 0,0,0,0,0\r\n+CMEE: 0\r\n" + OK
    )


def test_compound_line_stops_at_first_error() -> None:
    """Info lines before the failing command are answered, later commands do not run."""
    model = quiet()
    out = talk(model, b"AT+CSQ;+FOO;+CMGF=1\r")
    assert out == b"\r\n+CSQ: 20,99\r\n\r\nERROR\r\n"
    assert talk(model, b"AT+CMGF?\r") == b"\r\n+CMGF: 0\r\n" + OK


def test_imei_imsi_and_vendor_per_profile() -> None:
    """The manufacturer string comes from the profile (gammu picks quirks by it)."""
    for profile, name in [("sim800", "SIMCOM_Ltd"), ("e3372", "huawei"), ("ec25", "Quectel")]:
        model = quiet(ModemConfig(profile=profile))
        assert talk(model, b"AT+CGMI\r") == f"\r\n{name}\r\n".encode() + OK


def test_cfun_off_deregisters_and_blocks_sending() -> None:
    """AT+CFUN=0 drops registration; sending then fails with +CMS ERROR: 331."""
    model = quiet()
    talk(model, b"AT+CMEE=1;+CFUN=0\r")
    assert talk(model, b"AT+CREG?\r") == b"\r\n+CREG: 0,0\r\n" + OK
    part = pducodec.encode_submit("+15550001111", "x")[0]
    assert talk(model, f"AT+CMGS={part.tpdu_length}\r".encode()) == b"\r\n> "
    assert talk(model, part.hex.encode() + b"\x1a") == b"\r\n+CMS ERROR: 331\r\n"


def test_registration_urcs_follow_cfun() -> None:
    """With CREG=1/CEREG=2 enabled, CFUN=0 and CFUN=1 are followed by registration URCs."""
    model = quiet()
    talk(model, b"AT+CREG=1;+CEREG=2\r")
    assert talk(model, b"AT+CFUN=0\r") == OK + b"\r\n+CREG: 0\r\n\r\n+CEREG: 0\r\n"
    assert talk(model, b"AT+CFUN=1\r") == (
        OK + b'\r\n+CREG: 1\r\n\r\n+CEREG: 1,"00C3","0000A1B2",7\r\n'
    )
    assert talk(model, b"AT+CFUN=1\r") == OK


def test_vendor_static_commands() -> None:
    """Vendor-only commands answer on their profile and are unknown elsewhere."""
    assert talk(quiet(ModemConfig(profile="ec25")), b"AT+QGMR\r").startswith(b"\r\nEC25")
    assert talk(quiet(ModemConfig(profile="e3372")), b"AT^HWVER\r").startswith(b"\r\n^HWVER:")
    assert talk(quiet(), b"AT+QGMR\r") == b"\r\nERROR\r\n"


def test_cfun_reset_reboots_after_ok() -> None:
    """AT+CFUN=1,1 answers OK, then the modem restarts with power-on settings."""
    model = quiet()
    assert talk(model, b"AT+CFUN=1,1\r") == OK
    assert talk(model, b"AT\r") == b"AT\r" + OK  # echo is back on after the restart


@pytest.mark.parametrize(
    ("profile", "line", "reply"),
    [
        ("generic", b"AT+CCID\r", b"\r\n+CCID: 8901260000000000011\r\n\r\nOK\r\n"),
        ("sim800", b"AT+CCID\r", b"\r\n8901260000000000011\r\n\r\nOK\r\n"),
        ("ec25", b"AT+ICCID\r", b"\r\n+ICCID: 8901260000000000011\r\n\r\nOK\r\n"),
        ("e3372", b"AT+CCID\r", b"\r\nERROR\r\n"),
        (
            "e3372",
            b"AT+CRSM=176,12258,0,0,10\r",
            b'\r\n+CRSM: 144,0,"981062000000000010F1"\r\n\r\nOK\r\n',
        ),
        ("generic", b'AT+CPINR="SIM PIN"\r', b"\r\n+CPINR: SIM PIN,3,3\r\n\r\nOK\r\n"),
        (
            "generic",
            b'AT+CPINR="SIM*"\r',
            b"\r\n+CPINR: SIM PIN,3,3\r\n+CPINR: SIM PUK,10,10\r\n\r\nOK\r\n",
        ),
        ("sim800", b'AT+CPINR="SIM PIN"\r', b"\r\nERROR\r\n"),
        ("sim800", b"AT+SPIC\r", b"\r\n+SPIC: 3,10,3,10\r\n\r\nOK\r\n"),
    ],
)
def test_sim_identity_and_counters(profile: str, line: bytes, reply: bytes) -> None:
    """ICCID and PIN counter commands answer per profile, before the PIN is entered."""
    model = quiet(ModemConfig(profile=profile, pin="1234"))
    assert talk(model, line) == reply


def test_pin_counter_follows_wrong_entries() -> None:
    """AT+CPINR counts down with each wrong AT+CPIN and resets on the right one."""
    model = quiet(ModemConfig(pin="1234"))
    talk(model, b"AT+CMEE=1\r")
    assert talk(model, b'AT+CPIN="0000"\r') == b"\r\n+CME ERROR: 16\r\n"
    assert talk(model, b'AT+CPINR="SIM PIN"\r') == b"\r\n+CPINR: SIM PIN,2,3\r\n\r\nOK\r\n"
    talk(model, b'AT+CPIN="1234"\r')
    assert talk(model, b'AT+CPINR="SIM PIN"\r') == b"\r\n+CPINR: SIM PIN,3,3\r\n\r\nOK\r\n"


def test_byte_counters_count_what_crosses_the_port_even_when_silent() -> None:
    """bytes_in counts every byte the client wrote, bytes_out every byte handed out."""
    model = quiet()
    start_in, start_out = model.bytes_in, model.bytes_out
    assert talk(model, b"AT\r") == OK
    assert (model.bytes_in - start_in, model.bytes_out - start_out) == (3, len(OK))
    model.set_fault("silent", {}, 1.0)
    assert talk(model, b"AT+CSQ\r") == b""
    assert (model.bytes_in - start_in, model.bytes_out - start_out) == (10, len(OK))


def test_garbage_inside_lands_between_the_first_information_line_and_the_rest() -> None:
    """'garbage' when=inside splits the next reply that has information lines."""
    model = quiet()
    model.set_fault("garbage", {"bytes": b"\xff!", "when": "inside"}, 1.0)
    assert talk(model, b"AT\r") == OK  # no information line: left for the next reply
    assert talk(model, b"AT+CSQ;+CBC\r") == b"\r\n+CSQ: 20,99\r\n\xff!+CBC: 0,95\r\n" + OK
    assert talk(model, b"AT+CSQ\r") == b"\r\n+CSQ: 20,99\r\n" + OK


def test_unplug_fault_asks_the_shell_to_pull_and_replug() -> None:
    """A fired 'unplug' leaves the line unanswered and hands the shell (replug_after,)."""
    model = quiet()
    model.set_fault("unplug", {"on": "AT+CMGL", "replug_after": 0.5}, 1.0)
    assert talk(model, b"AT+CMGL=4\r") == b""
    assert model.take_unplug() == (0.5,)
    assert model.take_unplug() is None  # taken once
    assert talk(model, b"AT+CMGL=4\r").endswith(OK)  # fired once, then gone
    model.set_fault("unplug", {"on": "AT"}, 1.0)
    talk(model, b"AT\r")
    assert model.take_unplug() == ()  # no replug_after: stays out


def test_a_command_table_cannot_take_a_command_already_registered() -> None:
    """register refuses a table claiming a command the model already runs, and adds none of it."""
    before = dict(model_module.HANDLERS)
    with pytest.raises(SimulatorError, match=r"\+CMGS"):
        model_module.register({"+CMGS": Spec(handler=ok), "+XNEW": Spec(handler=ok)})
    assert before == model_module.HANDLERS


def test_the_registered_tables_are_the_command_set_clac_lists() -> None:
    """The model runs the tables the simulator package registered: AT+CLAC lists them."""
    modem = ModemModel()
    modem.receive_data(b"AT+CLAC\r", 0.0)
    listed = modem.take_output().decode()
    for command in ("+CMGS", "+CPIN", "+CPMS", "+CREG"):
        assert f"AT{command}\r\n" in listed
    assert modem.commands is model_module.HANDLERS
