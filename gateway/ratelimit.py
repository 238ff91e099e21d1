"""Send rate limits: per destination number, per origin, global per minute and per day.

Sliding-window logs: for each key we keep the times of the sends still inside the longest
window, so "3 per 10 minutes" means at most 3 sends in any 10-minute span (a fixed window
would allow 6 across its boundary). A refusal names the limit and how long until a send
would be admitted. Pure: the clock is passed in; state can be rebuilt from the journal's
send history at start, so a restart does not reset the limits.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from gateway.errors import RequestError, UsageError

_UNITS = {"s": 1.0, "sec": 1.0, "min": 60.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "day": 86400.0}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*(s|sec|m|min|h|d|day)\s*$")


@dataclass(frozen=True, slots=True, kw_only=True)
class Rate:
    """At most ``count`` events in any ``period`` seconds."""

    count: int
    period: float

    def __post_init__(self) -> None:
        if self.count < 1:
            raise UsageError("rate: count must be at least 1")
        if not self.period > 0:
            raise UsageError("rate: period must be positive")

    @classmethod
    def parse(cls, text: str) -> Rate:
        """Parse ``"3/10min"``, ``"10/day"``, ``"30/m"``, ``"5/90s"``.

        Returns the rate; raises :class:`UsageError` describing the expected form.
        """
        match = _RATE.match(text) if isinstance(text, str) else None
        if match is None:
            raise UsageError(f'expected a rate like "3/10min" or "10/day", got {text!r}')
        count, multiple, unit = match.groups()
        period = (int(multiple) if multiple else 1) * _UNITS[unit]
        try:
            return cls(count=int(count), period=period)
        except UsageError as exc:
            raise UsageError(f"{exc} in {text!r}") from None

    def __str__(self) -> str:
        for unit, seconds in (("day", 86400), ("h", 3600), ("min", 60)):
            if self.period % seconds == 0:
                n = int(self.period // seconds)
                return f"{self.count}/{'' if n == 1 else n}{unit}"
        return f"{self.count}/{self.period:g}s"


@dataclass(frozen=True, slots=True, kw_only=True)
class Refusal:
    """Which limit refused a send, and the seconds until it would be admitted."""

    limit: str  # e.g. "per-number 3/10min"
    retry_after: float

    def __str__(self) -> str:
        return f"rate limit {self.limit} reached; retry in {self.retry_after:.0f} s"


class RateLimited(RequestError):
    """A send was refused by a rate limit; carries the :class:`Refusal`."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(str(refusal))
        self.refusal = refusal


@dataclass(slots=True)
class _Window:
    """The send times of one key, newest last, bounded by the rates' counts and periods."""

    rates: Sequence[Rate]
    times: deque[float] = field(default_factory=deque)

    def refusal(self, now: float) -> tuple[Rate, float] | None:
        for rate in self.rates:
            inside = [t for t in self.times if t > now - rate.period]
            if len(inside) >= rate.count:
                # The send that must leave the window: the count-th newest one.
                return rate, inside[-rate.count] + rate.period - now
        return None

    def add(self, now: float) -> None:
        self.times.append(now)
        self.prune(now)

    def prune(self, now: float) -> None:
        horizon = now - max(rate.period for rate in self.rates)
        keep = max(rate.count for rate in self.rates)
        while self.times and (self.times[0] <= horizon or len(self.times) > keep):
            self.times.popleft()


#: the daily cap's window: any 24 hours, sliding like the others
DAY = 86400.0


@dataclass(frozen=True, slots=True, kw_only=True)
class DailyUsage:
    """Sends counted against the daily cap in the last 24 hours, and the cap."""

    used: int
    cap: int


class RateLimiter:
    """Admit or refuse sends against per-number, per-origin, global and daily limits.

    ``global_per_day`` caps every send the gateway accepts in any 24 hours, whichever SIM
    sends it, so no SIM can be made to send more than that in a day: a compromised
    sender cannot drain a prepaid SIM's credit. It is counted at admission, like the
    other limits, and rebuilt from the journal's history at start.
    """

    def __init__(
        self,
        *,
        per_number: Sequence[Rate] = (),
        per_origin: Sequence[Rate] = (),
        global_per_minute: int | None = None,
        global_per_day: int | None = None,
    ) -> None:
        self._per_number = tuple(per_number)
        self._per_origin = tuple(per_origin)
        self._global = (Rate(count=global_per_minute, period=60.0),) if global_per_minute else ()
        self._daily = (Rate(count=global_per_day, period=DAY),) if global_per_day else ()
        self._numbers: dict[str, _Window] = {}
        self._origins: dict[str, _Window] = {}
        self._all = _Window(self._global)
        self._day = _Window(self._daily)

    def check(self, number: str, origin: str, now: float) -> Refusal | None:
        """Return the first limit a send to ``number`` for ``origin`` would break, or None."""
        checks = (
            ("per-number", self._numbers.get(number)),
            ("per-origin", self._origins.get(origin)),
            ("global", self._all if self._global else None),
            ("daily", self._day if self._daily else None),
        )
        worst: Refusal | None = None
        for kind, window in checks:
            hit = window.refusal(now) if window is not None else None
            if hit is not None:
                rate, wait = hit
                refusal = Refusal(limit=f"{kind} {rate}", retry_after=max(0.0, wait))
                if worst is None or refusal.retry_after > worst.retry_after:
                    worst = refusal
        return worst

    def record(self, number: str, origin: str, now: float) -> None:
        """Count one send (admitted or replayed from history) at time ``now``."""
        if self._per_number:
            self._numbers.setdefault(number, _Window(self._per_number)).add(now)
        if self._per_origin:
            self._origins.setdefault(origin, _Window(self._per_origin)).add(now)
        if self._global:
            self._all.add(now)
        if self._daily:
            self._day.add(now)

    def daily(self, now: float) -> DailyUsage | None:
        """Return the sends counted in the 24 hours before ``now`` and the cap, or None.

        None when there is no daily cap.
        """
        if not self._daily:
            return None
        cap = self._daily[0].count
        return DailyUsage(used=sum(1 for t in self._day.times if t > now - DAY), cap=cap)

    def acquire(self, number: str, origin: str, now: float) -> None:
        """Admit and count a send, or refuse it.

        Returns None when admitted; raises :class:`RateLimited` naming the limit that
        waits longest (the time after which *every* limit admits the send).
        """
        refusal = self.check(number, origin, now)
        if refusal is not None:
            raise RateLimited(refusal)
        self.record(number, origin, now)

    def rebuild(self, history: Iterable[tuple[str, str, float]], now: float) -> None:
        """Replay ``(number, origin, time)`` sends (e.g. the journal's job history)."""
        for number, origin, when in sorted(history, key=lambda item: item[2]):
            if when <= now:
                self.record(number, origin, when)
        self.forget(now)

    def forget(self, now: float) -> None:
        """Drop keys whose windows are empty at ``now`` (bounds memory; call periodically)."""
        for windows in (self._numbers, self._origins):
            for key in list(windows):
                windows[key].prune(now)
                if not windows[key].times:
                    del windows[key]
        if self._global:
            self._all.prune(now)
        if self._daily:
            self._day.prune(now)

    def __len__(self) -> int:
        """Return how many per-number and per-origin keys are tracked."""
        return len(self._numbers) + len(self._origins)
