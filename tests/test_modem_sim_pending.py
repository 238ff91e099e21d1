"""Tests for a PIN entry whose reply never comes: it is recorded before AT+CPIN is sent."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from test_modem_sim import ICCID, pin_entries, record, run

from gateway.at import AtTimeout
from gateway.daemon.modems import start_sessions
from gateway.modem.pinguard import FILENAME, Decision, decide
from gateway.modem.session import ModemSession
from gateway.modem.sim import PinNotSent
from gateway.modem.status import SessionState
from gateway.simulator import ModemConfig, ModemHandle


def pending(tmp_path: Path) -> dict[str, list[str]]:
    """Return the SIM -> pending PIN hashes map of the record file."""
    data = json.loads((tmp_path / FILENAME).read_text(encoding="utf-8"))["pending"]
    assert isinstance(data, dict)
    return data


@pytest.mark.parametrize(
    ("rejected", "waiting", "attempts", "decision"),
    [
        ((), ("h",), None, Decision.UNCONFIRMED),  # same PIN, cannot count: not resent
        ((), ("h",), 2, Decision.SEND),  # the counter shows two left: resending is safe
        ((), ("h",), 1, Decision.LAST_ATTEMPT),
        ((), ("a",), None, Decision.SEND),  # one used attempt: a new PIN may go
        (("a",), ("b",), None, Decision.LAST_ATTEMPT),  # a lost reply counts as an attempt
        ((), ("a", "a"), None, Decision.LAST_ATTEMPT),  # each lost reply counts
    ],
)
def test_decide_counts_pending_entries(
    rejected: tuple[str, ...], waiting: tuple[str, ...], attempts: int | None, decision: Decision
) -> None:
    """A pending entry is a used attempt; the same PIN again only with two counted left."""
    assert decide(rejected, "h", attempts, waiting) is decision


def test_lost_reply_is_recorded_and_not_resent_without_a_counter(tmp_path: Path) -> None:
    """Silent after AT+CPIN=: start fails, the hash is pending, the daemon's next start refuses."""

    async def scenario(
        modem: ModemHandle, session: Callable[[str | None], ModemSession], seen: list[str]
    ) -> None:
        modem.set_fault("refuse", on=["AT+CPINR"], cme=4)
        modem.set_fault("silent", on="AT+CPIN=")
        with pytest.raises(AtTimeout):
            await session("1234").start()
        assert len(pin_entries(seen)) == 1
        assert len(pending(tmp_path)[f"iccid:{ICCID}"]) == 1
        assert record(tmp_path) == {}
        assert "1234" not in json.dumps(pending(tmp_path))
        modem.clear_fault("silent")
        with pytest.raises(PinNotSent, match="reply never came"):  # a SimError: exit 78
            await start_sessions({"m1": session("1234")})
        assert len(pin_entries(seen)) == 1

    run(tmp_path, scenario, ModemConfig(pin="1234"))


def test_lost_reply_is_resent_when_the_counter_shows_two_left(tmp_path: Path) -> None:
    """With AT+CPINR readable and two or more left, the same PIN goes again and clears."""

    async def scenario(
        modem: ModemHandle, session: Callable[[str | None], ModemSession], seen: list[str]
    ) -> None:
        modem.set_fault("silent", on="AT+CPIN=")
        with pytest.raises(AtTimeout):
            await session("1234").start()
        assert len(pending(tmp_path)[f"iccid:{ICCID}"]) == 1
        modem.clear_fault("silent")
        modem.model.sim.pin_left = 2  # the lost entry may have been counted
        ready = session("1234")
        await ready.start()
        assert ready.status.state is SessionState.READY
        assert len(pin_entries(seen)) == 2
        assert pending(tmp_path) == {}
        assert record(tmp_path) == {}

    run(tmp_path, scenario, ModemConfig(pin="1234"))


def test_lost_reply_with_one_counted_attempt_left_is_not_resent(tmp_path: Path) -> None:
    """With the counter at one after a lost reply, nothing is sent."""

    async def scenario(
        modem: ModemHandle, session: Callable[[str | None], ModemSession], seen: list[str]
    ) -> None:
        modem.set_fault("silent", on="AT+CPIN=")
        with pytest.raises(AtTimeout):
            await session("1234").start()
        modem.clear_fault("silent")
        modem.model.sim.pin_left = 1
        with pytest.raises(PinNotSent, match="one attempt is left"):
            await session("1234").start()
        assert len(pin_entries(seen)) == 1
        assert len(pending(tmp_path)[f"iccid:{ICCID}"]) == 1

    run(tmp_path, scenario, ModemConfig(pin="1234"))


def test_a_sim_found_ready_settles_its_lost_entry(tmp_path: Path) -> None:
    """The lost entry was taken (SIM READY at the next start): its pending entry goes."""

    async def scenario(
        modem: ModemHandle, session: Callable[[str | None], ModemSession], seen: list[str]
    ) -> None:
        modem.set_fault("silent", on="AT+CPIN=")
        with pytest.raises(AtTimeout):
            await session("1234").start()
        assert len(pending(tmp_path)[f"iccid:{ICCID}"]) == 1
        modem.clear_fault("silent")
        modem.model.sim.enter("1234", None)  # the SIM had taken the PIN; only the OK was lost
        ready = session("1234")
        await ready.start()
        assert ready.status.state is SessionState.READY
        assert len(pin_entries(seen)) == 1
        assert pending(tmp_path) == {}

    run(tmp_path, scenario, ModemConfig(pin="1234"))
