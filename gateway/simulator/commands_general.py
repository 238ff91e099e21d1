"""General commands: V.250 basics, identity, SIM, radio, registration (TS 27.007).

Each handler takes (model, command, now), returns information lines and raises
:class:`~gateway.simulator.results.CommandFailed` for an error result.
"""

from __future__ import annotations

from gateway.simulator.atcommand import Command, CommandSyntaxError, Form, parse_args
from gateway.simulator.device import Device, Handler, Spec
from gateway.simulator.registration import CELL, LAC, registration_urcs
from gateway.simulator.results import ERROR, CommandFailed, Failure, cme

OPERATOR = {0: "Fake Operator", 1: "Fake", 2: "310260"}
CSCS_SETS = ("GSM", "IRA", "UCS2", "HEX", "PCCP437", "8859-1")
#: ``+CME ERROR: 50``, incorrect parameters (TS 27.007 §9.2.1)
INCORRECT = cme(50)


def args(command: Command) -> list[str | int | None]:
    """Return the command's parsed arguments; raise CommandFailed(ERROR) on bad syntax."""
    try:
        return parse_args(command.args)
    except CommandSyntaxError:
        raise CommandFailed(ERROR) from None


def int_arg(command: Command, allowed: range, *, index: int = 0, default: int | None = None) -> int:
    """Return integer argument ``index`` within ``allowed``; raise CommandFailed(CME 50)."""
    values = args(command)
    value = values[index] if index < len(values) else None
    if value is None and default is not None:
        return default
    if not isinstance(value, int) or value not in allowed:
        raise CommandFailed(cme(50))
    return value


def ok(model: Device, command: Command, now: float) -> list[str]:
    """Accept and ignore (AT, ATQ0, AT&C, AT+CLIP=1 ...)."""
    return []


def _switch(command: Command) -> bool:
    """Return the on/off value of ``ATE``/``ATV`` (none means 0); raise CommandFailed(ERROR)."""
    value = int(command.args or "0")
    if value not in (0, 1):
        raise CommandFailed(ERROR)
    return value == 1


def _echo(model: Device, command: Command, now: float) -> list[str]:
    model.parser.echo = _switch(command)  # takes effect from the next byte (at-conformance §4.7)
    return []


def _verbose(model: Device, command: Command, now: float) -> list[str]:
    model.settings.verbose = _switch(command)
    return []


def _reset(model: Device, command: Command, now: float) -> list[str]:
    model.reset_settings()
    return []


def _no_carrier(model: Device, command: Command, now: float) -> list[str]:
    raise CommandFailed(ERROR)  # no voice/data calls on this modem


def _info(model: Device, command: Command, now: float) -> list[str]:
    p = model.profile
    return [p.manufacturer, p.model, f"Revision: {p.revision}"]


def _value(attr: str) -> Handler:
    def handler(model: Device, command: Command, now: float) -> list[str]:
        if command.form is Form.TEST:
            return []
        if command.form is not Form.EXEC:
            raise CommandFailed(ERROR)
        return [str(getattr(model.profile, attr))]

    return handler


def setting(
    name: str, label: str, allowed: range, test: str, *, invalid: Failure = INCORRECT
) -> Handler:
    """Build a handler for a one-integer setting with ?, =? and = forms.

    ``=`` takes exactly one value in ``allowed`` and fails with ``invalid`` otherwise
    (``+CME ERROR: 50``; the SMS settings of TS 27.005 say ``+CMS ERROR: 302``); any
    other form is a plain ``ERROR``.
    """

    def handler(model: Device, command: Command, now: float) -> list[str]:
        if command.form is Form.READ:
            return [f"{label}: {getattr(model.settings, name)}"]
        if command.form is Form.TEST:
            return [f"{label}: {test}"]
        if command.form is not Form.SET:
            raise CommandFailed(ERROR)
        values = args(command)
        if len(values) != 1 or not isinstance(values[0], int) or values[0] not in allowed:
            raise CommandFailed(invalid)
        setattr(model.settings, name, values[0])
        return []

    return handler


def _cpin(model: Device, command: Command, now: float) -> list[str]:
    if command.form is Form.TEST:
        return []
    if model.sim_busy(now):
        raise CommandFailed(cme(14))
    if command.form is Form.READ:
        return [f"+CPIN: {model.sim.state.value}"]
    if command.form is not Form.SET:
        raise CommandFailed(ERROR)
    values = args(command)
    code = values[0] if values else None
    new_pin = values[1] if len(values) > 1 else None
    if not isinstance(code, str | int) or not isinstance(new_pin, str | int | None):
        raise CommandFailed(cme(50))
    model.sim.enter(str(code), None if new_pin is None else str(new_pin))
    return []


def _cfun(model: Device, command: Command, now: float) -> list[str]:
    if command.form is Form.READ:
        return [f"+CFUN: {model.settings.cfun}"]
    if command.form is Form.TEST:
        return ["+CFUN: (0,1,4),(0,1)"]
    if command.form is not Form.SET:
        raise CommandFailed(ERROR)
    fun = int_arg(command, range(0, 5))
    reset = int_arg(command, range(2), index=1, default=0)
    if fun not in (0, 1, 4):
        raise CommandFailed(cme(50))
    if reset:
        # TS 27.007 §8.2: reset the MT before setting the level; the OK goes out first
        model.scheduler.call_at(now, model.power_on)
        return []
    was = model.registered(now)
    model.settings.cfun = fun
    if model.registered(now) != was:
        # the +CREG URCs follow the final result of this command (TS 27.007 §7.2)
        model.scheduler.call_at(now, lambda t: registration_urcs(model, t))
    return []


def _registration(name: str, with_act: bool) -> Handler:
    """Build +CREG/+CGREG/+CEREG (TS 27.007 §7.2, §10.1.20, §10.1.22)."""
    label = "+" + name.upper()

    def handler(model: Device, command: Command, now: float) -> list[str]:
        if command.form is Form.TEST:
            return [f"{label}: (0-2)"]
        if command.form is Form.SET:
            setattr(model.settings, name, int_arg(command, range(3)))
            return []
        if command.form is not Form.READ:
            raise CommandFailed(ERROR)
        n = getattr(model.settings, name)
        stat = model.registration_stat(now)
        if n == 2 and stat == 1:
            act = ",7" if with_act else ""
            return [f'{label}: {n},{stat},"{LAC}","{CELL}"{act}']
        return [f"{label}: {n},{stat}"]

    return handler


def _cops(model: Device, command: Command, now: float) -> list[str]:
    if command.form is Form.TEST:
        return [f'+COPS: (2,"{OPERATOR[0]}","{OPERATOR[1]}","{OPERATOR[2]}",7),,(0-4),(0-2)']
    if command.form is Form.READ:
        if not model.registered(now):
            return ["+COPS: 0"]
        fmt = model.settings.cops_format
        return [f'+COPS: 0,{fmt},"{OPERATOR[fmt]}"']
    if command.form is not Form.SET:
        raise CommandFailed(ERROR)
    mode = int_arg(command, range(5))
    if mode == 3:
        model.settings.cops_format = int_arg(command, range(3), index=1)
    return []


def _csq(model: Device, command: Command, now: float) -> list[str]:
    if command.form is Form.TEST:
        return ["+CSQ: (0-31,99),(0-7,99)"]
    return ["+CSQ: 20,99" if model.settings.cfun == 1 else "+CSQ: 99,99"]


def _cbc(model: Device, command: Command, now: float) -> list[str]:
    return [] if command.form is Form.TEST else [model.profile.battery]


def _cclk(model: Device, command: Command, now: float) -> list[str]:
    if command.form is not Form.READ:
        return []
    return [f'+CCLK: "{model.wall(now):%y/%m/%d,%H:%M:%S}+00"']


def _cgatt(model: Device, command: Command, now: float) -> list[str]:
    if command.form is Form.READ:
        return [f"+CGATT: {1 if model.registered(now) else 0}"]
    return ["+CGATT: (0,1)"] if command.form is Form.TEST else []


def _cscs(model: Device, command: Command, now: float) -> list[str]:
    if command.form is Form.READ:
        return [f'+CSCS: "{model.settings.cscs}"']
    if command.form is Form.TEST:
        return ["+CSCS: (" + ",".join(f'"{c}"' for c in CSCS_SETS) + ")"]
    values = args(command)
    if command.form is not Form.SET or len(values) != 1 or values[0] not in CSCS_SETS:
        raise CommandFailed(cme(50))
    model.settings.cscs = str(values[0])
    return []


def _clac(model: Device, command: Command, now: float) -> list[str]:
    names = [n for n, s in model.commands.items() if n[0] in "+^" and not s.vendor]
    names += sorted(model.profile.vendor_commands)
    return [f"AT{n}" for n in sorted(names)]


def _sparam(field: str, allowed: range) -> Handler:
    """An S-parameter (V.250 §5.3.2): ``ATSn=<v>`` sets it, ``ATSn?`` answers 3 digits."""

    def handler(model: Device, command: Command, now: float) -> list[str]:
        if command.form is Form.READ:
            return [f"{getattr(model.settings, field):03d}"]
        if command.form is Form.SET:
            value = int_arg(command, allowed)
            setattr(model.settings, field, value)
            return []
        raise CommandFailed(ERROR)

    return handler


HANDLERS: dict[str, Spec] = {
    "E": Spec(handler=_echo),
    "V": Spec(handler=_verbose),
    "Z": Spec(handler=_reset),
    "&F": Spec(handler=_reset),
    "I": Spec(handler=_info),
    "Q": Spec(handler=ok),
    "X": Spec(handler=ok),
    "H": Spec(handler=ok),
    "&C": Spec(handler=ok),
    "&D": Spec(handler=ok),
    "&W": Spec(handler=ok),
    "S0": Spec(handler=_sparam("s0", range(256))),
    "S7": Spec(handler=_sparam("s7", range(1, 256))),
    "D": Spec(handler=_no_carrier),
    "A": Spec(handler=_no_carrier),
    "+CGMI": Spec(handler=_value("manufacturer")),
    "+CGMM": Spec(handler=_value("model")),
    "+CGMR": Spec(handler=_value("revision")),
    "+CGSN": Spec(handler=_value("imei")),
    "+CIMI": Spec(handler=_value("imsi"), sim=True),
    "+CMEE": Spec(handler=setting("cmee", "+CMEE", range(3), "(0-2)")),
    "+CPIN": Spec(handler=_cpin),
    "+CFUN": Spec(handler=_cfun),
    "+CSQ": Spec(handler=_csq),
    "+CBC": Spec(handler=_cbc),
    "+CCLK": Spec(handler=_cclk),
    "+CREG": Spec(handler=_registration("creg", with_act=False)),
    "+CGREG": Spec(handler=_registration("cgreg", with_act=False)),
    "+CEREG": Spec(handler=_registration("cereg", with_act=True)),
    "+CGATT": Spec(handler=_cgatt),
    "+COPS": Spec(handler=_cops, sim=True),
    "+CSCS": Spec(handler=_cscs),
    "+CLAC": Spec(handler=_clac),
    "+CUSD": Spec(handler=ok),
    "+CLIP": Spec(handler=ok),
    "+CRC": Spec(handler=ok),
    "+CCWA": Spec(handler=ok),
    "^CURC": Spec(handler=setting("curc", "^CURC", range(2), "(0-1)"), vendor=True),
}
