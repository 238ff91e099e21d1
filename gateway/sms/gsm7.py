"""The GSM 7-bit default alphabet and its extension table (3GPP TS 23.038 §6.2.1).

Pure functions used by the WebOTP composer (length and segment reports) and by the PDU
codec (encoding and decoding septets). Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

#: TS 23.038 §6.2.1 default alphabet, indexed by septet value. 0x1B is the escape to the
#: extension table and is mapped to None here (it is not a character).
BASIC: tuple[str | None, ...] = (
    "@", "£", "$", "¥", "è", "é", "ù", "ì", "ò", "Ç", "\n", "Ø", "ø", "\r", "Å", "å",
    "Δ", "_", "Φ", "Γ", "Λ", "Ω", "Π", "Ψ", "Σ", "Θ", "Ξ", None, "Æ", "æ", "ß", "É",
    " ", "!", '"', "#", "¤", "%", "&", "'", "(", ")", "*", "+", ",", "-", ".", "/",
    "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", ":", ";", "<", "=", ">", "?",
    "¡", "A", "B", "C", "D", "E", "F", "G", "H", "I", "J", "K", "L", "M", "N", "O",
    "P", "Q", "R", "S", "T", "U", "V", "W", "X", "Y", "Z", "Ä", "Ö", "Ñ", "Ü", "§",
    "¿", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o",
    "p", "q", "r", "s", "t", "u", "v", "w", "x", "y", "z", "ä", "ö", "ñ", "ü", "à",
)  # fmt: skip

ESCAPE = 0x1B

#: TS 23.038 §6.2.1.1 extension table (after ESC): septet -> character.
EXTENSION: dict[int, str] = {
    0x0A: "\f",
    0x14: "^",
    0x28: "{",
    0x29: "}",
    0x2F: "\\",
    0x3C: "[",
    0x3D: "~",
    0x3E: "]",
    0x40: "|",
    0x65: "€",
}

_ENCODE_BASIC: dict[str, int] = {ch: i for i, ch in enumerate(BASIC) if ch is not None}
_ENCODE_EXT: dict[str, int] = {ch: i for i, ch in EXTENSION.items()}

#: TP-UD holds at most 140 octets (TS 23.040 §9.2.3.24).
MAX_UD_OCTETS = 140
#: octets of a user data header holding only a concatenation IE, UDHL included:
#: 8-bit reference (TS 23.040 §9.2.3.24.1) and 16-bit reference (§9.2.3.24.8).
CONCAT_UDH_8 = 6
CONCAT_UDH_16 = 7
#: Septets per single SMS and per part with an 8-bit reference (the 6-octet header takes
#: 7 septets); with a 16-bit reference a part holds 152 (see :func:`part_units`).
SINGLE_SEPTETS = 160
PART_SEPTETS = 153
#: UCS-2 code units (16-bit) per single SMS and per part (8-bit reference).
SINGLE_UCS2_UNITS = 70
PART_UCS2_UNITS = 67

_SINGLE_UNITS = {"gsm7": SINGLE_SEPTETS, "ucs2": SINGLE_UCS2_UNITS, "8bit": MAX_UD_OCTETS}


def single_units(encoding: str) -> int:
    """Return how many units (septets, UCS-2 units, octets) one unsplit SMS holds.

    Raises ValueError for an encoding other than ``gsm7``, ``ucs2`` or ``8bit``.
    """
    try:
        return _SINGLE_UNITS[encoding]
    except KeyError:
        raise ValueError(f"unknown SMS encoding {encoding!r}") from None


def part_units(encoding: str, udh_octets: int) -> int:
    """Return how many units one part holds behind a ``udh_octets``-octet header.

    GSM-7 pads the header to a septet boundary (TS 23.040 §9.2.3.24: fill bits), so a
    6-octet header costs 7 septets and a 7-octet one 8; UCS-2 keeps whole 16-bit units.
    Raises ValueError for an unknown encoding or a header that leaves no room.
    """
    single = single_units(encoding)
    if not 0 < udh_octets < MAX_UD_OCTETS - 1:
        raise ValueError(f"a {udh_octets}-octet user data header leaves no room")
    if encoding == "gsm7":
        return single - -(-udh_octets * 8 // 7)
    room = MAX_UD_OCTETS - udh_octets
    return room // 2 if encoding == "ucs2" else room


def split_parts(costs: Sequence[int], encoding: str, udh_octets: int) -> list[int]:
    """Return how many characters go in each SMS, given each character's cost in units.

    One SMS when the total fits :func:`single_units`; else parts of :func:`part_units`
    each, filled greedily and never splitting a character (an ESC pair, a surrogate
    pair), as senders must. The composer's segment count and the PDU encoder both use
    this rule, so they agree. Raises ValueError for an unknown encoding or bad header.
    """
    single = single_units(encoding)
    if sum(costs) <= single:
        return [len(costs)]
    capacity = part_units(encoding, udh_octets)
    parts, used = [0], 0
    for cost in costs:
        if used + cost > capacity:
            parts.append(0)
            used = 0
        parts[-1] += 1
        used += cost
    return parts


def char_septets(ch: str) -> int | None:
    """Return how many septets ``ch`` takes (1 or 2), or None if GSM-7 cannot carry it."""
    if ch in _ENCODE_BASIC:
        return 1
    if ch in _ENCODE_EXT:
        return 2
    return None


def septet_length(text: str) -> int | None:
    """Return the length of ``text`` in septets, or None if it needs UCS-2."""
    total = 0
    for ch in text:
        n = char_septets(ch)
        if n is None:
            return None
        total += n
    return total


def is_gsm7(text: str) -> bool:
    """Return True if every character of ``text`` is in the default alphabet or its extension."""
    return septet_length(text) is not None


def ucs2_units(text: str) -> int:
    """Return the number of UTF-16 code units of ``text`` (an emoji counts 2)."""
    return len(text.encode("utf-16-be")) // 2


def encode(text: str) -> list[int]:
    """Return the septets of ``text``; raise ValueError naming the first unencodable character."""
    out: list[int] = []
    for pos, ch in enumerate(text):
        if ch in _ENCODE_BASIC:
            out.append(_ENCODE_BASIC[ch])
        elif ch in _ENCODE_EXT:
            out.extend((ESCAPE, _ENCODE_EXT[ch]))
        else:
            raise ValueError(f"character {ch!r} at position {pos} is not in the GSM 7-bit alphabet")
    return out


def decode(septets: Iterable[int]) -> str:
    """Return the text of ``septets``.

    Never raises for values 0..127: an ESC followed by a septet with no extension entry
    decodes as that septet's basic character (TS 23.038 §6.2.1.1 note 1 says a receiver
    should display the basic character), and a trailing lone ESC as a space.
    """
    out: list[str] = []
    escaped = False
    for value in septets:
        septet = value & 0x7F
        if escaped:
            escaped = False
            ext = EXTENSION.get(septet)
            if ext is not None:
                out.append(ext)
                continue
            basic = BASIC[septet]
            out.append(" " if basic is None else basic)
        elif septet == ESCAPE:
            escaped = True
        else:
            basic = BASIC[septet]
            out.append(" " if basic is None else basic)
    if escaped:
        out.append(" ")
    return "".join(out)


def pack(septets: list[int], fill_bits: int = 0) -> bytes:
    """Pack septets into octets, LSB first, after ``fill_bits`` zero bits (TS 23.038 §6.1.2.1.1)."""
    acc = 0
    nbits = fill_bits
    out = bytearray()
    for s in septets:
        acc |= (s & 0x7F) << nbits
        nbits += 7
        while nbits >= 8:
            out.append(acc & 0xFF)
            acc >>= 8
            nbits -= 8
    if nbits:
        out.append(acc & 0xFF)
    return bytes(out)


def unpack(data: bytes, count: int, fill_bits: int = 0) -> list[int]:
    """Unpack exactly ``count`` septets from ``data`` after ``fill_bits`` bits.

    Unlike gsmmodem's ``unpackSeptets`` this honours the count, so a final ``@``
    (septet 0) is kept. Raises ValueError when ``data`` is too short for ``count``.
    """
    needed_bits = fill_bits + 7 * count
    if len(data) * 8 < needed_bits:
        raise ValueError(f"{len(data)} octets cannot hold {count} septets after {fill_bits} bits")
    value = int.from_bytes(data, "little")
    return [(value >> (fill_bits + 7 * i)) & 0x7F for i in range(count)]
