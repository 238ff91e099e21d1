"""Tests for the journal's codes: decided messages, claims and concurrent claims."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from journal_helpers import PDU, SCTS, add_code, open_journal

from gateway.journal import CODE_DECISION, JournalError, NewCode, SqliteJournal


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[SqliteJournal]:
    """A journal in ``tmp_path``, closed after the test."""
    with open_journal(tmp_path) as j:
        yield j


def test_claim_code_rules(journal: SqliteJournal) -> None:
    """Claims honour origin, embedded origin, the since bound and expiry, oldest first."""
    add_code(journal, "111111", at=100.0)
    add_code(journal, "222222", at=200.0)
    add_code(journal, "333333", at=300.0, origin="b.example")
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
    with SqliteJournal(tmp_path / "j.sqlite3") as j:
        for i in range(60):
            add_code(j, f"{i:06d}", at=100.0 + i)
    start = threading.Barrier(8)

    def claimer(n: int) -> list[str]:
        got = []
        with SqliteJournal(tmp_path / "j.sqlite3") as mine:
            start.wait()
            while c := mine.claim_code("a.example", None, 0.0, now=150.0, claimant=f"c{n}"):
                assert c.code is not None
                got.append(c.code)
        return got

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(claimer, range(8)))
    claimed = [code for r in results for code in r]
    assert sorted(claimed) == [f"{i:06d}" for i in range(60)]


def test_store_decided_writes_message_links_and_code_together(journal: SqliteJournal) -> None:
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


def test_undecided_messages_are_listed_until_decided(journal: SqliteJournal) -> None:
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


def test_the_senders_kind_is_kept_with_the_message(journal: SqliteJournal) -> None:
    """The sender's kind (from its type of number) is stored and read back for a redecision."""
    message = journal.store_message(
        modem="m0", sender="72727", scts=SCTS, text="@a.example #1", parts=1, expected_parts=1,
        now=10.0, sender_type="alphanumeric",
    )  # fmt: skip
    untyped = journal.store_message(
        modem="m0", sender="72727", scts=SCTS, text="@a.example #2", parts=1, expected_parts=1,
        now=11.0,
    )  # fmt: skip
    kinds = {record.id: record.sender_type for record in journal.undecided("m0")}
    assert kinds == {message: "alphanumeric", untyped: None}


def test_a_released_claim_makes_the_code_claimable_again(journal: SqliteJournal) -> None:
    """release_claim undoes only its own claimant's mark; the code is then claimable again."""
    code_id = add_code(journal, "424242")
    assert journal.mark_claimed(code_id, now=150.0, claimant="relay uid=1 key=a") is True
    assert journal.mark_claimed(code_id, now=151.0, claimant="relay uid=2") is False
    assert journal.release_claim(code_id, claimant="relay uid=2") is False
    assert journal.claim_code("a.example", None, 0.0, now=152.0, claimant="x") is None
    assert journal.release_claim(code_id, claimant="relay uid=1 key=a") is True
    again = journal.claim_code("a.example", None, 0.0, now=153.0, claimant="x")
    assert again is not None
    assert (again.code, again.claimed_by) == ("424242", "x")
    assert journal.counters()["codes.claim_released"] == 1
