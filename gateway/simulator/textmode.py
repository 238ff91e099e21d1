"""Text-mode (AT+CMGF=1) rendering of stored PDUs and decoding of typed text (TS 27.005 §4).

Character set per AT+CSCS (TS 27.007 §5.5): ``UCS2`` is hex of UTF-16BE, ``HEX`` is hex of
the octets; the others pass characters through. A UCS-2 message shown with a GSM
character set is given as UCS-2 hex, as real modems do.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from gateway.simulator.atcommand import is_number
from gateway.simulator.tpdu import split_sca, tpdu_length
from gateway.sms import pdu as pducodec
from gateway.sms.timestamp import semi_octet_text

if TYPE_CHECKING:
    from gateway.simulator.device import Device
    from gateway.simulator.storage import Stat


class TextInputError(ValueError):
    """Typed text does not fit the character set (the modem answers +CMS ERROR: 305)."""


def timestamp(when: datetime) -> str:
    """Return ``yy/MM/dd,hh:mm:ss±zz`` with the zone in quarter hours (TS 27.005 §3.3.1)."""
    offset = when.utcoffset() or timedelta(0)
    quarters = int(offset.total_seconds() // 900)
    return f"{when:%y/%m/%d,%H:%M:%S}{'-' if quarters < 0 else '+'}{abs(quarters):02d}"


def toa(number: str) -> int:
    """Return the type of address of a decoded number (145 international, 129 otherwise)."""
    if number.startswith("+"):
        return 145
    return 129 if is_number(number) else 208


def encode_text(model: Device, text: str, encoding: str, data: bytes | None) -> str:
    """Return message text as the TE sees it under the current character set."""
    if encoding == "8bit" and data is not None:
        return data.hex().upper()
    cscs = model.settings.cscs
    if cscs == "UCS2" or (encoding == "ucs2" and cscs != "HEX"):
        return text.encode("utf-16-be").hex().upper()
    if cscs == "HEX":
        return text.encode("latin-1", "replace").hex().upper()
    return text


def decode_input(model: Device, raw: str) -> str:
    """Return the text a user typed under the current character set; raise TextInputError."""
    cscs = model.settings.cscs
    try:
        if cscs == "UCS2":
            return bytes.fromhex(raw).decode("utf-16-be")
        if cscs == "HEX":
            return bytes.fromhex(raw).decode("latin-1")
    except ValueError as exc:
        raise TextInputError("text is not valid for the character set") from exc
    return raw


def deliver_lines(
    model: Device, pdu_hex: str, *, stat: Stat | None, listing: bool = False
) -> tuple[str, str]:
    """Return (header fields, text) of an SMS-DELIVER for +CMGR/+CMGL (``stat``) or +CMT.

    With AT+CSDH=1, +CMGR and +CMT add <tooa>,<fo>,<pid>,<dcs>,<sca>,<tosca>,<length>;
    +CMGL (``listing``) adds only <tooa>,<length> (TS 27.005 §3.4.2, §3.4.3).
    """
    prefix = f'"{stat.label}",' if stat is not None else ""
    try:
        message = pducodec.decode_incoming(pdu_hex)
    except pducodec.PduError:
        return f'{prefix}"",,""', pdu_hex
    if isinstance(message, pducodec.StatusReport):
        return f"{prefix}{report_fields(pdu_hex)}", ""
    # the raw semi-octets, as a modem shows them: an impossible TP-SCTS decodes to None
    header = f'{prefix}"{message.sender}",,"{semi_octet_text(message.scts_raw)}"'
    length = _length(message.encoding, message.text, message.data)
    if model.settings.csdh and listing:
        header += f",{message.sender_toa},{length}"
    elif model.settings.csdh:
        first = split_sca(pdu_hex)[1][0]
        sca = message.smsc or ""
        header += (
            f',{message.sender_toa},{first},{message.pid},{message.dcs},"{sca}",{toa(sca)},{length}'
        )
    return header, encode_text(model, message.text, message.encoding, message.data)


def _length(encoding: str, text: str, data: bytes | None) -> int:
    if encoding == "8bit":
        return len(data or b"")
    if encoding == "ucs2":
        return len(text.encode("utf-16-be"))
    return len(text)


def report_fields(pdu_hex: str) -> str:
    """Return ``<fo>,<mr>,"<ra>",<tora>,"<scts>","<dt>",<st>`` of a status report."""
    try:
        report = pducodec.decode_incoming(pdu_hex)
    except pducodec.PduError:
        return "6,0,,,,,"
    if not isinstance(report, pducodec.StatusReport):
        return "6,0,,,,,"
    return (
        f'6,{report.reference},"{report.recipient}",{toa(report.recipient)},'
        f'"{semi_octet_text(report.scts_raw)}","{semi_octet_text(report.discharge_raw)}",'
        f"{report.status}"
    )


def submit_lines(model: Device, pdu_hex: str, *, stat: Stat) -> tuple[str, str]:
    """Return (header, text) of a stored SMS-SUBMIT (AT+CMGW) in text mode."""
    try:
        submit = pducodec.decode_submit(pdu_hex)
    except pducodec.PduError:
        return f'"{stat.label}","",', pdu_hex
    header = f'"{stat.label}","{submit.number}",'
    if model.settings.csdh:
        header += f",{submit.number_toa},{tpdu_length(pdu_hex)}"
    return header, encode_text(model, submit.text, submit.encoding, submit.data)
