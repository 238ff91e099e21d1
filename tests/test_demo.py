"""``otp-gateway demo``: the round trip works, exits 0, and its logs stay redacted."""

from __future__ import annotations

import re

from cli_helpers import cli


def test_demo_exits_zero() -> None:
    """The demo shows a code received and one sent on the simulated network, then exits 0."""
    result = cli("demo", timeout=60)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "4. The consumer receives the code: 482913 (for example.com)" in out
    assert "job sent" in out
    sent = re.search(r"@example\.com #(\d{6})$", out, re.MULTILINE)
    assert sent is not None
    assert "482913" not in result.stderr
    assert sent.group(1) not in result.stderr
