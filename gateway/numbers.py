"""Destination numbers: E.164 normalisation and the country allow-list.

An OTP gateway that sends to any number it is given is an SMS-pumping target (fraudsters
request codes to premium-rate ranges). Every destination is parsed with ``phonenumbers``
(Google's libphonenumber metadata, maintained upstream), must be a valid number and must
belong to a country on the configured allow-list, and its type (mobile, premium rate,
shared cost, ...) must be one the configuration accepts: by default only numbers that
can be a person's phone. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import NewType

import phonenumbers

from gateway.errors import RequestError

#: A phone number in E.164 form: "+" and up to 15 digits (ITU-T E.164 §6).
E164 = NewType("E164", str)


class NumberError(RequestError):
    """A destination number is malformed, invalid, or in a country we do not send to."""


class NumberTypeError(NumberError):
    """A destination number is of a type we do not send to (premium rate, pager, ...)."""


#: phonenumbers' number types by the name the configuration uses for them
NUMBER_TYPES: dict[str, int] = {
    "mobile": phonenumbers.PhoneNumberType.MOBILE,
    "fixed_line_or_mobile": phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    "fixed_line": phonenumbers.PhoneNumberType.FIXED_LINE,
    "toll_free": phonenumbers.PhoneNumberType.TOLL_FREE,
    "premium_rate": phonenumbers.PhoneNumberType.PREMIUM_RATE,
    "shared_cost": phonenumbers.PhoneNumberType.SHARED_COST,
    "voip": phonenumbers.PhoneNumberType.VOIP,
    "personal_number": phonenumbers.PhoneNumberType.PERSONAL_NUMBER,
    "pager": phonenumbers.PhoneNumberType.PAGER,
    "uan": phonenumbers.PhoneNumberType.UAN,
    "voicemail": phonenumbers.PhoneNumberType.VOICEMAIL,
}
_TYPE_NAMES = {value: name for name, value in NUMBER_TYPES.items()}
#: SMS to a person's phone: mobile, and the plans (US, CA, ...) where fixed and mobile
#: ranges cannot be told apart. Premium-rate, shared-cost, UAN, pager, VoIP, personal and
#: toll-free ranges are where SMS pumping fraud sends codes (revenue sharing).
DEFAULT_NUMBER_TYPES = ("mobile", "fixed_line_or_mobile")


def parse_destination(
    number: str,
    allowed_countries: Collection[str],
    *,
    require_valid: bool = True,
    allowed_types: Collection[str] = DEFAULT_NUMBER_TYPES,
    default_region: str | None = None,
) -> E164:
    """Parse ``number`` as a person types it into E.164 and check it.

    ``number`` is read by :func:`read_number` (``+``, ``00`` or, with ``default_region``,
    national form; spaces, dashes, dots and parentheses ignored). ``allowed_countries``
    holds ISO 3166-1 alpha-2 region codes ("US", "GB"); an empty collection refuses every
    destination. ``allowed_types`` holds names of :data:`NUMBER_TYPES`; a valid number
    of another type is refused. ``require_valid=False`` accepts numbers that are merely
    *possible* (right length for the country), for test ranges such as +1 555: such a
    number is in no range, so its type is unknown and only the country is checked.

    Returns the E.164 string; raises :class:`NumberTypeError` for a type not allowed,
    :class:`NumberError` naming any other problem; once the text was read as a number,
    the message says what it was read as ("read as +44 7400 123456: ...").
    """
    parsed = read_number(number, default_region)
    try:
        return _checked(
            parsed, allowed_countries, require_valid=require_valid, allowed_types=allowed_types
        )
    except NumberError as exc:
        problem = str(exc).removeprefix("destination: ")
        raise type(exc)(f"destination: read as {understood(parsed)}: {problem}") from None


def read_number(number: str, default_region: str | None = None) -> phonenumbers.PhoneNumber:
    """Read ``number`` as people type it; return the parsed number (not yet checked).

    ``+44 7400 123456`` and ``00 44 7400 123456`` (``00``, the international prefix of
    most countries, ITU-T E.164 Annex A) are international. Other text is a national
    number of ``default_region`` (``07400 123456``, ``(202) 555-0123``), or, without a
    default region, international with the ``+`` left out. Raises :class:`NumberError`.
    """
    if not isinstance(number, str) or not number.strip():
        raise NumberError("destination: empty number")
    text = number.strip()
    if len(text) > 40:
        raise NumberError("destination: too long to be a phone number")
    if text.startswith("00"):
        text = "+" + text[2:]
    region = None
    if not text.startswith("+"):
        if default_region is None:
            text = "+" + text
        else:
            region = default_region.upper()
    try:
        return phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        hint = ""
        if default_region is None and text.startswith("+0"):
            hint = "; a national number needs send.default_region"
        raise NumberError(f"destination: not a phone number ({_reason(exc)}{hint})") from exc


def understood(number: phonenumbers.PhoneNumber) -> str:
    """Return ``number`` in international format, spaced as its country writes it."""
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def _checked(
    parsed: phonenumbers.PhoneNumber,
    allowed_countries: Collection[str],
    *,
    require_valid: bool,
    allowed_types: Collection[str],
) -> E164:
    """Return the E.164 form of ``parsed`` once its length, plan, country and type pass."""
    # IS_POSSIBLE_LOCAL_ONLY (a number dialable only inside its area) is not enough for SMS.
    possible = phonenumbers.is_possible_number_with_reason(parsed)
    if possible != phonenumbers.ValidationResult.IS_POSSIBLE:
        raise NumberError("destination: wrong length for its country code")
    if require_valid and not phonenumbers.is_valid_number(parsed):
        raise NumberError("destination: not a valid number in any numbering plan")
    region = region_of(parsed)
    allowed = {code.upper() for code in allowed_countries}
    if region not in allowed:
        listed = ", ".join(sorted(allowed)) or "none"
        raise NumberError(
            f"destination: country {region} is not allowed (send.allowed_countries: {listed})"
        )
    kind = number_type(parsed)
    if kind != "unknown" and kind not in allowed_types:
        listed = ", ".join(allowed_types) or "none"
        raise NumberTypeError(
            f"destination: a {kind} number is not allowed (send.allowed_number_types: {listed})"
        )
    return E164(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))


def number_type(number: phonenumbers.PhoneNumber) -> str:
    """Return the configuration's name of ``number``'s type, ``"unknown"`` when in no range."""
    return _TYPE_NAMES.get(phonenumbers.number_type(number), "unknown")


def region_of(number: phonenumbers.PhoneNumber | str) -> str:
    """Return the ISO region of a number, or the main region of its country calling code.

    Numbers outside the assigned ranges (e.g. +1 555 01xx) have no exact region; for them
    the country code's main region ("US" for +1) is returned, "ZZ" when even that is unknown.
    Raises :class:`NumberError` for a string that does not parse.
    """
    if isinstance(number, str):
        try:
            number = phonenumbers.parse(number, None)
        except phonenumbers.NumberParseException as exc:
            raise NumberError(f"not a phone number ({_reason(exc)})") from exc
    region = phonenumbers.region_code_for_number(number)
    if region is None or region in {"ZZ", "001"}:
        code = number.country_code or 0
        region = phonenumbers.region_code_for_country_code(code)
    return region or "ZZ"


def is_region(code: str) -> bool:
    """Return True when ``code`` is a region phonenumbers knows ("US", "GB", ...)."""
    return code in phonenumbers.SUPPORTED_REGIONS


_REASONS = {
    phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: "unknown country calling code",
    phonenumbers.NumberParseException.NOT_A_NUMBER: "not a number",
    phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: "too short",
    phonenumbers.NumberParseException.TOO_SHORT_NSN: "too short",
    phonenumbers.NumberParseException.TOO_LONG: "too long",
}


def _reason(exc: phonenumbers.NumberParseException) -> str:
    return _REASONS.get(exc.error_type, "unparseable")
