"""Fixtures the daemon tests share: a simulated modem on a pty and systemd's notify socket."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from daemon_helpers import PIN, NotifySocket

from gateway.simulator import ModemConfig, SimulatorThread, ThreadModemHandle


@pytest.fixture
def modem(tmp_path: Path) -> Iterator[ThreadModemHandle]:
    """A simulated modem on a pty link under tmp_path."""
    with SimulatorThread([ModemConfig(link=tmp_path / "modem")]) as sim:
        yield sim.modems[0]


@pytest.fixture
def pin_modem(tmp_path: Path) -> Iterator[ThreadModemHandle]:
    """A simulated modem (SIM PIN ``daemon_helpers.PIN`` required) on a pty link under tmp_path."""
    with SimulatorThread([ModemConfig(link=tmp_path / "modem", pin=PIN)]) as sim:
        yield sim.modems[0]


@pytest.fixture
def notify(tmp_path: Path) -> Iterator[NotifySocket]:
    """A notify socket standing in for systemd."""
    sock = NotifySocket(tmp_path)
    yield sock
    sock.close()
