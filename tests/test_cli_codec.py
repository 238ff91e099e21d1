"""Tests for gateway.cli.codec: the real ``otp-gateway parse`` and ``format`` commands."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from gateway.webotp import parse


def run(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    """Run ``python -m gateway`` with ``args`` as a real subprocess and return the result."""
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        input=stdin,
        capture_output=True,
        timeout=60,
        check=False,
    )


def test_parse_valid_human() -> None:
    """A valid message prints origin, embedded origin and code, and exits 0."""
    result = run("parse", stdin=b"Your code is 123456.\n\n@example.com #123456 @bank.example")
    assert result.returncode == 0
    assert result.stdout.decode().splitlines() == [
        "origin: example.com",
        "embedded origin: bank.example",
        "code: 123456",
    ]
    assert result.stderr == b""


def test_parse_invalid_human() -> None:
    """A message that is not origin-bound exits 1 with the reason on stderr, nothing on stdout."""
    result = run("parse", stdin=b"@example.com #123456\n")
    assert result.returncode == 1
    assert result.stdout == b""
    assert b"(trailing-newline)" in result.stderr
    assert b"Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("stdin", "mode", "expected"),
    [
        (
            b"@example.com #123456",
            "strict",
            {"valid": True, "origin": "example.com", "embedded_origin": None, "code": "123456",
             "reason": None, "message": None},
        ),
        (
            b"@example.com #123456\nfooter",
            "chromium",
            {"valid": True, "origin": "example.com", "embedded_origin": None, "code": "123456",
             "reason": None, "message": None},
        ),
        (
            "@bücher.example #😀1 @[::1]".encode(),
            "strict",
            {"valid": True, "origin": "xn--bcher-kva.example", "embedded_origin": "[::1]",
             "code": "😀1", "reason": None, "message": None},
        ),
        (
            b"@example.com:443 #1",
            "strict",
            {"valid": False, "origin": None, "embedded_origin": None, "code": None,
             "reason": "host-has-port"},
        ),
        (
            b"@example.com ##1",
            "chromium",
            {"valid": False, "origin": None, "embedded_origin": None, "code": None,
             "reason": "no-match"},
        ),
    ],
)  # fmt: skip
def test_parse_json(stdin: bytes, mode: str, expected: dict[str, object]) -> None:
    """--json prints one object with valid, origin, embedded_origin, code, reason, message."""
    result = run("parse", "--json", "--mode", mode, stdin=stdin)
    assert result.returncode == (0 if expected["valid"] else 1)
    obj = json.loads(result.stdout)
    assert {k: obj[k] for k in expected} == expected
    assert obj["mode"] == mode
    assert expected["valid"] or obj["message"]


def test_parse_text_option_and_crlf() -> None:
    """--text is used instead of stdin; CRLF and lone CR line breaks are normalised."""
    result = run("parse", "--json", "--text", "Code\r\n\r@example.com #1")
    assert result.returncode == 0
    assert json.loads(result.stdout)["code"] == "1"


@pytest.mark.parametrize(
    "stdin",
    [
        b"\x00" * 100 + b"\n@example.com #1\x00",
        b"@exa\x00mple.com #1",
        b"\xff\xfe@example.com #1\n\xc3",
        b"\r" * 1000,
        "😀".encode() * 1000,
        b"",
    ],
)
def test_parse_hostile_input_never_crashes(stdin: bytes) -> None:
    """NUL bytes, invalid UTF-8, lone CRs and emoji give exit 0 or 1, never a traceback."""
    for args in (("parse",), ("parse", "--json"), ("parse", "--mode", "chromium")):
        result = run(*args, stdin=stdin)
        assert result.returncode in (0, 1)
        assert b"Traceback" not in result.stderr


def test_parse_code_with_nul_is_escaped_for_terminals() -> None:
    """Human output escapes control characters in a code; JSON keeps them exactly."""
    human = run("parse", stdin=b"@example.com #12\x1b[2J34")
    assert human.returncode == 0
    assert b"\x1b" not in human.stdout
    assert b"code: 12\\x1b[2J34" in human.stdout
    as_json = run("parse", "--json", stdin=b"@example.com #12\x1b[2J34")
    assert json.loads(as_json.stdout)["code"] == "12\x1b[2J34"


def test_parse_one_megabyte() -> None:
    """A 1 MB message is read and parsed in both modes."""
    body = b"x" * 1_000_000 + b"\n\n@example.com #424242"
    for mode in ("strict", "chromium"):
        result = run("parse", "--json", "--mode", mode, stdin=body)
        assert result.returncode == 0
        assert json.loads(result.stdout)["code"] == "424242"
    result = run("parse", stdin=b"@" + b"a" * 1_000_000 + b" #1")
    assert result.returncode == 1
    assert len(result.stderr) < 500


def test_parse_bad_mode_is_usage_error() -> None:
    """An unknown --mode exits 2."""
    result = run("parse", "--mode", "safari", stdin=b"@example.com #1")
    assert result.returncode == 2
    assert b"Traceback" not in result.stderr


def test_format_prints_exact_text() -> None:
    """format prints exactly the SMS text; piped, without a trailing newline."""
    result = run("format", "--origin", "example.com", "--code", "123456")
    assert result.returncode == 0
    assert result.stdout == b"Your code is 123456.\n\n@example.com #123456"
    assert result.stderr == b""


def test_format_output_parses_back() -> None:
    """The output of format, piped into parse, gives the same origin and code."""
    formatted = run(
        "format", "--origin", "Bücher.example", "--code", "A1b2C3", "--embedded-origin", "x.example"
    )
    parsed = run("parse", "--json", stdin=formatted.stdout)
    obj = json.loads(parsed.stdout)
    assert (obj["origin"], obj["code"], obj["embedded_origin"]) == (
        "xn--bcher-kva.example",
        "A1b2C3",
        "x.example",
    )


def test_format_generates_a_code_when_none_given() -> None:
    """Without --code, a 6-digit code is generated and used in the text."""
    result = run("format", "--origin", "example.com")
    assert result.returncode == 0
    code = parse(result.stdout.decode()).code
    assert len(code) == 6
    assert code.isdigit()


def test_format_json() -> None:
    """--json prints text, encoding, length, segments, byte_size and warnings."""
    result = run(
        "format", "--origin", "example.com", "--code", "x12", "--text", "😀 {code}", "--json"
    )
    assert result.returncode == 0
    obj = json.loads(result.stdout)
    assert obj["text"] == "😀 x12\n\n@example.com #x12"
    assert (obj["encoding"], obj["length"], obj["segments"], obj["byte_size"]) == (
        "ucs2",
        25,  # the emoji costs two UCS-2 units
        1,
        50,
    )
    assert [w["reason"] for w in obj["warnings"]] == ["no-consent-token"]
    assert all(w["message"] for w in obj["warnings"])


def test_format_warnings_go_to_stderr() -> None:
    """In human mode the text stays clean on stdout and warnings go to stderr."""
    result = run("format", "--origin", "example.com", "--code", "123456", "--text", "x" * 200)
    assert result.returncode == 0
    assert result.stdout.endswith(b"\n\n@example.com #123456")
    lines = result.stderr.decode().splitlines()
    assert [line.rsplit("(", 1)[1] for line in lines] == ["multi-segment)", "over-140-characters)"]
    assert all(line.startswith("warning: ") for line in lines)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--origin", "https://example.com", "--code", "1"), "--origin: "),
        (("--origin", "example.com:443", "--code", "1"), "port"),
        (("--origin", "example.com.", "--code", "1"), "dot"),
        (("--origin", "example.com", "--code", "12 34"), "--code: "),
        (("--origin", "example.com", "--code", ""), "--code: "),
        (("--origin", "example.com", "--embedded-origin", "a/b"), "--embedded-origin: "),
        (("--origin", "example.com", "--text", "{cod}"), "--text: "),
        (("--origin", "ex\udcffample.com"), "--origin: "),
    ],
)
def test_format_bad_input_is_one_line(args: tuple[str, ...], needle: str) -> None:
    """Bad input exits 2 with exactly one 'error:' line naming the option, no traceback."""
    result = run("format", *args)
    assert result.returncode == 2
    assert result.stdout == b""
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: ")
    assert needle in lines[0]


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ("--text", "@bank.example #999999\n{code}"),
            "error: --text: a chromium reader would read another origin from this text (it "
            "holds an '@host #code' of its own); remove it from the template "
            "(text-forges-origin)",
        ),
        (("--text", "Hi\r@shop.example #999999"), "(text-forges-code)"),
        (("--code", "12#34"), "error: --code: a chromium reader would not read this code back"),
        (("--embedded-origin", "[::1]"), "error: --embedded-origin: a chromium reader"),
    ],
)
def test_format_refuses_a_forged_origin(args: tuple[str, ...], line: str) -> None:
    """format refuses a message a reader would misread: exit 2, the reason token named."""
    result = run("format", "--origin", "shop.example", "--code", "123456", *args)
    assert result.returncode == 2
    assert result.stdout == b""
    assert line in result.stderr.decode()
    assert "999999" not in result.stderr.decode()


def test_help_has_examples() -> None:
    """--help of both commands shows examples and exit statuses."""
    for command in ("parse", "format"):
        result = run(command, "--help")
        assert result.returncode == 0
        assert b"Examples:" in result.stdout
        assert b"Exit status" in result.stdout
    assert b"parse" in run("--help").stdout
