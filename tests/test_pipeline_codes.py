"""Tests for the step after reassembly: store the message, judge it, relay accepted codes."""

from __future__ import annotations

import contextlib
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from gateway.config_schema import ReceiveSettings
from gateway.journal import Journal
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
    with Journal(tmp_path / "j.sqlite3") as journal:
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
    with Journal(tmp_path / "j.sqlite3") as journal:
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
    with Journal(tmp_path / "j.sqlite3", body_retention=0.0) as journal:
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
