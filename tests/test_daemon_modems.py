"""Tests for which error start_sessions raises when no modem started."""

from __future__ import annotations

import asyncio

from gateway.daemon.modems import first_error
from gateway.modem.link import PortBusy
from gateway.modem.sim import PinRequired, WrongPin


def test_sim_error_wins_over_an_earlier_port_error() -> None:
    """Modem A busy, modem B wrong PIN: the SIM error is raised (the CLI exits 78)."""
    busy = PortBusy("busy", ())
    wrong = WrongPin("wrong")
    assert first_error([busy, wrong]) is wrong
    assert first_error([wrong, PinRequired("none")]) is wrong


def test_cancellation_comes_first_and_else_the_first_error() -> None:
    """A cancellation beats everything; without SIM errors the first error is raised."""
    cancelled = asyncio.CancelledError()
    busy, other = PortBusy("busy", ()), PortBusy("other", ())
    assert first_error([WrongPin("wrong"), cancelled]) is cancelled
    assert first_error([busy, other]) is busy
