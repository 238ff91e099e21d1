"""The armed 'silent' fault: silence that starts at one command (for crash-point tests)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from simulator_client import PtyClient, written_while_reading

from gateway.simulator import ModemConfig, SimulatorError, SimulatorThread, ThreadModemHandle
from gateway.sms import pdu as pducodec

PART = pducodec.encode_submit("+15550009999", "otp 123456")[0]


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[tuple[ThreadModemHandle, PtyClient]]:
    """A running simulator and a client with echo off and CMEE=1."""
    link = tmp_path / "modem"
    with SimulatorThread([ModemConfig(link=link)]) as sim, PtyClient(str(link)) as client:
        client.command(b"ATE0;+CMEE=1;+CMGF=0")
        yield sim.modems[0], client


def test_silent_on_command_swallows_it(rig: tuple[ThreadModemHandle, PtyClient]) -> None:
    """on=AT+CMGD: other commands answer; AT+CMGD is not executed and silence begins."""
    modem, client = rig
    modem.inject_sms("keep me", notify=False)
    modem.set_fault("silent", on="AT+CMGD")
    assert client.command(b"AT") == b"\r\nOK\r\n"
    assert written_while_reading(modem, client, b"AT+CMGD=1\r") == 0
    modem.wait_silent(timeout=5)
    assert list(modem.stored()) == [1]
    assert written_while_reading(modem, client, b"AT\r") == 0
    modem.clear_fault("silent")
    assert client.command(b"AT") == b"\r\nOK\r\n"


def test_silent_after_body_keeps_the_sms(rig: tuple[ThreadModemHandle, PtyClient]) -> None:
    """on=AT+CMGS phase=body: the network accepts the SMS but +CMGS never comes."""
    modem, client = rig
    modem.set_fault("silent", on="AT+CMGS", phase="body")
    client.send(f"AT+CMGS={PART.tpdu_length}\r".encode())
    client.read_until(b"> ")
    assert written_while_reading(modem, client, PART.hex.encode() + b"\x1a") == 0
    modem.wait_sent(1, timeout=5)
    modem.wait_silent(timeout=5)
    assert len(modem.sent()) == 1
    modem.clear_fault("silent")
    # a late +CMGS would have to arrive before the reply to the next command
    assert client.command(b"AT") == b"\r\nOK\r\n"


@pytest.mark.parametrize("params", [{"on": "CMGD"}, {"on": "AT+CMGD", "phase": "later"}, {"on": 3}])
def test_silent_rejects_bad_parameters(
    rig: tuple[ThreadModemHandle, PtyClient], params: dict[str, object]
) -> None:
    """A filter that is not an AT prefix, or an unknown phase, is refused."""
    modem, _ = rig
    with pytest.raises(SimulatorError):
        modem.set_fault("silent", **params)
