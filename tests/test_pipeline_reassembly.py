"""Tests for multipart reassembly: order, timeouts, reference reuse and repeated parts."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.errors import UsageError
from gateway.pipeline.reassembly import Assembled, Part, Reassembler

SCTS = datetime(2026, 11, 27, 10, 0, 0, tzinfo=UTC)


def part(
    pdu_id: int,
    sequence: int,
    total: int = 3,
    *,
    sender: str = "+15557654321",
    reference: int | None = 7,
    text: str | None = None,
    at: float = 0.0,
) -> Part:
    """A part whose text names its sequence, unless given."""
    return Part(
        pdu_id=pdu_id,
        sender=sender,
        scts=SCTS + timedelta(seconds=sequence),
        text=text if text is not None else f"<{sequence}>",
        reference=reference,
        total=total,
        sequence=sequence,
        received_at=at,
    )


def test_single_part_comes_straight_back() -> None:
    """A message without concatenation header is complete at once."""
    r = Reassembler(timeout=10)
    (message,) = r.add(part(1, 1, 1, reference=None, text="hello"))
    assert (message.text, message.parts, message.expected, message.pdu_ids) == (
        "hello",
        1,
        1,
        (1,),
    )
    assert message.complete
    assert r.pending == 0
    assert r.next_deadline() is None


@pytest.mark.parametrize("order", [(1, 2, 3), (3, 1, 2), (2, 3, 1), (3, 2, 1)])
def test_parts_join_in_sequence_order(order: tuple[int, int, int]) -> None:
    """Parts arriving in any order are joined by sequence number."""
    r = Reassembler(timeout=10)
    results = [r.add(part(s, s, at=float(i))) for i, s in enumerate(order)]
    assert results[:2] == [[], []]
    (message,) = results[2]
    assert message.text == "<1><2><3>"
    assert message.pdu_ids == (1, 2, 3)
    assert message.scts == SCTS + timedelta(seconds=1)
    assert message.received_at == 2.0  # complete when its newest part arrived
    assert message.complete
    assert r.pending == 0


def test_groups_are_keyed_by_sender_reference_and_total() -> None:
    """Same reference from two senders, or with another part count, are different messages."""
    r = Reassembler(timeout=10)
    assert r.add(part(1, 1, 2, sender="+1")) == []
    assert r.add(part(2, 1, 2, sender="+2")) == []
    assert r.add(part(3, 1, 3, sender="+1")) == []
    assert r.pending == 3
    (message,) = r.add(part(4, 2, 2, sender="+2"))
    assert (message.sender, message.pdu_ids) == ("+2", (2, 4))
    assert r.pending_parts == 2


def test_incomplete_group_times_out_from_its_newest_part() -> None:
    """After ``timeout`` since the newest part, what arrived is handed out incomplete."""
    r = Reassembler(timeout=10)
    r.add(part(1, 3, at=5.0))
    assert r.next_deadline() == 15.0
    r.add(part(2, 1, at=8.0))
    assert r.next_deadline() == 18.0
    assert r.expire(17.9) == []
    (message,) = r.expire(18.0)
    assert (message.text, message.parts, message.expected) == ("<1><3>", 2, 3)
    assert not message.complete
    assert message.pdu_ids == (2, 1)
    assert r.next_deadline() is None


def test_expire_hands_out_oldest_first() -> None:
    """Several due groups come out in the order their newest parts arrived."""
    r = Reassembler(timeout=1)
    r.add(part(1, 1, reference=2, at=3.0))
    r.add(part(2, 1, reference=1, at=1.0))
    assert [m.pdu_ids for m in r.expire(100.0)] == [(2,), (1,)]


def test_reused_reference_flushes_the_old_message() -> None:
    """A different part with a sequence already held starts a new message."""
    r = Reassembler(timeout=10)
    r.add(part(1, 1, 2, text="old-1"))
    (old,) = r.add(part(2, 1, 2, text="new-1"))
    assert (old.text, old.complete, old.pdu_ids) == ("old-1", False, (1,))
    (new,) = r.add(part(3, 2, 2, text="new-2"))
    assert (new.text, new.complete, new.pdu_ids) == ("new-1new-2", True, (2, 3))


def test_a_repeated_part_is_linked_not_joined_twice() -> None:
    """The same part under another journal row is listed in pdu_ids but joined once."""
    r = Reassembler(timeout=10)
    r.add(part(1, 1, 2))
    assert r.add(part(2, 1, 2)) == []
    (message,) = r.add(part(3, 2, 2))
    assert message.text == "<1><2>"
    assert message.parts == 2
    assert message.pdu_ids == (1, 3, 2)


def bogus(pdu_id: int, sequence: int, raw: bytes = bytes(7), text: str | None = None) -> Part:
    """A part of reference 7 (of 2) whose TP-SCTS was impossible: scts None, raw kept."""
    return Part(
        pdu_id=pdu_id,
        sender="+15557654321",
        scts=None,
        scts_raw=raw,
        text=text if text is not None else f"<{sequence}>",
        reference=7,
        total=2,
        sequence=sequence,
        received_at=0.0,
    )


def test_parts_without_scts_group_and_join() -> None:
    """Parts whose TP-SCTS is None still group by sender+reference+total and join."""
    r = Reassembler(timeout=10)
    assert r.add(bogus(1, 2)) == []
    (message,) = r.add(bogus(2, 1))
    assert (message.text, message.scts, message.pdu_ids) == ("<1><2>", None, (2, 1))
    assert message.complete


def test_assembled_scts_is_the_first_valid_one() -> None:
    """An impossible TP-SCTS in part 1 gives way to the valid one of a later part."""
    r = Reassembler(timeout=10)
    assert r.add(bogus(1, 1)) == []
    (message,) = r.add(part(2, 2, 2))
    assert message.scts == SCTS + timedelta(seconds=2)


def test_repeated_part_without_scts_is_told_apart_by_raw_octets() -> None:
    """Same text and raw TP-SCTS is a copy; other raw octets mean the reference was reused."""
    r = Reassembler(timeout=10)
    assert r.add(bogus(1, 1)) == []
    assert r.add(bogus(2, 1)) == []  # a copy: linked, not joined twice
    assert r.pending_parts == 1
    (old,) = r.add(bogus(3, 1, raw=b"\xff" * 7))
    assert (old.parts, old.pdu_ids, old.complete) == (1, (1, 2), False)
    assert r.pending_parts == 1


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"sequence": 4, "total": 3}, "sequence"),
        ({"sequence": 0, "total": 3}, "sequence"),
        ({"total": 0, "sequence": 1}, "sequence"),
        ({"reference": None, "total": 2, "sequence": 1}, "reference"),
    ],
)
def test_invalid_parts_are_refused(kwargs: dict[str, int | None], problem: str) -> None:
    """A part cannot exist with an impossible sequence or without its reference."""
    values: dict[str, object] = {"pdu_id": 1, "sender": "+1", "scts": SCTS, "text": "t"}
    values |= {"received_at": 0.0, "reference": 1, **kwargs}
    with pytest.raises(UsageError, match=problem):
        Part(**values)  # type: ignore[arg-type]


def test_invalid_assembled_and_timeout_are_refused() -> None:
    """An Assembled needs a pdu id per part; the timeout must be positive."""
    with pytest.raises(UsageError):
        Assembled(sender="+1", scts=SCTS, text="", parts=2, expected=2, pdu_ids=(1,), received_at=0)
    with pytest.raises(UsageError):
        Reassembler(timeout=0)


Message = tuple[str, int, int]  # sender, reference, total


@st.composite
def streams(draw: st.DrawFn) -> tuple[list[Part], dict[Message, list[int]]]:
    """Parts of a few messages, some dropped, some repeated, in any order."""
    keys = draw(
        st.lists(
            st.tuples(st.sampled_from(["+1", "+2", "BANK"]), st.integers(0, 3), st.integers(1, 4)),
            min_size=1,
            max_size=5,
            unique=True,
        )
    )
    parts: list[Part] = []
    kept: dict[Message, list[int]] = {}
    pdu_id = 0
    for sender, reference, total in keys:
        for sequence in range(1, total + 1):
            copies = draw(st.integers(0, 2))  # 0: dropped, 2: delivered twice
            for _ in range(copies):
                pdu_id += 1
                parts.append(part(pdu_id, sequence, total, sender=sender, reference=reference))
            if copies:
                kept.setdefault((sender, reference, total), []).append(sequence)
    return draw(st.permutations(parts)), kept


@settings(deadline=None, max_examples=200)
@given(streams())
def test_every_part_ends_in_exactly_one_message(
    stream: tuple[list[Part], dict[Message, list[int]]],
) -> None:
    """Whatever the order, drops and repeats: each part lands in one message, joined in order.

    Every message whose parts all arrived comes out complete at least once (a repeat
    after completion would start a new message; the journal dedupes those before).
    """
    parts, kept = stream
    r = Reassembler(timeout=5)
    out: list[Assembled] = []
    for p in parts:
        out += r.add(p)
    out += r.expire(math.inf)
    assert r.pending == 0
    ids = [i for m in out for i in m.pdu_ids]
    assert sorted(ids) == sorted(p.pdu_id for p in parts)
    assert len(ids) == len(set(ids))
    for (sender, _, total), sequences in kept.items():
        if len(sequences) == total:
            assert any(m.complete and m.sender == sender and m.expected == total for m in out)
    for message in out:
        sequences = [int(chunk) for chunk in message.text.strip("<>").split("><")]
        assert sequences == sorted(set(sequences))
        assert message.complete == (message.parts == message.expected)
        assert message.parts == len(sequences)


def test_deadlines_run_on_the_clock_passed_as_at() -> None:
    """Timeouts use the ``at`` clock (monotonic), while received_at stays the wall time."""
    r = Reassembler(timeout=10)
    assert r.add(part(1, 1, 2, at=1_000_000.0), at=5.0) == []
    assert r.next_deadline() == 15.0
    assert r.expire(14.9) == []
    (message,) = r.expire(15.0)
    assert (message.parts, message.received_at) == (1, 1_000_000.0)


def test_parts_of_senders_of_different_kinds_are_never_joined() -> None:
    """Alphanumeric "72727" and short code 72727 with one reference make two messages."""
    r = Reassembler(timeout=10)
    alpha = replace(part(1, 1, 2, sender="72727", text="@bank"), sender_toa=0xD0)
    short = replace(part(2, 2, 2, sender="72727", text=".example #1"), sender_toa=0x81)
    assert r.add(alpha) == []
    assert r.add(short) == []
    assert r.pending == 2
    kinds = sorted(str(m.sender_kind) for m in r.expire(100.0))
    assert kinds == ["SenderType.ALPHANUMERIC", "SenderType.SHORT_CODE"]
