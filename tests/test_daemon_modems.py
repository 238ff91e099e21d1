"""Tests for start_sessions: which error it raises when no modem started, what it logs."""

from __future__ import annotations

import asyncio
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import pytest

from gateway.daemon.modems import first_error, start_sessions
from gateway.daemon.simulate import SimulatedSetup
from gateway.daemon.wiring import session_config
from gateway.log import capture
from gateway.modem.link import PortBusy
from gateway.modem.session import ModemSession
from gateway.modem.sim import PinRequired, WrongPin
from gateway.simulator import Simulator


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


def test_a_modem_failing_with_a_foreign_error_is_logged_without_its_message(
    tmp_path: Path,
) -> None:
    """A non-GatewayError at start is logged by type and frames, never by what it carries."""

    async def broken_initialise() -> None:
        raise KeyError("482913")  # stand-in for a bug whose message holds a code

    async def main() -> list[MutableMapping[str, Any]]:
        setup = SimulatedSetup.in_directory(tmp_path)
        (settings,) = setup.config().modem
        async with Simulator([setup.modem()]):
            session = ModemSession(session_config(settings, state_dir=setup.state_dir))
            session.initialise = broken_initialise  # type: ignore[method-assign]
            with capture() as events, pytest.raises(KeyError):
                await start_sessions({"sim0": session})
            await session.stop()
        return events

    events = asyncio.run(asyncio.wait_for(main(), 30))
    (failed,) = [e for e in events if e["event"] == "modem.start_failed"]
    assert failed["error"] == "KeyError"
    assert "reason" not in failed
    assert "in broken_initialise" in failed["frames"][-1]
    assert "482913" not in repr(events)  # nor in modem.state (the session's own reason)
