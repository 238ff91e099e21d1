"""Fault injection: names, parameters and their validation (contracts.md, issue 3).

A fault is a value; the model consults the active faults at the points where a real
modem would misbehave. Parameters are checked here so a bad request from the control
socket gets an error reply instead of corrupting the model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from gateway.simulator.config import SimulatorError

#: fault name -> {parameter: (accepted types, default)}; default None = optional/absent
FAULT_PARAMS: dict[str, dict[str, tuple[tuple[type, ...], object]]] = {
    # on: go silent when a command line starting with this arrives (e.g. "AT+CMGD");
    # phase "body": for AT+CMGS/AT+CMGW, only once the message body was taken (the network
    # accepted the SMS; its +CMGS result never comes). Without ``on``: silent at once.
    "silent": {"on": ((str, type(None)), None), "phase": ((str,), "command")},
    "late-reply": {"delay": ((int, float), 2.0)},
    # pull the cable when the ``nth`` command line starting with ``on`` arrives (that line
    # is never answered); plug it back ``replug_after`` seconds later (None: stay out)
    "unplug": {
        "on": ((str,), "AT"),
        "nth": ((int,), 1),
        "replug_after": ((int, float, type(None)), None),
    },
    "late-prompt": {"delay": ((int, float), 2.0)},
    "urc-in-response": {"urc": ((str,), '+CMTI: "SM",1')},
    # when "next": before the next output; "inside": after the first information line of
    # the next reply that has one (between a +CMGR header and its PDU line, say)
    "garbage": {"bytes": ((bytes, str), b"\xff\xfe\r\nGARBAGE\x00\r\n"), "when": ((str,), "now")},
    # when "power-on": armed now, the storm starts at the next power-on (reboot, replug)
    "cme-storm": {
        "codes": ((list, tuple), (14, 515)),
        "count": ((int,), 5),
        "when": ((str,), "now"),
    },
    "cms-on-send": {"code": ((int,), 500), "times": ((int, type(None)), 1)},
    "storage-full": {},
    "no-urc": {},
    # the network is out of reach: +CREG/+CEREG report <stat> (2: searching) until cleared
    "no-network": {"stat": ((int,), 2)},
    # command lines starting with any of ``on`` fail: +CME ERROR <cme>, +CMS ERROR <cms>,
    # or plain ERROR (e.g. a modem that lacks AT+CNMI=2,1,0,2,0)
    "refuse": {
        "on": ((str, list, tuple), ()),
        "cme": ((int, type(None)), None),
        "cms": ((int, type(None)), None),
    },
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Fault:
    """One active fault and its validated parameters."""

    name: str
    params: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.name not in FAULT_PARAMS:
            raise SimulatorError(f"unknown fault {self.name!r}; one of {sorted(FAULT_PARAMS)}")


def make_fault(name: str, params: Mapping[str, object]) -> Fault:
    """Return a validated fault; raise SimulatorError for an unknown name or bad parameter."""
    schema = FAULT_PARAMS.get(name)
    if schema is None:
        raise SimulatorError(f"unknown fault {name!r}; one of {sorted(FAULT_PARAMS)}")
    unknown = set(params) - set(schema)
    if unknown:
        raise SimulatorError(f"fault {name!r} has no parameter(s) {sorted(unknown)}")
    values: dict[str, object] = {}
    for key, (types, default) in schema.items():
        value = params.get(key, default)
        if isinstance(value, bool) or not isinstance(value, types):
            raise SimulatorError(f"fault {name!r}: bad {key!r}")
        values[key] = value
    _check(name, values)
    return Fault(name=name, params=values)


def _check(name: str, values: dict[str, object]) -> None:
    delay = values.get("delay")
    if isinstance(delay, int | float) and not 0 <= delay <= 3600:
        raise SimulatorError("delay must be 0..3600 s")
    if name == "garbage":
        raw = values["bytes"]
        values["bytes"] = raw.encode("latin-1", "replace") if isinstance(raw, str) else raw
        if values["when"] not in ("now", "next", "inside"):
            raise SimulatorError("garbage 'when' must be 'now', 'next' or 'inside'")
    if name == "cme-storm":
        codes = values["codes"]
        if not isinstance(codes, list | tuple) or not codes:
            raise SimulatorError("cme-storm needs a non-empty list of codes")
        if not all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in codes):
            raise SimulatorError("cme-storm codes must be non-negative integers")
        values["codes"] = tuple(codes)
        count = values["count"]
        if not isinstance(count, int) or count < 1:
            raise SimulatorError("cme-storm count must be >= 1")
        if values["when"] not in ("now", "power-on"):
            raise SimulatorError("cme-storm 'when' must be 'now' or 'power-on'")
    if name == "no-network" and values["stat"] not in (0, 2, 3, 4):
        raise SimulatorError("no-network stat must be 0, 2, 3 or 4 (not registered)")
    if name == "refuse":
        on = values["on"]
        prefixes: tuple[object, ...] = (on,) if isinstance(on, str) else ()
        if isinstance(on, list | tuple):
            prefixes = tuple(on)
        if not prefixes or not all(isinstance(p, str) and p[:2].upper() == "AT" for p in prefixes):
            raise SimulatorError("refuse 'on' must be command prefixes starting with AT")
        values["on"] = prefixes
        if values["cme"] is not None and values["cms"] is not None:
            raise SimulatorError("refuse takes cme or cms, not both")
        for key in ("cme", "cms"):
            code = values[key]
            if code is not None and (not isinstance(code, int) or not 0 <= code <= 999):
                raise SimulatorError(f"refuse {key} must be 0..999")
    if name == "cms-on-send":
        code, times = values["code"], values["times"]
        if not isinstance(code, int) or not 0 <= code <= 999:
            raise SimulatorError("cms-on-send code must be 0..999")
        if times is not None and (not isinstance(times, int) or times < 1):
            raise SimulatorError("cms-on-send times must be >= 1 or None (always)")
    if name == "silent":
        on = values["on"]
        if on is not None and (not isinstance(on, str) or on[:2].upper() != "AT"):
            raise SimulatorError("silent 'on' must be a command prefix starting with AT")
        if values["phase"] not in ("command", "body"):
            raise SimulatorError("silent 'phase' must be 'command' or 'body'")
    if name == "unplug":
        on, nth, after = values["on"], values["nth"], values["replug_after"]
        if not isinstance(on, str) or on[:2].upper() != "AT":
            raise SimulatorError("unplug 'on' must be a command prefix starting with AT")
        if not isinstance(nth, int) or nth < 1:
            raise SimulatorError("unplug 'nth' must be >= 1")
        if isinstance(after, int | float) and not 0 <= after <= 3600:
            raise SimulatorError("unplug 'replug_after' must be 0..3600 s")
    if name == "urc-in-response":
        urc = values["urc"]
        if not isinstance(urc, str) or not urc or "\r" in urc or "\n" in urc:
            raise SimulatorError("urc must be one non-empty line")
