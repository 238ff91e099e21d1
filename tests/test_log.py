"""Tests for structured logging and secret redaction."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from hypothesis import given
from hypothesis import strategies as st

from gateway.errors import UsageError
from gateway.log import (
    MASK,
    Redactor,
    Secret,
    capture,
    configure,
    is_secret_key,
    mask_number,
    scrub_text,
    unconfigure,
)

CODE = "493817"
PDU = "07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07"
PIN = "7294"
NUMBER = "+15551234567"
BODY = "Your login code is 493817 — do not share it"
ORIGIN_LINE = f"@shop.example.com #{CODE}"
SECRETS = (CODE, PDU, PIN, "1234567", BODY)


@pytest.fixture(autouse=True)
def _reset_logging() -> Iterator[None]:
    yield
    unconfigure()


def _log_everything(log: structlog.typing.FilteringBoundLogger) -> None:
    """Emit every kind of secret at every level, in fields and in the event text."""
    for method in (log.debug, log.info, log.warning, log.error):
        method(
            f"received {ORIGIN_LINE} via AT+CPIN={PIN}",
            code=CODE,
            text=BODY,
            pdu=PDU,
            pin=Secret(PIN),
            number=NUMBER,
            reply_pdu=PDU.lower(),
            nested={"message": BODY, "sender": NUMBER, "lines": [ORIGIN_LINE]},
            line=f"+CMGR: 0,,27\r\n{PDU}",
            note=f"sent to {NUMBER}",
            to=f"sms to {NUMBER}",
        )


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("+15551234567", "+1555*****67"),
        ("+447700900123", "+44770*****23"),
        ("+4915112345678", "+49151******78"),
        ("+1234567", "+1****67"),
        ("0612345678", "********78"),
        ("12345", "*****"),
        ("BANK", "BANK"),
        ("", ""),
    ],
)
def test_mask_number(number: str, masked: str) -> None:
    """Country code (plus three digits for long numbers) and the last two digits remain."""
    assert mask_number(number) == masked


@pytest.mark.parametrize(
    ("text", "scrubbed"),
    [
        ("got @a.example #123456", "got @a.example #***"),
        ("@top.example #A1b2 @pay.example", "@top.example #*** @pay.example"),
        (f"pdu {PDU} ok", f"pdu <hex:{len(PDU)}> ok"),
        ('AT+CPIN="1234"', "AT+CPIN=***"),
        ('AT+CPWD="SC","1111","2222"\r', "AT+CPWD=***\r"),
        ("to +15551234567.", "to +1555*****67."),
        ("job 3f2a-11ee port 5000", "job 3f2a-11ee port 5000"),
    ],
)
def test_scrub_text(text: str, scrubbed: str) -> None:
    """Origin-line codes, PDUs, numbers and PIN commands are masked inside free text."""
    assert scrub_text(text) == scrubbed


def test_secret_marker() -> None:
    """Secret hides its value from repr, str and f-strings but compares by value."""
    pin = Secret(PIN)
    assert PIN not in repr(pin)
    assert PIN not in f"{pin} {pin!r}"
    assert pin.reveal() == PIN
    assert pin == Secret(PIN)
    assert pin != Secret("0000")
    assert hash(pin) == hash(Secret(PIN))


def test_secret_keys() -> None:
    """Exact secret keys and secret suffixes match; error codes are not secrets."""
    assert is_secret_key("Code")
    assert is_secret_key("sim_pin")
    assert not is_secret_key("cms_error")
    assert not is_secret_key("origin")


def test_capture_sees_only_redacted_events() -> None:
    """Events captured after the redactor hold no code, body, PDU, PIN or full number."""
    configure("debug")
    with capture() as events:
        _log_everything(structlog.get_logger())
    assert len(events) == 4
    dump = json.dumps(events, default=str)
    for secret in (*SECRETS, NUMBER):
        assert secret not in dump
    first = events[0]
    assert first["code"] == MASK
    assert first["pin"] == MASK
    assert first["number"] == "+1555*****67"
    assert first["nested"]["sender"] == "+1555*****67"
    assert first["nested"]["lines"] == ["@shop.example.com #***"]
    assert first["note"] == "sent to +1555*****67"
    assert first["to"] == "sms to +1555*****67"  # number keys holding text are scrubbed
    assert first["event"] == "received @shop.example.com #*** via AT+CPIN=***"


def _untimed(out: str) -> str:
    """Return JSON log lines without their timestamps (microseconds may hold a PIN's digits)."""
    return re.sub(r'"timestamp": "[^"]*"', '"timestamp": ""', out)


def test_real_chain_to_stdout_at_debug(capsys: pytest.CaptureFixture[str]) -> None:
    """The configured JSON chain writes one object per line to stdout, with secrets masked."""
    configure("debug", "json")
    _log_everything(structlog.get_logger("gateway.test"))
    try:
        raise ValueError(f"undecodable {PDU} for {NUMBER} after AT+CPIN={PIN} @a.example #{CODE}")
    except ValueError:
        structlog.get_logger().exception("decode failed", modem="m0")
    out = capsys.readouterr().out
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["level"] for line in lines] == ["debug", "info", "warning", "error", "error"]
    assert "undecodable <hex:" in lines[-1]["exception"]
    for secret in SECRETS:
        assert secret not in _untimed(out)


def test_stdlib_logging_is_redacted_and_gsmmodem_capped() -> None:
    """Stdlib loggers share the chain; gsmmodem DEBUG chatter (AT+CPIN, PDUs) is dropped."""
    stream = io.StringIO()
    configure("debug", "json", stream=stream)
    logging.getLogger("gsmmodem.modem.GsmModem").debug("write: AT+CPIN=%s", PIN)
    logging.getLogger("gsmmodem.serial_comms").warning("reply %s", PDU)
    logging.getLogger("gateway.other").info("sending AT+CPIN=%s to %s", PIN, NUMBER)
    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [r["logger"] for r in records] == ["gsmmodem.serial_comms", "gateway.other"]
    assert records[0]["event"] == f"reply <hex:{len(PDU)}>"
    assert records[1]["event"] == "sending AT+CPIN=***"
    assert PIN not in _untimed(stream.getvalue())


def test_level_filtering_and_console(tmp_path: Path) -> None:
    """Below the configured level nothing is written; console format is redacted too."""
    stream = io.StringIO()
    configure("warning", "console", stream=stream)
    log = structlog.get_logger()
    log.info("quiet", code=CODE)
    log.warning("loud", code=CODE, path=tmp_path)
    text = stream.getvalue()
    assert "quiet" not in text
    assert "loud" in text
    assert CODE not in text


def test_debug_secrets_lets_values_through() -> None:
    """Only the explicit debug_secrets option shows secrets, Secret values included."""
    stream = io.StringIO()
    configure("debug", "json", debug_secrets=True, stream=stream)
    structlog.get_logger().debug("pin", pin=Secret(PIN), code=CODE)
    record = json.loads(stream.getvalue())
    assert (record["pin"], record["code"]) == (PIN, CODE)


def test_configure_is_idempotent() -> None:
    """Configuring twice leaves one handler of ours on the root logger."""
    configure("info", stream=io.StringIO())
    configure("info", stream=io.StringIO())
    ours = [h for h in logging.getLogger().handlers if h.get_name() == "otp-gateway"]
    assert len(ours) == 1


@pytest.mark.parametrize(("level", "fmt"), [("verbose", "json"), ("info", "xml")])
def test_bad_settings(level: str, fmt: str) -> None:
    """An unknown level or format is a usage error."""
    with pytest.raises(UsageError):
        configure(level, fmt, stream=io.StringIO())  # type: ignore[arg-type]


@given(
    host=st.from_regex(r"[a-z0-9]{1,10}(\.[a-z0-9]{1,10}){1,3}", fullmatch=True),
    code=st.text(alphabet="0123456789ABCDEFabcdef-", min_size=4, max_size=12),
    prefix=st.text(max_size=30),
)
def test_origin_line_codes_never_survive(host: str, code: str, prefix: str) -> None:
    """Whatever precedes it, the code of an origin line is masked in any string value."""
    event = Redactor()(
        None, "info", {"event": f"{prefix}\n@{host} #{code}", "x": f"@{host} #{code}"}
    )
    assert f"#{code}" not in str(event["x"])
    assert str(event["event"]).endswith(f"@{host} #{MASK}")


@given(st.text(max_size=200))
def test_scrub_is_total(text: str) -> None:
    """Any text scrubs without error and scrubbing twice changes nothing more."""
    once = scrub_text(text)
    assert scrub_text(once) == once


@given(st.from_regex(r"\+[1-9][0-9]{6,14}", fullmatch=True))
def test_masked_numbers_hide_at_least_four_digits(number: str) -> None:
    """Any E.164 number keeps its length and hides at least four digits."""
    masked = mask_number(number)
    assert len(masked) == len(number)
    assert masked.count("*") >= 4
    assert scrub_text(f"to {number}") == f"to {masked}"


def test_unset_fields_are_left_out(capsys: pytest.CaptureFixture[str]) -> None:
    """Fields whose value is None are not written (``cms=None`` says nothing)."""
    configure("info", "json")
    structlog.get_logger("gateway.test").info("send.job", job="j-1", cms=None, attempt=1)
    (line,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (line["job"], line["attempt"]) == ("j-1", 1)
    assert "cms" not in line
