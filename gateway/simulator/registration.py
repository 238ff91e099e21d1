"""Registration reports: the +CREG/+CGREG/+CEREG URCs a change of registration sends.

Both the model (a fault that changes registration) and the AT+CFUN handler send them,
so they live here rather than in either (TS 27.007 §7.2, §10.1.20, §10.1.22).
"""

from __future__ import annotations

from gateway.simulator.device import Device

#: the serving cell every simulated modem reports (location area code, cell id; hex)
LAC, CELL = "00C3", "0000A1B2"


def registration_urcs(model: Device, now: float) -> None:
    """Write +CREG/+CGREG/+CEREG URCs for every registration report that is enabled."""
    stat = model.registration_stat(now)
    for name, act in (("creg", ""), ("cgreg", ""), ("cereg", ",7")):
        n = getattr(model.settings, name)
        if n == 1 or (n == 2 and stat != 1):
            model.urc(f"+{name.upper()}: {stat}", now)
        elif n == 2:
            model.urc(f'+{name.upper()}: {stat},"{LAC}","{CELL}"{act}', now)
