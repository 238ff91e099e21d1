"""Tests for gateway.cli.printable: outside text escaped for a terminal."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.cli.printable import printable
from gateway.cli.status_text import render_status


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("123456", "123456"),
        ("Ab-12 é中🔑", "Ab-12 é中🔑"),  # printable text is left alone
        ("12\x1b[2J34", "12\\x1b[2J34"),  # an ANSI clear-screen sequence
        ("\x1b]0;pwned\x07", "\\x1b]0;pwned\\x07"),  # an OSC window-title sequence
        ("\u202e4321", "\\u202e4321"),  # a bidi override that reverses what is shown
        ("1\u200b2", "1\\u200b2"),  # zero-width space
        ("a\rb\nc", "a\\rb\\nc"),  # a carriage return would overwrite the line
        ("x\x85y\x9bz", "x\\x85y\\x9bz"),  # C1 controls (NEL, CSI)
        ("a\ud800b", "a\\ud800b"),  # a lone surrogate
    ],
)
def test_printable_escapes_controls(raw: str, shown: str) -> None:
    """Controls, format characters and separators become visible escapes."""
    assert printable(raw) == shown


@given(st.text())
def test_printable_output_is_printable(raw: str) -> None:
    """Whatever the input, nothing in the output can steer a terminal."""
    assert all(ch.isprintable() or ch == " " for ch in printable(raw))


def test_status_text_escapes_what_the_modem_says() -> None:
    """An operator name with an escape sequence is shown escaped by status."""
    snapshot: dict[str, object] = {
        "modems": [
            {"name": "sim0", "state": "ready", "registration": "home",
             "operator": "Evil\x1b[2JNet", "device": "/dev/ttyUSB0"}
        ],
        "queue": {"depth": 0, "daily_cap": {"used": 1, "cap": 200}},
    }  # fmt: skip
    text = render_status(snapshot)
    assert "\x1b" not in text
    assert "Evil\\x1b[2JNet" in text
    assert "daily cap:   1/200 sends in the last 24 h" in text
