"""Tests for the step after reassembly: store the message, judge it, relay accepted codes."""

from __future__ import annotations

import contextlib
import sqlite3
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType

from gateway.config.schema import ReceiveSettings
from gateway.journal import SqliteJournal
from gateway.log import capture
from gateway.pipeline.codes import CodeStep
from gateway.pipeline.counters import Counters
from gateway.pipeline.otp import OtpRules
from gateway.pipeline.reassembly import Assembled
from gateway.relay.ports import CodeRecord

RULES = OtpRules.from_settings(ReceiveSettings(allowed_origins=("example.com",)))
SCTS = datetime(2026, 11, 27, 10, 0, 0, tzinfo=UTC)


def message(text: str, scts: datetime | None, *, received_at: float = 1000.0) -> Assembled:
    """A complete single-part message recorded as PDU row 1."""
    return Assembled(
        sender="+15557654321",
        scts=scts,
        text=text,
        parts=1,
        expected=1,
        pdu_ids=(1,),
        received_at=received_at,
    )


def stored_scts(path: Path) -> list[str]:
    """Return the messages.scts column of the journal at ``path``."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        return [row[0] for row in db.execute("SELECT scts FROM messages ORDER BY id")]


def test_accepted_code_is_stored_and_handed_on(tmp_path: Path) -> None:
    """An allowed OTP becomes a code record; a None TP-SCTS is stored as the receive time."""
    counters = Counters()
    handed: list[CodeRecord] = []
    with SqliteJournal(tmp_path / "j.sqlite3") as journal:
        step = CodeStep(
            modem="m1", journal=journal, rules=RULES, counters=counters, on_code=handed.append
        )
        step.finish(message("@example.com #123456", None), now=1001.0)
        step.finish(message("@example.com #654321", SCTS, received_at=1002.0), now=1003.0)
        codes = [(c.code, c.message_id) for c in journal.codes()]
    assert [(r.code, r.record_id) for r in handed] == [("123456", 1), ("654321", 2)]
    assert codes == [("123456", 1), ("654321", 2)]
    assert stored_scts(tmp_path / "j.sqlite3") == [
        datetime.fromtimestamp(1000.0, tz=UTC).isoformat(),
        SCTS.isoformat(),
    ]
    assert counters.snapshot() == {"codes": 2, "messages": 2}


def test_rejected_message_is_kept_with_its_reason(tmp_path: Path) -> None:
    """A message the rules refuse is stored and counted as kept, and nothing is relayed."""
    counters = Counters()
    handed: list[CodeRecord] = []
    with SqliteJournal(tmp_path / "j.sqlite3") as journal:
        step = CodeStep(
            modem="m1", journal=journal, rules=RULES, counters=counters, on_code=handed.append
        )
        step.finish(message("@evil.example #123456", SCTS), now=1001.0)
        assert journal.codes() == []
        assert journal.message_text(1) == "@evil.example #123456"
    assert handed == []
    assert counters.snapshot() == {"kept": 1, "kept.origin-not-allowed": 1, "messages": 1}


def test_undecided_message_with_a_purged_text_is_marked_purged(tmp_path: Path) -> None:
    """A message left undecided whose body was purged cannot be judged: it is closed as purged."""
    with SqliteJournal(tmp_path / "j.sqlite3", body_retention=0.0) as journal:
        message_id = journal.store_message(
            modem="m1", sender="+1", scts=SCTS, text="@example.com #1", parts=1,
            expected_parts=1, now=1000.0,
        )  # fmt: skip
        journal.purge(2000.0)
        step = CodeStep(
            modem="m1", journal=journal, rules=RULES, counters=Counters(), on_code=print
        )
        (undecided,) = journal.undecided("m1")
        step.redecide(undecided, now=2000.0)
        assert journal.undecided("m1") == []
        assert journal.message_decision(message_id) == "purged"


def test_the_senders_kind_is_stored_used_and_logged(tmp_path: Path) -> None:
    """The alphanumeric "72727" is refused for a short-code list, its kind stored and logged."""
    rules = OtpRules.from_settings(
        ReceiveSettings(
            allowed_origins=("example.com",),
            senders=MappingProxyType({"example.com": ("72727",)}),
        )
    )
    counters = Counters()
    handed: list[CodeRecord] = []
    alpha = replace(message("@example.com #111111", SCTS), sender="72727", sender_toa=0xD0)
    short = replace(message("@example.com #222222", SCTS), sender="72727", sender_toa=0x81)
    with SqliteJournal(tmp_path / "j.sqlite3") as journal, capture() as events:
        step = CodeStep(
            modem="m1", journal=journal, rules=rules, counters=counters, on_code=handed.append
        )
        step.finish(alpha, now=1001.0)
        step.finish(short, now=1001.0)
    assert [r.code for r in handed] == ["222222"]
    kept = [e for e in events if e["event"] == "receive.kept"]
    assert [(e["reason"], e["sender_type"]) for e in kept] == [
        ("sender-not-allowed", "alphanumeric")
    ]
    assert all("111111" not in str(e) for e in events)
    with contextlib.closing(sqlite3.connect(tmp_path / "j.sqlite3")) as db:
        kinds = [row[0] for row in db.execute("SELECT sender_type FROM messages ORDER BY id")]
    assert kinds == ["alphanumeric", "short"]
