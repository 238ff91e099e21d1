"""The WebOTP codec: origin-bound one-time-code messages (WICG sms-one-time-codes).

Pure functions and frozen values, no I/O:

- :func:`parse` a received text (``strict`` spec mode or ``chromium`` compatibility) into
  an :class:`OriginBoundCode`, or raise :class:`FormatError` with a ``reason``;
- :func:`compose` the text we send, with its GSM-7/UCS-2 size and warnings;
- :func:`normalise_host` a host the way messages carry it (punycode, lowercase);
- :func:`generate_code` with :mod:`secrets`;
- :class:`AllowList` of exact hosts and ``*.domain`` wildcards.
"""

from __future__ import annotations

from gateway.webotp.allowlist import AllowList
from gateway.webotp.codes import DEFAULT_ALPHABET, DEFAULT_LENGTH, code_problem, generate_code
from gateway.webotp.compose import (
    DEFAULT_TEMPLATE,
    ComposedMessage,
    ComposeWarning,
    SmsSize,
    compose,
    measure,
    render_template,
)
from gateway.webotp.errors import FormatError, InputError
from gateway.webotp.hosts import is_ip_literal, normalise_host
from gateway.webotp.parse import MODES, Mode, OriginBoundCode, parse

__all__ = [
    "DEFAULT_ALPHABET",
    "DEFAULT_LENGTH",
    "DEFAULT_TEMPLATE",
    "MODES",
    "AllowList",
    "ComposeWarning",
    "ComposedMessage",
    "FormatError",
    "InputError",
    "Mode",
    "OriginBoundCode",
    "SmsSize",
    "code_problem",
    "compose",
    "generate_code",
    "is_ip_literal",
    "measure",
    "normalise_host",
    "parse",
    "render_template",
]
