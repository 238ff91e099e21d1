"""``otp-gateway demo``: the round trip works, exits 0, and its logs stay redacted."""

from __future__ import annotations

import re
import shlex
import sys

from cli_helpers import cli


def test_demo_exits_zero() -> None:
    """The demo shows a code received and one sent on the simulated network, then exits 0."""
    result = cli("demo", timeout=60)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "4. The consumer receives the code: 482913 (for example.com)" in out
    assert "job sent" in out
    codes = re.findall(r"@example\.com #(\d{6})$", out, re.MULTILINE)
    assert len(codes) == 2  # the SMS received, then the SMS sent
    for code in codes:
        assert code not in result.stderr


def test_demo_ends_with_a_command_that_runs_as_printed() -> None:
    """The closing "try it yourself" line names this program as invoked (python -m gateway)."""
    result = cli("demo", timeout=60)
    assert result.returncode == 0, result.stderr
    program = f"{shlex.quote(sys.executable)} -m gateway"
    last = result.stdout.splitlines()[-1]
    assert last == f"Done. Try it yourself with:  {program} run --simulate"
    assert f"     {program} receive --origin example.com" in result.stdout
