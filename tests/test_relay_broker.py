"""Tests for the code broker's navigator.credentials.get semantics."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.relay.broker import Broker, Delivered, Expired, Notified
from gateway.relay.ports import CodeRecord

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def code(value: str, origin: str = "shop.example", embedded: str | None = None) -> CodeRecord:
    return CodeRecord(
        origin=origin, embedded_origin=embedded, code=value, sender="+15557654321", received_at=T0
    )


def test_get_resolves_with_a_code_offered_after_it() -> None:
    """A waiting get receives the next code for its origin."""
    broker = Broker()
    assert broker.get("g1", origin="shop.example", now=10.0) is None
    assert broker.offer(code("111"), 11.0) == [Delivered(ticket="g1", record=code("111"))]
    assert broker.pending == 0


def test_code_before_the_request_is_not_delivered_without_grace() -> None:
    """A code that arrived before the get is never handed to it when grace is zero."""
    broker = Broker()
    assert broker.offer(code("old"), 5.0) == []
    assert broker.get("g1", origin="shop.example", now=6.0) is None
    assert broker.offer(code("new"), 7.0) == [Delivered(ticket="g1", record=code("new"))]


@pytest.mark.parametrize(
    ("arrived", "requested", "admitted"),
    [(9.0, 10.0, True), (5.0, 10.0, True), (4.9, 10.0, False), (0.0, 10.0, False)],
)
def test_grace_window_admits_recent_unclaimed_codes(
    arrived: float, requested: float, admitted: bool
) -> None:
    """With a 5 s grace window a code at most 5 s older than the get is taken at once."""
    broker = Broker(grace=5.0)
    broker.offer(code("123"), arrived)
    outcome = broker.get("g1", origin="shop.example", now=requested)
    assert (outcome == Delivered(ticket="g1", record=code("123"))) is admitted
    assert broker.pending == (0 if admitted else 1)


def test_a_failed_hand_over_skips_to_the_next_get() -> None:
    """A get whose consumer cannot take the code is dropped; the next waiting get gets it."""
    broker = Broker()
    for ticket in ("gone1", "gone2", "live"):
        broker.get(ticket, origin="shop.example", now=1.0)
    tried: list[object] = []

    def hand(outcome: Delivered) -> bool:
        tried.append(outcome.ticket)
        return outcome.ticket == "live"

    assert broker.offer(code("111"), 2.0, hand=hand) == [
        Delivered(ticket="live", record=code("111"))
    ]
    assert tried == ["gone1", "gone2", "live"]
    assert broker.pending == 0
    assert broker.next_deadline() is None


def test_a_code_no_get_could_take_stays_in_the_grace_window() -> None:
    """When every hand-over fails the code is delivered to nobody and kept for a later get."""
    broker = Broker(grace=5.0)
    broker.get("gone", origin="shop.example", now=1.0)
    assert broker.offer(code("222"), 2.0, hand=lambda outcome: False) == []
    assert broker.pending == 0
    assert broker.get("later", origin="shop.example", now=3.0) == Delivered(
        ticket="later", record=code("222")
    )


def test_a_failed_hand_over_from_the_grace_window_keeps_the_code() -> None:
    """A get that cannot take a recent code leaves it for the next get (which may take it)."""
    broker = Broker(grace=5.0)
    broker.offer(code("333"), 9.0)
    assert broker.get("gone", origin="shop.example", now=10.0, hand=lambda outcome: False) is None
    assert broker.cancel("gone")
    assert broker.get(
        "live", origin="shop.example", now=10.0, hand=lambda outcome: True
    ) == Delivered(ticket="live", record=code("333"))


def test_grace_code_goes_to_one_get_only() -> None:
    """A recent code claimed by one get is not handed to a second one."""
    broker = Broker(grace=5.0)
    broker.offer(code("123"), 9.0)
    assert broker.get("g1", origin="shop.example", now=10.0) is not None
    assert broker.get("g2", origin="shop.example", now=10.0) is None


def test_grace_code_claimed_by_a_waiter_is_not_kept() -> None:
    """A code handed to a waiting get is not kept for the grace window."""
    broker = Broker(grace=5.0)
    broker.get("g1", origin="shop.example", now=1.0)
    broker.offer(code("123"), 2.0)
    assert broker.get("g2", origin="shop.example", now=3.0) is None


def test_two_concurrent_gets_receive_different_codes_in_fifo_order() -> None:
    """Two gets for the same origin get one code each, the older get the first code."""
    broker = Broker()
    broker.get("first", origin="shop.example", now=1.0)
    broker.get("second", origin="shop.example", now=2.0)
    assert broker.offer(code("aaa"), 3.0) == [Delivered(ticket="first", record=code("aaa"))]
    assert broker.offer(code("bbb"), 4.0) == [Delivered(ticket="second", record=code("bbb"))]
    assert broker.offer(code("ccc"), 5.0) == []


@pytest.mark.parametrize(
    ("wanted", "offered"),
    [
        (("shop.example", None), ("www.shop.example", None)),
        (("shop.example", None), ("shop.example", "bank.example")),
        (("shop.example", "bank.example"), ("shop.example", None)),
        (("shop.example", "bank.example"), ("bank.example", "shop.example")),
    ],
)
def test_origin_pair_must_match_exactly(
    wanted: tuple[str, str | None], offered: tuple[str, str | None]
) -> None:
    """A get matches only codes for its exact (origin, embedded origin) pair."""
    broker = Broker()
    broker.get("g", origin=wanted[0], embedded_origin=wanted[1], now=0.0)
    assert broker.offer(code("1", *offered), 1.0) == []


def test_embedded_origin_get_matches_its_pair() -> None:
    """A get with an embedded origin receives the code naming both hosts."""
    broker = Broker()
    broker.get("g", origin="shop.example", embedded_origin="bank.example", now=0.0)
    record = code("9", "shop.example", "bank.example")
    assert broker.offer(record, 1.0) == [Delivered(ticket="g", record=record)]


def test_cancel_aborts_a_waiting_get() -> None:
    """A cancelled get is forgotten: the next code is not handed to it."""
    broker = Broker()
    broker.get("g", origin="shop.example", now=0.0)
    assert broker.cancel("g") is True
    assert broker.cancel("g") is False
    assert broker.offer(code("1"), 1.0) == []
    assert broker.next_deadline() is None


def test_timeout_expires_at_the_deadline() -> None:
    """A get ends with Expired at now + timeout, and not a moment before."""
    broker = Broker(default_timeout=30.0)
    broker.get("a", origin="shop.example", now=100.0, timeout=5.0)
    broker.get("b", origin="shop.example", now=100.0)
    assert broker.next_deadline() == 105.0
    assert broker.expire(104.999) == []
    assert broker.expire(105.0) == [Expired(ticket="a", timeout=5.0)]
    assert broker.next_deadline() == 130.0
    assert broker.expire(200.0) == [Expired(ticket="b", timeout=30.0)]
    assert broker.pending == 0


def test_duplicate_ticket_is_refused() -> None:
    """The same ticket cannot wait twice."""
    broker = Broker()
    broker.get("g", origin="shop.example", now=0.0)
    with pytest.raises(ValueError, match="already pending"):
        broker.get("g", origin="shop.example", now=0.0)


def test_subscribers_see_permitted_codes_claimed_or_not() -> None:
    """Subscribers are notified of every code their filter admits, even ones a get took."""
    broker = Broker()
    broker.subscribe("all", lambda record: True)
    broker.subscribe("shop", lambda record: record.origin == "shop.example")
    broker.get("g", origin="shop.example", now=0.0)
    out = broker.offer(code("1"), 1.0)
    assert out == [
        Delivered(ticket="g", record=code("1")),
        Notified(ticket="all", record=code("1")),
        Notified(ticket="shop", record=code("1")),
    ]
    assert broker.offer(code("2", "other.example"), 2.0) == [
        Notified(ticket="all", record=code("2", "other.example"))
    ]
    assert broker.unsubscribe("all") is True
    assert broker.offer(code("3", "other.example"), 3.0) == []


def test_code_record_repr_hides_the_code() -> None:
    """The repr of a code record (what a traceback shows) never contains the code."""
    assert "987654" not in repr(code("987654"))


@given(
    st.lists(
        st.tuples(st.sampled_from(["get", "offer", "cancel", "expire"]), st.integers(0, 3)),
        max_size=60,
    )
)
def test_each_code_goes_to_at_most_one_get(steps: list[tuple[str, int]]) -> None:
    """Whatever the interleaving, no code is delivered twice and no ticket resolves twice."""
    broker = Broker(grace=2.0, default_timeout=5.0)
    resolved: list[object] = []
    delivered: list[str] = []
    now = 0.0
    for number, (action, arg) in enumerate(steps):
        now += 0.5
        if action == "get":
            outcome = broker.get(number, origin="shop.example", now=now) if arg else None
            if outcome is not None:
                resolved.append(outcome.ticket)
                delivered.append(outcome.record.code)
        elif action == "offer":
            for item in broker.offer(code(str(number)), now):
                assert isinstance(item, Delivered)
                resolved.append(item.ticket)
                delivered.append(item.record.code)
        elif action == "cancel":
            broker.cancel(number - arg)
        else:
            resolved.extend(e.ticket for e in broker.expire(now))
    assert len(delivered) == len(set(delivered))
    assert len(resolved) == len(set(resolved))
