"""kill -9 at the two dangerous moments, then restart: nothing lost, nothing twice (issue 5)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

from daemon_helpers import Daemon, NotifySocket, get_after_inject, journal_at, leaked, write_config

from gateway.client import Client, JobEvent, JobStatus, JobWatch
from gateway.jobs import JobState
from gateway.simulator import ThreadModemHandle

ORIGIN = "example.com"
NUMBER = "+15557654321"


class Counter:
    """Counts AT+CMGD commands the simulated modem receives (called in its thread)."""

    def __init__(self, target: int = 2) -> None:
        self.target = target
        self.seen = 0
        self.reached = threading.Event()

    def see(self, line: str) -> None:
        """Count ``line`` if it is a deletion."""
        if line.upper().startswith("AT+CMGD="):
            self.seen += 1
            if self.seen >= self.target:
                self.reached.set()


def test_kill_between_read_and_delete(
    tmp_path: Path, modem: ThreadModemHandle, notify: NotifySocket
) -> None:
    """Killed at AT+CMGD: after restart the SMS is swept and deleted, its code not relayed again."""
    config = write_config(tmp_path, tmp_path / "modem")
    modem.set_fault("silent", on="AT+CMGD")
    with Daemon(tmp_path, config, notify) as first:
        first.wait_ready()
        assert get_after_inject(tmp_path / "gw.sock", modem, f"@{ORIGIN} #905531") == "905531"
        modem.wait_silent()  # the daemon has recorded the SMS and now waits on AT+CMGD
        first.kill()
    assert len(modem.stored()) == 1
    modem.clear_fault("silent")
    deletes = Counter()
    stop_watching = modem.observe_commands(deletes.see)
    with Daemon(tmp_path, config, notify) as second:
        second.wait_ready()
        assert get_after_inject(tmp_path / "gw.sock", modem, f"@{ORIGIN} #118204") == "118204"
        # the code reaches the consumer before its SMS is deleted (record, relay, delete):
        # wait until the modem got both deletions, the swept one and the new one
        assert deletes.reached.wait(30)
        assert second.terminate() == 0
    stop_watching()
    assert modem.stored() == {}
    with journal_at(tmp_path) as journal:
        codes = journal.codes(origin=ORIGIN)
        counters = journal.counters()
    assert sorted(str(c.code) for c in codes) == ["118204", "905531"]
    assert all(c.claimed_at is not None for c in codes)
    assert counters["codes.received"] == 2
    assert counters["pdus.duplicate"] >= 1
    events = first.log_events() + second.log_events()
    assert leaked(events, ["905531", "118204"]) == []


def test_kill_between_ctrl_z_and_cmgs(
    tmp_path: Path, modem: ThreadModemHandle, notify: NotifySocket
) -> None:
    """Killed after the body went out but before +CMGS: the OTP is never sent a second time."""
    config = write_config(tmp_path, tmp_path / "modem")
    modem.set_fault("silent", on="AT+CMGS", phase="body")
    with Daemon(tmp_path, config, notify) as first:
        first.wait_ready()
        with Client(tmp_path / "gw.sock") as client:
            lost = client.send(NUMBER, ORIGIN, code="318842").job_id
        modem.wait_sent(1)
        modem.wait_silent()  # the network has the SMS; the daemon waits for +CMGS
        first.kill()
    modem.clear_fault("silent")
    with Daemon(tmp_path, config, notify) as second:
        second.wait_ready()
        with Client(tmp_path / "gw.sock") as client:
            watch = client.send_watch(NUMBER, ORIGIN, code="520077")
            statuses = [event.status for event in _until_sent(watch)]
        assert statuses[-1] is JobStatus.SENT
        assert second.terminate() == 0
    texts = [message.text for message in modem.sent()]
    assert len(texts) == 2
    assert sum("#318842" in t for t in texts) == 1
    assert sum("#520077" in t for t in texts) == 1
    with journal_at(tmp_path) as journal:
        assert journal.job(lost).state is JobState.UNKNOWN
        assert journal.job(watch.job_id).state is JobState.SENT
    events = first.log_events() + second.log_events()
    assert leaked(events, ["318842", "520077"]) == []


def _until_sent(watch: JobWatch) -> Iterator[JobEvent]:
    """Yield a watch's events up to and including ``sent``."""
    for event in watch:
        yield event
        if event.status is JobStatus.SENT:
            return
