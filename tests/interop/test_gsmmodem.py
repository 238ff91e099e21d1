"""python-gsmmodem-new's GsmModem (unmodified, its own reader thread) against the simulator."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from threading import current_thread
from typing import Any

import pytest
from gsmmodem.modem import GsmModem, SentSms

from gateway.simulator import ThreadModemHandle
from gateway.simulator.profiles import get_profile

pytestmark = pytest.mark.interop

NUMBER = "+15551234567"
DEADLINE = 10.0


class Client:
    """A GsmModem whose receive and status-report callbacks feed queues.

    python-gsmmodem runs each callback in a notification thread that goes on (reading,
    deleting) after it: the queues carry that thread so a test can join it.
    """

    def __init__(self, device: str) -> None:
        self.received: queue.Queue[tuple[Any, threading.Thread]] = queue.Queue()
        self.reports: queue.Queue[tuple[Any, threading.Thread]] = queue.Queue()
        self.modem = GsmModem(
            device,
            115200,
            smsReceivedCallbackFunc=lambda sms: self.received.put((sms, current_thread())),
            smsStatusReportCallback=lambda rep: self.reports.put((rep, current_thread())),
        )

    @staticmethod
    def next(source: queue.Queue[tuple[Any, threading.Thread]]) -> Any:
        """Return the next callback argument once its notification thread has finished."""
        value, thread = source.get(timeout=DEADLINE)
        thread.join(timeout=DEADLINE)
        assert not thread.is_alive(), "python-gsmmodem notification thread hung"
        return value


@pytest.fixture
def client(modem: ThreadModemHandle) -> Iterator[Client]:
    """Return a GsmModem connected to the simulated modem; closed (thread joined) after."""
    client = Client(modem.device)
    client.modem.connect()
    try:
        yield client
    finally:
        client.modem.close()


def test_connect_reads_identity_and_network(client: Client) -> None:
    """connect() initialises the modem; identity, signal and network come from the profile."""
    profile = get_profile("generic")
    modem = client.modem
    assert (modem.manufacturer, modem.model, modem.revision) == (
        profile.manufacturer,
        profile.model,
        profile.revision,
    )
    assert modem.imei == profile.imei
    assert modem.imsi == profile.imsi
    assert modem.signalStrength == 20
    assert modem.networkName == "Fake Operator"


def test_send_sms_and_delivery_report(modem: ThreadModemHandle, client: Client) -> None:
    """sendSms() is accepted with reference 0 and the status report marks it delivered."""
    sms = client.modem.sendSms(NUMBER, "code 123456 from gsmmodem")
    assert sms.reference == 0
    [sent] = modem.sent()
    assert (sent.number, sent.text, sent.status_report_requested) == (
        NUMBER,
        "code 123456 from gsmmodem",
        True,
    )
    report = client.next(client.reports)
    assert report.reference == 0
    assert sms.status == SentSms.DELIVERED


def test_receive_callback(modem: ThreadModemHandle, client: Client) -> None:
    """Each injected SMS (+CMTI) reaches smsReceivedCallbackFunc decoded, then is deleted.

    No emoji: python-gsmmodem decodes a UCS-2 surrogate pair as two lone surrogates.
    """
    for text, sender in [
        ("Your code is 424242 @ € {x}", "+15557654321"),
        ("Grüße, код 424242", "+15557654321"),
        ("alphanumeric sender", "OTPBank"),
    ]:
        modem.inject_sms(text, sender=sender)
        sms = client.next(client.received)
        assert (sms.number, sms.text) == (sender, text)
        assert modem.stored("ME") == modem.stored("SM") == {}
