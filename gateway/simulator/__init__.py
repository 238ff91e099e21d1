"""A GSM modem simulator: sans-I/O model, virtual SMSC, pty shell and control socket.

``Simulator`` runs in the caller's event loop; ``SimulatorThread`` runs it in a
background thread with a synchronous API (contracts.md, ``gateway.simulator``)::

    with SimulatorThread([ModemConfig(link=tmp_path / "modem")]) as sim:
        modem = sim.modems[0]
        modem.inject_sms("@example.com #123456")   # stored in SM, +CMTI per AT+CNMI
        ...                                         # a client opens modem.device
        modem.wait_sent(1, timeout=10)
        assert modem.sent()[0].text == "..."

Layout: ``atparse``/``atcommand`` frame and split command lines; ``model`` runs them
against the command tables (``commands_general``/``commands_sim``/``commands_sms``, which
see the modem as a ``device.Device`` and are registered with the model here: the model
imports none of them) with ``sim``, ``storage``, ``routing``, ``textmode`` and
``faults``; ``profiles`` holds vendor dialects as data; ``network`` is the SMSC;
``clock`` the timer heap; ``pty``, ``runner``, ``threaded`` and ``control`` are the I/O
shells.
"""

from __future__ import annotations

from gateway.simulator import commands_general, commands_sim, commands_sms, model
from gateway.simulator.config import PROFILE_NAMES, ModemConfig, SentMessage, SimulatorError
from gateway.simulator.faults import FAULT_PARAMS
from gateway.simulator.model import ModemModel
from gateway.simulator.runner import ModemHandle, Simulator
from gateway.simulator.threaded import SimulatorThread, ThreadModemHandle

# The command set every simulated modem runs: the tables register with the model.
for _table in (commands_general.HANDLERS, commands_sim.HANDLERS, commands_sms.HANDLERS):
    model.register(_table)

__all__ = [
    "FAULT_PARAMS",
    "PROFILE_NAMES",
    "ModemConfig",
    "ModemHandle",
    "ModemModel",
    "SentMessage",
    "Simulator",
    "SimulatorError",
    "SimulatorThread",
    "ThreadModemHandle",
]
