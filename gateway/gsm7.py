"""The GSM 7-bit default alphabet and its extension table (3GPP TS 23.038 §6.2.1).

Pure functions used by the WebOTP composer (length and segment reports) and by the PDU
codec (encoding and decoding septets). Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Iterable

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

#: Septets per single SMS and per part of a concatenated SMS (TS 23.040 §9.2.3.24.1:
#: the 6-octet concatenation header takes 7 septets).
SINGLE_SEPTETS = 160
PART_SEPTETS = 153
#: UCS-2 code units (16-bit) per single SMS and per concatenated part.
SINGLE_UCS2_UNITS = 70
PART_UCS2_UNITS = 67


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
