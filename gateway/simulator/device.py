"""What a command table may use of the modem it runs in: the :class:`Device` protocol.

The model (:mod:`.model`) runs the command handlers of the ``commands_*`` tables, its
router (:mod:`.routing`) and text mode (:mod:`.textmode`); they reach back into the
modem only through :class:`Device`, so none of them imports the model that calls them
(house style §8). The tables are handed to the model with :func:`.model.register`.
The volatile :class:`Settings` and the :class:`Entry` being typed are values shared by
both sides.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from gateway.simulator.atcommand import Command
from gateway.simulator.atparse import AtParser, EntryDone
from gateway.simulator.clock import Scheduler
from gateway.simulator.faults import Fault
from gateway.simulator.network import Network, Subscriber
from gateway.simulator.profiles import Profile
from gateway.simulator.sim import Sim
from gateway.simulator.storage import Memory


@dataclass(slots=True, kw_only=True)
class Settings:
    """Volatile settings a reset (ATZ, AT&F, power cycle) restores (mutable on purpose).

    Echo (ATE) lives in the parser, which decides it per received byte.
    """

    verbose: bool = True
    cmee: int = 0
    cmgf: int = 0
    cscs: str = "GSM"
    csdh: int = 0
    csmp: tuple[int, int, int, int] = (17, 167, 0, 0)
    cnmi: tuple[int, int, int, int, int] = (0, 0, 0, 0, 0)
    creg: int = 0
    cgreg: int = 0
    cereg: int = 0
    cops_format: int = 0
    cfun: int = 1
    curc: int = 1
    cpms: tuple[str, str, str] = ("SM", "SM", "SM")
    smsc: str = "+15550000000"
    smsc_toa: int = 145
    s0: int = 0  # V.250 §6.3.8 rings before auto-answer (0: never)
    s7: int = 60  # V.250 §6.3.9 connection completion timeout (the gateway's resync nonce)


@dataclass(frozen=True, slots=True, kw_only=True)
class Entry:
    """A message being typed after ``> ``: for AT+CMGS or AT+CMGW, PDU or text."""

    command: str
    length: int = 0
    stat: int = 2
    number: str = ""


class PendingAck(Protocol):
    """The router's state a command sees: a routed ``+CMT`` awaits AT+CNMA (TS 27.005 §3.4.4)."""

    pending_ack: bool


class Device(Subscriber, Protocol):
    """The modem as its command handlers, router and text mode see it (and the network)."""

    profile: Profile
    settings: Settings
    sim: Sim
    iccid: str
    parser: AtParser
    scheduler: Scheduler
    network: Network
    memories: dict[str, Memory]
    faults: dict[str, Fault]
    fault_uses: dict[str, int]

    @property
    def router(self) -> PendingAck:
        """Where arriving messages go; commands see whether a +CMT awaits its AT+CNMA."""

    @property
    def commands(self) -> Mapping[str, Spec]:
        """The command table the modem runs (AT+CLAC lists it)."""

    def power_on(self, now: float) -> None:
        """Power cycle: settings lost, SIM asks its PIN again, boot URCs once it is ready."""

    def reset_settings(self) -> None:
        """ATZ / AT&F: back to power-on settings (TS 27.007 §4.1, V.250 §6.1.1)."""

    def sim_busy(self, now: float) -> bool:
        """Return True while the SIM is still initialising after power-on."""

    def registered(self, now: float) -> bool:
        """Return True when the modem is registered on the home network."""

    def registration_stat(self, now: float) -> int:
        """Return +CREG <stat> (TS 27.007 §7.2): 1 registered, else 0 or the fault's stat."""

    def wall(self, now: float) -> datetime:
        """Return the wall-clock time (UTC) of ``now``."""

    def emit(self, data: bytes, now: float, delay: float = 0.0) -> None:
        """Write ``data`` after ``delay`` s, never before output already scheduled."""

    def urc(self, text: str, now: float) -> None:
        """Write an unsolicited result code (possibly several lines) as one unit."""

    def begin_entry(self, entry: Entry) -> None:
        """Have the line end with the ``> `` prompt and read a message next."""

    def clear_fault(self, name: str | None = None, now: float | None = None) -> None:
        """Clear one fault (or all); raise SimulatorError for an unknown name."""

    def memory(self, name: str) -> Memory:
        """Return the memory called ``name``; raise SimulatorError for an unknown one."""


#: A command handler: (modem, command, now) -> information lines; raises CommandFailed.
Handler = Callable[[Device, Command, float], list[str]]
#: Completes a command that took a message after ``> `` (AT+CMGS, AT+CMGW): (modem, the
#: entry, the typed text, now) -> (information lines, extra reply delay); raises
#: CommandFailed.
Finisher = Callable[[Device, Entry, EntryDone, float], tuple[list[str], float]]


@dataclass(frozen=True, slots=True, kw_only=True)
class Spec:
    """How to run one command: its handler, whether it needs the SIM, vendor-only.

    ``finish`` completes a command whose handler began an entry (``Device.begin_entry``).
    """

    handler: Handler
    sim: bool = False
    vendor: bool = False
    finish: Finisher | None = None
