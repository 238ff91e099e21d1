"""Tests for the receive pipeline over a real pty against the simulator, with a real journal."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import MappingProxyType

import pytest

from gateway import log as gwlog
from gateway.at import Timeouts
from gateway.config_schema import ReceiveSettings
from gateway.journal import Journal, PduStatus
from gateway.modem.health import HealthConfig
from gateway.modem.init import InitConfig
from gateway.modem.link import LinkConfig
from gateway.modem.session import ModemSession, SessionConfig
from gateway.modem.status import SessionState
from gateway.pipeline.receive import ReceivePipeline
from gateway.relay.ports import CodeRecord
from gateway.simulator import ModemConfig, ModemHandle, Simulator
from gateway.sms import StatusReport, encode_deliver, encode_status_report, encode_submit
from gateway.sms.timestamp import encode_timestamp

FAST = Timeouts(
    quick=0.4, sim=1.0, list=2.0, network=0.4, prompt=0.3, body=1.0, probe=0.2, drain=0.05
)
SENDER = "+15557654321"
SCTS = datetime(2026, 11, 27, 10, 0, 0, tzinfo=UTC)
SETTINGS = ReceiveSettings(allowed_origins=("example.com", "*.example.org"), sweep_interval=3600.0)
#: a truncated SMS-DELIVER: SCA, first octet, then an address that never ends (TS 23.040)
BAD_PDU = "07915155000000F0040B9151"
SCTS_HEX = encode_timestamp(SCTS).hex().upper()
#: the all-zero TP-SCTS some SMSCs and femtocells send (month 0, day 0: no valid date)
ZERO_SCTS = "00" * 7


def fresh_scts() -> datetime:
    """Return a TP-SCTS of now (whole seconds): a code stamped with it is not stale."""
    return datetime.now(UTC).replace(microsecond=0)


def with_scts(pdu_hex: str, raw_hex: str, *, times: int = 1) -> str:
    """Return ``pdu_hex`` with its TP-SCTS (and TP-DT) octets, found as SCTS_HEX, replaced."""
    assert pdu_hex.count(SCTS_HEX) == times
    return pdu_hex.replace(SCTS_HEX, raw_hex)


Snapshot = Mapping[str, object]


def count(name: str, at_least: int) -> Callable[[Snapshot], bool]:
    """Predicate on a pipeline snapshot: counter ``name`` reached ``at_least``."""

    def check(snapshot: Snapshot) -> bool:
        value = snapshot.get(name, 0)
        return isinstance(value, int) and value >= at_least

    return check


def session_config(device: str, cnmi: tuple[str, ...] | None = None) -> SessionConfig:
    """Session settings with short timeouts and no health pings."""
    init = InitConfig(
        busy_retries=8,
        busy_backoff=0.01,
        busy_backoff_max=0.05,
        registration_timeout=3.0,
        registration_poll=0.02,
    )
    if cnmi is not None:
        init = replace(init, cnmi_choices=cnmi)
    return SessionConfig(
        link=LinkConfig(device=device, backoff_initial=0.01, backoff_max=0.1),
        timeouts=FAST,
        init=init,
        health=HealthConfig(interval=3600.0),
        resync_probes=8,
        ready_wait=5.0,
    )


@dataclass
class Sink:
    """Collects what the pipeline hands on; lets tests wait for it without polling."""

    codes: list[CodeRecord] = field(default_factory=list)
    reports: list[tuple[str, StatusReport]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    failures: int = 0  # raise on this many first codes, like a consumer with a bug

    def code(self, record: CodeRecord) -> None:
        """on_code callback."""
        if self.failures:
            self.failures -= 1
            raise RuntimeError("consumer bug")
        self.codes.append(record)
        self._notify()

    def report(self, modem: str, report: StatusReport) -> None:
        """on_report callback."""
        self.reports.append((modem, report))
        self._notify()

    def _notify(self) -> None:
        changed, self.changed = self.changed, asyncio.Event()
        changed.set()

    async def until(self, predicate: Callable[[], bool]) -> None:
        """Return once ``predicate()`` holds (checked after each callback)."""
        while not predicate():
            changed = self.changed
            await changed.wait()


@dataclass
class Rig:
    """One simulated modem, its session, a journal and a running pipeline."""

    modem: ModemHandle
    session: ModemSession
    journal: Journal
    pipeline: ReceivePipeline
    sink: Sink
    secrets: set[str]
    task: asyncio.Task[None] | None = None

    async def wait(self, predicate: Callable[[Snapshot], bool]) -> Snapshot:
        """Wait for a pipeline snapshot satisfying ``predicate``."""
        return await self.pipeline.wait_for(predicate, timeout=15)

    async def codes(self, n: int) -> list[CodeRecord]:
        """Wait until ``n`` codes were handed on; return them."""
        async with asyncio.timeout(15):
            await self.sink.until(lambda: len(self.sink.codes) >= n)
        return self.sink.codes

    def inject(self, text: str, **kwargs: object) -> list[int]:
        """Inject an SMS and remember its text and code as secrets."""
        self.secrets.add(text)
        for word in text.split():
            if word.startswith("#"):
                self.secrets.add(word[1:])
        return self.modem.inject_sms(text, **kwargs)  # type: ignore[arg-type]

    def restart_pipeline(self, task: asyncio.Task[None]) -> ReceivePipeline:
        """Return a fresh pipeline on the same session and journal (after ``task`` ended)."""
        assert task.done()
        self.pipeline = ReceivePipeline(
            modem="m1",
            session=self.session,
            journal=self.journal,
            settings=self.pipeline.settings,
            on_code=self.sink.code,
            on_report=self.sink.report,
        )
        return self.pipeline


Scenario = Callable[[Rig], Awaitable[None]]


@pytest.fixture
def leaks() -> Iterator[set[str]]:
    """Capture every log event of the test; fail if one holds a code, body or PDU."""
    secrets: set[str] = set()
    with gwlog.capture() as events:
        yield secrets
    dumped = json.dumps(events, default=str)
    assert events, "the pipeline logged nothing"
    for secret in secrets:
        assert secret not in dumped, "a secret reached the logs"


def run(
    tmp_path: Path,
    secrets: set[str],
    scenario: Scenario,
    *,
    modem: ModemConfig | None = None,
    settings: ReceiveSettings = SETTINGS,
    cnmi: tuple[str, ...] | None = None,
    sink: Sink | None = None,
    journal_type: type[Journal] = Journal,
    before: Callable[[Journal], None] | None = None,
    clock: Callable[[], float] = time.time,
) -> None:
    """Run ``scenario`` against a simulator, a session, a journal and a pipeline.

    ``journal_type`` may be a Journal that fails on purpose; ``before`` writes to the
    journal before the pipeline starts (what an earlier run left).
    """

    async def main() -> None:
        base = modem or ModemConfig()
        async with Simulator([replace(base, link=tmp_path / "modem")]) as simulator:
            handle = simulator.modems[0]
            session = ModemSession(session_config(handle.device, cnmi))
            journal = journal_type(tmp_path / "journal.sqlite3")
            if before is not None:
                before(journal)
            collector = sink if sink is not None else Sink()
            pipeline = ReceivePipeline(
                modem="m1",
                session=session,
                journal=journal,
                settings=settings,
                on_code=collector.code,
                on_report=collector.report,
                clock=clock,
            )
            rig = Rig(handle, session, journal, pipeline, collector, secrets)
            try:
                await session.start()
                rig.task = asyncio.create_task(pipeline.run())
                await scenario(rig)
                for pdu in journal.pdus():
                    if pdu.raw:
                        secrets.add(pdu.raw)
            finally:
                if rig.task is not None:
                    rig.task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await rig.task
                await session.stop()
                journal.close()

    asyncio.run(asyncio.wait_for(main(), 45))


def task_of(rig: Rig) -> asyncio.Task[None]:
    """Return the running pipeline task of ``rig``."""
    assert rig.task is not None
    return rig.task


# ----------------------------------------------------------------------------- codes


def test_otp_becomes_code_and_is_deleted_only_after_the_journal_has_it(
    tmp_path: Path, leaks: set[str]
) -> None:
    """An injected OTP SMS becomes a code record; at AT+CMGD the journal already holds it."""
    seen_at_delete: list[tuple[bool, bool]] = []

    async def scenario(rig: Rig) -> None:
        (index,) = rig.inject("Your code is 482913\n\n@example.com #482913")
        pdu = rig.modem.stored("SM")[index]

        def on_command(line: str) -> None:
            if line.upper().startswith("AT+CMGD"):
                raws = {p.raw for p in rig.journal.pdus()}
                codes = [c.code for c in rig.journal.codes()]
                seen_at_delete.append((pdu in raws, codes == ["482913"]))

        rig.modem.observe_commands(on_command)
        (record,) = await rig.codes(1)
        await rig.wait(count("deleted", 1))
        assert seen_at_delete == [(True, True)]
        assert rig.modem.stored("SM") == {}
        assert (record.origin, record.embedded_origin, record.code) == (
            "example.com",
            None,
            "482913",
        )
        assert record.sender == SENDER
        (stored,) = rig.journal.codes()
        assert stored.id == record.record_id
        # aged from the simulator's TP-SCTS: the same second as the receipt, or just before
        assert 0 <= SETTINGS.code_expiry - (stored.expires_at - stored.received_at) < 2
        assert record.received_at.timestamp() == pytest.approx(stored.received_at)

    run(tmp_path, leaks, scenario)


def test_multipart_otp_out_of_order(tmp_path: Path, leaks: set[str]) -> None:
    """A three-part OTP delivered as parts 3, 1, 2 is joined in order and relayed once."""
    text = "Security notice. " * 20 + "\n@sub.example.org #A1B2C3 @example.com"

    async def scenario(rig: Rig) -> None:
        indexes = rig.inject(text, order=[3, 1, 2])
        assert len(indexes) == 3
        (record,) = await rig.codes(1)
        snapshot = await rig.wait(count("deleted", 3))
        assert (record.origin, record.embedded_origin, record.code) == (
            "sub.example.org",
            "example.com",
            "A1B2C3",
        )
        assert snapshot["messages"] == 1
        assert snapshot["pending_parts"] == 0
        assert rig.journal.pdus(unassembled=True) == []
        (code,) = rig.journal.codes()
        assert code.message_id is not None
        assert rig.journal.message_text(code.message_id) == text
        assert rig.modem.stored("SM") == {}

    run(tmp_path, leaks, scenario)


def test_burst_of_fifty_with_lost_urcs_is_recovered_by_the_sweep(
    tmp_path: Path, leaks: set[str]
) -> None:
    """Fifty SMS stored without +CMTI are all found by the periodic sweep and deleted."""

    async def scenario(rig: Rig) -> None:
        await rig.wait(count("sweeps", 1))  # the start sweep ran on an empty modem
        rig.modem.set_fault("no-urc")
        for i in range(50):
            rig.inject(f"@example.com #{100000 + i}", sender=f"+1555700{i:04d}")
        assert len(rig.modem.stored("SM")) == 50
        records = await rig.codes(50)
        snapshot = await rig.wait(count("swept", 50))
        assert sorted(r.code for r in records if r.code) == [str(100000 + i) for i in range(50)]
        assert snapshot["deleted"] == 50
        assert snapshot.get("urc_messages", 0) == 0
        assert rig.modem.stored("SM") == {}

    settings = replace(SETTINGS, sweep_interval=0.2)
    run(tmp_path, leaks, scenario, modem=ModemConfig(storage_capacity=60), settings=settings)


def test_full_storage_recovers(tmp_path: Path, leaks: set[str]) -> None:
    """A full storage stops new SMS; the sweep empties it and reception resumes with URCs."""

    async def scenario(rig: Rig) -> None:
        await rig.wait(count("sweeps", 1))
        for i in range(5):  # arrives while nobody is told: storage fills up
            rig.inject(f"@example.com #{200000 + i}", notify=False, sender=f"+1555800{i:04d}")
        assert rig.inject("@example.com #299999") == []  # rejected: memory full
        await rig.codes(5)
        await rig.wait(count("deleted", 5))
        assert rig.modem.stored("SM") == {}
        (index,) = rig.inject("@example.com #277777", sender="+15558889999")
        records = await rig.codes(6)
        assert records[-1].code == "277777"
        snapshot = await rig.wait(count("deleted", 6))
        assert snapshot["urc_messages"] == 1  # announced again: reception resumed
        assert "299999" not in [r.code for r in records]
        assert index not in rig.modem.stored("SM")

    settings = replace(SETTINGS, sweep_interval=0.2)
    run(tmp_path, leaks, scenario, modem=ModemConfig(storage_capacity=5), settings=settings)


# ----------------------------------------------------------------------------- robustness


def test_undecodable_pdu_is_quarantined_and_others_still_processed(
    tmp_path: Path, leaks: set[str]
) -> None:
    """A truncated PDU is kept raw as quarantined and deleted; the next SMS still relays."""

    async def scenario(rig: Rig) -> None:
        leaks.add(BAD_PDU)
        rig.modem.inject_pdu(BAD_PDU)
        rig.inject("@example.com #551155")
        (record,) = await rig.codes(1)
        snapshot = await rig.wait(count("deleted", 2))
        assert record.code == "551155"
        assert snapshot["quarantined"] == 1
        quarantined = [p for p in rig.journal.pdus() if p.status is PduStatus.QUARANTINED]
        assert [p.raw for p in quarantined] == [BAD_PDU]
        assert quarantined[0].reason
        assert rig.modem.stored("SM") == {}

    run(tmp_path, leaks, scenario)


def test_network_redelivery_is_not_relayed_twice(tmp_path: Path, leaks: set[str]) -> None:
    """The same SMS delivered twice yields one code; both copies leave the modem."""
    (pdu,) = encode_deliver(SENDER, "@example.com #777001", scts=fresh_scts())

    async def scenario(rig: Rig) -> None:
        leaks.update({pdu.hex, "777001"})
        rig.modem.inject_pdu(pdu.hex)
        await rig.codes(1)
        rig.modem.inject_pdu(pdu.hex)
        snapshot = await rig.wait(count("duplicates", 1))
        await rig.wait(count("deleted", 2))
        assert len(rig.sink.codes) == 1
        assert snapshot["codes"] == 1
        assert len(rig.journal.codes()) == 1
        assert rig.modem.stored("SM") == {}

    run(tmp_path, leaks, scenario)


def test_otp_stamped_an_hour_ago_is_kept_as_expired_not_relayed(
    tmp_path: Path, leaks: set[str]
) -> None:
    """An OTP whose TP-SCTS is an hour old (left on the SIM while we were stopped) is kept
    and counted as expired, not relayed as a fresh code at the start-up sweep."""
    hour_ago = fresh_scts() - timedelta(hours=1)

    async def scenario(rig: Rig) -> None:
        rig.inject("@example.com #575757", scts=hour_ago)
        snapshot = await rig.wait(count("kept", 1))
        assert snapshot["kept.expired"] == 1
        assert "codes" not in snapshot
        assert rig.sink.codes == []
        assert rig.journal.codes() == []
        assert rig.journal.message_decision(1) == "expired"

    run(tmp_path, leaks, scenario)


@pytest.mark.parametrize(
    ("skew", "aged_from_scts"),
    [(0.0, True), (-120.0, True), (120.0, False), (86400.0, False)],
    ids=["now", "two-minutes-old", "slightly-ahead", "a-day-ahead"],
)
def test_code_expiry_counts_from_a_plausible_scts(
    tmp_path: Path, leaks: set[str], skew: float, aged_from_scts: bool
) -> None:
    """A fresh code is relayed; it ages from its TP-SCTS unless that lies in the future,
    where the receive time counts (far ahead: implausible; within the skew: clamped)."""
    stamp = fresh_scts() + timedelta(seconds=skew)

    async def scenario(rig: Rig) -> None:
        rig.inject("@example.com #868686", scts=stamp)
        (record,) = await rig.codes(1)
        assert record.code == "868686"
        (code,) = rig.journal.codes()
        start = stamp.timestamp() if aged_from_scts else code.received_at
        assert code.expires_at == start + SETTINGS.code_expiry

    run(tmp_path, leaks, scenario)


def test_otp_with_an_all_zero_scts_is_relayed_not_quarantined(
    tmp_path: Path, leaks: set[str]
) -> None:
    """An all-zero TP-SCTS still relays the code; the message time is the receive time."""
    (pdu,) = encode_deliver(SENDER, "@example.com #640640", scts=SCTS)
    bogus = with_scts(pdu.hex, ZERO_SCTS)

    async def scenario(rig: Rig) -> None:
        leaks.update({bogus, "640640"})
        rig.modem.inject_pdu(bogus)
        (record,) = await rig.codes(1)
        snapshot = await rig.wait(count("deleted", 1))
        assert (record.origin, record.code, record.sender) == ("example.com", "640640", SENDER)
        assert "quarantined" not in snapshot
        assert snapshot["timestamp_invalid"] == 1
        assert [p.status for p in rig.journal.pdus()] == [PduStatus.OK]
        (code,) = rig.journal.codes()
        with contextlib.closing(sqlite3.connect(tmp_path / "journal.sqlite3")) as db:
            (scts,) = db.execute("SELECT scts FROM messages WHERE id = ?", (code.message_id,))
        assert datetime.fromisoformat(scts[0]).timestamp() == pytest.approx(code.received_at)
        assert code.expires_at == code.received_at + SETTINGS.code_expiry  # aged from receipt
        rig.modem.inject_pdu(bogus)  # redelivered: the raw TP-SCTS octets dedupe it
        await rig.wait(count("duplicates", 1))
        await rig.wait(count("deleted", 2))
        assert len(rig.sink.codes) == 1
        assert rig.modem.stored("SM") == {}

    run(tmp_path, leaks, scenario)


def test_multipart_otp_with_impossible_scts_is_joined(tmp_path: Path, leaks: set[str]) -> None:
    """Two parts whose TP-SCTS are month 13 and 0xFF octets join by sender+reference+total."""
    text = "Security notice. " * 10 + "\n@example.com #313131"
    first, second = (p.hex for p in encode_deliver(SENDER, text, scts=SCTS, concat_reference=9))
    parts = [with_scts(first, "62317220035100"), with_scts(second, "FF" * 7)]

    async def scenario(rig: Rig) -> None:
        leaks.update({*parts, "313131", text})
        for pdu in reversed(parts):
            rig.modem.inject_pdu(pdu)
        (record,) = await rig.codes(1)
        snapshot = await rig.wait(count("deleted", 2))
        assert record.code == "313131"
        assert (snapshot["messages"], snapshot["timestamp_invalid"]) == (1, 2)
        assert "quarantined" not in snapshot
        assert rig.journal.pdus(unassembled=True) == []

    run(tmp_path, leaks, scenario)


def test_status_report_with_impossible_times_is_handed_on(tmp_path: Path, leaks: set[str]) -> None:
    """A report with all-zero TP-SCTS and TP-DT still reaches on_report with its TP-MR."""
    report = encode_status_report(reference=42, recipient="+15550001111", scts=SCTS, discharge=SCTS)
    bogus = with_scts(report.hex, ZERO_SCTS, times=2)

    async def scenario(rig: Rig) -> None:
        leaks.add(bogus)
        rig.modem.inject_pdu(bogus)
        async with asyncio.timeout(15):
            await rig.sink.until(lambda: bool(rig.sink.reports))
        ((modem, handed),) = rig.sink.reports
        assert (modem, handed.reference, handed.recipient) == ("m1", 42, "+15550001111")
        assert (handed.scts, handed.discharge, handed.discharge_raw) == (None, None, bytes(7))
        snapshot = await rig.wait(count("deleted", 1))
        assert (snapshot["reports"], snapshot["timestamp_invalid"]) == (1, 1)

    run(tmp_path, leaks, scenario)


def test_failed_delete_is_retried_by_the_next_sweep_without_relaying_twice(
    tmp_path: Path, leaks: set[str]
) -> None:
    """AT+CMGD fails once: the SMS stays, the next sweep dedupes it and deletes it."""

    async def scenario(rig: Rig) -> None:
        failed: list[str] = []

        def on_command(line: str) -> None:
            if line.upper().startswith("AT+CMGD") and not failed:
                failed.append(line)
                rig.modem.set_fault("cme-storm", codes=[100], count=1)  # this CMGD fails

        rig.modem.observe_commands(on_command)
        (index,) = rig.inject("@example.com #313131")
        await rig.codes(1)
        await rig.wait(count("delete_failed", 1))
        assert index in rig.modem.stored("SM")
        assert await rig.pipeline.sweep() == 0  # nothing new: a duplicate
        snapshot = rig.pipeline.snapshot()
        assert snapshot["duplicates"] == 1
        assert snapshot["deleted"] == 1
        assert rig.modem.stored("SM") == {}
        assert len(rig.sink.codes) == 1

    run(tmp_path, leaks, scenario)


def test_wrong_memory_announcement_on_ec25(tmp_path: Path, leaks: set[str]) -> None:
    """EC25 says +CDSI "SM" for a report stored in SR: it is read there, decoded by TP-MTI."""

    async def scenario(rig: Rig) -> None:
        # an unannounced SMS sits at SM index 0, where the +CDSI will point
        (index,) = rig.inject("@example.com #909090", notify=False)
        assert index == 0
        (part,) = encode_submit("+15551230000", "hello", request_status_report=True)
        reference = await rig.session.send_pdu(part.hex, part.tpdu_length)
        async with asyncio.timeout(15):
            await rig.sink.until(lambda: bool(rig.sink.reports))
        ((modem, report),) = rig.sink.reports
        assert (modem, report.reference, report.delivered) == ("m1", reference, True)
        (record,) = await rig.codes(1)
        assert record.code == "909090"
        await rig.wait(count("deleted", 2))
        assert rig.modem.stored("SR") == {}
        assert rig.modem.stored("SM") == {}

    run(tmp_path, leaks, scenario, modem=ModemConfig(profile="ec25"))


def test_routed_cmt_is_recorded_then_acknowledged(tmp_path: Path, leaks: set[str]) -> None:
    """With <mt>=2 the +CMT PDU is recorded before AT+CNMA acknowledges it."""
    acked_with_record: list[bool] = []

    async def scenario(rig: Rig) -> None:
        def on_command(line: str) -> None:
            if line.upper().startswith("AT+CNMA"):
                acked_with_record.append(len(rig.journal.pdus()) == 1)

        rig.modem.observe_commands(on_command)
        assert rig.inject("@example.com #646464") == []  # routed, not stored
        (record,) = await rig.codes(1)
        await rig.wait(count("acked", 1))
        assert record.code == "646464"
        assert acked_with_record == [True]
        (pdu,) = rig.journal.pdus()
        assert pdu.memory == "routed"

    run(tmp_path, leaks, scenario, cnmi=("2,2,0,0,0",))


def test_modem_restart_triggers_a_sweep(tmp_path: Path, leaks: set[str]) -> None:
    """An SMS stored without a URC is found by the sweep after the modem re-initialises."""

    async def scenario(rig: Rig) -> None:
        await rig.wait(count("sweeps", 1))
        inits = rig.session.status.counters.inits
        rig.inject("@example.com #424242", notify=False)
        rig.modem.reboot()  # SIM800 says "SMS Ready": the session re-initialises
        await rig.session.wait_for(
            lambda s: s.state is SessionState.READY and s.counters.inits > inits, timeout=10
        )
        (record,) = await rig.codes(1)
        assert record.code == "424242"
        snapshot = await rig.wait(count("sweeps", 2))
        assert snapshot["swept"] == 1
        assert count("ignored.VendorNotice", 1)(snapshot)  # "SMS Ready": counted, not handled

    run(tmp_path, leaks, scenario, modem=ModemConfig(profile="sim800"))


def test_a_failing_consumer_callback_does_not_stop_reception(
    tmp_path: Path, leaks: set[str]
) -> None:
    """on_code raising is counted and logged; the next SMS is still received and relayed."""

    async def scenario(rig: Rig) -> None:
        rig.inject("@example.com #111222")
        await rig.wait(count("callback_errors", 1))
        rig.inject("@example.com #333444", sender="+15550001234")
        (record,) = await rig.codes(1)
        assert record.code == "333444"
        assert [c.code for c in rig.journal.codes()] == ["111222", "333444"]
        await rig.wait(count("deleted", 2))

    run(tmp_path, leaks, scenario, sink=Sink(failures=1))


# ----------------------------------------------------------------------------- kept messages


def test_non_otp_message_is_kept_and_counted(tmp_path: Path, leaks: set[str]) -> None:
    """A plain SMS is stored as a message, counted as kept, and yields no code."""
    body = "Lunch at noon? Bring the blue folder"

    async def scenario(rig: Rig) -> None:
        rig.inject(body)
        snapshot = await rig.wait(count("kept", 1))
        await rig.wait(count("deleted", 1))
        assert snapshot["kept.format:no-origin-line"] == 1
        assert snapshot["messages"] == 1
        assert rig.sink.codes == []
        assert rig.journal.codes() == []
        assert rig.journal.counters()["messages.complete"] == 1
        assert rig.journal.message_text(1) == body

    run(tmp_path, leaks, scenario)


@pytest.mark.parametrize(
    ("text", "sender", "reason"),
    [
        ("@evil.example #123456", SENDER, "origin-not-allowed"),
        ("@example.com #123456 @evil.example", SENDER, "embedded-not-allowed"),
        ("@example.com #123456", "+15550009999", "sender-not-allowed"),
        ("@example.org #123456", SENDER, "origin-not-allowed"),
    ],
)
def test_disallowed_codes_are_not_relayed(
    tmp_path: Path, leaks: set[str], text: str, sender: str, reason: str
) -> None:
    """Origin, embedded origin and sender rules keep a code from being relayed."""
    senders = MappingProxyType({"example.com": (SENDER,)})
    settings = replace(SETTINGS, senders=senders)

    async def scenario(rig: Rig) -> None:
        rig.inject(text, sender=sender)
        snapshot = await rig.wait(count("kept", 1))
        assert snapshot[f"kept.{reason}"] == 1
        assert rig.sink.codes == []
        assert rig.journal.codes() == []

    run(tmp_path, leaks, scenario, settings=settings)


# ----------------------------------------------------------------------------- multipart


def test_incomplete_multipart_is_kept_after_the_timeout(tmp_path: Path, leaks: set[str]) -> None:
    """Part 2 of 2 never comes: after multipart_timeout part 1 is stored as incomplete."""
    text = "x" * 150 + " more words to need a second part\n@example.com #565656"

    async def scenario(rig: Rig) -> None:
        rig.inject(text, drop=[2])
        snapshot = await rig.wait(count("incomplete", 1))
        assert snapshot["kept.incomplete"] == 1
        assert snapshot["pending_parts"] == 0
        assert rig.sink.codes == []
        assert rig.journal.counters()["messages.incomplete"] == 1
        assert rig.journal.pdus(unassembled=True) == []

    settings = replace(SETTINGS, multipart_timeout=0.3)
    run(tmp_path, leaks, scenario, settings=settings)


def test_recorded_parts_survive_a_pipeline_restart(tmp_path: Path, leaks: set[str]) -> None:
    """Part 1 recorded before a restart is joined with part 2 arriving after it."""
    text = "y" * 150 + " and the rest of the message\n@example.com #818181"
    first, second = encode_deliver(SENDER, text, scts=fresh_scts(), concat_reference=77)

    async def scenario(rig: Rig) -> None:
        leaks.update({first.hex, second.hex, text, "818181"})
        rig.modem.inject_pdu(first.hex)
        await rig.wait(count("deleted", 1))
        old = task_of(rig)
        old.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await old
        pipeline = rig.restart_pipeline(old)
        rig.task = asyncio.create_task(pipeline.run())
        snapshot = await rig.wait(count("rebuilt_parts", 1))
        assert snapshot["pending_parts"] == 1
        rig.modem.inject_pdu(second.hex)
        (record,) = await rig.codes(1)
        assert record.code == "818181"
        assert rig.journal.pdus(unassembled=True) == []

    run(tmp_path, leaks, scenario)


def test_report_recorded_before_a_crash_is_replayed_once(tmp_path: Path, leaks: set[str]) -> None:
    """A report journalled but never handed on (crash) is handed on at the next start, once."""
    report = encode_status_report(reference=42, recipient="+15550001111", scts=SCTS, discharge=SCTS)
    leaks.add(report.hex)
    with Journal(tmp_path / "journal.sqlite3") as journal:
        journal.record_pdu(modem="m1", memory="SR", index=0, pdu_hex=report.hex, now=1.0)

    async def scenario(rig: Rig) -> None:
        await rig.wait(count("replayed_reports", 1))
        assert [(m, r.reference) for m, r in rig.sink.reports] == [("m1", 42)]
        assert rig.journal.pdus(unassembled=True) == []
        old = task_of(rig)
        old.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await old
        pipeline = rig.restart_pipeline(old)
        rig.task = asyncio.create_task(pipeline.run())
        snapshot = await rig.wait(count("sweeps", 1))  # the rebuild runs before the sweep
        assert "replayed_reports" not in snapshot
        assert len(rig.sink.reports) == 1

    run(tmp_path, leaks, scenario)


def test_live_report_is_marked_handled(tmp_path: Path, leaks: set[str]) -> None:
    """A report handed on as it arrives is marked handled, so no restart reads it back."""

    async def scenario(rig: Rig) -> None:
        (part,) = encode_submit("+15551230000", "hello", request_status_report=True)
        await rig.session.send_pdu(part.hex, part.tpdu_length)
        async with asyncio.timeout(15):
            await rig.sink.until(lambda: bool(rig.sink.reports))
        assert rig.journal.pdus(unassembled=True) == []
        (stored,) = rig.journal.pdus()
        assert stored.handled_at is not None

    run(tmp_path, leaks, scenario)


# ----------------------------------------------------------------------------- full disk


class FullOnce(Journal):
    """A journal whose disk is full once, after the message was written, at the code.

    Fault injection at the I/O boundary, not a mock of the logic under test: the
    counter update that follows the code insert raises SQLite's own "database or disk
    is full" error, as a full disk would at that write.
    """

    fail = 1

    def _bump(self, conn: sqlite3.Connection, name: str, by: int = 1) -> None:
        if name == "codes.received" and self.fail:
            self.fail -= 1
            raise sqlite3.OperationalError("database or disk is full")
        super()._bump(conn, name, by)


def test_code_whose_store_failed_is_stored_and_relayed_later(
    tmp_path: Path, leaks: set[str]
) -> None:
    """A full disk while storing a message leaves nothing half-written; a retry relays it."""

    async def scenario(rig: Rig) -> None:
        rig.inject("@example.com #909090")
        await rig.wait(count("store_failed", 1))
        assert rig.journal.codes() == []
        (record,) = await rig.codes(1)
        assert record.code == "909090"
        (code,) = rig.journal.codes()
        assert code.message_id is not None
        assert rig.journal.message_decision(code.message_id) == "code"
        assert rig.journal.pdus(unassembled=True) == []
        assert rig.journal.counters()["messages.complete"] == 1
        snapshot = await rig.wait(count("deleted", 1))  # the PDU was recorded: the copy goes
        assert "errors" not in snapshot

    run(tmp_path, leaks, scenario, journal_type=FullOnce)


def test_code_whose_store_failed_before_a_crash_is_relayed_after_restart(
    tmp_path: Path, leaks: set[str]
) -> None:
    """Message and code are one transaction: after a failed store and a crash, the restart
    rebuilds the message from its PDU and relays the code."""

    async def scenario(rig: Rig) -> None:
        rig.inject("@example.com #313131")
        await rig.wait(count("store_failed", 1))
        old = task_of(rig)
        old.cancel()  # the crash, before the retry
        with contextlib.suppress(asyncio.CancelledError):
            await old
        assert rig.journal.codes() == []
        assert rig.journal.undecided("m1") == []
        assert len(rig.journal.pdus(unassembled=True)) == 1
        pipeline = rig.restart_pipeline(old)
        rig.task = asyncio.create_task(pipeline.run())
        (record,) = await rig.codes(1)
        assert record.code == "313131"
        assert rig.journal.pdus(unassembled=True) == []

    run(tmp_path, leaks, scenario, journal_type=FullOnce)


def test_messages_stored_without_a_decision_are_judged_at_start(
    tmp_path: Path, leaks: set[str]
) -> None:
    """A message an older version stored without its code (crash between two commits) is
    judged at the next start: a valid code is relayed, a stale one kept as expired."""
    fresh, stale = "@example.com #246802", "@example.com #135791"
    leaks.update({fresh, stale, "246802", "135791"})

    def older_version(journal: Journal) -> None:
        now = time.time()
        for at, text in ((now - 3600.0, stale), (now, fresh)):
            (pdu,) = encode_deliver(SENDER, text, scts=datetime.fromtimestamp(at, tz=UTC))
            leaks.add(pdu.hex)
            row = journal.record_pdu(modem="m1", memory="SM", index=0, pdu_hex=pdu.hex, now=at)
            journal.store_message(
                modem="m1",
                sender=SENDER,
                scts=datetime.fromtimestamp(at, tz=UTC),
                text=text,
                parts=1,
                expected_parts=1,
                now=at,
                pdu_ids=[row.id],
            )

    async def scenario(rig: Rig) -> None:
        (record,) = await rig.codes(1)
        snapshot = await rig.wait(count("kept.expired", 1))
        assert record.code == "246802"
        assert snapshot["redecided"] == 2
        assert rig.journal.undecided("m1") == []
        assert [rig.journal.message_decision(i) for i in (1, 2)] == ["expired", "code"]

    run(tmp_path, leaks, scenario, before=older_version)


# ----------------------------------------------------------------------------- clocks


class SteppedClock:
    """A wall clock the test steps, as NTP or an operator would: time.time() plus offset."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


def test_wall_clock_stepped_back_does_not_hold_a_multipart_for_an_hour(
    tmp_path: Path, leaks: set[str]
) -> None:
    """After the wall clock steps back an hour, an incomplete multipart still times out
    multipart_timeout after its first part (monotonic), even when the timer is re-armed."""
    wall = SteppedClock()
    text = "z" * 150 + " and a second part that never comes\n@example.com #123321"

    async def scenario(rig: Rig) -> None:
        rig.inject(text, drop=[2])
        await rig.wait(count("parts", 1))
        wall.offset = -3600.0
        rig.inject("Lunch at noon?")  # re-arms the expiry timer
        await rig.wait(count("messages", 1))
        snapshot = await rig.wait(count("incomplete", 1))
        assert snapshot["kept.incomplete"] == 1

    settings = replace(SETTINGS, multipart_timeout=1.5)
    run(tmp_path, leaks, scenario, settings=settings, clock=wall)


def test_wall_clock_stepped_forward_does_not_cut_a_multipart_short(
    tmp_path: Path, leaks: set[str]
) -> None:
    """After the wall clock steps forward five minutes, a multipart whose second part comes
    within multipart_timeout (monotonic) is joined, not handed out incomplete early."""
    wall = SteppedClock()
    text = "w" * 150 + " and the rest of the message\n@example.com #454545"
    first, second = encode_deliver(SENDER, text, scts=fresh_scts(), concat_reference=12)

    async def scenario(rig: Rig) -> None:
        leaks.update({first.hex, second.hex, text, "454545"})
        rig.modem.inject_pdu(first.hex)
        await rig.wait(count("parts", 1))
        wall.offset = 300.0  # more than multipart_timeout, less than the code's life
        rig.inject("Lunch at noon?")  # re-arms the expiry timer
        await rig.wait(count("messages", 1))
        rig.modem.inject_pdu(second.hex)
        (record,) = await rig.codes(1)
        snapshot = await rig.wait(count("messages", 2))
        assert record.code == "454545"
        assert "incomplete" not in snapshot

    settings = replace(SETTINGS, multipart_timeout=30.0)
    run(tmp_path, leaks, scenario, settings=settings, clock=wall)
