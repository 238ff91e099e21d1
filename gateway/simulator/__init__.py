"""A GSM modem simulator: sans-I/O model, virtual SMSC, pty shell and control socket.

``Simulator`` runs in the caller's event loop; ``SimulatorThread`` runs it in a
background thread with a synchronous API (contracts.md, ``gateway.simulator``).
"""

from __future__ import annotations

from gateway.simulator.config import PROFILE_NAMES, ModemConfig, SentMessage, SimulatorError
from gateway.simulator.faults import FAULT_PARAMS
from gateway.simulator.model import ModemModel
from gateway.simulator.runner import ModemHandle, Simulator
from gateway.simulator.threaded import SimulatorThread, ThreadModemHandle

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
