"""The message values the PDU codec produces and consumes (TS 23.040 §9.2.2).

Frozen, slotted, keyword-only dataclasses validated on construction, so an invalid one
cannot exist; validation failures raise :class:`PduEncodeError` (a ``UsageError``).
Received times (TP-SCTS, TP-DT) are ``None`` when the SC sent an impossible value; their
raw octets are always kept (``scts_raw``, ``discharge_raw``) and, when not given, are
derived from the datetime.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from gateway.sms.octets import PduEncodeError, PduError
from gateway.sms.timestamp import encode_timestamp, parse_timestamp
from gateway.sms.userdata import Concat, Encoding

_ENCODINGS = ("gsm7", "ucs2", "8bit")
_HEX = re.compile(r"(?:[0-9A-F]{2})+")


def _octet(name: str, value: int) -> None:
    """Raise PduEncodeError unless ``value`` fits one octet."""
    if not 0 <= value <= 0xFF:
        raise PduEncodeError(f"{name} {value} outside 0..255")


def _aware(name: str, value: datetime) -> None:
    """Raise PduEncodeError unless ``value`` is a timezone-aware datetime."""
    if value.utcoffset() is None:
        raise PduEncodeError(f"{name} must be timezone-aware")


def _stamp(name: str, when: datetime | None, raw: bytes) -> bytes:
    """Return the 7 raw octets of a received time, derived from ``when`` if ``raw`` is empty.

    Raises PduEncodeError for a naive ``when``, a missing or wrong-sized ``raw`` when
    ``when`` is None, or octets that do not stand for ``when`` (None: an impossible time).
    """
    if when is not None:
        _aware(name, when)
    if not raw:
        if when is None:
            raise PduEncodeError(f"{name}: an invalid time needs its raw octets")
        return encode_timestamp(when)
    if len(raw) != 7:
        raise PduEncodeError(f"{name} raw octets must be 7, not {len(raw)}")
    try:
        parsed: datetime | None = parse_timestamp(bytes(raw), name)
    except PduError:
        parsed = None
    if when is None:
        same = parsed is None
    else:
        same = parsed == when and parsed.utcoffset() == when.utcoffset()
    if not same:
        raise PduEncodeError(f"{name} does not match its raw octets")
    return bytes(raw)


def _user_data(encoding: str, data: bytes | None) -> None:
    """Raise PduEncodeError unless ``data`` is present exactly for 8-bit user data."""
    if encoding not in _ENCODINGS:
        raise PduEncodeError(f"unknown encoding {encoding!r}")
    if (encoding == "8bit") != (data is not None):
        raise PduEncodeError("data must be given for 8-bit user data and only then")


@dataclass(frozen=True, slots=True, kw_only=True)
class Deliver:
    """An SMS-DELIVER (SC -> MS); for 8-bit data ``text`` is ``data`` decoded as Latin-1."""

    smsc: str | None
    sender: str  # "+E164", national digits, or alphanumeric text (TOA 0xD0)
    sender_toa: int
    scts: datetime | None  # None: the SC sent an impossible TP-SCTS (TS 23.040 §9.2.3.11)
    scts_raw: bytes = b""  # its 7 octets as received; derived from ``scts`` when empty
    pid: int
    dcs: int
    encoding: Encoding
    text: str
    data: bytes | None
    concat: Concat | None
    more_messages: bool  # TP-MMS = 0 (TS 23.040 §9.2.3.2)
    status_report_indication: bool

    def __post_init__(self) -> None:
        _octet("sender TOA", self.sender_toa)
        _octet("TP-PID", self.pid)
        _octet("TP-DCS", self.dcs)
        object.__setattr__(self, "scts_raw", _stamp("scts", self.scts, self.scts_raw))
        _user_data(self.encoding, self.data)

    @property
    def timestamp_invalid(self) -> bool:
        """Return True when TP-SCTS was impossible (``scts`` is None, ``scts_raw`` holds it)."""
        return self.scts is None


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusReport:
    """An SMS-STATUS-REPORT: the fate of the SMS-SUBMIT with TP-MR ``reference``."""

    smsc: str | None
    reference: int
    recipient: str
    scts: datetime | None  # None when impossible, as for SMS-DELIVER
    discharge: datetime | None  # TP-DT (TS 23.040 §9.2.3.13); None when impossible
    status: int  # TP-ST (TS 23.040 §9.2.3.15)
    scts_raw: bytes = b""  # 7 octets as received; derived from ``scts`` when empty
    discharge_raw: bytes = b""  # likewise for ``discharge``

    def __post_init__(self) -> None:
        _octet("TP-MR", self.reference)
        _octet("TP-ST", self.status)
        object.__setattr__(self, "scts_raw", _stamp("scts", self.scts, self.scts_raw))
        object.__setattr__(
            self, "discharge_raw", _stamp("discharge", self.discharge, self.discharge_raw)
        )

    @property
    def timestamp_invalid(self) -> bool:
        """Return True when TP-SCTS or TP-DT was impossible (None; the raw octets hold it)."""
        return self.scts is None or self.discharge is None

    @property
    def delivered(self) -> bool:
        """Return True for 0x00..0x1F: the transaction completed (received, forwarded, replaced)."""
        return self.status <= 0x1F

    @property
    def final(self) -> bool:
        """Return False only for 0x20..0x3F, where the SC is still trying to deliver."""
        return not 0x20 <= self.status <= 0x3F


@dataclass(frozen=True, slots=True, kw_only=True)
class Submit:
    """An SMS-SUBMIT (MS -> SC), as the simulator's network receives it."""

    smsc: str | None
    reference: int
    number: str
    number_toa: int
    status_report_requested: bool
    validity: timedelta | datetime | None
    pid: int
    dcs: int
    encoding: Encoding
    text: str
    concat: Concat | None
    data: bytes | None = None  # the raw octets of 8-bit user data
    reject_duplicates: bool = False

    def __post_init__(self) -> None:
        _octet("TP-MR", self.reference)
        _octet("destination TOA", self.number_toa)
        _octet("TP-PID", self.pid)
        _octet("TP-DCS", self.dcs)
        if isinstance(self.validity, datetime):
            _aware("validity", self.validity)
        _user_data(self.encoding, self.data)


@dataclass(frozen=True, slots=True, kw_only=True)
class EncodedPdu:
    """A PDU ready for AT+CMGS/+CMGW: upper-case hex including the SCA, and <length>."""

    hex: str
    tpdu_length: int  # octets after the SCA field: the <length> of AT+CMGS (TS 27.005 §3.5.1)

    def __post_init__(self) -> None:
        if not _HEX.fullmatch(self.hex):
            raise PduEncodeError("PDU hex must be upper-case hex octets")
        sca_octets = 1 + int(self.hex[:2], 16)
        if self.tpdu_length != len(self.hex) // 2 - sca_octets or self.tpdu_length < 1:
            raise PduEncodeError("tpdu_length must count the octets after the SCA field")
