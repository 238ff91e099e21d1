"""`otp-gateway send` takes the code and the number from files or stdin, out of `ps`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import ROOT, cli


def _send(stdin: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", "send", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
        check=False,
    )


def test_help_says_how_to_keep_the_code_out_of_the_process_list() -> None:
    """send --help offers --code-file (stdin too) and warns that --code shows in ps."""
    result = cli("send", "--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    assert "--code-file FILENAME Read the code from this file's first line (- for stdin)" in text
    assert "--number-file" in text
    assert "Visible to every local user in the process list: prefer --code-file." in text


@pytest.mark.parametrize(
    ("stdin", "args", "message"),
    [
        ("", ["+15557654321", "--code", "1234", "--code-file", "-"], "give --code or --code-file"),
        ("", ["--code-file", "-"], "give NUMBER or --number-file"),
        ("\n", ["+15557654321", "--code-file", "-"], "--code-file: the first line is empty"),
        (
            "+15557654321\n123456\n",
            ["--number-file", "-", "--code-file", "-"],
            "--number-file and --code-file cannot both read stdin",
        ),
        ("", ["+1555", "--number-file", "-"], "give NUMBER or --number-file, not both"),
    ],
)
def test_conflicting_or_empty_inputs_are_usage_errors(
    tmp_path: Path, stdin: str, args: list[str], message: str
) -> None:
    """Two sources for one value, stdin twice or an empty file: exit 2 before connecting."""
    result = _send(stdin, "--socket", str(tmp_path / "none.sock"), "--origin", "a.example", *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "no such" not in result.stderr.lower()  # it never tried the (missing) socket
