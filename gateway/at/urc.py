"""Recognising unsolicited result codes, including vendor noise, as data-driven tables.

Some tags are both URCs and replies (``+CREG: 1`` unsolicited vs ``+CREG: 0,1`` answering
``AT+CREG?``). :data:`REPLY_FORMS` says how to tell them apart; the engine only asks when
the pending command expects that tag.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from gateway.at.events import (
    CallerId,
    MalformedUrc,
    NewMessage,
    NewReport,
    NoticeKind,
    Registration,
    Ring,
    SimState,
    Urc,
    VendorNotice,
)
from gateway.at.lines import fields, is_int, tag_of, unquote

K = NoticeKind

#: tag (or whole line, upper case) -> (kind, means the module restarted). Vendor noise as
#: data: Huawei ^-notices (silenced by AT^CURC=0), SIMCom start-up lines, Quectel +QIND.
VENDOR_NOTICES: dict[str, tuple[NoticeKind, bool]] = {
    "^RSSI": (K.SIGNAL, False),
    "^HRSSILVL": (K.SIGNAL, False),
    "^HCSQ": (K.SIGNAL, False),
    "^CERSSI": (K.SIGNAL, False),
    "^MODE": (K.MODE, False),
    "^SRVST": (K.SERVICE, False),
    "^SIMST": (K.SERVICE, False),
    "^SYSINFOEX": (K.SERVICE, False),
    "^BOOT": (K.BOOT, False),  # Huawei periodic boot/heartbeat line, not a restart
    "^SYSSTART": (K.BOOT, True),
    "^DSFLOWRPT": (K.INDICATION, False),
    "^STIN": (K.INDICATION, False),
    "^NDISSTAT": (K.INDICATION, False),
    # ZTE (K3565-Z and kin): network name, service mode, SIM/storage nags; ModemManager's
    # ZTE plugin drops the same lines as unsolicited noise
    "+ZDONR": (K.SERVICE, False),
    "+ZPASR": (K.MODE, False),
    "+ZUSIMR": (K.INDICATION, False),
    "+ZPSTM": (K.INDICATION, False),
    "+ZEND": (K.INDICATION, False),
    "+QIND": (K.INDICATION, False),
    "+QUSIM": (K.INDICATION, False),
    "+CIEV": (K.INDICATION, False),
    "+CTZV": (K.INDICATION, False),
    "+CTZE": (K.INDICATION, False),
    "*PSUTTZ": (K.INDICATION, False),
    "+PSUTTZ": (K.INDICATION, False),
    "DST": (K.INDICATION, False),
    "+CFUN": (K.READY, False),  # SIMCom announces +CFUN: 1 while starting
    "RDY": (K.BOOT, True),  # SIMCom/Quectel: the module has (re)started
    "SMS READY": (K.READY, True),  # SIMCom: SMS subsystem ready after a (re)start
    "CALL READY": (K.READY, False),
    "PB DONE": (K.READY, False),
    "NORMAL POWER DOWN": (K.INDICATION, False),
    "UNDER-VOLTAGE WARNNING": (K.INDICATION, False),
    "UNDER-VOLTAGE WARNING": (K.INDICATION, False),
}


def _second_is_int(parts: list[str]) -> bool:
    return len(parts) >= 2 and is_int(parts[1])


def _first_is_int(parts: list[str]) -> bool:
    return bool(parts) and is_int(parts[0])


def _always(parts: list[str]) -> bool:
    return True


#: tag -> predicate on the fields: True when the line is the reply form. The reply to
#: AT+CREG? starts with <n> and then <stat> (TS 27.007 §7.2) while the URC starts with
#: <stat> and continues with a quoted <lac>; likewise +CGREG/+CEREG. +CLIP's reply is
#: <n>,<m>; its URC starts with a quoted number (§7.6).
REPLY_FORMS: dict[str, Callable[[list[str]], bool]] = {
    "+CREG": _second_is_int,
    "+CGREG": _second_is_int,
    "+CEREG": _second_is_int,
    "+C5GREG": _second_is_int,
    "+CLIP": _first_is_int,
    "+CPIN": _always,
    "+CFUN": _always,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class PduHeader:
    """The first line of a two-line URC (``+CMT``/``+CDS``); the PDU line follows."""

    tag: str
    length: int
    line: str


def _stored(tag: str, line: str, parts: list[str]) -> Urc:
    if len(parts) < 2 or not is_int(parts[1]):
        return MalformedUrc(line=line, reason=f"{tag} needs <mem>,<index>")
    memory = unquote(parts[0]).upper()
    index = int(parts[1])
    if tag == "+CMTI":
        return NewMessage(memory=memory, index=index)
    return NewReport(memory=memory, index=index)


def _registration(tag: str, parts: list[str]) -> Urc | None:
    if not parts or not is_int(parts[0]):
        return None
    area = unquote(parts[1]) or None if len(parts) > 1 else None
    cell = unquote(parts[2]) or None if len(parts) > 2 else None
    return Registration(domain=tag[1:], stat=int(parts[0]), area=area, cell=cell)


def classify(line: str, expected: tuple[str, ...]) -> Urc | PduHeader | None:
    """Return the URC ``line`` is, a :class:`PduHeader`, or ``None`` if it is no URC.

    ``expected`` are the tags the pending command answers with; a tag that can be both a
    reply and a URC is only a URC when its fields are not in the reply form.
    """
    upper = line.upper()
    tag = tag_of(line)
    if tag is None:
        if upper == "RING":
            return Ring()
        head = upper.split(":")[0].strip()
        notice = VENDOR_NOTICES.get(upper) or VENDOR_NOTICES.get(head)
        if notice is not None:
            return VendorNotice(kind=notice[0], tag=head, line=line, restart=notice[1])
        return None
    parts = fields(line)
    reply_form = REPLY_FORMS.get(tag)
    if tag in expected and (reply_form is None or reply_form(parts)):
        return None
    if tag in ("+CMTI", "+CDSI"):
        return _stored(tag, line, parts)
    if tag in ("+CMT", "+CDS"):
        if not parts or not is_int(parts[-1]):
            return MalformedUrc(line=line, reason=f"{tag} without a PDU length (text mode?)")
        return PduHeader(tag=tag, length=int(parts[-1]), line=line)
    if tag in ("+CREG", "+CGREG", "+CEREG", "+C5GREG"):
        return _registration(tag, parts) or MalformedUrc(line=line, reason="bad registration")
    if tag == "+CLIP":
        if not parts or not parts[0].startswith('"'):
            return MalformedUrc(line=line, reason="+CLIP without a number")
        toa = int(parts[1]) if len(parts) > 1 and is_int(parts[1]) else None
        return CallerId(number=unquote(parts[0]), toa=toa)
    if tag == "+CPIN":
        return SimState(state=line.partition(":")[2].strip().upper())
    notice = VENDOR_NOTICES.get(tag)
    if notice is not None:
        return VendorNotice(kind=notice[0], tag=tag, line=line, restart=notice[1])
    return None
