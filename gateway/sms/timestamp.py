"""Time fields: TP-SCTS/TP-DT (TS 23.040 §9.2.3.11) and TP-VP (§9.2.3.12).

A timestamp is 7 octets of swapped semi-octets: year, month, day, hour, minute, second and
the offset from UTC in quarter hours, whose sign is bit 3 of the octet (the high bit of
the first semi-octet). The century is not transmitted; we read years as 20xx.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from gateway.sms.octets import PduEncodeError, PduError, Reader

_QUARTER = timedelta(minutes=15)
#: Two decimal digits of quarter hours, with bit 3 of the tens nibble as the sign.
MAX_QUARTERS = 79


def _swap(value: int) -> int:
    """Return the two-digit ``value`` as one octet, units digit in the high nibble."""
    return (value % 10) << 4 | (value // 10)


def encode_timestamp(when: datetime) -> bytes:
    """Return the 7-octet semi-octet encoding of aware ``when`` (seconds truncated).

    Raises PduEncodeError for a naive datetime, a year outside 2000..2099 or an offset
    that is not a whole number of quarter hours within ±19:45.
    """
    offset = when.utcoffset()
    if offset is None:
        raise PduEncodeError("timestamp must be timezone-aware")
    if not 2000 <= when.year <= 2099:
        raise PduEncodeError(f"year {when.year} outside 2000..2099")
    quarters, rest = divmod(abs(offset), _QUARTER)
    if rest or quarters > MAX_QUARTERS:
        raise PduEncodeError(f"UTC offset {offset} is not a quarter-hour multiple within ±19:45")
    tz = _swap(quarters)
    if offset < timedelta(0):
        tz |= 0x08  # sign bit: bit 3 of the first (tens) semi-octet
    fields = (when.year % 100, when.month, when.day, when.hour, when.minute, when.second)
    return bytes(_swap(v) for v in fields) + bytes([tz])


def _digits(octet: int, field: str) -> int:
    """Return the two-digit value of a swapped semi-octet pair; raise PduError if not BCD."""
    tens, units = octet & 0x0F, octet >> 4
    if tens > 9 or units > 9:
        raise PduError(f"{field} has a non-decimal semi-octet 0x{octet:02X}")
    return tens * 10 + units


def parse_timestamp(raw: bytes, field: str) -> datetime:
    """Return the aware datetime that the 7 octets ``raw`` of a timestamp stand for.

    Raises PduError for anything but 7 octets, non-BCD digits or an impossible date or
    time (month 13, second 61, the all-zero value): never an invented value.
    """
    if len(raw) != 7:
        raise PduError(f"{field} needs 7 octets, not {len(raw)}")
    year, month, day, hour, minute, second = (_digits(o, field) for o in raw[:6])
    tz = raw[6]
    quarters = _digits(tz & 0xF7, field)
    offset = _QUARTER * quarters
    if tz & 0x08:
        offset = -offset
    try:
        return datetime(2000 + year, month, day, hour, minute, second, tzinfo=timezone(offset))
    except ValueError as exc:
        raise PduError(f"{field} is not a valid date: {exc}") from exc


def decode_timestamp(reader: Reader, field: str) -> datetime:
    """Return the aware datetime read from a 7-octet timestamp (strict).

    Used where a bad time changes the meaning (an absolute TP-VP). Raises PduError when
    fewer than 7 octets remain or the value is impossible, as :func:`parse_timestamp`.
    """
    return parse_timestamp(reader.take(7, field), field)


def decode_lenient_timestamp(reader: Reader, field: str) -> tuple[datetime | None, bytes]:
    """Return (datetime or None when impossible, the 7 raw octets) of a TP-SCTS/TP-DT.

    TS 23.040 §9.2.3.11 times only inform: some SMSCs and femtocells send all zeros or
    non-BCD semi-octets, and an OTP must not be lost over that. The raw octets keep
    such a value exact (dedupe keys). Raises PduError only when fewer than 7 octets remain.
    """
    raw = reader.take(7, field)
    try:
        return parse_timestamp(raw, field), raw
    except PduError:
        return None, raw


def semi_octet_text(raw: bytes) -> str:
    """Return ``yy/MM/dd,hh:mm:ss±zz`` (TS 27.005 §3.3.1) of 7 raw octets, valid or not.

    Each swapped semi-octet pair is shown as it is (a non-decimal nibble as its hex
    digit), the way a modem's text mode renders what the SC sent. Raises PduError for
    anything but 7 octets.
    """
    if len(raw) != 7:
        raise PduError(f"a timestamp needs 7 octets, not {len(raw)}")
    d = [f"{o & 0x0F:X}{o >> 4:X}" for o in raw[:6]]
    zone = raw[6]
    sign = "-" if zone & 0x08 else "+"
    return f"{d[0]}/{d[1]}/{d[2]},{d[3]}:{d[4]}:{d[5]}{sign}{zone & 0x07:X}{zone >> 4:X}"


def encode_relative_validity(period: timedelta) -> int:
    """Return the TP-VP octet for the shortest relative period not shorter than ``period``.

    Raises PduEncodeError when ``period`` is not positive or exceeds 63 weeks.
    """
    if period <= timedelta(0):
        raise PduEncodeError("validity period must be positive")
    minutes = -(-period // timedelta(minutes=1))  # ceil to whole minutes
    if minutes <= 12 * 60:
        return -(-minutes // 5) - 1  # (VP + 1) * 5 minutes
    if minutes <= 24 * 60:
        return 143 + -(-(minutes - 12 * 60) // 30)  # 12 h + (VP - 143) * 30 minutes
    days = -(-minutes // (24 * 60))
    if days <= 30:
        return 166 + days  # (VP - 166) days
    weeks = -(-days // 7)
    if weeks <= 63:
        return 192 + weeks  # (VP - 192) weeks, from 197 (5 weeks)
    raise PduEncodeError("validity period exceeds 63 weeks")


def decode_relative_validity(octet: int) -> timedelta:
    """Return the period a relative TP-VP octet stands for (TS 23.040 §9.2.3.12.1)."""
    if octet <= 143:
        return timedelta(minutes=(octet + 1) * 5)
    if octet <= 167:
        return timedelta(hours=12, minutes=(octet - 143) * 30)
    if octet <= 196:
        return timedelta(days=octet - 166)
    return timedelta(weeks=octet - 192)


def decode_enhanced_validity(raw: bytes) -> timedelta | None:
    """Return the period of a 7-octet enhanced TP-VP (TS 23.040 §9.2.3.12.3), None if absent.

    Raises PduError for a reserved validity format or bad semi-octets.
    """
    fmt = raw[0] & 0x07
    if fmt == 0:
        return None
    if fmt == 1:
        return decode_relative_validity(raw[1])
    if fmt == 2:
        return timedelta(seconds=raw[1])
    if fmt == 3:
        hours, minutes, seconds = (_digits(o, "TP-VP") for o in raw[1:4])
        return timedelta(hours=hours, minutes=minutes, seconds=seconds)
    raise PduError(f"reserved enhanced validity format {fmt}")
