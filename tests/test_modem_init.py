"""Tests for the initialisation helpers and configuration, and the sequence over a real pty."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway import log as gwlog
from gateway.at import Timeouts
from gateway.errors import UsageError
from gateway.modem.health import HealthConfig
from gateway.modem.init import (
    CNMI_CHOICES,
    VENDOR_TWEAKS,
    InitConfig,
    RegistrationTimeout,
    cpms_command,
    parse_operator,
    registration_stat,
)
from gateway.modem.link import LinkConfig
from gateway.modem.session import ModemSession, SessionConfig
from gateway.modem.status import SessionState
from gateway.simulator import ModemConfig, ModemHandle, Simulator


@pytest.mark.parametrize(
    ("lines", "stat"),
    [
        (("+CREG: 0,1",), 1),
        (('+CREG: 2,5,"00C3","0000A1B2"',), 5),
        (("+CEREG: 0,2",), 2),
        (("+CREG: 1",), None),  # URC form, not a reply
        ((), None),
    ],
)
def test_registration_stat(lines: tuple[str, ...], stat: int | None) -> None:
    """<stat> is the second field of the AT+CREG?/AT+CEREG? reply."""
    assert registration_stat(lines) == stat


def test_cpms_command_keeps_slot_count() -> None:
    """AT+CPMS is written with as many memories as the modem offers slots."""
    assert cpms_command(("SM",)) == 'AT+CPMS="SM"'
    assert cpms_command(("SM", "ME", "ME")) == 'AT+CPMS="SM","ME","ME"'


@pytest.mark.parametrize("pin", ["12", "123456789", "12a4", ""])
def test_bad_pin_is_refused(pin: str) -> None:
    """A PIN must be 4 to 8 digits."""
    with pytest.raises(UsageError):
        InitConfig(pin=pin)


def test_tables_are_data() -> None:
    """CNMI prefers store-and-notify with stored reports; Huawei gets AT^CURC=0."""
    assert CNMI_CHOICES[0] == "2,1,0,2,0"
    assert VENDOR_TWEAKS["huawei"] == ("AT^CURC=0",)


@given(st.lists(st.text(max_size=30), max_size=5).map(tuple))
def test_registration_stat_never_raises(lines: tuple[str, ...]) -> None:
    """Any reply lines give a stat or None."""
    result = registration_stat(lines)
    assert result is None or result >= 0


@pytest.mark.parametrize(
    ("lines", "name"),
    [
        (('+COPS: 0,0,"Fake Operator",7',), "Fake Operator"),
        (('+COPS: 1,2,"310260"',), "310260"),
        (('+COPS: 0,0,"T-Mobile"',), "T-Mobile"),
        (("+COPS: 0",), None),  # not registered: mode only (TS 27.007 §7.3)
        (('+COPS: 0,0,""',), None),
        (("ERROR",), None),
        ((), None),
    ],
)
def test_parse_operator(lines: tuple[str, ...], name: str | None) -> None:
    """<oper> is the third field of the AT+COPS? reply, absent when not registered."""
    assert parse_operator(lines) == name


@given(st.lists(st.text(max_size=40), max_size=5).map(tuple))
def test_parse_operator_never_raises(lines: tuple[str, ...]) -> None:
    """Any reply lines give a printable name or None."""
    result = parse_operator(lines)
    assert result is None or (result.isprintable() and 0 < len(result) <= 64)


def test_storage_memories_are_validated() -> None:
    """Configured storage memories are two capital letters."""
    assert InitConfig(storage=("ME", "SM")).storage == ("ME", "SM")
    with pytest.raises(UsageError):
        InitConfig(storage=("me",))


# -- the sequence over a real pty ------------------------------------------------------

FAST = Timeouts(quick=0.4, sim=1.0, list=2.0, network=0.4, prompt=0.3, body=1.0, probe=0.2)


def over_pty(
    tmp_path: Path,
    scenario: Callable[[ModemHandle, ModemSession, list[str]], Awaitable[None]],
    *,
    registration_timeout: float = 3.0,
) -> None:
    """Run ``scenario`` with a simulated modem, an unstarted session and the lines it saw."""

    async def main() -> None:
        async with Simulator([ModemConfig(link=tmp_path / "modem")]) as simulator:
            handle = simulator.modems[0]
            seen: list[str] = []
            handle.observe_commands(seen.append)
            session = ModemSession(
                SessionConfig(
                    link=LinkConfig(device=handle.device, backoff_initial=0.01),
                    timeouts=FAST,
                    init=InitConfig(
                        busy_backoff=0.01,
                        registration_timeout=registration_timeout,
                        registration_poll=0.02,
                        registration_poll_max=0.1,
                    ),
                    health=HealthConfig(interval=3600.0),
                )
            )
            try:
                await scenario(handle, session, seen)
            finally:
                await session.stop()

    asyncio.run(asyncio.wait_for(main(), 30))


def cnmi_lines(seen: list[str]) -> list[str]:
    """Return the AT+CNMI=... lines the modem saw, in order."""
    return [line for line in seen if line.upper().startswith("AT+CNMI=")]


def test_no_network_ends_in_registration_timeout(tmp_path: Path) -> None:
    """Never registered: start() raises RegistrationTimeout naming the last states; not fatal."""

    async def scenario(modem: ModemHandle, session: ModemSession, seen: list[str]) -> None:
        modem.set_fault("no-network", stat=2)
        with pytest.raises(RegistrationTimeout, match=r"'CREG': 2.*'CEREG': 2"):
            await session.start()
        status = session.status
        assert status.state is SessionState.FAILED
        assert not status.fatal
        assert status.registration == 2
        assert "AT+CREG=1" in seen
        assert "AT+CEREG=1" in seen

    over_pty(tmp_path, scenario, registration_timeout=0.3)


def test_network_coming_back_ends_the_wait(tmp_path: Path) -> None:
    """Searching at start: the +CREG URC when the network appears makes the session READY."""

    async def scenario(modem: ModemHandle, session: ModemSession, seen: list[str]) -> None:
        modem.set_fault("no-network", stat=2)
        reporting = asyncio.Event()
        modem.observe_commands(lambda line: reporting.set() if line == "AT+CEREG=1" else None)
        starting = asyncio.create_task(session.start())
        await reporting.wait()
        modem.clear_fault("no-network")
        await starting
        assert session.status.state is SessionState.READY
        assert session.status.registration == 1

    over_pty(tmp_path, scenario, registration_timeout=10.0)


@pytest.mark.parametrize(
    ("refused", "tried", "chosen"),
    [
        ((), ["2,1,0,2,0"], "2,1,0,2,0"),
        (("AT+CNMI=2,1,0,2",), ["2,1,0,2,0", "2,1,0,1,0"], "2,1,0,1,0"),
        (("AT+CNMI=2",), ["2,1,0,2,0", "2,1,0,1,0", "1,1,0,2,0"], "1,1,0,2,0"),
        (("AT+CNMI=2", "AT+CNMI=1,1,0,2"), [*CNMI_CHOICES[:4]], "1,1,0,1,0"),
    ],
)
def test_cnmi_falls_back_in_order(
    tmp_path: Path, refused: tuple[str, ...], tried: list[str], chosen: str
) -> None:
    """A modem refusing AT+CNMI choices (+CMS ERROR 303) gets the next one; the first OK wins."""

    async def scenario(modem: ModemHandle, session: ModemSession, seen: list[str]) -> None:
        if refused:
            modem.set_fault("refuse", on=list(refused), cms=303)
        await session.start()
        assert cnmi_lines(seen) == [f"AT+CNMI={choice}" for choice in tried]
        assert session.status.cnmi == chosen
        assert modem.state()["cnmi"] == [int(v) for v in chosen.split(",")]

    over_pty(tmp_path, scenario)


def test_no_cnmi_accepted_warns_and_still_starts(tmp_path: Path) -> None:
    """Every AT+CNMI refused: all choices tried once, a warning, READY relying on sweeps."""

    async def scenario(modem: ModemHandle, session: ModemSession, seen: list[str]) -> None:
        modem.set_fault("refuse", on="AT+CNMI=")
        with gwlog.capture() as events:
            await session.start()
        assert cnmi_lines(seen) == [f"AT+CNMI={choice}" for choice in CNMI_CHOICES]
        assert session.status.state is SessionState.READY
        assert session.status.cnmi is None
        assert any(event["event"] == "modem.no_cnmi" for event in events)

    over_pty(tmp_path, scenario)
