"""Pure helpers of the peer benchmark: percentiles, ratios and the markdown table.

No I/O and no clock: every figure comes in as seconds (or SMS/s, %, KiB) and goes out as
values or text, so the rendering can be tested with fixed numbers.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

#: the percentiles every latency summary carries, in this order
QUANTILES = (("p50", 0.50), ("p90", 0.90), ("p99", 0.99))


def percentile(values: Sequence[float], q: float) -> float:
    """Return the ``q`` quantile (0..1) of ``values``, interpolating between ranks.

    The same definition as numpy's default ("linear"): with n sorted values the
    quantile sits at rank ``q * (n - 1)``. Raises ValueError for no values or q
    outside [0, 1].
    """
    if not values:
        raise ValueError("percentile of no values")
    if not 0.0 <= q <= 1.0:
        raise ValueError("quantile must be within [0, 1]")
    ordered = sorted(values)
    rank = q * (len(ordered) - 1)
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True, slots=True, kw_only=True)
class Summary:
    """min/p50/p90/p99/max of a set of latencies in seconds."""

    n: int
    min: float
    p50: float
    p90: float
    p99: float
    max: float

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ValueError("a summary needs at least one value")
        figures = (self.min, self.p50, self.p90, self.p99, self.max)
        if any(a > b for a, b in itertools.pairwise(figures)):
            raise ValueError("summary figures must be ordered min <= p50 <= ... <= max")

    def as_dict(self) -> dict[str, float | int]:
        """Return the figures as a JSON-friendly dict."""
        return {
            "n": self.n,
            "min": self.min,
            "p50": self.p50,
            "p90": self.p90,
            "p99": self.p99,
            "max": self.max,
        }


def summarize(values: Sequence[float]) -> Summary:
    """Return the :class:`Summary` of ``values``; raise ValueError when there are none."""
    if not values:
        raise ValueError("no values to summarise")
    quantiles = {name: percentile(values, q) for name, q in QUANTILES}
    return Summary(n=len(values), min=min(values), max=max(values), **quantiles)


def ratio(ours: float | None, peer: float | None) -> float | None:
    """Return ``ours / peer``, or None when either is missing or the peer's is zero."""
    if ours is None or peer is None or peer == 0:
        return None
    return ours / peer


def format_seconds(value: float | None) -> str:
    """Return a latency for a table: µs below 1 ms, ms below 1 s, else seconds; '–' if None."""
    if value is None:
        return "–"
    if value < 0.001:
        return f"{value * 1e6:.0f} µs"
    if value < 1.0:
        return f"{value * 1e3:.1f} ms"
    return f"{value:.2f} s"


def format_number(value: float | None, unit: str = "", digits: int = 1) -> str:
    """Return ``value`` with ``digits`` decimals and a unit, or '–' if None."""
    if value is None:
        return "–"
    return f"{value:.{digits}f}{unit}"


def format_ratio(value: float | None) -> str:
    """Return a ratio as ``0.004×`` (3 significant digits), or '–' if None."""
    if value is None:
        return "–"
    return f"{value:.3g}×"


@dataclass(frozen=True, slots=True, kw_only=True)
class Row:
    """One program/configuration's figures as the table shows them (None: not measured)."""

    label: str
    inbound: Summary | None = None
    outbound: Summary | None = None
    throughput: float | None = None  # SMS/s
    idle_cpu: float | None = None  # percent of one core
    rss_mib: float | None = None
    startup: float | None = None  # seconds, spawn -> ready

    def __post_init__(self) -> None:
        if not self.label or "|" in self.label:
            raise ValueError("a row needs a label without '|'")


HEADER = (
    "| program (config) | inbound p50 | inbound p99 | outbound p50 | outbound p99 "
    "| throughput | idle CPU | peak RSS | ready after |\n"
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
)


def render_table(rows: Sequence[Row]) -> str:
    """Return the markdown table of ``rows`` (one line per program and configuration)."""
    lines = [HEADER]
    for row in rows:
        cells = (
            row.label,
            format_seconds(row.inbound.p50 if row.inbound else None),
            format_seconds(row.inbound.p99 if row.inbound else None),
            format_seconds(row.outbound.p50 if row.outbound else None),
            format_seconds(row.outbound.p99 if row.outbound else None),
            format_number(row.throughput, " SMS/s"),
            format_number(row.idle_cpu, " %", 2),
            format_number(row.rss_mib, " MiB"),
            format_number(row.startup, " s", 2),
        )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


#: metric name -> (figure of a row, "lower" or "higher" is better)
METRICS: dict[str, tuple[Callable[[Row], float | None], str]] = {
    "inbound_p50": (lambda r: r.inbound.p50 if r.inbound else None, "lower"),
    "inbound_p99": (lambda r: r.inbound.p99 if r.inbound else None, "lower"),
    "outbound_p50": (lambda r: r.outbound.p50 if r.outbound else None, "lower"),
    "outbound_p99": (lambda r: r.outbound.p99 if r.outbound else None, "lower"),
    "throughput": (lambda r: r.throughput, "higher"),
    "idle_cpu": (lambda r: r.idle_cpu, "lower"),
    "rss": (lambda r: r.rss_mib, "lower"),
}


def ratios(ours: Row, peers: Sequence[Row]) -> dict[str, dict[str, float | None]]:
    """Return peer label -> metric -> ours/peer (see :data:`METRICS` for which way is better)."""
    return {
        peer.label: {name: ratio(get(ours), get(peer)) for name, (get, _) in METRICS.items()}
        for peer in peers
    }


def render_ratios(table: Mapping[str, Mapping[str, float | None]]) -> str:
    """Return a markdown table of ours/peer per metric (<1 is better except throughput)."""
    names = list(METRICS)
    head = "| otp-gateway ÷ peer | " + " | ".join(names) + " |"
    rule = "|---|" + "---:|" * len(names)
    lines = [head, rule]
    for label, figures in table.items():
        cells = [format_ratio(figures.get(name)) for name in names]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
