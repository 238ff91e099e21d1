"""Octet-level TPDU helpers the virtual network needs (TS 23.040 §9.2).

The SMSC turns an SMS-SUBMIT into the SMS-DELIVER the recipient stores by rewriting the
header only: TP-UDHI, TP-PID, TP-DCS and TP-UD travel unchanged, so concatenation and
encoding survive exactly as the sending client produced them.
"""

from __future__ import annotations

from datetime import datetime

from gateway.errors import ModemFault
from gateway.sms.address import encode_address, encode_smsc
from gateway.sms.timestamp import encode_timestamp


class TpduError(ModemFault, ValueError):
    """The PDU is too short or its fields do not fit (the modem answers +CMS ERROR: 304)."""


def _octets(pdu_hex: str) -> bytes:
    try:
        return bytes.fromhex(pdu_hex)
    except ValueError as exc:
        raise TpduError("PDU is not hex") from exc


def split_sca(pdu_hex: str) -> tuple[bytes, bytes]:
    """Return (SCA field incl. its length octet, TPDU); raise TpduError if malformed."""
    data = _octets(pdu_hex)
    if not data:
        raise TpduError("empty PDU")
    sca_len = data[0]
    if sca_len > 11 or len(data) < 1 + sca_len + 1:
        raise TpduError("bad SMSC address length")
    return data[: 1 + sca_len], data[1 + sca_len :]


def tpdu_length(pdu_hex: str) -> int:
    """Return the ``AT+CMGS``/``+CMGL`` length: octets after the SCA field."""
    return len(split_sca(pdu_hex)[1])


def submit_to_deliver(pdu_hex: str, *, sender: str, scts: datetime, smsc: str | None) -> str:
    """Return the SMS-DELIVER hex (with SCA) that carries this SMS-SUBMIT's user data.

    Raises TpduError if the SUBMIT is truncated or not an SMS-SUBMIT.
    """
    _, tpdu = split_sca(pdu_hex)
    first = tpdu[0]
    if first & 0x03 != 0x01:
        raise TpduError("not an SMS-SUBMIT")
    pos = 2  # first octet, TP-MR
    if len(tpdu) <= pos:
        raise TpduError("truncated")
    da_digits = tpdu[pos]
    pos += 2 + (da_digits + 1) // 2  # length, TOA, semi-octets
    if len(tpdu) < pos + 2:
        raise TpduError("truncated")
    pid, dcs = tpdu[pos], tpdu[pos + 1]
    pos += 2
    vpf = (first >> 3) & 0x03
    pos += {0: 0, 2: 1, 1: 7, 3: 7}[vpf]
    if len(tpdu) < pos + 1:
        raise TpduError("truncated")
    user_data = tpdu[pos:]  # TP-UDL and TP-UD unchanged
    # SMS-DELIVER first octet: MTI 00, TP-MMS set (no more messages), UDHI carried over
    deliver_first = 0x04 | (first & 0x40)
    oa, _ = encode_address(sender)
    tp = bytes([deliver_first]) + oa + bytes([pid, dcs]) + encode_timestamp(scts)
    return (encode_smsc(smsc) + tp + user_data).hex().upper()
