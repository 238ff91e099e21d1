"""SIM identity and PIN counters: AT+CCID, AT+ICCID, AT+CRSM (EF_ICCID), AT+CPINR, AT+SPIC.

Which of them a modem answers is profile data (``vendor_commands``); AT+CRSM is
standard (TS 27.007 §8.18). EF_ICCID (file 2FE2, TS 51.011 §10.1.1) is readable before the
PIN is entered, so every command here works while the SIM asks for its PIN; only a SIM
still starting answers ``+CME ERROR: 14``. The counters come from the SIM model.
"""

from __future__ import annotations

from gateway.simulator.atcommand import Command, Form
from gateway.simulator.commands_general import args
from gateway.simulator.device import Device, Handler, Spec
from gateway.simulator.results import ERROR, CommandFailed, cme

#: TS 27.007 §8.18 <command> READ BINARY and the EF_ICCID file id (TS 51.011 §10.1.1)
READ_BINARY = 176
EF_ICCID = 0x2FE2


def iccid_bcd(iccid: str) -> str:
    """Return EF_ICCID's content as hex: BCD digits swapped per octet, padded with F."""
    digits = iccid + "F" * (20 - len(iccid))
    return "".join(digits[i + 1] + digits[i] for i in range(0, 20, 2))


def _not_busy(model: Device, now: float) -> None:
    if model.sim_busy(now):
        raise CommandFailed(cme(14))


def _ccid(tag: str) -> Handler:
    def handler(model: Device, command: Command, now: float) -> list[str]:
        if command.form is Form.TEST:
            return []
        if command.form not in (Form.EXEC, Form.READ):
            raise CommandFailed(ERROR)
        _not_busy(model, now)
        # SIM800 answers a bare number; most others tag it (+CCID: / +ICCID:)
        return [model.iccid if model.profile.ccid_bare else f"{tag}: {model.iccid}"]

    return handler


def _crsm(model: Device, command: Command, now: float) -> list[str]:
    if command.form is Form.TEST:
        return []
    values = args(command)
    if command.form is not Form.SET or len(values) < 2:
        raise CommandFailed(cme(50))
    _not_busy(model, now)
    if values[0] != READ_BINARY or values[1] != EF_ICCID:
        return ["+CRSM: 106,130"]  # SW 6A82: file not found (only EF_ICCID is modelled)
    return [f'+CRSM: 144,0,"{iccid_bcd(model.iccid)}"']  # SW 9000: normal ending


def _cpinr(model: Device, command: Command, now: float) -> list[str]:
    """TS 27.007 §8.65: ``+CPINR: <code>,<retries>,<default_retries>`` per matching code."""
    if command.form is Form.TEST:
        return []
    values = args(command)
    if command.form not in (Form.EXEC, Form.SET) or len(values) > 1:
        raise CommandFailed(cme(50))
    _not_busy(model, now)
    wanted = str(values[0]) if values and values[0] is not None else "*"
    sim = model.sim
    rows = {"SIM PIN": (sim.pin_left, 3), "SIM PUK": (sim.puk_left, 10)}
    lines = []
    for code, (left, default) in rows.items():
        # <sel_code> may end in a "*" wildcard
        if code == wanted or (wanted.endswith("*") and code.startswith(wanted[:-1])):
            lines.append(f"+CPINR: {code},{left},{default}")
    return lines


def _spic(model: Device, command: Command, now: float) -> list[str]:
    """SIMCom ``+SPIC: <pin1>,<puk1>,<pin2>,<puk2>`` (PIN2 is not modelled: 3, 10)."""
    if command.form is Form.TEST:
        return []
    _not_busy(model, now)
    return [f"+SPIC: {model.sim.pin_left},{model.sim.puk_left},3,10"]


HANDLERS: dict[str, Spec] = {
    "+CCID": Spec(handler=_ccid("+CCID"), vendor=True),
    "+ICCID": Spec(handler=_ccid("+ICCID"), vendor=True),
    "+CRSM": Spec(handler=_crsm),
    "+CPINR": Spec(handler=_cpinr, vendor=True),
    "+SPIC": Spec(handler=_spic, vendor=True),
}
