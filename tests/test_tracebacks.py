"""Tests for the log-safe frame summary of unexpected exceptions."""

from __future__ import annotations

import json

import structlog

from gateway import log as gwlog
from gateway.errors import UsageError
from gateway.tracebacks import MAX_FRAMES, frames, safe_reason


def _inner(secret: str) -> None:
    raise ValueError(f"cannot parse {secret!r}")


def _outer(depth: int, secret: str) -> None:
    if depth:
        _outer(depth - 1, secret)
    else:
        _inner(secret)


def test_frames_name_file_line_and_function_but_no_values() -> None:
    """Each frame is "dir/file:line in function", innermost last; locals and messages stay out."""
    try:
        _outer(1, "482913")
    except ValueError as exc:
        summary = frames(exc)
    assert summary[-1].startswith("tests/test_tracebacks.py:")
    assert summary[-1].endswith(" in _inner")
    assert [f.rsplit(" in ", 1)[1] for f in summary[1:]] == ["_outer", "_outer", "_inner"]
    with gwlog.capture() as events:
        structlog.get_logger("test").debug("x.traceback", error="ValueError", frames=summary)
    assert events[0]["frames"] == summary
    assert "482913" not in json.dumps(events)


def test_frames_keep_the_innermost_and_handle_unraised() -> None:
    """Deep tracebacks keep the innermost MAX_FRAMES; an exception never raised has none."""
    try:
        _outer(MAX_FRAMES * 2, "x")
    except ValueError as exc:
        summary = frames(exc)
    assert len(summary) == MAX_FRAMES
    assert summary[-1].endswith(" in _inner")
    assert frames(ValueError("never raised")) == []


def test_safe_reason_keeps_our_messages_and_hides_foreign_ones() -> None:
    """Our errors keep their (safe) message; a foreign exception shows only its type."""
    assert safe_reason(UsageError("bad storage memory 'XX'")) == "bad storage memory 'XX'"
    assert safe_reason(KeyError("482913")) == "KeyError"
    assert safe_reason(ValueError("@example.com #482913")) == "ValueError"
