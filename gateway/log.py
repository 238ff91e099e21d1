"""Structured logging with secrets redacted (house style §8).

``configure()`` sets structlog up to write one JSON object per line to stdout (journald
stores it as is) and routes stdlib ``logging`` through the same chain. The
:class:`Redactor` processor runs on every event at every level, after exceptions were
formatted and just before rendering. It:

- replaces values of secret keys (:data:`SECRET_KEYS`: codes, message bodies, PDUs, PIN
  and PUK ...) and every :class:`Secret` with ``***``;
- masks most digits of phone numbers under number keys (:data:`NUMBER_KEYS`):
  ``+15551234567`` → ``+1555*****67``;
- scans every other string (the event text included) for a WebOTP origin line
  ``@host #code`` (WICG sms-one-time-codes), long hex runs (PDUs, TS 23.040), ``+E164``
  numbers and PIN-bearing AT commands (``+CPIN=``, ``+CPWD=``, ``+CLCK=``, TS 27.007).

Only ``debug_secrets=True`` (config ``log.debug_secrets``) turns redaction off.
"""

from __future__ import annotations

import enum
import logging
import re
import sys
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any, Literal, TextIO

import structlog
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE
from structlog.typing import EventDict, Processor

from gateway.errors import UsageError

MASK = "***"

#: Keys whose values are secret wherever they appear (compared lower-case).
SECRET_KEYS = frozenset(
    {
        "code", "codes", "otp", "text", "body", "message", "pdu", "pdus", "raw", "data",
        "pin", "puk", "pin2", "puk2", "password", "secret", "token", "payload", "line",
    }
)  # fmt: skip
#: Key suffixes that mark a secret too ("reply_pdu", "sms_text", "sim_pin").
SECRET_SUFFIXES = ("_pdu", "_pdus", "_text", "_body", "_pin", "_puk", "_secret", "_password")
#: Keys whose values are phone numbers.
NUMBER_KEYS = frozenset(
    {"number", "numbers", "sender", "recipient", "destination", "msisdn", "phone", "to",
     "from", "smsc", "originator"}
)  # fmt: skip

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
          "error": logging.ERROR}  # fmt: skip
#: Third-party loggers capped at WARNING: python-gsmmodem logs every AT command (PIN,
#: PDUs) at DEBUG (field notes).
CAPPED_LOGGERS = ("gsmmodem",)

_ORIGIN_LINE = re.compile(r"(@[^\s@#]+[ \t]+#)([^\s@#]+)")
_HEX_RUN = re.compile(r"(?<![0-9A-Za-z])[0-9A-Fa-f]{20,}(?![0-9A-Za-z])")
_E164 = re.compile(r"\+\d{6,15}(?!\d)")
_PIN_COMMAND = re.compile(r"(\+C(?:PIN|PWD|LCK)\s*=\s*)([^\r\n]*)", re.IGNORECASE)


class Secret:
    """A value that must never be logged or printed: ``repr`` and ``str`` show ``***``."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """Return the secret value itself (for the modem, never for a log)."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"

    def __str__(self) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))


def mask_number(number: str) -> str:
    """Mask most digits of a phone number, keeping the country code and the last two.

    ``+15551234567`` → ``+1555*****67`` (country code and three more digits kept when at
    least five digits stay hidden); national digits keep only the last two; alphanumeric
    senders ("BANK") are not numbers and are returned as they are.
    """
    text = number.strip()
    digits = text[1:] if text.startswith("+") else text
    if not digits.isdigit() or not digits.isascii():
        return number
    head = 0
    if text.startswith("+"):
        head = next((n for n in (1, 2, 3) if int(digits[:n]) in COUNTRY_CODE_TO_REGION_CODE), 0)
        if len(digits) - head - 2 >= 8:
            head += 3
    tail = 2 if len(digits) - head >= 6 else 0
    hidden = len(digits) - head - tail
    prefix = "+" if text.startswith("+") else ""
    return prefix + digits[:head] + "*" * hidden + digits[len(digits) - tail :]


def scrub_text(text: str) -> str:
    """Mask origin-line codes, long hex runs, +E164 numbers and PIN commands in free text."""
    text = _ORIGIN_LINE.sub(lambda m: m.group(1) + MASK, text)
    text = _PIN_COMMAND.sub(lambda m: m.group(1) + MASK, text)
    text = _HEX_RUN.sub(lambda m: f"<hex:{len(m.group(0))}>", text)
    return _E164.sub(lambda m: mask_number(m.group(0)), text)


def is_secret_key(key: str) -> bool:
    """Return True when values under ``key`` are always masked."""
    lowered = key.lower()
    return lowered in SECRET_KEYS or lowered.endswith(SECRET_SUFFIXES)


def redact_value(key: str, value: object) -> object:
    """Return ``value`` as it may be logged under ``key`` (recursing into containers)."""
    lowered = key.lower()
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, Secret) or is_secret_key(lowered):
        return MASK
    if isinstance(value, Mapping):
        return {k: redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [redact_value(key, item) for item in value]
    if isinstance(value, str):
        return scrub_text(mask_number(value) if lowered in NUMBER_KEYS else value)
    if isinstance(value, int | float):
        return value
    if isinstance(value, enum.Enum):
        return redact_value(key, value.value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    # Anything else (paths, exceptions, objects) is logged as its text, scrubbed.
    return redact_value(key, str(value))


class Redactor:
    """structlog processor: the event as it may be logged (see the module docstring)."""

    def __init__(self, *, debug_secrets: bool = False) -> None:
        self.debug_secrets = debug_secrets

    def __call__(self, logger: object, method_name: str, event_dict: EventDict) -> EventDict:
        if self.debug_secrets:
            return {k: v.reveal() if isinstance(v, Secret) else v for k, v in event_dict.items()}
        return {k: redact_value(k, v) for k, v in event_dict.items()}


def drop_unset(logger: object, method_name: str, event_dict: EventDict) -> EventDict:
    """structlog processor: leave out fields whose value is None (``cms=None`` is noise)."""
    return {k: v for k, v in event_dict.items() if v is not None}


def _chain(debug_secrets: bool) -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
        Redactor(debug_secrets=debug_secrets),
        drop_unset,
    ]


def configure(
    level: str = "info",
    fmt: Literal["json", "console"] = "json",
    debug_secrets: bool = False,
    *,
    stream: TextIO | None = None,
) -> None:
    """Configure structlog and stdlib logging: JSON lines (or console) to ``stream``.

    ``stream`` defaults to stdout. Replaces any handler a previous call installed.
    Raises :class:`UsageError` for an unknown level or format.
    """
    if level.lower() not in LEVELS:
        raise UsageError(f"log level must be one of {', '.join(LEVELS)}, got {level!r}")
    if fmt not in ("json", "console"):
        raise UsageError(f"log format must be json or console, got {fmt!r}")
    numeric = LEVELS[level.lower()]
    out = stream if stream is not None else sys.stdout
    renderer: Processor = (
        structlog.processors.JSONRenderer(sort_keys=False)
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[*_chain(debug_secrets), renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(out),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(out)
    handler.set_name("otp-gateway")
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                *_chain(debug_secrets),
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "otp-gateway"]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric)
    for name in CAPPED_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, numeric))


def unconfigure() -> None:
    """Undo :func:`configure`: structlog defaults, our stdlib handler removed."""
    structlog.reset_defaults()
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "otp-gateway"]:
        root.removeHandler(old)
        old.close()


@contextmanager
def capture(*, debug_secrets: bool = False) -> Iterator[list[MutableMapping[str, Any]]]:
    """Capture structlog events *after* redaction, for tests asserting what would be logged.

    Yields the list events are appended to. Not thread-safe (structlog's capture_logs).
    """
    with structlog.testing.capture_logs(
        processors=[
            structlog.processors.format_exc_info,
            Redactor(debug_secrets=debug_secrets),
        ]
    ) as events:
        yield events
