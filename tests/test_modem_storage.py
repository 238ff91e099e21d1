"""Tests for the pure storage-reply parsers (+CPMS, +CMGL, +CMGR, +CMGS, +CSCA)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.modem.storage import (
    ReplyError,
    StoredMessage,
    choose_memories,
    parse_cpms_test,
    parse_listing,
    parse_read,
    parse_reference,
    parse_smsc,
    sweep_memories,
)

PDU = "07915155000000F0040B915155214365F700002211207080000005C8329BFD06"


@pytest.mark.parametrize(
    ("line", "slots", "chosen"),
    [
        ('+CPMS: ("SM","ME","SR"),("SM","ME"),("SM","ME")', 3, ("SM", "SM", "SM")),
        ('+CPMS: ("ME","MT"),("ME")', 2, ("ME", "ME")),
        ('+CPMS: ("MT","ME")', 1, ("ME",)),
        ('+CPMS: "BM","SR"', 1, ("BM",)),
    ],
)
def test_cpms_forms(line: str, slots: int, chosen: tuple[str, ...]) -> None:
    """One-, two- and three-slot AT+CPMS=? answers give one chosen memory per slot."""
    parsed = parse_cpms_test((line,))
    assert len(parsed) == slots
    assert choose_memories(parsed) == chosen


def test_cpms_without_line_is_a_reply_error() -> None:
    """A reply without +CPMS raises ReplyError."""
    with pytest.raises(ReplyError):
        parse_cpms_test(())


def test_listing_keeps_indexes_when_an_entry_is_bad() -> None:
    """A malformed entry is counted and skipped; later indexes are not shifted."""
    lines = (
        "+CMGL: 0,1,,23",
        PDU,
        "+CMGL: 1,0,,23",  # header without its PDU line
        "+CMGL: 4,0,,23",
        PDU,
        "+CMGL: x,0,,23",
        PDU,
    )
    messages, bad = parse_listing("SM", lines)
    assert [(m.index, m.status) for m in messages] == [(0, 1), (4, 0)]
    assert bad == 2
    assert PDU not in repr(messages[0])  # PDUs never reach logs through repr


def test_read_message_and_empty_slot() -> None:
    """+CMGR with a PDU gives a StoredMessage; no header means an empty slot."""
    message = parse_read("ME", 3, ("+CMGR: 0,,23", PDU))
    assert message == StoredMessage(memory="ME", index=3, status=0, length=23, pdu=PDU)
    assert parse_read("ME", 3, ()) is None
    with pytest.raises(ReplyError):
        parse_read("ME", 3, ("+CMGR: 0,,23",))


def test_reference_and_smsc() -> None:
    """+CMGS gives TP-MR (with or without SCTS); +CSCA gives the SMSC address."""
    assert parse_reference(("+CMGS: 17",)) == 17
    assert parse_reference(('+CMGS: 200,"26/11/27,02:10:00+00"',)) == 200
    with pytest.raises(ReplyError):
        parse_reference(("+CMGS: 999",))
    assert parse_smsc(('+CSCA: "+15550000000",145',)) == "+15550000000"
    assert parse_smsc(('+CSCA: "",129',)) is None


line_text = st.one_of(
    st.text(max_size=40),
    st.builds(lambda a, b: f"+CMGL: {a},{b},,23", st.text(max_size=5), st.text(max_size=5)),
    st.just(PDU),
)


@given(st.lists(line_text, max_size=12).map(tuple))
def test_parsers_give_values_or_reply_error(lines: tuple[str, ...]) -> None:
    """Random reply lines give values or ReplyError, never another exception."""
    messages, bad = parse_listing("SM", lines)
    assert bad >= 0
    assert all(isinstance(m, StoredMessage) for m in messages)
    for parse in (parse_cpms_test, parse_reference):
        with contextlib.suppress(ReplyError):
            parse(lines)
    with contextlib.suppress(ReplyError):
        parse_read("SM", 1, lines)
    parse_smsc(lines)


@pytest.mark.parametrize(
    ("offered", "wanted", "swept"),
    [
        (("SM", "ME", "SR"), (), ("SM", "ME", "SR")),
        (("SM", "ME", "SR"), ("ME",), ("ME", "SR")),
        (("SM", "ME", "SR"), ("ME", "SM"), ("ME", "SM", "SR")),
        (("SM", "ME"), ("MT", "ME"), ("ME",)),
        (("SM", "ME"), ("MT",), ()),
        (("SM", "SR"), ("SR",), ("SR",)),
    ],
)
def test_sweep_memories(
    offered: tuple[str, ...], wanted: tuple[str, ...], swept: tuple[str, ...]
) -> None:
    """Configured memories are kept in their order when offered; SR stays; none -> empty."""
    assert sweep_memories(offered, wanted) == swept


def test_choose_memories_prefers_the_configured_order() -> None:
    """A preferred memory wins over the SM/ME/MT default where the slot offers it."""
    slots = (("SM", "ME"), ("SM", "ME"), ("SM",))
    assert choose_memories(slots, ("ME",)) == ("ME", "ME", "SM")


MEMORY = st.sampled_from(["SM", "ME", "MT", "SR", "BM"])


@given(st.lists(MEMORY, min_size=1).map(tuple), st.lists(MEMORY).map(tuple))
def test_sweep_memories_only_offered(offered: tuple[str, ...], wanted: tuple[str, ...]) -> None:
    """The sweep list holds offered memories only, each once."""
    swept = sweep_memories(offered, wanted)
    assert set(swept) <= set(offered)
    assert len(set(swept)) == len(swept) or not wanted
