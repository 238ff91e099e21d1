"""``otp-gateway parse`` and ``otp-gateway format``: the WebOTP codec on the command line.

Both are thin shells over :mod:`gateway.webotp`. ``parse`` prints the code it finds:
that is its purpose (stdout, not a log). Exit status: 0 valid, 1 not an origin-bound
message (``parse`` only), 2 usage error.
"""

from __future__ import annotations

import io
import json
import sys
from typing import Any

import click

from gateway.cli.exits import EXIT
from gateway.cli.printable import printable
from gateway.webotp import (
    MODES,
    ComposedMessage,
    FormatError,
    InputError,
    OriginBoundCode,
    compose,
    generate_code,
    parse,
)
from gateway.webotp.compose import MISREAD_REASONS

EXIT_INVALID = EXIT["error"]
EXIT_USAGE = EXIT["usage"]

_PARSE_EPILOG = """\b
Examples:
  printf 'Your code is 123456.\\n\\n@example.com #123456' | otp-gateway parse
  otp-gateway parse --json --text '@shop.example #42ab @bank.example'
  otp-gateway parse --mode chromium < message.txt

\b
Exit status: 0 valid, 1 not an origin-bound message (reason on stderr), 2 usage error.
"""

_FORMAT_EPILOG = """\b
Examples:
  otp-gateway format --origin example.com --code 123456
  otp-gateway format --origin shop.example --embedded-origin bank.example --json
  otp-gateway format --origin bücher.example --text 'Code {code} for {origin}'

\b
Template: {code} and {origin} (the ASCII host) are replaced, {{ and }} write a brace.
Without --code a random 6-digit code is generated (Python's secrets module).
Output is the exact SMS text; a final line break is added only on a terminal, so
'otp-gateway format ... | otp-gateway parse' round-trips.
Exit status: 0 composed (warnings on stderr), 2 bad input (one 'error:' line).
"""


def _robust_streams() -> None:
    """Never die on a character the terminal encoding cannot show."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="backslashreplace")


def _from_argv(value: str) -> str:
    """Undo Python's surrogateescape on argv: invalid UTF-8 bytes become U+FFFD."""
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _usage_error(message: str) -> None:
    """Print one ``error:`` line on stderr and exit 2."""
    click.echo(f"error: {message}", err=True)
    sys.exit(EXIT_USAGE)


def _dump(obj: dict[str, Any]) -> None:
    """Print one JSON object on stdout (ASCII-only, so any stdout encoding works)."""
    click.echo(json.dumps(obj, ensure_ascii=True))


@click.command("parse", epilog=_PARSE_EPILOG)
@click.option(
    "--mode",
    type=click.Choice(MODES),
    default="strict",
    show_default=True,
    help="strict: the WICG spec (last line only); chromium: Chromium's search-based parser.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--text", help="The message text (default: read stdin as UTF-8).")
def parse_command(mode: str, as_json: bool, text: str | None) -> None:
    """Read one SMS text and print its origin, embedded origin and one-time code."""
    _robust_streams()
    if text is None:
        message = sys.stdin.buffer.read().decode("utf-8", errors="replace")
    else:
        message = _from_argv(text)
    try:
        result: OriginBoundCode | None = parse(
            message, mode="chromium" if mode == "chromium" else "strict"
        )
        error: FormatError | None = None
    except FormatError as exc:
        result, error = None, exc
    if as_json:
        _dump(
            {
                "valid": result is not None,
                "mode": mode,
                "origin": result.origin if result else None,
                "embedded_origin": result.embedded_origin if result else None,
                "code": result.code if result else None,
                "reason": error.reason if error else None,
                "message": error.message if error else None,
            }
        )
    elif result is not None:
        click.echo(f"origin: {printable(result.origin)}")
        click.echo(f"embedded origin: {printable(result.embedded_origin or '(none)')}")
        click.echo(f"code: {printable(result.code)}")
    elif error is not None:
        click.echo(f"not an origin-bound message: {error.message} ({error.reason})", err=True)
    if result is None:
        sys.exit(EXIT_INVALID)


@click.command("format", epilog=_FORMAT_EPILOG)
@click.option("--origin", required=True, help="Host of the page that asks for the code.")
@click.option("--code", help="The one-time code (default: 6 random digits).")
@click.option("--embedded-origin", help="Host of the iframe, for a cross-origin iframe.")
@click.option("--text", "template", help="Human text template (default: 'Your code is {code}.').")
@click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON object with size and warnings."
)
def format_command(
    origin: str, code: str | None, embedded_origin: str | None, template: str | None, as_json: bool
) -> None:
    """Compose an origin-bound OTP SMS and print its exact text."""
    _robust_streams()
    try:
        message = compose(
            origin=_from_argv(origin),
            code=generate_code() if code is None else _from_argv(code),
            embedded_origin=None if embedded_origin is None else _from_argv(embedded_origin),
            text=None if template is None else _from_argv(template),
        )
    except InputError as exc:
        option = {"text": "--text", "origin": "--origin", "code": "--code"}.get(
            exc.key, "--" + exc.key.replace("_", "-")
        )
        # a message some reader would misread ends with its reason token (origin-mismatch)
        tail = f" ({exc.reason})" if exc.reason in MISREAD_REASONS else ""
        _usage_error(f"{option}: {exc.problem}{tail}")
        return
    if as_json:
        _dump(_message_json(message))
        return
    # Exactly the SMS text: a trailing newline would make the message invalid (the last
    # line must be the origin line), so one is added only for a person at a terminal.
    click.echo(message.text, nl=sys.stdout.isatty())
    for warning in message.warnings:
        click.echo(f"warning: {warning.message} ({warning.reason})", err=True)


def _message_json(message: ComposedMessage) -> dict[str, Any]:
    """Return the JSON object ``format --json`` prints."""
    return {
        "text": message.text,
        "origin": message.origin,
        "embedded_origin": message.embedded_origin,
        "code": message.code,
        "encoding": message.encoding,
        "length": message.length,
        "segments": message.segments,
        "byte_size": message.byte_size,
        "warnings": [{"reason": w.reason, "message": w.message} for w in message.warnings],
    }
