"""Tests for the send rate limiter."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.errors import UsageError
from gateway.journal import SqliteJournal
from gateway.ratelimit import DailyUsage, Rate, RateLimited, RateLimiter

NUMBER = "+12025550123"


def _limiter() -> RateLimiter:
    return RateLimiter(
        per_number=[Rate.parse("3/10min"), Rate.parse("10/day")],
        per_origin=[Rate.parse("5/h")],
        global_per_minute=4,
    )


@pytest.mark.parametrize(
    ("text", "count", "period", "shown"),
    [
        ("3/10min", 3, 600.0, "3/10min"),
        ("10/day", 10, 86400.0, "10/day"),
        ("30/m", 30, 60.0, "30/min"),
        ("5/90s", 5, 90.0, "5/90s"),
        (" 2 / 2h ", 2, 7200.0, "2/2h"),
    ],
)
def test_parse_rates(text: str, count: int, period: float, shown: str) -> None:
    """Rates read as count/period with a unit and print back canonically."""
    rate = Rate.parse(text)
    assert (rate.count, rate.period, str(rate)) == (count, period, shown)


@pytest.mark.parametrize("text", ["", "3", "3/", "x/min", "0/min", "3/0min", "3/10years"])
def test_bad_rates(text: str) -> None:
    """Malformed or empty rates are refused with a usage error."""
    with pytest.raises(UsageError):
        Rate.parse(text)


@given(st.text(max_size=20))
def test_rate_parser_total(text: str) -> None:
    """Random text gives a Rate or a UsageError."""
    try:
        rate = Rate.parse(text)
    except UsageError:
        return
    assert rate.count >= 1
    assert rate.period > 0


def test_per_number_sliding_window() -> None:
    """The fourth send to one number inside 10 minutes is refused until the first ages out."""
    limiter = RateLimiter(per_number=[Rate.parse("3/10min")])
    for t in (0.0, 100.0, 200.0):
        limiter.acquire(NUMBER, "a.example", t)
    with pytest.raises(RateLimited) as info:
        limiter.acquire(NUMBER, "a.example", 300.0)
    assert info.value.refusal.limit == "per-number 3/10min"
    assert info.value.refusal.retry_after == 300.0
    assert "retry in 300 s" in str(info.value)
    limiter.acquire("+12025550124", "a.example", 300.0)  # other numbers are unaffected
    limiter.acquire(NUMBER, "a.example", 600.0)  # the send at t=0 has left the window


def test_daily_limit() -> None:
    """Ten sends a day per number, even when spread to dodge the short window."""
    limiter = _limiter()
    t = 0.0
    for i in range(10):
        limiter.acquire(NUMBER, f"o{i}.example", t)
        t += 3600.0
    refusal = limiter.check(NUMBER, "x.example", t)
    assert refusal is not None
    assert refusal.limit == "per-number 10/day"
    assert refusal.retry_after == 86400.0 - t


def test_per_origin_and_global() -> None:
    """Per-origin and global limits refuse and name themselves."""
    limiter = _limiter()
    for i in range(4):
        limiter.acquire(f"+1202555010{i}", "a.example", float(i))
    refusal = limiter.check("+12025550199", "b.example", 10.0)
    assert refusal is not None
    assert (refusal.limit, refusal.retry_after) == ("global 4/min", 50.0)
    limiter.acquire("+12025550105", "a.example", 61.0)
    refusal = limiter.check("+12025550106", "a.example", 3000.0)
    assert refusal is not None
    assert refusal.limit == "per-origin 5/h"


def test_refusals_do_not_count() -> None:
    """A refused send does not extend the wait."""
    limiter = RateLimiter(per_number=[Rate.parse("1/min")])
    limiter.acquire(NUMBER, "o", 0.0)
    for t in (10.0, 20.0, 30.0):
        with pytest.raises(RateLimited):
            limiter.acquire(NUMBER, "o", t)
    limiter.acquire(NUMBER, "o", 60.0)


def test_rebuild_from_history() -> None:
    """Replaying the journal's send history restores the limits after a restart."""
    limiter = RateLimiter(per_number=[Rate.parse("3/10min")])
    limiter.rebuild([(NUMBER, "o", 30.0), (NUMBER, "o", 10.0), (NUMBER, "o", 20.0)], now=40.0)
    refusal = limiter.check(NUMBER, "o", 40.0)
    assert refusal is not None
    assert refusal.retry_after == 570.0


def test_forget_bounds_memory() -> None:
    """Keys whose windows emptied are dropped."""
    limiter = _limiter()
    for i in range(3):
        limiter.record(f"+1202555010{i}", "o", 0.0)
    assert len(limiter) == 4
    limiter.forget(90000.0)
    assert len(limiter) == 0


def test_no_limits_admit_everything() -> None:
    """A limiter without rates never refuses."""
    limiter = RateLimiter()
    for t in range(100):
        limiter.acquire(NUMBER, "o", float(t))
    assert limiter.check(NUMBER, "o", 100.0) is None


def test_rebuild_from_a_real_journal(tmp_path: Path) -> None:
    """Jobs stored in the journal before a restart still count against the limits."""
    with SqliteJournal(tmp_path / "j.sqlite3") as journal:
        for i, t in enumerate((100.0, 200.0, 300.0)):
            journal.create_job(
                job_id=f"j{i}",
                number=NUMBER,
                origin="a.example",
                embedded=None,
                text="@a.example #123456",
                now=t,
                expires_at=t + 600.0,
            )
        history = journal.send_history(since=400.0 - 86400.0)
    limiter = RateLimiter(per_number=[Rate.parse("3/10min")])
    limiter.rebuild(history, now=400.0)
    with pytest.raises(RateLimited, match="per-number 3/10min"):
        limiter.acquire(NUMBER, "a.example", 400.0)


def test_daily_cap_refuses_once_reached_across_numbers_and_origins() -> None:
    """The daily cap counts every send, whatever number or origin, over any 24 hours."""
    limiter = RateLimiter(global_per_day=3)
    for i in range(3):
        limiter.acquire(f"+1202555010{i}", f"o{i}.example", 1000.0 + i)
    with pytest.raises(RateLimited, match="daily 3/day") as caught:
        limiter.acquire("+12025550199", "other.example", 2000.0)
    assert caught.value.refusal.retry_after == 1000.0 + 86400.0 - 2000.0
    assert limiter.daily(2000.0) == DailyUsage(used=3, cap=3)
    limiter.acquire("+12025550199", "other.example", 1000.0 + 86400.0 + 0.5)
    assert limiter.daily(1000.0 + 86400.0 + 0.5) == DailyUsage(used=3, cap=3)
    assert RateLimiter().daily(0.0) is None


def test_daily_cap_is_rebuilt_from_a_real_journal(tmp_path: Path) -> None:
    """After a restart the jobs of the last 24 h in the journal still count against the cap."""
    with SqliteJournal(tmp_path / "j.sqlite3") as journal:
        for i, t in enumerate((100.0, 5000.0, 80000.0)):
            journal.create_job(
                job_id=f"j{i}",
                number=f"+1202555010{i}",
                origin=f"o{i}.example",
                embedded=None,
                text="@a.example #123456",
                now=t,
                expires_at=t + 600.0,
            )
        now = 86400.0 + 200.0  # the first job has left the window
        history = journal.send_history(since=now - 86400.0)
    limiter = RateLimiter(global_per_day=2)
    limiter.rebuild(history, now=now)
    assert limiter.daily(now) == DailyUsage(used=2, cap=2)
    with pytest.raises(RateLimited, match="daily 2/day"):
        limiter.acquire("+12025550199", "x.example", now)
