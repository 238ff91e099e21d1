"""gammu-smsd (files backend, 1 s loop) receiving and sending through the simulator."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.simulator import ThreadModemHandle
from gateway.testing import peers, watch

pytestmark = pytest.mark.interop

NUMBER = "+15551234567"
#: the fast config polls every second; generous for gammu's 4 s init on a busy CI machine
DEADLINE = 15.0


def test_receive_and_send(modem: ThreadModemHandle, tmp_path: Path) -> None:
    """An injected SMS lands in the inbox (RunOnReceive called); an outbox file is sent."""
    smsd = peers.gammu_smsd(modem.device, tmp_path / "spool")
    spool = smsd.spool
    with smsd, watch.DirectoryWatch(spool.root) as root:
        try:
            with watch.DirectoryWatch(spool.incoming) as inbox:
                modem.inject_sms("Grüße, code 424242", sender="+15557654321")
                [received] = inbox.wait(timeout=DEADLINE)
            # gammu-smsd files backend: IN<date>_<time>_<serial>_<sender>_<part>.txt
            assert received.name.startswith("IN")
            assert received.name.endswith("_+15557654321_00.txt")
            assert received.read_text(encoding="utf-8") == "Grüße, code 424242"

            with watch.DirectoryWatch(spool.sent) as sent_dir:
                # files backend naming: OUT<number>.txt, text in the file
                peers.drop_file(spool.outgoing, f"OUT{NUMBER}.txt", "reply from gammu-smsd")
                modem.wait_sent(1, timeout=DEADLINE)
                sent_dir.wait(timeout=DEADLINE)
            [message] = modem.sent()
            assert (message.number, message.text) == (NUMBER, "reply from gammu-smsd")
            assert list(spool.failed.iterdir()) == []
            root.wait_until(lambda: spool.logged_events() != [], timeout=DEADLINE, what="event")
        except BaseException:
            print(smsd.diagnostics())
            raise
    # RunOnReceive ran with the inbox file name
    assert spool.logged_events() == [received.name]
    assert modem.stored("SM") == {}  # read and deleted from the modem
