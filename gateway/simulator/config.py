"""Values describing a simulated modem and what its network accepted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from gateway.errors import UsageError
from gateway.simulator.atcommand import is_number
from gateway.simulator.profiles import PROFILES

#: every profile the simulator can play: vendor models and recorded real devices
PROFILE_NAMES = tuple(PROFILES)


class SimulatorError(UsageError):
    """The simulator was asked for something illegal (bad config, fault, index, request)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ModemConfig:
    """One simulated modem: its own number, vendor profile, pty link and SIM."""

    number: str = "+15550000001"
    profile: str = "generic"
    link: Path | None = None
    pin: str | None = None
    iccid: str | None = None  # None: the profile's
    sim_busy_seconds: float = 0.0
    storage_capacity: int = 30

    def __post_init__(self) -> None:
        if self.profile not in PROFILE_NAMES:
            raise SimulatorError(f"unknown profile {self.profile!r}; one of {PROFILE_NAMES}")
        digits = self.number.removeprefix("+")
        if not is_number(digits) or not 3 <= len(digits) <= 15:
            raise SimulatorError("number must be digits, optionally with a leading +")
        if self.pin is not None and not (is_number(self.pin) and 4 <= len(self.pin) <= 8):
            raise SimulatorError("pin must be 4 to 8 digits")
        if self.iccid is not None and not (is_number(self.iccid) and 18 <= len(self.iccid) <= 20):
            raise SimulatorError("iccid must be 18 to 20 digits")
        if self.sim_busy_seconds < 0:
            raise SimulatorError("sim_busy_seconds must be >= 0")
        if not 1 <= self.storage_capacity <= 255:
            raise SimulatorError("storage_capacity must be 1..255")


@dataclass(frozen=True, slots=True, kw_only=True)
class SentMessage:
    """One SMS-SUBMIT the virtual network accepted from a modem (one per part)."""

    number: str
    text: str
    pdu: str
    reference: int
    time: datetime
    concat_reference: int | None = None
    parts: int = 1
    part: int = 1
    status_report_requested: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.reference <= 255:
            raise ValueError("TP-MR is one octet")
        if not 1 <= self.part <= self.parts:
            raise ValueError("part out of range")
