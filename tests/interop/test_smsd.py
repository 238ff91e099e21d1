"""smstools3's smsd (foreground, 1 s loops) receiving and sending through the simulator."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.simulator import ThreadModemHandle
from gateway.testing import peers, watch

pytestmark = pytest.mark.interop

#: smsd polls every second with the fast config; generous for a busy CI machine
DEADLINE = 15.0


def headers(text: str) -> dict[str, str]:
    """Return the ``Name: value`` header lines of an smstools message file."""
    head, _, _ = text.partition("\n\n")
    return dict(line.split(": ", 1) for line in head.splitlines())


def test_receive_and_send(modem: ThreadModemHandle, tmp_path: Path) -> None:
    """An injected SMS lands in incoming/, an outgoing/ file is sent; eventhandler told of both."""
    smsd = peers.smstools(modem.device, tmp_path / "spool")
    spool = smsd.spool
    with smsd, watch.DirectoryWatch(spool.root) as root:
        try:
            with watch.DirectoryWatch(spool.incoming) as incoming:
                modem.inject_sms("Grüße, code 424242", sender="+15557654321")
                # GSM1.<random>; smsd's start-up check writes and removes test.* files here
                [received] = incoming.wait(timeout=DEADLINE, match=lambda n: n.startswith("GSM1."))
            text = received.read_text(encoding="iso8859_15")  # smsd's default charset
            assert text.partition("\n\n")[2] == "Grüße, code 424242"
            fields = headers(text)
            assert fields["From"] == "15557654321"
            assert fields["IMEI"] == "867856030000001"
            assert fields["Alphabet"] == "ISO"  # GSM-7 decoded into ISO-8859-15

            with watch.DirectoryWatch(spool.sent) as sent_dir:
                peers.drop_file(spool.outgoing, "reply", "To: 15551234567\n\nreply from smsd")
                modem.wait_sent(1, timeout=DEADLINE)
                [sent_file] = sent_dir.wait(timeout=DEADLINE, match="reply".__eq__)  # not .LOCK
            [message] = modem.sent()
            assert (message.number, message.text) == ("+15551234567", "reply from smsd")
            assert headers(sent_file.read_text(encoding="utf-8"))["Modem"] == "GSM1"
            assert list(spool.failed.iterdir()) == []
            root.wait_until(
                lambda: len(spool.logged_events()) >= 2, timeout=DEADLINE, what="2 events"
            )
        except BaseException:
            print(smsd.diagnostics())
            raise
    # the message reference the simulator gave (+CMGS: 0) reaches the eventhandler
    assert spool.logged_events() == [f"RECEIVED {received}", f"SENT {sent_file} 0"]
    assert modem.stored("SM") == {}


def test_reopens_the_port_every_cycle(modem: ThreadModemHandle, tmp_path: Path) -> None:
    """With keep_open = no smsd closes and reopens the pty each cycle; each SMS still arrives.

    Every message is injected after smsd closed the port at least once more (seen with
    inotify on the pty): the +CMTI is dropped while nobody has it open, no stale bytes
    reach the next opener, and smsd finds the message by polling storage.
    """
    smsd = peers.smstools(modem.device, tmp_path / "spool", settings={"keep_open": "no"})
    texts = [f"message {i}" for i in range(3)]
    device = watch.DeviceWatch(Path(modem.device))
    with device, smsd, watch.DirectoryWatch(smsd.spool.incoming) as incoming:
        try:
            received: list[Path] = []
            for count, text in enumerate(texts, 1):
                device.wait_closes(device.closes + 1, timeout=DEADLINE)
                modem.inject_sms(text)
                received = incoming.wait(count, timeout=DEADLINE, match=lambda n: n[:5] == "GSM1.")
        except BaseException:
            print(smsd.diagnostics())
            raise
    bodies = [p.read_text(encoding="iso8859_15").partition("\n\n")[2] for p in received]
    assert bodies == texts
    # inotify merges back-to-back identical events, so the counts are lower bounds
    assert device.opens >= 2
