"""Tests for the storage-use figure of ``status``: the AT+CPMS? parser and its cache."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.daemon.storage import MemoryUse, StorageUse, parse_cpms_read
from gateway.errors import ModemFault


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (['+CPMS: "SM",3,30,"SM",3,30,"SM",3,30'], [("SM", 3, 30)]),
        (['+CPMS: "ME",0,255,"SM",12,40,"MT",12,295'],
         [("ME", 0, 255), ("SM", 12, 40), ("MT", 12, 295)]),
        (['+CPMS: "SM",1,50,"SM",1,50'], [("SM", 1, 50)]),  # two-slot modems
        (["+CPMS: SM,2,20,ME,0,100,SM,2,20"], [("SM", 2, 20), ("ME", 0, 100)]),  # unquoted
        (["AT+CPMS?", '+CPMS: "SR",0,10,"SR",0,10,"SR",0,10'], [("SR", 0, 10)]),
    ],
)  # fmt: skip
def test_cpms_read_replies(lines: list[str], expected: list[tuple[str, int, int]]) -> None:
    """Real AT+CPMS? replies give each memory once with its used and total counts."""
    assert [(u.memory, u.used, u.total) for u in parse_cpms_read(lines)] == expected


@pytest.mark.parametrize(
    "lines",
    [
        [],
        ["OK"],
        ['+CPMS: "SM",3'],
        ['+CPMS: "SM",3,x,"SM",3,30,"SM",3,30'],
        ['+CPMS: "SM",31,30'],
        ['+CPMS: "",1,30'],
        ['+CPMS: "SM",-1,30'],
    ],
)
def test_malformed_cpms_replies_are_modem_faults(lines: list[str]) -> None:
    """A missing or malformed +CPMS line is the modem's fault, named as such."""
    with pytest.raises(ModemFault):
        parse_cpms_read(lines)


@given(st.lists(st.text(max_size=80), max_size=4))
def test_any_reply_gives_memories_or_a_modem_fault(lines: list[str]) -> None:
    """Whatever the modem sends, the parser returns valid figures or raises ModemFault."""
    try:
        uses = parse_cpms_read(lines)
    except ModemFault:
        return
    assert all(0 <= u.used <= u.total for u in uses)
    assert len({u.memory for u in uses}) == len(uses)


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["SM", "ME", "MT", "SR", "BM"]),
            st.integers(0, 500),
            st.integers(0, 500),
        ),
        min_size=1,
        max_size=3,
    )
)
def test_well_formed_replies_round_trip(slots: list[tuple[str, int, int]]) -> None:
    """A reply built from valid slots parses back to its first figure per memory."""
    slots = [(m, min(a, b), max(a, b)) for m, a, b in slots]
    line = "+CPMS: " + ",".join(f'"{m}",{used},{total}' for m, used, total in slots)
    first: dict[str, tuple[str, int, int]] = {}
    for slot in slots:
        first.setdefault(slot[0], slot)
    assert [(u.memory, u.used, u.total) for u in parse_cpms_read([line])] == list(first.values())


def test_memory_use_rejects_impossible_figures() -> None:
    """More messages than capacity, or a bad memory name, cannot be a MemoryUse."""
    with pytest.raises(ModemFault):
        MemoryUse(memory="SM", used=5, total=4)
    with pytest.raises(ModemFault):
        MemoryUse(memory="S M", used=0, total=4)


def test_cache_queries_once_per_ttl_and_keeps_the_last_figure_on_failure() -> None:
    """At most one query per TTL, failed ones included; a failure keeps the old figure."""
    clock = [100.0]
    replies: list[Sequence[str] | ModemFault] = [
        ['+CPMS: "SM",3,30,"SM",3,30,"SM",3,30'],
        ModemFault("timeout"),
        ['+CPMS: "SM",4,30,"SM",4,30,"SM",4,30'],
    ]
    asked: list[str] = []

    async def query() -> Sequence[str]:
        asked.append("AT+CPMS?")
        reply = replies.pop(0)
        if isinstance(reply, ModemFault):
            raise reply
        return reply

    async def scenario() -> list[int]:
        cache = StorageUse(ttl=30.0)
        seen = []
        for step in (0.0, 10.0, 25.0, 1.0, 30.0):  # t = 100, 110, 135 (fails), 136, 166
            clock[0] += step
            cache.refresh({"sim0": query}, lambda: clock[0])
            await cache.settle()
            seen.append(cache.get("sim0")[0].used)
        return seen

    assert asyncio.run(scenario()) == [3, 3, 3, 3, 4]
    assert len(asked) == 3
    assert StorageUse().get("never") == ()


def test_refresh_returns_at_once_and_keeps_one_query_in_flight_per_modem() -> None:
    """refresh never waits on the modem; a hung query is not doubled and ends at the bound."""
    calls: list[str] = []

    async def scenario() -> tuple[MemoryUse, ...]:
        never = asyncio.Event()
        cache = StorageUse(ttl=0.0, timeout=0.05)

        async def good() -> Sequence[str]:
            return ['+CPMS: "SM",2,30,"SM",2,30,"SM",2,30']

        async def hung() -> Sequence[str]:
            calls.append("AT+CPMS?")
            await never.wait()
            return []

        cache.refresh({"sim0": good}, lambda: 1.0)
        await cache.settle()
        cache.refresh({"sim0": hung}, lambda: 2.0)
        cache.refresh({"sim0": hung}, lambda: 3.0)  # the first is still in flight
        assert cache.get("sim0") == (MemoryUse(memory="SM", used=2, total=30),)
        await cache.settle()  # ended by the timeout, not by the modem
        return cache.get("sim0")

    assert asyncio.run(scenario()) == (MemoryUse(memory="SM", used=2, total=30),)
    assert calls == ["AT+CPMS?"]
