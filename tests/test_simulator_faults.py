"""Each injected fault as a client on the pty sees it (issue 3, fault injection)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from simulator_client import PtyClient, bytes_out, written_while_reading

from gateway.simulator import ModemConfig, SimulatorError, SimulatorThread, ThreadModemHandle
from gateway.sms import pdu as pducodec

PART = pducodec.encode_submit("+15550009999", "otp 123456")[0]


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[tuple[ThreadModemHandle, PtyClient]]:
    """A running simulator and a client with echo off, CMEE=1 and +CMTI enabled."""
    link = tmp_path / "modem"
    with (
        SimulatorThread([ModemConfig(link=link, profile="sim800")]) as sim,
        PtyClient(str(link)) as client,
    ):
        client.command(b"ATE0;+CMEE=1;+CNMI=2,1,0,0,0")
        yield sim.modems[0], client


def send_sms(client: PtyClient) -> bytes:
    """Send PART with AT+CMGS and return the final reply."""
    client.send(f"AT+CMGS={PART.tpdu_length}\r".encode())
    client.read_until(b"> ")
    client.send(PART.hex.encode() + b"\x1a")
    return client.read_until(b"\r\n", 5) + client.read_until(b"\r\n", 5)


def test_silent(rig: tuple[ThreadModemHandle, PtyClient]) -> None:
    """'silent': the modem stops answering; after clearing it answers again."""
    modem, client = rig
    modem.set_fault("silent")
    assert written_while_reading(modem, client, b"AT\r") == 0
    modem.clear_fault("silent")
    # the same check sees a reply once the modem answers again, so 0 above is no artefact
    assert written_while_reading(modem, client, b"AT\r") == len(b"\r\nOK\r\n")
    assert client.read_until(b"OK\r\n") == b"\r\nOK\r\n"
    assert client.command(b"AT") == b"\r\nOK\r\n"


def test_late_reply(rig: tuple[ThreadModemHandle, PtyClient]) -> None:
    """'late-reply': the reply comes only after the delay."""
    modem, client = rig
    modem.set_fault("late-reply", delay=0.4)
    start = time.monotonic()
    assert client.command(b"AT+CSQ") == b"\r\n+CSQ: 20,99\r\n\r\nOK\r\n"
    assert time.monotonic() - start >= 0.39


def test_late_prompt(rig: tuple[ThreadModemHandle, PtyClient]) -> None:
    """'late-prompt': the '> ' prompt comes only after the delay."""
    modem, client = rig
    modem.set_fault("late-prompt", delay=0.4)
    start = time.monotonic()
    client.send(f"AT+CMGS={PART.tpdu_length}\r".encode())
    assert client.read_until(b"> ") == b"\r\n> "
    assert time.monotonic() - start >= 0.39
    client.send(PART.hex.encode() + b"\x1a")
    assert client.read_until(b"OK\r\n") == b"\r\n+CMGS: 0\r\n\r\nOK\r\n"


def test_urc_in_response(rig: tuple[ThreadModemHandle, PtyClient]) -> None:
    """'urc-in-response': a URC lands between the info line and OK of the next command."""
    modem, client = rig
    modem.set_fault("urc-in-response", urc='+CMTI: "SM",7')
    assert client.command(b"AT+CSQ") == b'\r\n+CSQ: 20,99\r\n\r\n+CMTI: "SM",7\r\n\r\nOK\r\n'
    assert client.command(b"AT+CSQ") == b"\r\n+CSQ: 20,99\r\n\r\nOK\r\n"


def test_garbage_now_and_before_next_reply(rig: tuple[ThreadModemHandle, PtyClient]) -> None:
    """'garbage': non-UTF-8 bytes arrive at once, or just before the next reply."""
    modem, client = rig
    modem.set_fault("garbage", bytes=b"\xff\xfe junk\r\n")
    assert client.read_until(b"junk\r\n") == b"\xff\xfe junk\r\n"
    before = bytes_out(modem)
    modem.set_fault("garbage", bytes=b"\x00\x80noise", when="next")
    assert bytes_out(modem) == before
    assert client.command(b"AT") == b"\x00\x80noise\r\nOK\r\n"


def test_cme_storm(rig: tuple[ThreadModemHandle, PtyClient]) -> None:
    """'cme-storm': the next N commands fail with the given codes in turn, then OK."""
    modem, client = rig
    modem.set_fault("cme-storm", codes=[14, 515], count=3)
    replies = [
        client.command(b"AT+CPIN?", b"\r\n", 5) + client.read_until(b"\r\n") for _ in range(3)
    ]
    assert replies == [
        b"\r\n+CME ERROR: 14\r\n",
        b"\r\n+CME ERROR: 515\r\n",
        b"\r\n+CME ERROR: 14\r\n",
    ]
    assert client.command(b"AT+CPIN?") == b"\r\n+CPIN: READY\r\n\r\nOK\r\n"


def test_cms_on_send_once(rig: tuple[ThreadModemHandle, PtyClient]) -> None:
    """'cms-on-send' times=1: the first send fails with the code, the retry succeeds."""
    modem, client = rig
    modem.set_fault("cms-on-send", code=512, times=1)
    assert send_sms(client) == b"\r\n+CMS ERROR: 512\r\n"
    assert send_sms(client) == b"\r\n+CMGS: 0\r\n"
    assert len(modem.sent()) == 1


def test_cms_on_send_always(rig: tuple[ThreadModemHandle, PtyClient]) -> None:
    """'cms-on-send' times=None: every send fails until cleared."""
    modem, client = rig
    modem.set_fault("cms-on-send", code=500, times=None)
    assert [send_sms(client) for _ in range(3)] == [b"\r\n+CMS ERROR: 500\r\n"] * 3
    assert modem.sent() == []


def test_storage_full(rig: tuple[ThreadModemHandle, PtyClient]) -> None:
    """'storage-full': a new SMS is not stored, no +CMTI; AT+CMGW fails with 322."""
    modem, client = rig
    modem.set_fault("storage-full")
    assert modem.inject_sms("lost") == []
    # a +CMTI is written while the SMS is injected, so it would arrive before this OK
    assert client.command(b"AT") == b"\r\nOK\r\n"
    client.send(f"AT+CMGW={PART.tpdu_length}\r".encode())
    client.read_until(b"> ")
    client.send(PART.hex.encode() + b"\x1a")
    assert client.read_until(b"\r\n", 5) + client.read_until(b"\r\n") == b"\r\n+CMS ERROR: 322\r\n"


def test_no_urc(rig: tuple[ThreadModemHandle, PtyClient]) -> None:
    """'no-urc': the SMS is stored but no +CMTI is written."""
    modem, client = rig
    modem.set_fault("no-urc")
    assert modem.inject_sms("quiet") == [1]
    # a +CMTI is written while the SMS is injected, so it would arrive before this OK
    assert client.command(b"AT") == b"\r\nOK\r\n"
    assert client.command(b"AT+CMGL=4").startswith(b"\r\n+CMGL: 1,0,,")


def test_cmti_burst(rig: tuple[ThreadModemHandle, PtyClient]) -> None:
    """Several SMS at once: every +CMTI arrives, each as its own line."""
    modem, client = rig
    for i in range(5):
        modem.inject_sms(f"burst {i}")
    assert client.read_until(b'"SM",5\r\n') == b"".join(
        f'\r\n+CMTI: "SM",{i}\r\n'.encode() for i in range(1, 6)
    )


def test_cme_storm_from_power_on(rig: tuple[ThreadModemHandle, PtyClient]) -> None:
    """'cme-storm' when=power-on waits for the next power-on, then fails the first commands."""
    modem, client = rig
    modem.set_fault("cme-storm", codes=[515], count=2, when="power-on")
    assert client.command(b"AT+CPIN?") == b"\r\n+CPIN: READY\r\n\r\nOK\r\n"
    modem.reboot()
    client.read_until(b"SMS Ready\r\n")
    # echo is on and +CMEE is 0 again after the restart: the storm shows as ERROR
    for _ in range(2):
        assert client.command(b"AT+CPIN?", b"ERROR\r\n") == b"AT+CPIN?\r\r\nERROR\r\n"
    assert client.command(b"AT+CPIN?").endswith(b"\r\n+CPIN: READY\r\n\r\nOK\r\n")


def test_refuse(rig: tuple[ThreadModemHandle, PtyClient]) -> None:
    """'refuse': lines starting with a listed prefix fail as asked; other lines run."""
    modem, client = rig
    modem.set_fault("refuse", on=["AT+CNMI=2,1,0,2", "at+cpinr"], cms=303)
    assert client.command(b"AT+CNMI=2,1,0,2,0", b"\r\n", 5) + client.read_until(b"\r\n") == (
        b"\r\n+CMS ERROR: 303\r\n"
    )
    assert client.command(b"AT+CNMI=2,1,0,1,0") == b"\r\nOK\r\n"
    modem.set_fault("refuse", on="AT+CCID")
    assert client.command(b"AT+CCID", b"ERROR\r\n") == b"\r\nERROR\r\n"
    modem.clear_fault("refuse")
    assert client.command(b"AT+CCID") == b"\r\n8901260000000000011\r\n\r\nOK\r\n"


def test_no_network(rig: tuple[ThreadModemHandle, PtyClient]) -> None:
    """'no-network': +CREG? says searching and a +CREG URC follows each change."""
    modem, client = rig
    client.command(b"AT+CREG=1")
    modem.set_fault("no-network", stat=2)
    assert client.read_until(b"+CREG: 2\r\n").endswith(b"\r\n+CREG: 2\r\n")
    assert client.command(b"AT+CREG?") == b"\r\n+CREG: 1,2\r\n\r\nOK\r\n"
    assert modem.state()["registered"] is False
    modem.clear_fault("no-network")
    assert client.read_until(b"+CREG: 1\r\n").endswith(b"\r\n+CREG: 1\r\n")
    assert modem.state()["registered"] is True


def test_reboot_loses_settings_and_says_sms_ready(rig: tuple[ThreadModemHandle, PtyClient]) -> None:
    """Reboot: SIM800 says SMS Ready again and settings (echo, CNMI) are back to defaults."""
    modem, client = rig
    modem.reboot()
    assert client.read_until(b"SMS Ready\r\n").endswith(b"\r\nCall Ready\r\n\r\nSMS Ready\r\n")
    assert client.command(b"AT+CMEE?") == b"AT+CMEE?\r\r\n+CMEE: 0\r\n\r\nOK\r\n"


def test_unplug_on_nth_command_then_replug(tmp_path: Path) -> None:
    """'unplug': the nth matching line pulls the cable unanswered; it comes back when asked."""
    link = tmp_path / "modem"
    with SimulatorThread([ModemConfig(link=link, profile="sim800")]) as sim:
        modem = sim.modems[0]
        client = PtyClient(str(link))
        client.command(b"ATE0")
        modem.set_fault("unplug", on="AT+CSQ", nth=2)
        assert client.command(b"AT+CSQ") == b"\r\n+CSQ: 20,99\r\n\r\nOK\r\n"
        assert client.command(b"AT") == b"\r\nOK\r\n"  # other lines do not count
        with pytest.raises((EOFError, OSError, TimeoutError)):
            client.command(b"AT+CSQ", timeout=2)  # the second one: no answer, cable out
        client.close()
        state = modem.state()
        assert state["plugged"] is False
        assert state["faults"] == []  # fired once, then gone
        modem.replug()
        with PtyClient(str(link)) as again:
            assert again.command(b"AT").endswith(b"OK\r\n")


def test_bad_fault_requests() -> None:
    """Unknown faults and bad parameters raise SimulatorError without side effects."""
    with SimulatorThread() as sim:
        modem = sim.modems[0]
        cases: list[tuple[str, dict[str, object]]] = [
            ("nope", {}),
            ("late-reply", {"delay": -1}),
            ("late-reply", {"delay": "soon"}),
            ("cme-storm", {"codes": []}),
            ("cms-on-send", {"times": 0}),
            ("silent", {"extra": 1}),
            ("garbage", {"when": "later"}),
            ("cme-storm", {"when": "later"}),
            ("refuse", {}),
            ("refuse", {"on": "CNMI"}),
            ("refuse", {"on": "AT+X", "cme": 1, "cms": 2}),
            ("no-network", {"stat": 1}),
            ("unplug", {"on": "CSQ"}),
            ("unplug", {"nth": 0}),
            ("unplug", {"replug_after": -1}),
        ]
        for name, params in cases:
            with pytest.raises(SimulatorError):
                modem.set_fault(name, **params)
        with pytest.raises(SimulatorError):
            modem.clear_fault("nope")
        assert modem.state()["faults"] == []
