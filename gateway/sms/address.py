"""Address fields: TP-OA/TP-DA/TP-RA (TS 23.040 §9.1.2.5) and the SMSC address (TS 24.011 §8.2.5.1).

Numbers are BCD semi-octets, low nibble first, padded with 0xF. An alphanumeric address
(type of number 101) carries GSM-7 septets packed like user data, and its length counts
the semi-octets those septets occupy.
"""

from __future__ import annotations

import enum
import math
import re

from gateway.sms import gsm7
from gateway.sms.octets import PduEncodeError, PduError, Reader

#: Type-of-address octets (TS 23.040 §9.1.2.5): extension bit set, numbering plan ISDN/E.164.
TOA_INTERNATIONAL = 0x91
TOA_UNKNOWN = 0x81
TOA_ALPHANUMERIC = 0xD0
TON_INTERNATIONAL = 0x1
TON_NATIONAL = 0x2
TON_NETWORK_SPECIFIC = 0x3
TON_ALPHANUMERIC = 0x5
TON_ABBREVIATED = 0x6
#: a number of unknown or subscriber type with at most this many digits is a short code
#: (operators' short codes run 3-8 digits; national numbers with their trunk prefix are
#: longer in nearly every plan)
SHORT_CODE_MAX_DIGITS = 8

#: Semi-octet values beyond the digits (TS 23.040 §9.1.2.3): 1010 '*', 1011 '#', 1100-1110 a-c.
_NIBBLE_CHARS = "0123456789*#abc"
_CHAR_NIBBLES = {ch: i for i, ch in enumerate(_NIBBLE_CHARS)}
#: An address value holds at most 10 octets: 20 digits, or 11 packed septets.
MAX_DIGITS = 20
MAX_ALPHA_SEPTETS = 11

_SEPARATORS = re.compile(r"[\s\-.()/]")
_NUMBER = re.compile(r"\+?[0-9]+")


def normalise_number(number: str) -> str:
    """Return ``number`` without separators ("+1 555-000" -> "+1555000"); text senders stay.

    A value that is only digits (with an optional leading ``+``) once spaces, dashes, dots,
    slashes and parentheses are removed is a phone number; anything else is returned
    stripped, as an alphanumeric address. Raises PduEncodeError for an empty value.
    """
    stripped = number.strip()
    if not stripped:
        raise PduEncodeError("empty address")
    compact = _SEPARATORS.sub("", stripped)
    if _NUMBER.fullmatch(compact):
        return compact
    return stripped


class SenderType(enum.Enum):
    """What kind of address an SMS came from (TS 23.040 §9.1.2.5, type of number)."""

    INTERNATIONAL = "international"  # TON 001: "+" and the country code
    NATIONAL = "national"  # TON 010, or a long number of unknown type
    SHORT_CODE = "short"  # TON 011/110, or a short number of unknown type
    ALPHANUMERIC = "alphanumeric"  # TON 101: a name in GSM 7-bit, even if all digits


def sender_type(address: str, toa: int) -> SenderType:
    """Return the kind of the decoded TP-OA ``address`` whose type-of-address is ``toa``.

    The type of number decides (an alphanumeric "72727" is not the short code 72727);
    for the unknown (000), subscriber (100) and reserved (111) types a number of at most
    :data:`SHORT_CODE_MAX_DIGITS` digits is a short code, a longer one national.
    Raises nothing.
    """
    ton = (toa >> 4) & 0x7
    if ton == TON_ALPHANUMERIC:
        return SenderType.ALPHANUMERIC
    if ton == TON_INTERNATIONAL:
        return SenderType.INTERNATIONAL
    if ton == TON_NATIONAL:
        return SenderType.NATIONAL
    if ton in (TON_NETWORK_SPECIFIC, TON_ABBREVIATED):
        return SenderType.SHORT_CODE
    return guess_sender_type(address)


def guess_sender_type(address: str) -> SenderType:
    """Return the kind an ``address`` has by its shape alone (no type-of-address known).

    "+digits" is international, up to :data:`SHORT_CODE_MAX_DIGITS` digits a short code,
    more digits national, anything else alphanumeric. Used for allow-list entries written
    without a type and for messages stored before the type was kept. Raises nothing.
    """
    if address.startswith("+") and address[1:].isdigit() and address[1:].isascii():
        return SenderType.INTERNATIONAL
    if address.isdigit() and address.isascii():
        if len(address) <= SHORT_CODE_MAX_DIGITS:
            return SenderType.SHORT_CODE
        return SenderType.NATIONAL
    return SenderType.ALPHANUMERIC


#: the prefixes an allow-list entry may start with to say which kind of sender it means
SENDER_TYPES = {kind.value: kind for kind in SenderType}


def parse_sender_entry(entry: str) -> tuple[SenderType, str]:
    """Return the kind and address of a sender allow-list entry.

    ``"short:72727"``, ``"national:07700900123"``, ``"international:+15550000123"`` and
    ``"alphanumeric:72727"`` name the kind; without a prefix the kind follows the shape
    (:func:`guess_sender_type`: ``"+15550000123"`` international, ``"72727"`` a short
    code, ``"SHOPCO"`` alphanumeric). Raises ValueError naming the problem: a number
    that is not digits ("+" and 1-15 digits when international, at most 20 otherwise),
    a name longer than 11 characters (TS 23.040 §9.1.2.5: 10 octets of packed septets).
    """
    prefix, colon, rest = entry.partition(":")
    if colon and prefix in SENDER_TYPES:
        kind, value = SENDER_TYPES[prefix], rest
    elif entry.startswith("+"):
        kind, value = SenderType.INTERNATIONAL, entry
    else:
        kind, value = guess_sender_type(entry), entry
    if not value:
        raise ValueError("the sender is empty")
    if kind is SenderType.ALPHANUMERIC:
        if len(value) > MAX_ALPHA_SEPTETS:
            raise ValueError(f"a sender name has at most {MAX_ALPHA_SEPTETS} characters")
        return kind, value
    if kind is SenderType.INTERNATIONAL:
        digits = value[1:]
        if not value.startswith("+") or not (digits.isdigit() and digits.isascii()):
            raise ValueError('an international sender is "+" and digits')
        if len(digits) > 15:
            raise ValueError('an international sender is "+" and up to 15 digits (E.164)')
        return kind, value
    if not (value.isdigit() and value.isascii()) or len(value) > MAX_DIGITS:
        raise ValueError(f"a {kind.value} sender is 1-{MAX_DIGITS} digits, without '+'")
    return kind, value


def sender_matches(entry: str, sender: str, kind: SenderType) -> bool:
    """Return True when the allow-list ``entry`` admits ``sender`` of ``kind``.

    The kinds must be the same; names compare case-insensitively (networks vary the
    case), numbers exactly. An invalid entry admits nothing.
    """
    try:
        entry_kind, value = parse_sender_entry(entry)
    except ValueError:
        return False
    if entry_kind is not kind:
        return False
    if kind is SenderType.ALPHANUMERIC:
        return value.casefold() == sender.casefold()
    return value == sender


def _bcd(digits: str) -> bytes:
    """Return ``digits`` as swapped semi-octets, padded with 0xF to whole octets."""
    nibbles = [_CHAR_NIBBLES[ch] for ch in digits]
    if len(nibbles) % 2:
        nibbles.append(0xF)
    return bytes(nibbles[i] | (nibbles[i + 1] << 4) for i in range(0, len(nibbles), 2))


def _unbcd(octets: bytes, digits: int | None = None) -> str:
    """Return the semi-octet string of ``octets``, up to ``digits`` or the 0xF filler."""
    out: list[str] = []
    for octet in octets:
        for nibble in (octet & 0x0F, octet >> 4):
            if nibble == 0xF:
                return "".join(out)
            out.append(_NIBBLE_CHARS[nibble])
    return "".join(out if digits is None else out[:digits])


def encode_address(address: str) -> tuple[bytes, int]:
    """Return the (field octets, TOA) of a TP-OA/TP-DA for ``address`` after normalising it.

    "+digits" -> TOA 0x91, "digits" -> 0x81, other GSM-7 text -> alphanumeric 0xD0.
    Raises PduEncodeError for an address no field can carry.
    """
    value = normalise_number(address)
    if _NUMBER.fullmatch(value):
        toa = TOA_INTERNATIONAL if value.startswith("+") else TOA_UNKNOWN
        digits = value.lstrip("+")
        if len(digits) > MAX_DIGITS:
            raise PduEncodeError(f"number has {len(digits)} digits, at most {MAX_DIGITS} fit")
        return bytes([len(digits), toa]) + _bcd(digits), toa
    try:
        septets = gsm7.encode(value)
    except ValueError as exc:
        raise PduEncodeError("alphanumeric address must be GSM 7-bit text") from exc
    if len(septets) > MAX_ALPHA_SEPTETS:
        raise PduEncodeError(
            f"alphanumeric address takes {len(septets)} septets, at most {MAX_ALPHA_SEPTETS} fit"
        )
    # Length = useful semi-octets of the packed septets (TS 23.040 §9.1.2.5).
    semi_octets = math.ceil(len(septets) * 7 / 4)
    return bytes([semi_octets, TOA_ALPHANUMERIC]) + gsm7.pack(septets), TOA_ALPHANUMERIC


def decode_address(reader: Reader, field: str) -> tuple[str, int]:
    """Return (address, TOA) read from a TP-OA/TP-DA/TP-RA; raise PduError if truncated.

    International numbers get a leading ``+``; alphanumeric ones are GSM-7 decoded.
    """
    length = reader.octet(f"{field} length")
    toa = reader.octet(f"{field} type of address")
    if length > MAX_DIGITS:
        raise PduError(f"{field} length {length} exceeds {MAX_DIGITS} semi-octets")
    value = reader.take((length + 1) // 2, field)
    ton = (toa >> 4) & 0x7
    if ton == TON_ALPHANUMERIC:
        count = length * 4 // 7
        septets = gsm7.unpack(value, count)
        # Encoders that count whole octets (2 semi-octets each) leave one padding septet
        # of zero bits when 7 septets fill the octets exactly; it is not an '@'.
        if length % 14 == 0 and septets and septets[-1] == 0:
            septets = septets[:-1]
        return gsm7.decode(septets), toa
    digits = _unbcd(value, length)
    if ton == TON_INTERNATIONAL and digits:
        return "+" + digits, toa
    return digits, toa


def encode_smsc(smsc: str | None) -> bytes:
    """Return the SMSC address field (length counts octets incl. TOA); '00' when None.

    Raises PduEncodeError when ``smsc`` is not a phone number.
    """
    if smsc is None:
        return b"\x00"
    value = normalise_number(smsc)
    if not _NUMBER.fullmatch(value):
        raise PduEncodeError("SMSC address must be a phone number")
    digits = value.lstrip("+")
    if len(digits) > MAX_DIGITS:
        raise PduEncodeError(f"SMSC number has {len(digits)} digits, at most {MAX_DIGITS} fit")
    toa = TOA_INTERNATIONAL if value.startswith("+") else TOA_UNKNOWN
    body = bytes([toa]) + _bcd(digits)
    return bytes([len(body)]) + body


def decode_smsc(reader: Reader) -> str | None:
    """Return the SMSC number read from the SCA field, or None when its length is 0."""
    length = reader.octet("SMSC length")
    if length == 0:
        return None
    if length > 11:
        raise PduError(f"SMSC length {length} exceeds 11 octets")
    toa = reader.octet("SMSC type of address")
    digits = _unbcd(reader.take(length - 1, "SMSC address"))
    if not digits:
        return None
    return "+" + digits if (toa >> 4) & 0x7 == TON_INTERNATIONAL else digits
