"""SMS commands of TS 27.005 §3: service, settings and sending (storage: commands_storage)."""

from __future__ import annotations

from gateway.simulator import commands_storage, textmode
from gateway.simulator.atcommand import Command, Form
from gateway.simulator.atparse import EntryDone
from gateway.simulator.commands_general import args, setting
from gateway.simulator.commands_storage import memory_slot, stored_arg
from gateway.simulator.device import Device, Entry, Spec
from gateway.simulator.results import CommandFailed, cms
from gateway.simulator.storage import STAT_BY_LABEL, Stat
from gateway.simulator.tpdu import TpduError, tpdu_length
from gateway.sms import pdu as pducodec

#: TP-SRR in the first octet of an SMS-SUBMIT (TS 23.040 §9.2.3.5), set via AT+CSMP <fo>
SRR = 0x20


def _csms(model: Device, command: Command, now: float) -> list[str]:
    if command.form is Form.READ:
        return ["+CSMS: 0,1,1,1"]
    if command.form is Form.TEST:
        return ["+CSMS: (0,1)"]
    values = args(command)
    if command.form is not Form.SET or values not in ([0], [1]):
        raise CommandFailed(cms(302))
    return ["+CSMS: 1,1,1"]


def _csmp(model: Device, command: Command, now: float) -> list[str]:
    if command.form is Form.READ:
        return ["+CSMP: " + ",".join(str(v) for v in model.settings.csmp)]
    if command.form is Form.TEST:
        return []
    values = args(command)
    current = list(model.settings.csmp)
    if command.form is not Form.SET or not 1 <= len(values) <= 4:
        raise CommandFailed(cms(305))
    for i, value in enumerate(values):
        if value is None:
            continue
        if not isinstance(value, int) or not 0 <= value <= 255:
            raise CommandFailed(cms(305))
        current[i] = value
    model.settings.csmp = (current[0], current[1], current[2], current[3])
    return []


def _csca(model: Device, command: Command, now: float) -> list[str]:
    if command.form is Form.READ:
        return [f'+CSCA: "{model.settings.smsc}",{model.settings.smsc_toa}']
    if command.form is Form.TEST:
        return []
    values = args(command)
    number = values[0] if values else None
    if command.form is not Form.SET or not isinstance(number, str) or not number:
        raise CommandFailed(cms(304 if model.settings.cmgf == 0 else 305))
    toa = values[1] if len(values) > 1 else None
    model.settings.smsc = number
    model.settings.smsc_toa = toa if isinstance(toa, int) else textmode.toa(number)
    return []


CNMI_RANGES = (range(4), range(4), range(0, 3, 2), range(3), range(2))


def _cnmi(model: Device, command: Command, now: float) -> list[str]:
    if command.form is Form.READ:
        return ["+CNMI: " + ",".join(str(v) for v in model.settings.cnmi)]
    if command.form is Form.TEST:
        return ["+CNMI: (0-2),(0-3),(0,2),(0-2),(0,1)"]
    values = args(command)
    if command.form is not Form.SET or not 1 <= len(values) <= 5:
        raise CommandFailed(cms(302))
    new = [0, 0, 0, 0, 0]
    for i, given in enumerate(values):
        value = 0 if given is None else given
        if not isinstance(value, int) or value not in CNMI_RANGES[i]:
            raise CommandFailed(cms(303))
        new[i] = value
    model.settings.cnmi = (new[0], new[1], new[2], new[3], new[4])
    return []


def _cnma(model: Device, command: Command, now: float) -> list[str]:
    if command.form is Form.TEST:
        return ["+CNMA: (0-2)"]
    if not model.router.pending_ack:
        raise CommandFailed(cms(340))
    model.router.pending_ack = False
    return []


def _can_send(model: Device, now: float) -> None:
    if not model.registered(now):
        raise CommandFailed(cms(331))
    fault = model.faults.get("cms-on-send")
    if fault is not None:
        code, times = fault.params["code"], fault.params["times"]
        assert isinstance(code, int)
        used = model.fault_uses.get("cms-on-send", 0) + 1
        model.fault_uses["cms-on-send"] = used
        if isinstance(times, int) and used >= times:
            model.clear_fault("cms-on-send")
        raise CommandFailed(cms(code))


def _cmgs(model: Device, command: Command, now: float) -> list[str]:
    if command.form is Form.TEST:
        return []
    values = args(command)
    if command.form is not Form.SET or not values:
        raise CommandFailed(cms(304 if model.settings.cmgf == 0 else 305))
    name = command.name
    if model.settings.cmgf == 0:
        length, stat = values[0], values[1] if name == "+CMGW" and len(values) > 1 else 2
        # TS 27.005 §3.5.1: <length> is the TPDU length in octets (at most 164 + header)
        if not isinstance(length, int) or not 1 <= length <= 180:
            raise CommandFailed(cms(304))
        if not isinstance(stat, int) or not 0 <= stat <= 3:
            raise CommandFailed(cms(304))
        model.begin_entry(Entry(command=name, length=length, stat=stat))
        return []
    number = values[0]
    if not isinstance(number, str) or not number:
        raise CommandFailed(cms(305))
    label = values[2] if name == "+CMGW" and len(values) > 2 else "STO UNSENT"
    model.begin_entry(Entry(command=name, number=number, stat=STAT_BY_LABEL.get(str(label), 2)))
    return []


def finish_entry(
    model: Device, entry: Entry, event: EntryDone, now: float
) -> tuple[list[str], float]:
    """Complete AT+CMGS/AT+CMGW after Ctrl-Z; return (info lines, extra reply delay).

    Raises CommandFailed with the +CMS ERROR a modem gives (304/305/322/331/...).
    """
    if event.overflow:
        raise CommandFailed(cms(304 if model.settings.cmgf == 0 else 305))
    if model.settings.cmgf == 0:
        pdu_hex = event.text.replace(" ", "").upper()
        try:
            if tpdu_length(pdu_hex) != entry.length:
                raise CommandFailed(cms(304))
            pducodec.decode_submit(pdu_hex)
        except (TpduError, pducodec.PduError):
            raise CommandFailed(cms(304)) from None
    else:
        try:
            text = textmode.decode_input(model, event.text)
            srr = bool(model.settings.csmp[0] & SRR)
            parts = pducodec.encode_submit(entry.number, text, request_status_report=srr)
        except (textmode.TextInputError, pducodec.PduError, ValueError):
            raise CommandFailed(cms(305)) from None
        if len(parts) != 1:
            raise CommandFailed(cms(305))  # one AT+CMGS sends one SMS
        pdu_hex = parts[0].hex
    if entry.command == "+CMGW":
        full = "storage-full" in model.faults
        index = None if full else memory_slot(model, 1).store(pdu_hex, Stat(entry.stat))
        if index is None:
            raise CommandFailed(cms(322))
        return [f"+CMGW: {index}"], 0.0
    return _send(model, pdu_hex, now)


def _send(model: Device, pdu_hex: str, now: float) -> tuple[list[str], float]:
    _can_send(model, now)
    try:
        reference, took = model.network.submit(model, pdu_hex, now)
    except (TpduError, pducodec.PduError):
        raise CommandFailed(cms(304)) from None
    return [f"+CMGS: {reference}"], took


def _cmss(model: Device, command: Command, now: float) -> list[str]:
    if command.form is Form.TEST:
        return []
    stored = stored_arg(model, command, 1)
    pdu_hex = stored.pdu
    values = args(command)
    if len(values) > 1 and isinstance(values[1], str):
        try:
            submit = pducodec.decode_submit(pdu_hex)
            pdu_hex = pducodec.encode_submit(
                values[1], submit.text, request_status_report=submit.status_report_requested
            )[0].hex
        except (pducodec.PduError, ValueError):
            raise CommandFailed(cms(304)) from None
    lines, delay = _send(model, pdu_hex, now)
    stored.stat = Stat.STO_SENT
    model.emit(b"", now, delay)
    return [lines[0].replace("+CMGS", "+CMSS")]


HANDLERS: dict[str, Spec] = {
    "+CSMS": Spec(handler=_csms),
    "+CMGF": Spec(handler=setting("cmgf", "+CMGF", range(2), "(0,1)", invalid=cms(302))),
    "+CSDH": Spec(handler=setting("csdh", "+CSDH", range(2), "(0,1)", invalid=cms(302))),
    "+CSMP": Spec(handler=_csmp),
    "+CSCA": Spec(handler=_csca, sim=True),
    "+CNMI": Spec(handler=_cnmi),
    "+CNMA": Spec(handler=_cnma),
    "+CMGS": Spec(handler=_cmgs, sim=True, finish=finish_entry),
    "+CMGW": Spec(handler=_cmgs, sim=True, finish=finish_entry),
    "+CMSS": Spec(handler=_cmss, sim=True),
    **commands_storage.HANDLERS,
}
