"""User data: DCS alphabets (TS 23.038 §4), the UDH and concatenation (TS 23.040 §9.2.3.24).

GSM-7 user data is counted in septets and a UDH in front of it is followed by fill bits up
to the next septet boundary; UCS-2 (sent as UTF-16-BE, so a character outside the BMP is
a surrogate pair of two units) and 8-bit user data are counted in octets.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from gateway.sms import gsm7
from gateway.sms.octets import PduEncodeError, PduError, Reader

Encoding = Literal["gsm7", "ucs2", "8bit"]

#: TP-UD holds at most 140 octets (TS 23.040 §9.2.3.24).
MAX_UD_OCTETS = gsm7.MAX_UD_OCTETS
#: TS 23.040 §9.2.3.24.1 / .8: concatenation IEs with 8-bit and 16-bit reference numbers.
IEI_CONCAT_8 = 0x00
IEI_CONCAT_16 = 0x08
#: General data coding groups 00xx/01xx, bits 3..2 (TS 23.038 §4); 11 is reserved -> GSM-7.
_GENERAL_ALPHABETS: tuple[Encoding, ...] = ("gsm7", "8bit", "ucs2", "gsm7")


@dataclass(frozen=True, slots=True, kw_only=True)
class Concat:
    """One part of a concatenated message: shared reference, part count, 1-based sequence."""

    reference: int
    total: int
    sequence: int

    def __post_init__(self) -> None:
        if not 0 <= self.reference <= 0xFFFF:
            raise PduEncodeError(f"concatenation reference {self.reference} outside 0..65535")
        if not 1 <= self.total <= 255:
            raise PduEncodeError(f"part count {self.total} outside 1..255")
        if not 1 <= self.sequence <= self.total:
            raise PduEncodeError(f"sequence {self.sequence} outside 1..{self.total}")

    def header(self) -> bytes:
        """Return the UDH (with its length octet): 8-bit IE for references up to 255."""
        if self.reference <= 0xFF:
            ie = bytes([IEI_CONCAT_8, 3, self.reference, self.total, self.sequence])
        else:
            ref = self.reference.to_bytes(2, "big")
            ie = bytes([IEI_CONCAT_16, 4]) + ref + bytes([self.total, self.sequence])
        return bytes([len(ie)]) + ie


def dcs_encoding(dcs: int) -> Encoding:
    """Return the alphabet TP-DCS ``dcs`` selects (TS 23.038 §4).

    Raises PduError for compressed user data (TS 23.042), which we do not decompress.
    """
    group = dcs >> 4
    if group < 0x8:  # 00xx general data coding, 01xx the same with automatic deletion
        if dcs & 0x20:
            raise PduError(f"DCS 0x{dcs:02X}: compressed user data is not supported")
        return _GENERAL_ALPHABETS[(dcs >> 2) & 0x3]
    if group in (0xC, 0xD):  # message waiting indication, discard / store: GSM-7
        return "gsm7"
    if group == 0xE:  # message waiting indication, store: UCS-2
        return "ucs2"
    if group == 0xF:  # data coding / message class: bit 2 selects 8-bit over GSM-7
        return "8bit" if dcs & 0x04 else "gsm7"
    return "gsm7"  # 1000..1011 reserved: a receiver assumes the GSM 7-bit alphabet


def _parse_udh(header: bytes) -> Concat | None:
    """Return the concatenation IE of ``header`` (the last one wins), None if absent or void."""
    concat: Concat | None = None
    pos = 0
    while pos < len(header):
        if pos + 2 > len(header):
            raise PduError("UDH ends inside an information element header")
        iei, length = header[pos], header[pos + 1]
        data = header[pos + 2 : pos + 2 + length]
        if len(data) != length:
            raise PduError(f"UDH information element 0x{iei:02X} overruns the header")
        pos += 2 + length
        if iei == IEI_CONCAT_8 and length == 3:
            ref, total, seq = data
        elif iei == IEI_CONCAT_16 and length == 4:
            ref, total, seq = int.from_bytes(data[:2], "big"), data[2], data[3]
        else:
            continue
        # §9.2.3.24.1: a zero count, or a sequence that is 0 or past the count, voids the IE.
        concat = Concat(reference=ref, total=total, sequence=seq) if 1 <= seq <= total else None
    return concat


@dataclass(frozen=True, slots=True, kw_only=True)
class UserData:
    """Decoded TP-UD: the text, the raw octets for 8-bit data, and the concatenation IE."""

    text: str
    data: bytes | None
    concat: Concat | None


def decode_user_data(reader: Reader, encoding: Encoding, *, udhi: bool) -> UserData:
    """Return the UDL-prefixed user data read from ``reader``; raise PduError if malformed.

    Unpacks exactly UDL septets, so a final '@' survives; UCS-2 is decoded as UTF-16-BE
    (surrogate pairs joined, a lone surrogate or odd octet becomes U+FFFD).
    """
    udl = reader.octet("TP-UDL")
    size = math.ceil(udl * 7 / 8) if encoding == "gsm7" else udl
    ud = reader.take(size, "TP-UD")
    concat: Concat | None = None
    body_start = 0
    if udhi:
        if not ud:
            raise PduError("TP-UDHI set but the user data is empty")
        body_start = 1 + ud[0]
        if body_start > len(ud):
            raise PduError(f"UDH length {ud[0]} exceeds the user data")
        concat = _parse_udh(ud[1:body_start])
    if encoding == "gsm7":
        skip = math.ceil(body_start * 8 / 7)  # header septets including fill bits
        if skip > udl:
            raise PduError(f"UDH takes {skip} septets but TP-UDL is {udl}")
        septets = gsm7.unpack(ud, udl)[skip:]
        return UserData(text=gsm7.decode(septets), data=None, concat=concat)
    body = ud[body_start:]
    if encoding == "ucs2":
        return UserData(text=body.decode("utf-16-be", "replace"), data=None, concat=concat)
    return UserData(text=body.decode("latin-1"), data=body, concat=concat)


def _costs(text: str, encoding: Encoding) -> list[int]:
    """Return each character's cost in units: septets, UCS-2 units (a pair is 2), octets.

    Raises ValueError/UnicodeEncodeError when ``encoding`` cannot carry a character.
    """
    if encoding == "gsm7":
        return [len(gsm7.encode(ch)) for ch in text]
    if encoding == "ucs2":
        return [len(ch.encode("utf-16-be")) // 2 for ch in text]
    return [len(ch.encode("latin-1")) for ch in text]


def _payload(chunk: str, encoding: Encoding) -> tuple[list[int], bytes]:
    """Return (septets, b"") for GSM-7, else ([], octets) of one part's text."""
    if encoding == "gsm7":
        return gsm7.encode(chunk), b""
    return [], chunk.encode("utf-16-be" if encoding == "ucs2" else "latin-1")


def encode_user_data(
    text: str, encoding: Encoding, *, reference: int
) -> list[tuple[int, bytes, bool]]:
    """Return (TP-UDL, TP-UD, UDHI) per part of ``text``, with a concatenation UDH if it splits.

    Parts follow :func:`gateway.sms.gsm7.split_parts` with this reference's header size (6
    octets for an 8-bit reference, 7 for a 16-bit one), the rule the composer counts by.
    Raises PduEncodeError when ``text`` does not fit ``encoding`` or needs over 255 parts.
    """
    header_len = len(Concat(reference=reference, total=1, sequence=1).header())
    try:
        sizes = gsm7.split_parts(_costs(text, encoding), encoding, header_len)
    except (ValueError, UnicodeEncodeError) as exc:
        raise PduEncodeError(f"text cannot be encoded as {encoding}") from exc
    chunks, at = [], 0
    for size in sizes:
        chunks.append(text[at : at + size])
        at += size
    if len(chunks) == 1:
        septets, octets = _payload(chunks[0], encoding)
        if encoding == "gsm7":
            return [(len(septets), gsm7.pack(septets), False)]
        return [(len(octets), octets, False)]
    total = len(chunks)
    _check_total(total)
    header_septets = math.ceil(header_len * 8 / 7)
    fill = header_septets * 7 - header_len * 8
    out: list[tuple[int, bytes, bool]] = []
    for sequence, chunk in enumerate(chunks, 1):
        header = Concat(reference=reference, total=total, sequence=sequence).header()
        septets, octets = _payload(chunk, encoding)
        if encoding == "gsm7":
            out.append((header_septets + len(septets), header + gsm7.pack(septets, fill), True))
        else:
            out.append((len(header) + len(octets), header + octets, True))
    return out


def _check_total(total: int) -> None:
    """Raise PduEncodeError when a message needs more parts than the UDH can count."""
    if total > 255:
        raise PduEncodeError(f"text needs {total} parts, at most 255 are possible")
