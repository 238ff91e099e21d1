"""Tests for the SQLite journal."""

from __future__ import annotations

import signal
import sqlite3
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.config_schema import JournalSettings
from gateway.jobs import IllegalTransition, JobEvent, JobState
from gateway.journal import (
    CODE_DECISION,
    FILENAME,
    MIGRATIONS,
    Journal,
    JournalError,
    NewCode,
    PduStatus,
    dedupe_key,
)
from gateway.journal.schema import migrate

PDU = "07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07"
SCTS = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    with Journal.in_state_dir(tmp_path, body_retention=3600.0, code_retention=600.0) as j:
        yield j


def _code(journal: Journal, code: str, *, at: float = 100.0, origin: str = "a.example") -> int:
    return journal.store_code(
        origin=origin,
        embedded=None,
        code=code,
        sender="+15557654321",
        received_at=at,
        expires_at=at + 600.0,
    ).id


def test_pragmas_and_permissions(journal: Journal) -> None:
    """The journal is WAL, synchronous=FULL, at the newest schema version, owner-only."""
    conn = sqlite3.connect(journal.path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    finally:
        conn.close()
    assert journal._conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert journal.path.name == FILENAME
    assert stat.S_IMODE(journal.path.stat().st_mode) == 0o600


def test_record_pdu_dedupes(journal: Journal) -> None:
    """The same SMS recorded twice is new once; the duplicate is counted."""
    key = dedupe_key(PDU, sender="+31641600986", scts=SCTS.isoformat(), content="hello")
    first = journal.record_pdu(modem="m0", memory="SM", index=1, pdu_hex=PDU, now=1.0, key=key)
    again = journal.record_pdu(modem="m0", memory="ME", index=7, pdu_hex=PDU, now=2.0, key=key)
    assert first.new
    assert not again.new
    assert again.id == first.id
    raw = journal.record_pdu(modem="m0", memory="SM", index=2, pdu_hex=PDU.lower(), now=3.0)
    assert raw.new  # raw-hash key differs from the decoded key
    assert not journal.record_pdu(modem="m0", memory="SM", index=2, pdu_hex=PDU, now=4.0).new
    assert journal.counters() == {"pdus.ok": 2, "pdus.duplicate": 2}


def test_dedupe_key_distinguishes_content() -> None:
    """Different sender, timestamp or content give different keys; raw keys ignore case."""
    base = dedupe_key(PDU, sender="+1", scts="t", content="a")
    assert base == dedupe_key("other", sender="+1", scts="t", content="a")
    assert base != dedupe_key(PDU, sender="+2", scts="t", content="a")
    assert base != dedupe_key(PDU, sender="+1", scts="u", content="a")
    assert base != dedupe_key(PDU, sender="+1", scts="t", content="b")
    assert dedupe_key(PDU) == dedupe_key(f" {PDU.lower()} ")


def test_quarantine_and_assembly(journal: Journal) -> None:
    """Quarantined PDUs keep raw hex and reason; assembled parts leave the unassembled list."""
    bad = journal.record_pdu(
        modem="m0",
        memory="SM",
        index=3,
        pdu_hex="00FF",
        now=1.0,
        status=PduStatus.QUARANTINED,
        reason="truncated user data",
    )
    p1 = journal.record_pdu(modem="m0", memory="SM", index=4, pdu_hex=PDU + "01", now=2.0)
    p2 = journal.record_pdu(modem="m0", memory="SM", index=5, pdu_hex=PDU + "02", now=3.0)
    assert [p.id for p in journal.pdus(unassembled=True)] == [p1.id, p2.id]
    message = journal.store_message(
        modem="m0",
        sender="+15557654321",
        scts=SCTS,
        text="part one part two",
        parts=2,
        expected_parts=2,
        now=4.0,
        pdu_ids=[p1.id, p2.id],
    )
    assert journal.pdus(unassembled=True) == []
    stored = {p.id: p for p in journal.pdus()}
    assert stored[bad.id].status is PduStatus.QUARANTINED
    assert stored[bad.id].reason == "truncated user data"
    assert stored[bad.id].raw == "00FF"
    assert stored[p1.id].message_id == message
    assert journal.message_text(message) == "part one part two"
    assert journal.counters()["pdus.quarantined"] == 1
    assert journal.counters()["messages.complete"] == 1
    with pytest.raises(JournalError, match="parts"):
        journal.store_message(
            modem="m0", sender="x", scts=SCTS, text="", parts=3, expected_parts=2, now=5.0
        )


def test_reopen_keeps_everything(tmp_path: Path) -> None:
    """Closing and reopening the journal keeps PDUs, codes, jobs and counters."""
    with Journal.in_state_dir(tmp_path, body_retention=60.0, code_retention=60.0) as j:
        j.record_pdu(modem="m0", memory="SM", index=1, pdu_hex=PDU, now=1.0)
        _code(j, "123456")
        j.create_job(
            job_id="j1",
            number="+12025550123",
            origin="a.example",
            embedded=None,
            text="@a.example #654321",
            now=1.0,
            expires_at=601.0,
        )
        j.transition_job("j1", JobEvent.START, now=2.0, modem="m0")
        before = (j.pdus(), j.codes(), j.jobs(), j.job_events("j1"), j.counters())
    with Journal.in_state_dir(tmp_path, body_retention=60.0, code_retention=60.0) as j:
        assert (j.pdus(), j.codes(), j.jobs(), j.job_events("j1"), j.counters()) == before
        assert not j.record_pdu(modem="m0", memory="SM", index=1, pdu_hex=PDU, now=9.0).new


def test_handled_pdus_leave_the_unassembled_list(journal: Journal) -> None:
    """A PDU marked handled (a report handed on) is not returned for rebuilding again."""
    report = journal.record_pdu(modem="m0", memory="SR", index=0, pdu_hex=PDU + "03", now=1.0)
    part = journal.record_pdu(modem="m0", memory="SM", index=1, pdu_hex=PDU + "04", now=2.0)
    assert journal.mark_handled(report.id, now=3.0)
    assert not journal.mark_handled(report.id, now=4.0)
    assert not journal.mark_handled(9999, now=4.0)
    assert [p.id for p in journal.pdus(unassembled=True)] == [part.id]
    assert {p.id: p.handled_at for p in journal.pdus()} == {report.id: 3.0, part.id: None}


def test_v1_journal_is_upgraded_with_its_rows(tmp_path: Path) -> None:
    """A version-1 file keeps its PDUs after the upgrade; they start out not handled."""
    path = tmp_path / "v1.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, MIGRATIONS[:1])
    conn.execute(
        "INSERT INTO pdus(modem, memory, idx, raw, dedupe_key, received_at, status) "
        "VALUES ('m0', 'SR', 0, 'AB', 'k', 1.0, 'ok')"
    )
    conn.close()
    with Journal(path) as j:
        assert [(p.raw, p.handled_at) for p in j.pdus(unassembled=True)] == [("AB", None)]


def test_migrates_from_v0_and_refuses_newer(tmp_path: Path) -> None:
    """An empty file is migrated from version 0; a file from a newer gateway is refused."""
    path = tmp_path / "j.sqlite3"
    sqlite3.connect(path).close()
    with Journal(path) as j:
        assert j.version == len(MIGRATIONS)
        names = {r[0] for r in j._read("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"pdus", "messages", "codes", "jobs", "job_events", "job_parts"} <= names
    assert {"delivery_reports", "counters"} <= names
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    conn.close()
    with pytest.raises(JournalError, match="newer than this otp-gateway"):
        Journal(path)


def test_migrations_step_and_roll_back(tmp_path: Path) -> None:
    """Each migration is one transaction: data survives upgrades, a failing step changes nothing."""
    conn = sqlite3.connect(tmp_path / "m.sqlite3", isolation_level=None)
    steps = ("CREATE TABLE t (a INTEGER); INSERT INTO t VALUES (1)", "ALTER TABLE t ADD b TEXT")
    assert migrate(conn, steps[:1]) == 1
    assert migrate(conn, steps) == 2
    assert conn.execute("SELECT a, b FROM t").fetchall() == [(1, None)]
    with pytest.raises(sqlite3.OperationalError):
        migrate(conn, (*steps, "CREATE TABLE u (x); CREATE TABLE t (y)"))
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
    assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'u'").fetchone() is None
    conn.close()


def test_not_a_database(tmp_path: Path) -> None:
    """A file that is not SQLite gives a JournalError naming the file."""
    path = tmp_path / "junk.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(JournalError, match=r"junk\.sqlite3"):
        Journal(path)
    with pytest.raises(JournalError, match="cannot open"):
        Journal(tmp_path / "missing-dir" / "j.sqlite3")


def test_claim_code_rules(journal: Journal) -> None:
    """Claims honour origin, embedded origin, the since bound and expiry, oldest first."""
    _code(journal, "111111", at=100.0)
    _code(journal, "222222", at=200.0)
    _code(journal, "333333", at=300.0, origin="b.example")
    journal.store_code(
        origin="a.example",
        embedded="pay.example",
        code="444444",
        sender="+15557654321",
        received_at=250.0,
        expires_at=850.0,
    )
    claim = journal.claim_code("a.example", None, 150.0, now=400.0, claimant="uid:1000")
    assert claim is not None
    assert (claim.code, claim.claimed_by, claim.claimed_at) == ("222222", "uid:1000", 400.0)
    assert journal.claim_code("a.example", None, 150.0, now=400.0, claimant="x") is None
    embedded = journal.claim_code("a.example", "pay.example", 0.0, now=400.0, claimant="x")
    assert embedded is not None
    assert embedded.code == "444444"
    assert journal.claim_code("a.example", None, 0.0, now=700.0, claimant="x") is None  # expired
    first = journal.claim_code("a.example", None, 0.0, now=600.0, claimant="x")
    assert first is not None
    assert first.code == "111111"
    assert journal.counters()["codes.claimed"] == 3


def test_concurrent_claims_hand_out_each_code_once(tmp_path: Path) -> None:
    """Eight connections claiming at once get every code exactly once."""
    with Journal(tmp_path / "j.sqlite3") as j:
        for i in range(60):
            _code(j, f"{i:06d}", at=100.0 + i)
    start = threading.Barrier(8)

    def claimer(n: int) -> list[str]:
        got = []
        with Journal(tmp_path / "j.sqlite3") as mine:
            start.wait()
            while c := mine.claim_code("a.example", None, 0.0, now=150.0, claimant=f"c{n}"):
                assert c.code is not None
                got.append(c.code)
        return got

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(claimer, range(8)))
    claimed = [code for r in results for code in r]
    assert sorted(claimed) == [f"{i:06d}" for i in range(60)]


def _job(journal: Journal, job_id: str, *, now: float = 0.0, number: str = "+12025550123") -> None:
    journal.create_job(
        job_id=job_id,
        number=number,
        origin="a.example",
        embedded=None,
        text="@a.example #123456",
        now=now,
        expires_at=now + 600.0,
    )


def test_job_lifecycle_and_events(journal: Journal) -> None:
    """Jobs move through the state table; each move is recorded; illegal moves change nothing."""
    _job(journal, "j1")
    with pytest.raises(JournalError, match="already exists"):
        _job(journal, "j1")
    journal.transition_job("j1", JobEvent.START, now=1.0, modem="m0")
    requeued = journal.transition_job(
        "j1", JobEvent.TRANSIENT_ERROR, now=2.0, not_before=7.0, detail="+CMS ERROR: 512"
    )
    assert (requeued.state, requeued.not_before, requeued.modem) == (JobState.QUEUED, 7.0, "m0")
    journal.transition_job("j1", JobEvent.START, now=8.0, modem="m1")
    sent = journal.transition_job("j1", JobEvent.ACCEPTED, now=9.0, references=[12, 13])
    assert (sent.state, sent.attempts, sent.references, sent.modem) == (
        JobState.SENT,
        2,
        (12, 13),
        "m1",
    )
    with pytest.raises(IllegalTransition):
        journal.transition_job("j1", JobEvent.START, now=10.0)
    assert journal.job("j1").state is JobState.SENT
    events = [(e.event, e.state) for e in journal.job_events("j1")]
    assert events == [
        ("created", JobState.QUEUED),
        ("start", JobState.SENDING),
        ("transient-error", JobState.QUEUED),
        ("start", JobState.SENDING),
        ("accepted", JobState.SENT),
    ]
    with pytest.raises(JournalError, match="no job"):
        journal.transition_job("nope", JobEvent.START, now=1.0)


def test_recover_jobs_after_stop(journal: Journal) -> None:
    """At start, sending jobs become unknown, stale queued jobs expire, valid ones resume."""
    _job(journal, "sending", now=0.0)
    journal.transition_job("sending", JobEvent.START, now=1.0)
    _job(journal, "stale", now=0.0)
    _job(journal, "fresh", now=500.0)
    resumable = journal.recover_jobs(now=700.0)
    assert [j.id for j in resumable] == ["fresh"]
    assert journal.job("sending").state is JobState.UNKNOWN
    assert journal.job("stale").state is JobState.EXPIRED
    assert journal.recover_jobs(now=700.0) == resumable  # idempotent
    assert journal.send_history(since=100.0) == [("+12025550123", "a.example", 500.0)]


def test_delivery_reports_match_per_part(journal: Journal) -> None:
    """Reports match by TP-MR and number within the window, and tally per part."""
    _job(journal, "j1")
    journal.transition_job("j1", JobEvent.START, now=1.0)
    journal.transition_job("j1", JobEvent.ACCEPTED, now=2.0, references=[40, 41])
    assert (
        journal.record_delivery_report(
            modem="m0", reference=40, recipient="+12025550999", status=0, now=3.0, window=60.0
        )
        is None
    )
    first = journal.record_delivery_report(
        modem="m0", reference=40, recipient="+12025550123", status=0, now=3.0, window=60.0
    )
    assert first is not None
    assert (first.job_id, first.part, first.complete) == ("j1", 0, False)
    late = journal.record_delivery_report(
        modem="m0", reference=41, recipient="+12025550123", status=0, now=300.0, window=60.0
    )
    assert late is None
    second = journal.record_delivery_report(
        modem="m0", reference=41, recipient="+12025550123", status=0x41, now=30.0, window=60.0
    )
    assert second is not None
    assert (second.part, second.parts, second.reported, second.delivered) == (1, 2, 2, 1)
    assert second.complete
    assert journal.counters()["reports.unmatched"] == 2


def test_purge_applies_retention(journal: Journal) -> None:
    """Codes blank at expiry and go after code retention; a sent OTP text goes once its job
    is over and its validity passed; other bodies go after body retention."""
    _code(journal, "123456", at=0.0)
    pdu = journal.record_pdu(modem="m0", memory="SM", index=1, pdu_hex=PDU, now=0.0)
    message = journal.store_message(
        modem="m0",
        sender="+1",
        scts=SCTS,
        text="secret body",
        parts=1,
        expected_parts=1,
        now=0.0,
        pdu_ids=[pdu.id],
    )
    _job(journal, "j1", now=0.0)
    _job(journal, "queued", now=0.0)  # never sent (no modem): its text must stay
    journal.transition_job("j1", JobEvent.START, now=1.0)
    journal.transition_job("j1", JobEvent.ACCEPTED, now=2.0, references=[7])
    counts = journal.purge(599.0)
    assert counts.bodies_purged == 0  # the code in the SMS is still valid
    counts = journal.purge(600.0)
    assert (counts.codes_expired, counts.codes_deleted, counts.bodies_purged) == (1, 0, 1)
    assert journal.job("j1").text is None
    assert journal.job("queued").text == "@a.example #123456"
    assert [c.code for c in journal.codes()] == [None]
    assert journal.claim_code("a.example", None, 0.0, now=10.0, claimant="x") is None
    counts = journal.purge(1200.0)
    assert (counts.codes_deleted, counts.bodies_purged) == (1, 0)
    assert journal.codes() == []
    counts = journal.purge(4200.0)
    assert counts.bodies_purged == 2
    assert journal.pdus()[0].raw is None
    assert journal.message_text(message) is None
    assert journal.job("queued").text == "@a.example #123456"
    assert journal.counters()["codes.received"] == 1  # counters are kept
    assert journal.purge(4200.0).bodies_purged == 0
    assert journal.purge(4200.0).records_deleted == 0


def test_purge_deletes_whole_records_after_record_retention(tmp_path: Path) -> None:
    """Rows holding numbers and senders (PDUs, messages, codes, final jobs with their events
    and parts, delivery reports) are deleted record_retention after they were written;
    newer rows, jobs that may still be sent and the counters stay."""
    day = 86400.0
    with Journal(tmp_path / "j.sqlite3", record_retention=30 * day) as j:
        old = j.record_pdu(modem="m0", memory="SM", index=1, pdu_hex=PDU, now=0.0)
        j.store_decided(
            modem="m0", sender="+1", scts=SCTS, text="@a.example #1", parts=1,
            expected_parts=1, now=0.0, pdu_ids=[old.id], decision=CODE_DECISION,
            code=NewCode(origin="a.example", embedded=None, code="1", expires_at=600.0),
        )  # fmt: skip
        _job(j, "sent", now=0.0, number="+14155552671")
        j.transition_job("sent", JobEvent.START, now=1.0)
        j.transition_job("sent", JobEvent.ACCEPTED, now=2.0, references=[9])
        j.record_delivery_report(
            modem="m0", reference=9, recipient="+14155552671", status=0, now=3.0, window=day
        )
        _job(j, "waiting", now=0.0)  # still queued (no modem for a month): kept
        new = j.record_pdu(modem="m0", memory="SM", index=2, pdu_hex=PDU + "00", now=29 * day)
        assert j.purge(30 * day - 1.0).records_deleted == 0
        counts = j.purge(30 * day + 3.0)
        assert [p.id for p in j.pdus()] == [new.id]
        assert j._read("SELECT COUNT(*) FROM messages") == [(0,)]
        assert j.codes() == []
        assert [job.id for job in j.jobs()] == ["waiting"]
        for table in ("job_parts", "delivery_reports"):
            assert j._read(f"SELECT COUNT(*) FROM {table}") == [(0,)]  # noqa: S608 - fixed
        assert [e.event for e in j.job_events("sent")] == []
        # the code went at code retention; now pdu, message, three events, part, job, report
        assert counts.records_deleted == 1 + 1 + 3 + 1 + 1 + 1
        assert j.counters()["jobs.created"] == 2
        assert j.pdus(unassembled=True) == [j.pdus()[0]]


def test_retention_periods_are_checked(tmp_path: Path) -> None:
    """Negative periods, or records kept shorter than bodies or codes, are refused."""
    for kwargs in ({"body_retention": -1.0}, {"record_retention": 3600.0}):
        with pytest.raises(JournalError, match="retention"):
            Journal(tmp_path / "r.sqlite3", **kwargs)


def test_invalid_inputs(journal: Journal, tmp_path: Path) -> None:
    """Impossible codes, jobs and retention values are refused."""
    with pytest.raises(JournalError):
        journal.store_code(
            origin="a", embedded=None, code="1", sender="s", received_at=5.0, expires_at=5.0
        )
    with pytest.raises(JournalError):
        journal.create_job(
            job_id="x", number="+1", origin="a", embedded=None, text="t", now=5.0, expires_at=1.0
        )


_CHILD = """
import sys
from pathlib import Path
from gateway.journal import Journal
journal = Journal(Path(sys.argv[1]))
result = journal.record_pdu(modem="m0", memory="SM", index=4, pdu_hex=sys.argv[2], now=1.0)
journal.store_code(origin="a.example", embedded=None, code="123456", sender="+1",
                   received_at=1.0, expires_at=601.0)
print("recorded", result.new, flush=True)
sys.stdin.read()  # hold the connection open until killed
"""


def test_records_survive_kill_9(tmp_path: Path) -> None:
    """A record is durable the moment record_pdu returns: SIGKILL right after loses nothing."""
    path = tmp_path / "j.sqlite3"
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(path), PDU],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == "recorded True\n"
    finally:
        child.kill()
        child.wait(timeout=30)
        for stream in (child.stdin, child.stdout):
            if stream is not None:
                stream.close()
    assert child.returncode == -signal.SIGKILL
    with Journal(path) as journal:
        assert [p.raw for p in journal.pdus()] == [PDU]
        claim = journal.claim_code("a.example", None, 0.0, now=2.0, claimant="after-crash")
        assert claim is not None
        assert claim.code == "123456"
        assert not journal.record_pdu(modem="m0", memory="SM", index=4, pdu_hex=PDU, now=3.0).new


def test_store_decided_writes_message_links_and_code_together(journal: Journal) -> None:
    """A judged message, its PDU links and its code are stored by one call; a reason alone
    stores no code; an inconsistent decision stores nothing."""
    pdu = journal.record_pdu(modem="m0", memory="SM", index=1, pdu_hex=PDU, now=1.0)
    code = NewCode(origin="a.example", embedded=None, code="123456", expires_at=601.0)
    stored = journal.store_decided(
        modem="m0", sender="+1", scts=SCTS, text="@a.example #123456", parts=1,
        expected_parts=1, now=1.0, pdu_ids=[pdu.id], decision=CODE_DECISION, code=code,
    )  # fmt: skip
    assert stored.code is not None
    assert (stored.code.code, stored.code.message_id) == ("123456", stored.message_id)
    assert journal.pdus(unassembled=True) == []
    assert journal.message_decision(stored.message_id) == "code"
    kept = journal.store_decided(
        modem="m0", sender="+1", scts=SCTS, text="hi", parts=1, expected_parts=1, now=2.0,
        pdu_ids=[], decision="format:no-origin-line",
    )  # fmt: skip
    assert kept.code is None
    for decision, with_code in (("code", None), ("expired", code), ("", None)):
        with pytest.raises(JournalError, match="decision"):
            journal.store_decided(
                modem="m0", sender="+1", scts=SCTS, text="x", parts=1, expected_parts=1,
                now=3.0, pdu_ids=[], decision=decision, code=with_code,
            )  # fmt: skip
    assert len(journal.codes()) == 1
    assert journal.undecided("m0") == []


def test_undecided_messages_are_listed_until_decided(journal: Journal) -> None:
    """A message stored without a decision is listed once; its decision and code are one
    write, and a second decision is refused."""
    message = journal.store_message(
        modem="m0", sender="+1", scts=SCTS, text="@a.example #1", parts=1, expected_parts=1,
        now=10.0,
    )  # fmt: skip
    (record,) = journal.undecided("m0")
    assert (record.id, record.text, record.complete, record.scts) == (
        message,
        "@a.example #1",
        True,
        SCTS,
    )
    assert journal.undecided("m1") == []
    code = NewCode(origin="a.example", embedded=None, code="1", expires_at=610.0)
    stored = journal.record_decision(message, decision=CODE_DECISION, code=code)
    assert stored is not None
    assert stored.code is not None
    assert (stored.code.sender, stored.code.received_at) == ("+1", 10.0)
    assert journal.record_decision(message, decision="expired") is None
    assert journal.undecided("m0") == []


def test_v2_journal_marks_messages_with_codes_decided(tmp_path: Path) -> None:
    """Upgrading to v3 marks messages that have a code as decided; the others stay open."""
    path = tmp_path / "v2.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, MIGRATIONS[:2])
    for i in (1, 2):
        conn.execute(
            "INSERT INTO messages(id, modem, sender, scts, text, parts, expected_parts, "
            "complete, received_at) VALUES (?, 'm0', '+1', ?, 't', 1, 1, 1, 1.0)",
            (i, SCTS.isoformat()),
        )
    conn.execute(
        "INSERT INTO codes(origin, code, sender, received_at, expires_at, message_id) "
        "VALUES ('a.example', '1', '+1', 1.0, 601.0, 1)"
    )
    conn.close()
    with Journal(path) as j:
        assert [m.id for m in j.undecided("m0")] == [2]
        assert j.message_decision(1) == "code"


def test_a_failed_commit_leaves_no_transaction_open(tmp_path: Path) -> None:
    """When COMMIT fails (a deferred foreign key here, like a full disk) the transaction is
    rolled back: nothing is stored and the next write works."""
    with Journal(tmp_path / "j.sqlite3") as j:

        def orphan_event() -> None:
            with j._tx() as conn:  # the foreign key is checked only at COMMIT
                conn.execute("PRAGMA defer_foreign_keys = ON")
                conn.execute(
                    "INSERT INTO job_events(job_id, at, event, state) VALUES ('no', 1, 'x', 'y')"
                )

        with pytest.raises(JournalError, match="commit failed"):
            orphan_event()
        assert not j._conn.in_transaction
        j.bump("after")
        assert j.counters() == {"after": 1}
        assert j._read("SELECT COUNT(*) FROM job_events") == [(0,)]


def test_configured_journal_takes_every_retention_from_the_settings(tmp_path: Path) -> None:
    """Journal.configured opens the file in state_dir with the three retention periods."""
    settings = JournalSettings(
        state_dir=tmp_path, body_retention=60.0, code_retention=30.0, record_retention=90.0
    )
    with Journal.configured(settings) as j:
        assert j.path == tmp_path / FILENAME
        assert (j.body_retention, j.code_retention, j.record_retention) == (60.0, 30.0, 90.0)
