"""Recorded real devices replayed behind the simulator, with the real daemon on the pty.

Each simulator profile answers the command lines python-gsmmodem recorded from one real
device with the recorded bytes, verbatim, and everything else as TS 27.005/27.007 says
(gateway.simulator.profiles.RECORDED). The daemon (``Gateway``) starts on it with
``profile = "auto"``, receives an SMS (deleted from the modem only after the journal
holds it) and sends one; the Nokia N79, a phone, starts send-only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path

import pytest
from cli_helpers import cli

from gateway.cli.status_text import render_status
from gateway.client import AsyncClient
from gateway.config import Config, ModemSettings
from gateway.daemon import Gateway
from gateway.daemon.simulate import PEER_NUMBER, SimulatedSetup
from gateway.relay.ports import JobStatus
from gateway.simulator import ModemConfig, ModemHandle, Simulator
from gateway.testing import AsyncGatewayHandle, running_gateway, simulated_gateway

ORIGIN = "example.com"

#: recorded devices that store SMS and can be read over AT, with their detected dialect
RECEIVING = {
    "huawei-k3715": "huawei",
    "huawei-e1752": "huawei",
    "wavecom": "wavecom",
    "qualcomm-m6280": "qualcomm",
    "zte-k3565z": "zte",
}


def scenario(
    tmp_path: Path, profile: str, body: Callable[[AsyncGatewayHandle], Awaitable[None]]
) -> None:
    """Run ``body`` against the daemon on a simulated modem playing ``profile``."""

    async def main() -> None:
        async with simulated_gateway(tmp_path, profile=profile) as gw:
            await body(gw)

    asyncio.run(asyncio.wait_for(main(), 50))


async def send_one(client: AsyncClient) -> tuple[JobStatus, str | None]:
    """Send an OTP SMS to the peer; return the job's final status and its code."""
    watch = await client.send_watch(PEER_NUMBER, ORIGIN)
    status = JobStatus.QUEUED
    async for event in watch:
        status = event.status
        if status.final:
            break
    return status, watch.code


async def receive_and_send(gw: AsyncGatewayHandle) -> list[str]:
    """Receive one code (relayed to a get, SMS deleted after journaling), send one SMS.

    Returns the modem-side commands seen, for the caller's checks.
    """
    journal = gw.gateway.journal
    assert journal is not None
    seen: list[str] = []
    recorded_at_delete: list[bool] = []

    def observe(line: str) -> None:
        seen.append(line)
        if line.upper().startswith("AT+CMGD="):
            index = int(line.partition("=")[2].split(",")[0])
            # the journal must already hold the PDU read from this index
            recorded_at_delete.append(any(p.index == index for p in journal.pdus()))

    gw.modem.observe_commands(observe)
    async with AsyncClient(gw.socket) as client:
        waiting = asyncio.create_task(client.get(ORIGIN, timeout=20))
        await gw.wait_pending_gets(1)
        gw.modem.inject_sms(f"Your code is 246810.\n\n@{ORIGIN} #246810")
        assert (await waiting).code == "246810"
        pipeline = gw.gateway.pipelines["sim0"]
        await pipeline.wait_for(lambda s: s.get("deleted") == 1, 10)
        status, code = await send_one(client)
    assert recorded_at_delete == [True]
    assert gw.modem.stored("SM") == {}
    assert status is JobStatus.SENT
    assert gw.modem.sent()[0].text.endswith(f"@{ORIGIN} #{code}")
    return seen


@pytest.mark.parametrize("profile", sorted(RECEIVING))
def test_recorded_device_inits_receives_and_sends(tmp_path: Path, profile: str) -> None:
    """A recorded device initialises with its dialect detected, receives and sends."""

    async def body(gw: AsyncGatewayHandle) -> None:
        modem = gw.gateway.snapshot()["modems"][0]  # type: ignore[index]
        assert modem["state"] == "ready"
        assert modem["dialect"] == RECEIVING[profile]
        assert modem["send_only"] is False
        assert modem["receive_unavailable"] is None
        await receive_and_send(gw)

    scenario(tmp_path, profile, body)


def test_wavecom_identity_without_revision_and_cpin_without_ok(tmp_path: Path) -> None:
    """Wavecom: +CPIN: READY without OK is accepted, AT+CGMR's ERROR leaves revision empty."""

    async def body(gw: AsyncGatewayHandle) -> None:
        status = gw.gateway.modem_statuses()["sim0"]
        assert status.sim == "READY"
        assert status.identity is not None
        assert status.identity.manufacturer == "WAVECOM MODEM"
        assert status.identity.revision == ""
        assert status.identity.imei == "111111111111111"
        assert status.memories == ("SM", "SR")  # from (("SM","BM","SR"),("SM"))
        assert status.counters.timeouts == 0  # the missing OK cost no timeout

    scenario(tmp_path, "wavecom", body)


def test_zte_urcs_inside_replies_are_vendor_noise(tmp_path: Path) -> None:
    """ZTE: +ZDONR/+ZPASR inside replies are URCs; +CMGR without <stat> is read."""

    async def body(gw: AsyncGatewayHandle) -> None:
        await receive_and_send(gw)
        counters = gw.gateway.modem_statuses()["sim0"].counters
        assert counters.timeouts == 0
        assert counters.discarded_lines == 0  # every +Z line was classified, none dropped
        assert counters.urcs > 0
        receive = gw.gateway.pipelines["sim0"].snapshot()
        assert receive.get("read_failed", 0) == 0  # "+CMGR: ,,<len>" was not refused

    scenario(tmp_path, "zte-k3565z", body)


def test_qualcomm_sim_busy_after_start_is_retried(tmp_path: Path) -> None:
    """Qualcomm M6280: AT+CSCA? answers SIM busy twice after power-on; init retries it."""

    async def body(gw: AsyncGatewayHandle) -> None:
        status = gw.gateway.modem_statuses()["sim0"]
        assert status.counters.busy_retries == 2
        assert status.smsc == "+15550000000"

    scenario(tmp_path, "qualcomm-m6280", body)


def test_nokia_n79_starts_send_only_and_status_says_why(tmp_path: Path) -> None:
    """Nokia N79: starts send-only; status and `otp-gateway status` say receiving is off."""
    with running_gateway(tmp_path, profile="nokia-n79") as gw:
        snapshot = gw.status()
        modem = snapshot["modems"][0]  # type: ignore[index]
        result = cli("status", "--socket", str(gw.socket))
        status, code = gw.run(_send_with_new_client(gw.socket))
        sent = gw.modem.sent()
        commands = gw.modem.state()["commands"]
    assert modem["state"] == "ready"
    assert modem["dialect"] == "nokia"
    assert modem["send_only"] is True
    assert "no SMS storage over AT" in modem["receive_unavailable"]
    assert modem["storage"] == []
    assert "send-only: receiving SMS is unavailable on this device" in render_status(snapshot)
    assert "send-only: receiving SMS is unavailable on this device" in result.stdout
    assert "no SMS storage over AT" in result.stdout
    assert status is JobStatus.SENT
    assert sent[0].text.endswith(f"@{ORIGIN} #{code}")
    assert isinstance(commands, int)


async def _send_with_new_client(socket: Path) -> tuple[JobStatus, str | None]:
    async with AsyncClient(socket) as client:
        return await send_one(client)


def test_send_only_phone_beside_a_modem_that_receives(tmp_path: Path) -> None:
    """A Nokia N79 beside a generic modem: the other modem receives; sending works."""
    setup = SimulatedSetup.in_directory(tmp_path)
    phone_link = tmp_path / "phone"

    def two(config: Config) -> Config:
        phone = ModemSettings(name="phone", device=str(phone_link))
        return replace(config, modem=(*config.modem, phone))

    async def main() -> None:
        modems = [
            setup.modem(),
            ModemConfig(number="+15550000002", profile="nokia-n79", link=phone_link),
        ]
        async with Simulator(modems) as simulator:
            gateway = Gateway(two(setup.config()))
            await gateway.start()
            try:
                await _both(gateway, setup, simulator.modems[0])
            finally:
                await gateway.stop()

    asyncio.run(asyncio.wait_for(main(), 50))


async def _both(gateway: Gateway, setup: SimulatedSetup, modem: ModemHandle) -> None:
    snapshot = gateway.snapshot()
    by_name = {m["name"]: m for m in snapshot["modems"]}  # type: ignore[attr-defined]
    assert by_name["sim0"]["send_only"] is False
    assert by_name["phone"]["send_only"] is True
    assert snapshot["ready"] is True
    async with AsyncClient(setup.socket) as client:
        waiting = asyncio.create_task(client.get(ORIGIN, timeout=20))
        await client.status()
        assert gateway.relay is not None
        await gateway.relay.wait_until(lambda r: r.broker.pending >= 1)
        modem.inject_sms(f"@{ORIGIN} #135790")
        assert (await waiting).code == "135790"
        status, _ = await send_one(client)
    assert status is JobStatus.SENT
