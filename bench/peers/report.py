"""The bench's output: a markdown table, a JSON file and (with matplotlib) a PNG plot."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from bench.peers.runner import Figures
from bench.peers.stats import Row, ratios, render_ratios, render_table, summarize


def row(figures: Figures) -> Row:
    """Return the table row of one program and configuration."""
    rate = figures.throughput.get("rate") if figures.throughput else None
    idle = figures.idle or {}
    rss = max(figures.rss_kib, int(idle.get("rss_kib", 0)))
    return Row(
        label=figures.label,
        inbound=summarize(figures.inbound) if figures.inbound else None,
        outbound=summarize(figures.outbound) if figures.outbound else None,
        throughput=rate if isinstance(rate, float) else None,
        idle_cpu=idle.get("percent"),
        rss_mib=rss / 1024 if rss else None,
        startup=sum(figures.startup) / len(figures.startup) if figures.startup else None,
    )


def markdown(all_figures: Sequence[Figures], notes: Sequence[str]) -> str:
    """Return the results table, the ratio table (when our daemon ran) and the notes."""
    rows = [row(f) for f in all_figures]
    parts = [render_table(rows)]
    ours = [r for r in rows if r.label.startswith("otp-gateway")]
    peers = [r for r in rows if not r.label.startswith("otp-gateway")]
    if ours and peers:
        parts.append(render_ratios(ratios(ours[0], peers)))
    parts.append("\n".join(f"- {note}" for note in notes))
    return "\n\n".join(parts) + "\n"


def document(all_figures: Sequence[Figures], context: Mapping[str, object]) -> dict[str, object]:
    """Return the JSON document: per-program figures and raw samples, ratios, context."""
    rows = [row(f) for f in all_figures]
    ours = [r for r in rows if r.label.startswith("otp-gateway")]
    peers = [r for r in rows if not r.label.startswith("otp-gateway")]
    programs = {}
    for figures, line in zip(all_figures, rows, strict=True):
        programs[figures.label] = {
            "program": figures.program,
            "variant": figures.variant,
            "sessions": figures.sessions,
            "inbound": line.inbound.as_dict() if line.inbound else None,
            "inbound_hook": summarize(figures.inbound_hook).as_dict()
            if figures.inbound_hook
            else None,
            "outbound": line.outbound.as_dict() if line.outbound else None,
            "outbound_ack": summarize(figures.outbound_ack).as_dict()
            if figures.outbound_ack
            else None,
            "throughput": figures.throughput,
            "idle": figures.idle,
            "peak_rss_kib": max(figures.rss_kib, int((figures.idle or {}).get("rss_kib", 0))),
            "startup_s": figures.startup,
            "samples_s": {
                "inbound": figures.inbound,
                "inbound_hook": figures.inbound_hook,
                "outbound": figures.outbound,
            },
            "config": figures.config,
        }
    return {
        **context,
        "programs": programs,
        "ratios_otp_gateway_over_peer": ratios(ours[0], peers) if ours and peers else {},
    }


def write_json(path: Path, data: Mapping[str, object]) -> None:
    """Write ``data`` as indented JSON."""
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def plot(path: Path, all_figures: Sequence[Figures], title: str) -> str | None:
    """Draw latency distributions (ECDFs, log time axis) to ``path``.

    Returns None when written, else why not (matplotlib missing: the ``bench`` extra).
    """
    try:
        import matplotlib  # noqa: PLC0415 - optional dependency

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt  # noqa: PLC0415
    except ImportError:
        return "matplotlib is not installed (pip install -e '.[bench]'): no plot drawn"
    figure, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    for axis, kind in zip(axes, ("inbound", "outbound"), strict=True):
        for figures in all_figures:
            samples = sorted(getattr(figures, kind))
            if not samples:
                continue
            levels = [(i + 1) / len(samples) for i in range(len(samples))]
            axis.step([s * 1000 for s in samples], levels, where="post", label=figures.label)
        axis.set_xscale("log")
        axis.set_xlabel(f"{kind} latency (ms, log scale)")
        axis.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("fraction of messages (ECDF)")
    axes[1].legend(loc="center", fontsize="small")
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return None
