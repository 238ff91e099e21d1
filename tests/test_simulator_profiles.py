"""Tests of vendor profiles, the SIM (PIN/PUK, busy after power-on) and parser robustness."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.simulator import inject
from gateway.simulator.atcommand import CommandSyntaxError, parse_args, split_line
from gateway.simulator.config import ModemConfig
from gateway.simulator.model import ModemModel

OK = b"\r\nOK\r\n"


def talk(model: ModemModel, data: bytes, now: float = 1.0) -> bytes:
    """Feed ``data`` at ``now``, run due timers and return what the modem wrote."""
    model.receive_data(data, now)
    model.scheduler.run_due(now)
    return model.take_output()


def test_pin_unlock() -> None:
    """A SIM with a PIN reports SIM PIN, refuses SMS commands, then unlocks."""
    model = ModemModel(ModemConfig(pin="1234"))
    talk(model, b"ATE0;+CMEE=1\r")
    assert talk(model, b"AT+CPIN?\r") == b"\r\n+CPIN: SIM PIN\r\n" + OK
    assert talk(model, b"AT+CMGL=4\r") == b"\r\n+CME ERROR: 11\r\n"
    assert talk(model, b"AT+CREG?\r") == b"\r\n+CREG: 0,0\r\n" + OK
    assert talk(model, b'AT+CPIN="1234"\r') == OK
    assert talk(model, b"AT+CPIN?\r") == b"\r\n+CPIN: READY\r\n" + OK
    assert talk(model, b"AT+CMGL=4\r") == OK


def test_three_wrong_pins_need_the_puk() -> None:
    """Three wrong PINs lock the SIM (SIM PUK); the PUK with a new PIN unlocks it."""
    model = ModemModel(ModemConfig(pin="1234"))
    talk(model, b"ATE0;+CMEE=1\r")
    for _ in range(3):
        assert talk(model, b'AT+CPIN="0000"\r') == b"\r\n+CME ERROR: 16\r\n"
    assert talk(model, b"AT+CPIN?\r") == b"\r\n+CPIN: SIM PUK\r\n" + OK
    assert talk(model, b'AT+CPIN="1234"\r') == b"\r\n+CME ERROR: 3\r\n"  # PUK needs new PIN
    assert talk(model, b'AT+CPIN="11111111","4321"\r') == b"\r\n+CME ERROR: 16\r\n"
    assert talk(model, b'AT+CPIN="12345678","4321"\r') == OK
    assert talk(model, b"AT+CPIN?\r") == b"\r\n+CPIN: READY\r\n" + OK
    model.power_on(2.0)
    talk(model, b"ATE0\r", 2.0)
    assert talk(model, b'AT+CPIN="4321"\r', 2.0) == OK


def test_ten_wrong_puks_block_the_sim() -> None:
    """After ten wrong PUKs the SIM is blocked for good (+CME ERROR: 13)."""
    model = ModemModel(ModemConfig(pin="1234"))
    talk(model, b"ATE0;+CMEE=1\r")
    for _ in range(3):
        talk(model, b'AT+CPIN="0000"\r')
    for _ in range(10):
        talk(model, b'AT+CPIN="00000000","1111"\r')
    assert talk(model, b"AT+CMGL=4\r") == b"\r\n+CME ERROR: 13\r\n"
    assert talk(model, b'AT+CPIN="12345678","1111"\r') == b"\r\n+CME ERROR: 13\r\n"


def test_sim_busy_after_power_on() -> None:
    """For sim_busy_seconds after power-on SIM commands answer +CME ERROR: 14 (verbose too)."""
    model = ModemModel(ModemConfig(sim_busy_seconds=5.0), now=100.0)
    talk(model, b"ATE0;+CMEE=1\r", 100.0)
    assert talk(model, b"AT+CPIN?\r", 101.0) == b"\r\n+CME ERROR: 14\r\n"
    assert talk(model, b"AT+CMGL=4\r", 102.0) == b"\r\n+CME ERROR: 14\r\n"
    assert talk(model, b"AT+CMEE=2;+CPIN?\r", 103.0) == b"\r\n+CME ERROR: SIM busy\r\n"
    assert talk(model, b"AT\r", 103.0) == OK
    assert talk(model, b"AT+CPIN?\r", 105.0) == b"\r\n+CPIN: READY\r\n" + OK


def test_sim800_boot_urcs_after_power_on_and_reboot() -> None:
    """SIM800 writes RDY ... Call Ready / SMS Ready once its SIM is ready, again after reboot."""
    model = ModemModel(ModemConfig(profile="sim800", sim_busy_seconds=2.0), now=0.0)
    model.scheduler.run_due(1.0)
    assert model.take_output() == b""
    model.scheduler.run_due(2.0)
    boot = model.take_output()
    assert boot.startswith(b"\r\nRDY\r\n")
    assert boot.endswith(b"\r\nCall Ready\r\n\r\nSMS Ready\r\n")
    talk(model, b"ATE0;+CNMI=2,1,0,2,0\r", 3.0)
    model.power_on(10.0)
    model.scheduler.run_due(11.0)
    assert model.take_output() == b""
    model.scheduler.run_due(12.0)
    assert model.take_output() == boot
    assert talk(model, b"AT+CNMI?\r", 12.0) == b"AT+CNMI?\r\r\n+CNMI: 2,1,0,0,0\r\n" + OK


def test_sim800_default_cnmi_notifies() -> None:
    """SIM800 powers on with CNMI=2,1,0,0,0, so +CMTI arrives without setup."""
    model = ModemModel(ModemConfig(profile="sim800"))
    model.scheduler.run_due(0.0)
    model.take_output()
    inject.inject_sms(model, "hi", 1.0)
    assert model.take_output() == b'\r\n+CMTI: "SM",1\r\n'


def test_e3372_rssi_noise_is_deterministic_and_curc_silences_it() -> None:
    """Huawei noise follows every third command; AT^CURC=0 stops it."""
    model = ModemModel(ModemConfig(profile="e3372"))
    model.scheduler.run_due(0.0)
    assert model.take_output().startswith(b"\r\n^BOOT:")
    outputs = [talk(model, b"AT\r") for _ in range(6)]
    assert outputs[2] == b"AT\r" + OK + b"\r\n^RSSI:20\r\n"
    assert outputs[5] == b"AT\r" + OK + b"\r\n^BOOT:20952380,0,0,0,72\r\n"
    assert talk(model, b"AT^CURC?\r") == b"AT^CURC?\r\r\n^CURC: 1\r\n" + OK
    talk(model, b"ATE0;^CURC=0\r")
    assert all(talk(model, b"AT\r") == OK for _ in range(6))


def test_e3372_storage_starts_at_zero() -> None:
    """Huawei and Quectel number storage from 0."""
    model = ModemModel(ModemConfig(profile="e3372"))
    assert inject.inject_sms(model, "x", 1.0) == [0]


def test_ec25_boot_urcs_include_qind() -> None:
    """Quectel EC25 announces +QIND: SMS DONE after boot."""
    model = ModemModel(ModemConfig(profile="ec25"))
    model.scheduler.run_due(0.0)
    assert model.take_output().endswith(b"\r\n+QIND: SMS DONE\r\n")


def test_split_line_forms() -> None:
    """Basic and extended commands split into names, forms and raw arguments."""
    commands = split_line('ATE0V1S0=0&FI;+CMGS=23;+CSCA="a;b";+CPMS=?;+CMGF?')
    assert [(c.name, c.form.value, c.args) for c in commands] == [
        ("E", "set", "0"),
        ("V", "set", "1"),
        ("S0", "set", "0"),
        ("&F", "exec", ""),
        ("I", "exec", ""),
        ("+CMGS", "set", "23"),
        ("+CSCA", "set", '"a;b"'),
        ("+CPMS", "test", ""),
        ("+CMGF", "read", ""),
    ]


def test_parse_args() -> None:
    """Arguments: quoted strings, integers, empty values."""
    assert parse_args('"SM",1,,"a,b" , 7') == ["SM", 1, None, "a,b", 7]
    for bad in ('"open', "1 2", "a b"):
        try:
            parse_args(bad)
        except CommandSyntaxError:
            continue
        raise AssertionError(f"{bad!r} parsed")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=64), max_size=12))
def test_random_bytes_never_raise(chunks: list[bytes]) -> None:
    """Any byte stream, in any chunking, gives bytes back and never an exception."""
    model = ModemModel()
    for i, chunk in enumerate(chunks):
        model.receive_data(chunk, float(i))
        model.scheduler.run_due(float(i))
        assert isinstance(model.take_output(), bytes)
    model.receive_data(b"\x1b\rAT\r", 99.0)
    assert model.take_output().endswith(b"OK\r\n")


COMMAND_WORDS = [
    b"AT",
    b"+CMGS=",
    b"+CMGW=",
    b"+CMGR=",
    b"+CMGL=",
    b"+CMGD=",
    b"+CPMS=",
    b"+CNMI=",
    b"+CMGF=1",
    b"+CSCS=",
    b'"UCS2"',
    b"+CPIN=",
    b"?",
    b"=?",
    b";",
    b",",
    b"1",
    b"255",
    b"\r",
    b"\x1a",
    b"\x1b",
    b"00",
    b"11",
    b'"',
    b"E1",
    b"V0",
    b"A/",
    b"+CMSS=",
    b"Z",
    b"\xb2",
    b"\xff",
    b"+CMGF=0",
    b"+CSDH=1",
    b"+CNMI=2,2",
    b"+CNMA",
    b"+CFUN=1,1",
    b"+CSCA=",
    b"+CMEE=2",
]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(COMMAND_WORDS), max_size=40))
def test_random_command_soup_never_raises(words: list[bytes]) -> None:
    """Command-shaped random input exercises handlers without raising."""
    model = ModemModel(ModemConfig(pin="1234"))
    inject.inject_sms(model, "seed", 0.0)
    model.receive_data(b"".join(words), 1.0)
    model.scheduler.run_due(1.0)
    assert isinstance(model.take_output(), bytes)


def test_e3372_accepts_portsel_that_gammu_sends() -> None:
    """Huawei AT^PORTSEL=1 (gammu's Huawei init gives up on ERROR) answers OK; others ERROR."""
    model = ModemModel(ModemConfig(profile="e3372"))
    talk(model, b"ATE0\r")
    assert talk(model, b"AT^PORTSEL=1\r") == OK
    generic = ModemModel(ModemConfig())
    talk(generic, b"ATE0\r")
    assert talk(generic, b"AT^PORTSEL=1\r") == b"\r\nERROR\r\n"
