"""Pure helpers of the peer benchmark (bench/peers/stats.py): percentiles, ratios, tables."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bench.peers.stats import (
    Row,
    Summary,
    format_seconds,
    percentile,
    ratio,
    ratios,
    render_ratios,
    render_table,
    summarize,
)

FINITE = st.floats(min_value=0.0, max_value=1e6, allow_nan=False)


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([5.0], 0.99, 5.0),
        ([1.0, 2.0, 3.0, 4.0], 0.5, 2.5),
        ([4.0, 1.0, 3.0, 2.0], 0.0, 1.0),
        ([4.0, 1.0, 3.0, 2.0], 1.0, 4.0),
        ([float(i) for i in range(1, 101)], 0.99, 99.01),
        ([float(i) for i in range(1, 101)], 0.9, 90.1),
    ],
)
def test_percentile_interpolates_between_ranks(
    values: list[float], q: float, expected: float
) -> None:
    """Quantiles sit at rank q*(n-1) of the sorted values, interpolated (numpy's default)."""
    assert percentile(values, q) == pytest.approx(expected)


@pytest.mark.parametrize(("values", "q"), [([], 0.5), ([1.0], -0.1), ([1.0], 1.5)])
def test_percentile_refuses_no_values_and_bad_quantiles(values: list[float], q: float) -> None:
    """No values or a quantile outside [0, 1] is a ValueError."""
    with pytest.raises(ValueError, match=r"percentile|quantile"):
        percentile(values, q)


@given(st.lists(FINITE, min_size=1, max_size=200))
def test_summary_is_ordered_and_bounded(values: list[float]) -> None:
    """Any set of latencies gives min <= p50 <= p90 <= p99 <= max, all within the data."""
    summary = summarize(values)
    assert summary.n == len(values)
    assert summary.min == min(values)
    assert summary.max == max(values)
    assert summary.min <= summary.p50 <= summary.p90 <= summary.p99 <= summary.max


def test_summary_refuses_disorder_and_emptiness() -> None:
    """A Summary whose figures are out of order, or of nothing, cannot exist."""
    with pytest.raises(ValueError, match="ordered"):
        Summary(n=2, min=1.0, p50=3.0, p90=2.0, p99=4.0, max=5.0)
    with pytest.raises(ValueError, match="no values"):
        summarize([])


@pytest.mark.parametrize(
    ("ours", "peer", "expected"),
    [(0.004, 0.54, 0.004 / 0.54), (200.0, 15.0, 200.0 / 15.0), (0.0, 0.0, None), (1.0, None, None)],
)
def test_ratio_is_ours_over_peer_or_none(
    ours: float, peer: float | None, expected: float | None
) -> None:
    """The ratio is ours/peer; a missing or zero peer figure gives None, not an error."""
    assert ratio(ours, peer) == (pytest.approx(expected) if expected is not None else None)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "–"), (0.0004, "400 µs"), (0.0036, "3.6 ms"), (0.54, "540.0 ms"), (6.6, "6.60 s")],
)
def test_format_seconds_picks_a_readable_unit(seconds: float | None, text: str) -> None:
    """Latencies print in µs, ms or s depending on size; a missing one as a dash."""
    assert format_seconds(seconds) == text


def test_table_has_one_line_per_program_and_dashes_for_gaps() -> None:
    """The markdown table has a header, a rule, and one row per program with '–' for gaps."""
    ours = Row(
        label="otp-gateway (defaults)",
        inbound=summarize([0.003, 0.004, 0.005]),
        outbound=summarize([0.004]),
        throughput=450.0,
        idle_cpu=0.0,
        rss_mib=32.8,
        startup=0.5,
    )
    peer = Row(label="smsd (fastest sane)", inbound=summarize([0.77]), throughput=15.0)
    lines = render_table([ours, peer]).splitlines()
    assert len(lines) == 4
    assert lines[2] == (
        "| otp-gateway (defaults) | 4.0 ms | 5.0 ms | 4.0 ms | 4.0 ms | 450.0 SMS/s "
        "| 0.00 % | 32.8 MiB | 0.50 s |"
    )
    assert lines[3].count("–") == 5


def test_ratio_table_compares_ours_with_each_peer() -> None:
    """The ratio table has one row per peer; throughput above 1 means we are faster."""
    ours = Row(label="otp-gateway (defaults)", inbound=summarize([0.004]), throughput=300.0)
    peer = Row(label="smsd (fastest sane)", inbound=summarize([0.8]), throughput=15.0)
    table = ratios(ours, [peer])
    assert table["smsd (fastest sane)"]["inbound_p50"] == pytest.approx(0.005)
    assert table["smsd (fastest sane)"]["throughput"] == pytest.approx(20.0)
    assert table["smsd (fastest sane)"]["idle_cpu"] is None
    rendered = render_ratios(table).splitlines()
    assert rendered[2].startswith("| smsd (fastest sane) | 0.005× |")
    assert "| 20× |" in rendered[2]


def test_row_label_must_fit_a_table_cell() -> None:
    """A row label that would break the markdown table is refused."""
    with pytest.raises(ValueError, match="label"):
        Row(label="a|b")
