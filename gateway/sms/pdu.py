"""The SMS PDU codec (TS 23.040 §9.2, TS 23.038 §4): pure functions, no I/O.

Encoding is ours for every TPDU type. python-gsmmodem 0.13's ``encodeSmsSubmitPdu`` ties
the concatenation reference to TP-MR, raises on characters outside the BMP (it splits
and counts UCS-2 by code points, not UTF-16 units), gives national numbers TOA 0xA1 and
miscounts the TPDU length when an SMSC is given; one encoder shared with
SMS-DELIVER is simpler than patching its output. Where it is sound our SUBMIT output is
byte-identical to it (tests/test_sms_oracle.py). Decoding is ours too and fixes its known
bugs (field notes): DCS groups beyond 00xx and the compressed flag, surrogate pairs, a
final '@', ``ÿ``/trailing ESC, truncation (our Reader raises PduError, never
StopIteration/IndexError), 16-bit concatenation references, enhanced TP-VP.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from gateway.sms import gsm7
from gateway.sms.address import (
    TOA_ALPHANUMERIC,
    decode_address,
    decode_smsc,
    encode_address,
    encode_smsc,
    normalise_number,
)
from gateway.sms.messages import Deliver, EncodedPdu, StatusReport, Submit
from gateway.sms.octets import PduEncodeError, PduError, Reader, parse_hex
from gateway.sms.timestamp import (
    decode_enhanced_validity,
    decode_lenient_timestamp,
    decode_relative_validity,
    decode_timestamp,
    encode_relative_validity,
    encode_timestamp,
)
from gateway.sms.userdata import (
    Concat,
    Encoding,
    dcs_encoding,
    decode_user_data,
    encode_user_data,
)

__all__ = [
    "Concat",
    "Deliver",
    "EncodedPdu",
    "Encoding",
    "PduEncodeError",
    "PduError",
    "StatusReport",
    "Submit",
    "decode_incoming",
    "decode_submit",
    "encode_deliver",
    "encode_status_report",
    "encode_submit",
    "normalise_number",
]

#: TP-MTI, bits 1..0 of the first octet (TS 23.040 §9.2.3.1), SC -> MS direction.
MTI_DELIVER = 0x0
MTI_SUBMIT = 0x1
MTI_STATUS_REPORT = 0x2
#: First-octet flags (TS 23.040 §9.2.3.2-§9.2.3.5, §9.2.3.23).
FO_MMS_NO_MORE = 0x04  # TP-MMS = 1 means *no* more messages are waiting in the SC
FO_RD = 0x04  # TP-RD in SMS-SUBMIT
FO_VPF_MASK = 0x18
FO_SRI = 0x20  # TP-SRI (DELIVER), TP-SRR (SUBMIT), TP-SRQ (STATUS-REPORT)
FO_UDHI = 0x40
VPF_NONE, VPF_ENHANCED, VPF_RELATIVE, VPF_ABSOLUTE = 0x00, 0x08, 0x10, 0x18
DCS_GSM7 = 0x00
DCS_UCS2 = 0x08


def _encoded(octets: bytes, sca_length: int) -> EncodedPdu:
    """Return the EncodedPdu of ``octets`` whose SCA field takes ``sca_length`` octets."""
    return EncodedPdu(hex=octets.hex().upper(), tpdu_length=len(octets) - sca_length)


def _open(pdu_hex: str, has_smsc: bool) -> tuple[Reader, str | None, int]:
    """Return (reader at the first TPDU octet, SMSC, first octet); raise PduError."""
    reader = Reader(parse_hex(pdu_hex))
    smsc = decode_smsc(reader) if has_smsc else None
    return reader, smsc, reader.octet("first octet")


def decode_incoming(pdu_hex: str, *, has_smsc: bool = True) -> Deliver | StatusReport:
    """Return the SMS-DELIVER or SMS-STATUS-REPORT in ``pdu_hex`` (as +CMGR/+CMT/+CDS give it).

    ``has_smsc`` False means the PDU starts at the first TPDU octet. An impossible
    TP-SCTS/TP-DT is not an error: that time is None, its raw octets kept. Raises
    PduError for anything malformed, truncated, of another TP-MTI, or with compressed
    user data.
    """
    reader, smsc, first = _open(pdu_hex, has_smsc)
    mti = first & 0x03
    if mti == MTI_DELIVER:
        return _decode_deliver(reader, smsc, first)
    if mti == MTI_STATUS_REPORT:
        return _decode_status_report(reader, smsc)
    raise PduError(f"TP-MTI {mti} is not an SMS-DELIVER or SMS-STATUS-REPORT")


def _decode_deliver(reader: Reader, smsc: str | None, first: int) -> Deliver:
    """Return the SMS-DELIVER after its first octet (TS 23.040 §9.2.2.1)."""
    sender, toa = decode_address(reader, "TP-OA")
    pid = reader.octet("TP-PID")
    dcs = reader.octet("TP-DCS")
    encoding = dcs_encoding(dcs)
    # lenient: an impossible TP-SCTS gives scts=None, the octets are kept (TS 23.040 §9.2.3.11)
    scts, scts_raw = decode_lenient_timestamp(reader, "TP-SCTS")
    ud = decode_user_data(reader, encoding, udhi=bool(first & FO_UDHI))
    return Deliver(
        smsc=smsc,
        sender=sender,
        sender_toa=toa,
        scts=scts,
        scts_raw=scts_raw,
        pid=pid,
        dcs=dcs,
        encoding=encoding,
        text=ud.text,
        data=ud.data,
        concat=ud.concat,
        more_messages=not first & FO_MMS_NO_MORE,
        status_report_indication=bool(first & FO_SRI),
    )


def _decode_status_report(reader: Reader, smsc: str | None) -> StatusReport:
    """Return the SMS-STATUS-REPORT after its first octet (TS 23.040 §9.2.2.3).

    Optional TP-PI and the fields it announces are ignored: nothing here needs them.
    TP-SCTS and TP-DT are lenient (None when impossible): a report is matched to its
    job by TP-MR and recipient, and must not be lost over a bogus time.
    """
    reference = reader.octet("TP-MR")
    recipient, _ = decode_address(reader, "TP-RA")
    scts, scts_raw = decode_lenient_timestamp(reader, "TP-SCTS")
    discharge, discharge_raw = decode_lenient_timestamp(reader, "TP-DT")
    status = reader.octet("TP-ST")
    return StatusReport(
        smsc=smsc,
        reference=reference,
        recipient=recipient,
        scts=scts,
        scts_raw=scts_raw,
        discharge=discharge,
        discharge_raw=discharge_raw,
        status=status,
    )


def decode_submit(pdu_hex: str, *, has_smsc: bool = True) -> Submit:
    """Return the SMS-SUBMIT in ``pdu_hex`` (what a host sends with AT+CMGS).

    Accepts every TP-VPF (none, relative, absolute, enhanced), TP-SRR, TP-UDHI with 8- or
    16-bit concatenation IEs. Raises PduError for anything malformed or not a SUBMIT.
    """
    reader, smsc, first = _open(pdu_hex, has_smsc)
    if first & 0x03 != MTI_SUBMIT:
        raise PduError(f"TP-MTI {first & 0x03} is not an SMS-SUBMIT")
    reference = reader.octet("TP-MR")
    number, toa = decode_address(reader, "TP-DA")
    pid = reader.octet("TP-PID")
    dcs = reader.octet("TP-DCS")
    encoding = dcs_encoding(dcs)
    vpf = first & FO_VPF_MASK
    validity: timedelta | datetime | None = None
    if vpf == VPF_RELATIVE:
        validity = decode_relative_validity(reader.octet("TP-VP"))
    elif vpf == VPF_ABSOLUTE:
        validity = decode_timestamp(reader, "TP-VP")
    elif vpf == VPF_ENHANCED:
        validity = decode_enhanced_validity(reader.take(7, "TP-VP"))
    ud = decode_user_data(reader, encoding, udhi=bool(first & FO_UDHI))
    return Submit(
        smsc=smsc,
        reference=reference,
        number=number,
        number_toa=toa,
        status_report_requested=bool(first & FO_SRI),
        validity=validity,
        pid=pid,
        dcs=dcs,
        encoding=encoding,
        text=ud.text,
        concat=ud.concat,
        data=ud.data,
        reject_duplicates=bool(first & FO_RD),
    )


def _choose(text: str, force_ucs2: bool, dcs: int | None) -> tuple[int, Encoding]:
    """Return (DCS, alphabet): GSM-7 when it can carry ``text``, else UCS-2; or as ``dcs`` says."""
    if dcs is not None:
        if not 0 <= dcs <= 0xFF:
            raise PduEncodeError(f"TP-DCS {dcs} outside 0..255")
        try:
            return dcs, dcs_encoding(dcs)
        except PduError as exc:
            raise PduEncodeError(exc.reason) from exc
    if force_ucs2 or not gsm7.is_gsm7(text):
        return DCS_UCS2, "ucs2"
    return DCS_GSM7, "gsm7"


def encode_deliver(
    sender: str,
    text: str,
    *,
    scts: datetime,
    smsc: str | None = "+15550000000",
    concat_reference: int | None = None,
    force_ucs2: bool = False,
    dcs: int | None = None,
) -> list[EncodedPdu]:
    """Return the SMS-DELIVER PDUs (one per part) of ``text`` from ``sender``.

    First octet 0x04 (0x44 with a UDH), PID 0, DCS 0x00 or 0x08 unless ``dcs`` overrides
    it (its alphabet is then used; 8-bit takes ``text`` as Latin-1). Long text gets a
    concatenation UDH with ``concat_reference`` (0 if None; 16-bit IE above 255).
    Raises PduEncodeError for an unencodable sender, text, time or reference.
    """
    code, encoding = _choose(text, force_ucs2, dcs)
    oa, _ = encode_address(sender)
    sca = encode_smsc(smsc)
    timestamp = encode_timestamp(scts)
    out: list[EncodedPdu] = []
    for udl, ud, udhi in encode_user_data(text, encoding, reference=concat_reference or 0):
        first = MTI_DELIVER | FO_MMS_NO_MORE | (FO_UDHI if udhi else 0)
        tpdu = bytes([first]) + oa + bytes([0x00, code]) + timestamp + bytes([udl]) + ud
        out.append(_encoded(sca + tpdu, len(sca)))
    return out


def encode_status_report(
    *,
    reference: int,
    recipient: str,
    scts: datetime,
    discharge: datetime,
    status: int = 0,
    smsc: str | None = "+15550000000",
) -> EncodedPdu:
    """Return the SMS-STATUS-REPORT PDU for TP-MR ``reference`` (TS 23.040 §9.2.2.3).

    First octet 0x06 (no more messages, result of an SMS-SUBMIT). Raises PduEncodeError
    for an out-of-range reference or status, or an unencodable recipient or time.
    """
    if not 0 <= reference <= 0xFF or not 0 <= status <= 0xFF:
        raise PduEncodeError("reference and status must be within 0..255")
    ra, _ = encode_address(recipient)
    sca = encode_smsc(smsc)
    first = MTI_STATUS_REPORT | FO_MMS_NO_MORE
    tpdu = (
        bytes([first, reference])
        + ra
        + encode_timestamp(scts)
        + encode_timestamp(discharge)
        + bytes([status])
    )
    return _encoded(sca + tpdu, len(sca))


def encode_submit(
    number: str,
    text: str,
    *,
    reference: int = 0,
    request_status_report: bool = False,
    validity: timedelta | None = None,
    smsc: str | None = None,
    concat_reference: int | None = None,
) -> list[EncodedPdu]:
    """Return the SMS-SUBMIT PDUs (one per part) sending ``text`` to phone ``number``.

    The SCA is '00' (modem default) when ``smsc`` is None; TP-MR is ``reference`` on every
    part; long text gets a concatenation UDH with ``concat_reference`` (0 if None).
    Raises PduEncodeError for an alphanumeric or too long number, bad reference or validity.
    """
    if not 0 <= reference <= 0xFF:
        raise PduEncodeError(f"TP-MR {reference} outside 0..255")
    da, toa = encode_address(number)
    if toa == TOA_ALPHANUMERIC:
        raise PduEncodeError("an SMS-SUBMIT needs a phone number as destination")
    code, encoding = _choose(text, False, None)
    sca = encode_smsc(smsc)
    vp = b"" if validity is None else bytes([encode_relative_validity(validity)])
    out: list[EncodedPdu] = []
    for udl, ud, udhi in encode_user_data(text, encoding, reference=concat_reference or 0):
        first = (
            MTI_SUBMIT
            | (VPF_RELATIVE if vp else VPF_NONE)
            | (FO_SRI if request_status_report else 0)
            | (FO_UDHI if udhi else 0)
        )
        tpdu = bytes([first, reference]) + da + bytes([0x00, code]) + vp + bytes([udl]) + ud
        out.append(_encoded(sca + tpdu, len(sca)))
    return out
