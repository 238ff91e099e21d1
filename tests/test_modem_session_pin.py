"""Tests for the modem session's SIM PIN handling against the simulator."""

from __future__ import annotations

from pathlib import Path

import pytest
from modem_session_helpers import config, ready_after, run

from gateway.modem.session import ModemSession
from gateway.modem.sim import PinRequired, WrongPin
from gateway.modem.status import SessionState
from gateway.simulator import ModemConfig, ModemHandle


def test_pin_entered_once_and_again_after_reboot(tmp_path: Path) -> None:
    """The configured PIN unlocks the SIM; after a restart it is entered again."""

    async def scenario(modem: ModemHandle, session: ModemSession) -> None:
        assert modem.state()["sim"] == "READY"
        assert modem.state()["pin_attempts_left"] == 3
        inits = session.status.counters.inits
        modem.reboot()
        await session.wait_for(ready_after(inits), 10)
        assert modem.state()["sim"] == "READY"

    run(
        tmp_path,
        scenario,
        modem=ModemConfig(pin="1234", profile="sim800"),
        session_config=lambda d: config(d, pin="1234"),
    )


def test_pin_required_without_configured_pin(tmp_path: Path) -> None:
    """A SIM asking for a PIN with none configured stops start() with PinRequired."""

    async def scenario(modem: ModemHandle, session: ModemSession) -> None:
        with pytest.raises(PinRequired):
            await session.start()
        assert session.status.state is SessionState.FAILED
        assert session.status.sim == "SIM PIN"
        assert modem.state()["pin_attempts_left"] == 3

    run(tmp_path, scenario, modem=ModemConfig(pin="1234"), start=False)


def test_wrong_pin_is_tried_once_and_never_again(tmp_path: Path) -> None:
    """A rejected PIN fails the session; a second start does not send it again."""

    async def scenario(modem: ModemHandle, session: ModemSession) -> None:
        with pytest.raises(WrongPin):
            await session.start()
        assert modem.state()["pin_attempts_left"] == 2
        with pytest.raises(WrongPin):
            await session.start()
        assert modem.state()["pin_attempts_left"] == 2
        assert session.status.state is SessionState.FAILED
        assert session.status.fatal

    run(
        tmp_path,
        scenario,
        modem=ModemConfig(pin="1234"),
        session_config=lambda d: config(d, pin="0000"),
        start=False,
    )
