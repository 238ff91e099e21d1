"""Tests for the code broker's navigator.credentials.get semantics."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.relay.broker import Broker, Delivered, Expired, Notified
from gateway.relay.ports import CodeRecord

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
W0 = T0.timestamp()  # the wall clock at t = 0 in these tests (monotonic t = wall - W0)


def code(
    value: str, origin: str = "shop.example", embedded: str | None = None, *, at: float = 0.0
) -> CodeRecord:
    """A code record that arrived ``at`` seconds after T0."""
    return CodeRecord(
        origin=origin,
        embedded_origin=embedded,
        code=value,
        sender="+15557654321",
        received_at=T0 + dt.timedelta(seconds=at),
    )


def get(broker: Broker, ticket: object, at: float, **kwargs: object) -> Delivered | None:
    """Start a get at t = ``at`` (both clocks)."""
    kwargs.setdefault("origin", "shop.example")
    return broker.get(ticket, now=at, wall=W0 + at, **kwargs)  # type: ignore[arg-type]


def offer(broker: Broker, record: CodeRecord, at: float | None = None) -> list[object]:
    """Offer ``record`` at t = ``at`` (default: when it arrived); cursors left out."""
    when = record.received_at.timestamp() if at is None else W0 + at
    return [_plain(item) for item in broker.offer(record, when)]


def _plain(item: Delivered | Notified) -> Delivered | Notified:
    return type(item)(ticket=item.ticket, record=dataclasses.replace(item.record, claimed_by=None))


def test_get_resolves_with_a_code_offered_after_it() -> None:
    """A waiting get receives the next code for its origin."""
    broker = Broker()
    assert get(broker, "g1", 10.0) is None
    assert offer(broker, code("111", at=11.0)) == [
        Delivered(ticket="g1", record=code("111", at=11.0))
    ]
    assert broker.pending == 0


def test_code_before_the_request_is_not_delivered_without_grace() -> None:
    """A code that arrived before the get is never handed to it when grace is zero."""
    broker = Broker()
    assert offer(broker, code("old", at=5.0)) == []
    assert get(broker, "g1", 6.0) is None
    new = code("new", at=7.0)
    assert offer(broker, new) == [Delivered(ticket="g1", record=new)]


def test_a_code_read_late_that_arrived_before_the_get_is_not_handed_to_it() -> None:
    """What counts is when the code arrived, not when it was offered (issue 12.4)."""
    broker = Broker(grace=5.0)
    assert get(broker, "g1", 100.0) is None
    stale = code("stale", at=53.0)  # stored 47 s before the request, read by a sweep after
    assert offer(broker, stale, at=101.0) == []
    assert broker.pending == 1
    fresh = code("fresh", at=102.0)
    assert offer(broker, fresh, at=102.0) == [Delivered(ticket="g1", record=fresh)]


def test_a_late_code_goes_to_the_oldest_get_it_follows() -> None:
    """A late-read code skips a get that asked after it arrived and resolves an older one."""
    broker = Broker()
    get(broker, "early", 10.0)
    get(broker, "late", 30.0)
    late_read = code("x", at=20.0)
    assert offer(broker, late_read, at=31.0) == [Delivered(ticket="early", record=late_read)]
    assert broker.pending == 1


@pytest.mark.parametrize(
    ("arrived", "requested", "admitted"),
    [(9.0, 10.0, True), (5.0, 10.0, True), (4.9, 10.0, False), (0.0, 10.0, False)],
)
def test_grace_window_admits_recent_unclaimed_codes(
    arrived: float, requested: float, admitted: bool
) -> None:
    """With a 5 s grace window a code at most 5 s older than the get is taken at once."""
    broker = Broker(grace=5.0)
    offer(broker, code("123", at=arrived))
    outcome = get(broker, "g1", requested)
    assert (outcome is not None and outcome.record.code == "123") is admitted
    assert broker.pending == (0 if admitted else 1)


def test_a_failed_hand_over_skips_to_the_next_get() -> None:
    """A get whose consumer cannot take the code is dropped; the next waiting get gets it."""
    broker = Broker()
    for ticket in ("gone1", "gone2", "live"):
        get(broker, ticket, 1.0)
    tried: list[object] = []

    def hand(outcome: Delivered) -> bool:
        tried.append(outcome.ticket)
        return outcome.ticket == "live"

    one = code("111", at=2.0)
    delivered = broker.offer(one, W0 + 2.0, hand=hand)
    assert [_plain(d) for d in delivered] == [Delivered(ticket="live", record=one)]
    assert tried == ["gone1", "gone2", "live"]
    assert broker.pending == 0
    assert broker.next_deadline() is None


def test_a_code_no_get_could_take_stays_in_the_grace_window() -> None:
    """When every hand-over fails the code is delivered to nobody and kept for a later get."""
    broker = Broker(grace=5.0)
    get(broker, "gone", 1.0)
    assert broker.offer(code("222", at=2.0), W0 + 2.0, hand=lambda outcome: False) == []
    assert broker.pending == 0
    later = get(broker, "later", 3.0)
    assert later is not None
    assert later.record.code == "222"


def test_a_failed_hand_over_from_the_grace_window_keeps_the_code() -> None:
    """A get that cannot take a recent code leaves it for the next get (which may take it)."""
    broker = Broker(grace=5.0)
    offer(broker, code("333", at=9.0))
    assert get(broker, "gone", 10.0, hand=lambda outcome: False) is None
    assert broker.cancel("gone")
    live = get(broker, "live", 10.0, hand=lambda outcome: True)
    assert live is not None
    assert live.record.code == "333"


def test_grace_code_goes_to_one_get_only() -> None:
    """A recent code claimed by one get is not handed to a second one."""
    broker = Broker(grace=5.0)
    offer(broker, code("123", at=9.0))
    assert get(broker, "g1", 10.0) is not None
    assert get(broker, "g2", 10.0) is None


def test_grace_code_claimed_by_a_waiter_is_not_kept() -> None:
    """A code handed to a waiting get is not kept for the grace window."""
    broker = Broker(grace=5.0)
    get(broker, "g1", 1.0)
    offer(broker, code("123", at=2.0))
    assert get(broker, "g2", 3.0) is None


@pytest.mark.parametrize(
    ("since", "arrived", "admitted"),
    [(50.0, 60.0, True), (50.0, 50.0, True), (50.0, 49.0, False), (10.0, 60.0, True)],
)
def test_since_admits_codes_that_arrived_after_the_first_request(
    since: float, arrived: float, admitted: bool
) -> None:
    """A get asked again with ``since`` takes an unclaimed code that arrived after it."""
    broker = Broker(window=300.0)
    offer(broker, code("555", at=arrived))
    outcome = get(broker, "again", 100.0, since=W0 + since)
    assert (outcome is not None) is admitted


def test_since_is_bounded_by_the_window() -> None:
    """``since`` reaches back at most ``window`` seconds: older codes are not handed out."""
    broker = Broker(window=30.0)
    offer(broker, code("old", at=50.0), at=50.0)
    assert get(broker, "again", 100.0, since=W0) is None  # clamped to t = 70
    assert broker.request_time(W0 + 100.0, W0) == W0 + 70.0
    assert broker.request_time(W0 + 100.0, W0 + 500.0) == W0 + 100.0  # never in the future


def test_since_never_takes_a_claimed_code() -> None:
    """A code one get took is not handed to another get, whatever its ``since``."""
    broker = Broker(window=300.0)
    get(broker, "first", 10.0)
    offer(broker, code("1", at=20.0))
    assert get(broker, "second", 30.0, since=W0) is None


def test_a_waiting_get_with_since_takes_a_late_read_code() -> None:
    """A get asked again with ``since`` also waits for late-read codes from since on."""
    broker = Broker(window=300.0)
    get(broker, "again", 100.0, since=W0 + 40.0)
    swept = code("swept", at=45.0)
    assert offer(broker, swept, at=101.0) == [Delivered(ticket="again", record=swept)]


def test_preloaded_codes_keep_their_claims() -> None:
    """Codes from the previous run are taken by a get with since only if unclaimed."""
    broker = Broker(window=300.0)
    now = W0 + 100.0
    broker.preload(code("taken", at=60.0), cursor=7, claimant="relay", wall=now)
    broker.preload(code("free", at=70.0), cursor=8, claimant=None, wall=now)
    broker.preload(code("ancient", at=-500.0), cursor=3, claimant=None, wall=now)
    outcome = get(broker, "again", 100.0, since=W0 + 50.0)
    assert outcome is not None
    assert (outcome.record.code, outcome.cursor) == ("free", 8)
    assert get(broker, "again2", 100.0, since=W0 + 50.0) is None
    assert broker.cursor == 8
    assert broker.kept == 2


def test_subscribe_after_a_cursor_replays_later_visible_codes() -> None:
    """A resumed subscription is first replayed the later codes it may see, in order."""
    broker = Broker(window=300.0)
    for number, origin in ((1, "shop.example"), (2, "other.example"), (3, "shop.example")):
        record = CodeRecord(
            origin=origin,
            code=f"c{number}",
            sender="+1",
            received_at=T0 + dt.timedelta(seconds=number),
            record_id=number,
        )
        broker.offer(record, W0 + number)
    replay = broker.subscribe(
        "s", lambda record: record.origin == "shop.example", after=1, wall=W0 + 10.0
    )
    assert [(n.record.code, n.cursor) for n in replay] == [("c3", 3)]
    assert broker.subscribe("t", lambda record: True) == []
    assert broker.cursor == 3


def test_two_concurrent_gets_receive_different_codes_in_fifo_order() -> None:
    """Two gets for the same origin get one code each, the older get the first code."""
    broker = Broker()
    get(broker, "first", 1.0)
    get(broker, "second", 2.0)
    a, b, c = code("aaa", at=3.0), code("bbb", at=4.0), code("ccc", at=5.0)
    assert offer(broker, a) == [Delivered(ticket="first", record=a)]
    assert offer(broker, b) == [Delivered(ticket="second", record=b)]
    assert offer(broker, c) == []


#: (pair asked for, pair of the code offered) that must not match: gets and narrowed
#: subscriptions share this one exact-pair rule (broker.pair_of)
MISMATCHED_PAIRS = [
    (("shop.example", None), ("www.shop.example", None)),
    (("shop.example", None), ("shop.example", "bank.example")),
    (("shop.example", "bank.example"), ("shop.example", None)),
    (("shop.example", "bank.example"), ("bank.example", "shop.example")),
]


@pytest.mark.parametrize(("wanted", "offered"), MISMATCHED_PAIRS)
def test_origin_pair_must_match_exactly(
    wanted: tuple[str, str | None], offered: tuple[str, str | None]
) -> None:
    """A get matches only codes for its exact (origin, embedded origin) pair."""
    broker = Broker()
    get(broker, "g", 0.0, origin=wanted[0], embedded_origin=wanted[1])
    assert offer(broker, code("1", *offered, at=1.0)) == []


def test_embedded_origin_get_matches_its_pair() -> None:
    """A get with an embedded origin receives the code naming both hosts."""
    broker = Broker()
    get(broker, "g", 0.0, embedded_origin="bank.example")
    record = code("9", "shop.example", "bank.example", at=1.0)
    assert offer(broker, record) == [Delivered(ticket="g", record=record)]


def test_cancel_aborts_a_waiting_get() -> None:
    """A cancelled get is forgotten: the next code is not handed to it."""
    broker = Broker()
    get(broker, "g", 0.0)
    assert broker.cancel("g") is True
    assert broker.cancel("g") is False
    assert offer(broker, code("1", at=1.0)) == []
    assert broker.next_deadline() is None


def test_timeout_expires_at_the_deadline() -> None:
    """A get ends with Expired at now + timeout, and not a moment before."""
    broker = Broker(default_timeout=30.0)
    get(broker, "a", 100.0, timeout=5.0)
    get(broker, "b", 100.0)
    assert broker.next_deadline() == 105.0
    assert broker.expire(104.999) == []
    assert broker.expire(105.0) == [Expired(ticket="a", timeout=5.0)]
    assert broker.next_deadline() == 130.0
    assert broker.expire(200.0) == [Expired(ticket="b", timeout=30.0)]
    assert broker.pending == 0


def test_duplicate_ticket_is_refused() -> None:
    """The same ticket cannot wait twice."""
    broker = Broker()
    get(broker, "g", 0.0)
    with pytest.raises(ValueError, match="already pending"):
        get(broker, "g", 0.0)


def test_subscribers_see_permitted_codes_claimed_or_not() -> None:
    """Subscribers are notified of every code their filter admits, even ones a get took."""
    broker = Broker()
    broker.subscribe("all", lambda record: True)
    broker.subscribe("shop", lambda record: record.origin == "shop.example")
    get(broker, "g", 0.0)
    one, two, three = code("1", at=1.0), code("2", "other.example", at=2.0), code("3", at=3.0)
    assert offer(broker, one) == [
        Delivered(ticket="g", record=one),
        Notified(ticket="all", record=one),
        Notified(ticket="shop", record=one),
    ]
    assert offer(broker, two) == [Notified(ticket="all", record=two)]
    assert broker.unsubscribe("all") is True
    assert broker.unsubscribe("shop") is True
    assert offer(broker, three) == []


@pytest.mark.parametrize(("wanted", "offered"), MISMATCHED_PAIRS)
def test_a_subscription_narrowed_to_a_pair_matches_it_as_a_get_does(
    wanted: tuple[str, str | None], offered: tuple[str, str | None]
) -> None:
    """A subscription naming a pair is told of exactly the codes a get for it would take."""
    broker = Broker()
    broker.subscribe("s", lambda record: True, origin=wanted[0], embedded_origin=wanted[1])
    assert broker.subscribed_to("s") == wanted
    other, own = code("1", *offered, at=1.0), code("2", *wanted, at=2.0)
    assert offer(broker, other) == []
    assert offer(broker, own) == [Notified(ticket="s", record=own)]


def test_a_narrowed_subscription_still_obeys_its_peers_rules() -> None:
    """The pair narrows what the rules let the peer see; it never widens it."""
    broker = Broker()
    broker.subscribe("s", lambda record: False, origin="shop.example")
    assert offer(broker, code("1", at=1.0)) == []
    assert broker.subscribed_to("s") == ("shop.example", None)
    assert broker.subscribed_to("nobody") is None


def test_a_narrowed_subscription_resumed_is_replayed_its_pairs_codes_only() -> None:
    """Resuming with after, a subscription naming a pair is replayed only that pair's codes."""
    broker = Broker(window=300.0)
    offered = [
        (1, "shop.example", None),
        (2, "other.example", None),
        (3, "shop.example", "bank.example"),
        (4, "shop.example", None),
    ]
    for number, origin, embedded in offered:
        record = dataclasses.replace(code(f"c{number}", origin, embedded), record_id=number)
        broker.offer(record, W0 + number)
    replay = broker.subscribe(
        "s", lambda record: True, after=0, wall=W0 + 10.0, origin="shop.example"
    )
    assert [(n.record.code, n.cursor) for n in replay] == [("c1", 1), ("c4", 4)]


def test_code_record_repr_hides_the_code() -> None:
    """The repr of a code record (what a traceback shows) never contains the code."""
    assert "987654" not in repr(code("987654"))


def test_the_same_claimant_asking_again_gets_its_code_again() -> None:
    """A code handed to a claimant is handed to it again when it asks again (its
    connection may have swallowed the answer), never to another claimant or to none."""
    broker = Broker(window=300.0)
    get(broker, "first", 10.0, claimant="uid 1: k")
    (delivered,) = offer(broker, code("777", at=11.0))
    assert isinstance(delivered, Delivered)
    assert get(broker, "other", 20.0, since=W0 + 5.0, claimant="uid 1: j") is None
    assert get(broker, "anonymous", 20.0, since=W0 + 5.0) is None
    again = get(broker, "retry", 20.0, since=W0 + 5.0, claimant="uid 1: k")
    assert again is not None
    assert (again.record.code, again.record.claimed_by) == ("777", "uid 1: k")


def test_a_preloaded_code_goes_back_to_its_claimant_only() -> None:
    """After a restart, a code claimed by a key is handed to that key asking again."""
    broker = Broker(window=300.0)
    broker.preload(code("888", at=50.0), cursor=5, claimant="uid 1: k", wall=W0 + 60.0)
    assert get(broker, "stranger", 60.0, since=W0 + 40.0, claimant="uid 2: k") is None
    mine = get(broker, "mine", 60.0, since=W0 + 40.0, claimant="uid 1: k")
    assert mine is not None
    assert mine.record.code == "888"


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["get", "again", "offer", "late", "cancel", "expire"]),
            st.integers(0, 3),
        ),
        max_size=60,
    )
)
def test_each_code_goes_to_at_most_one_get(steps: list[tuple[str, int]]) -> None:
    """Whatever the interleaving (since, late reads), no code or ticket resolves twice."""
    broker = Broker(grace=2.0, default_timeout=5.0, window=10.0)
    resolved: list[object] = []
    delivered: list[str] = []
    now = 0.0
    for number, (action, arg) in enumerate(steps):
        now += 0.5
        if action in ("get", "again"):
            since = W0 + now - 3 * arg if action == "again" else None
            outcome = get(broker, number, now, since=since)
            if outcome is not None:
                resolved.append(outcome.ticket)
                delivered.append(outcome.record.code)
        elif action in ("offer", "late"):
            arrived = now - (4 * arg if action == "late" else 0)
            for item in broker.offer(code(str(number), at=arrived), W0 + now):
                if isinstance(item, Delivered):
                    resolved.append(item.ticket)
                    delivered.append(item.record.code)
        elif action == "cancel":
            broker.cancel(number - arg)
        else:
            resolved.extend(e.ticket for e in broker.expire(now))
    assert len(delivered) == len(set(delivered))
    assert len(resolved) == len(set(resolved))
