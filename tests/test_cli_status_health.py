"""`otp-gateway status` tells the truth: degraded modems, full or unreadable storage."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from cli_helpers import cli

from gateway.config import Config
from gateway.modem.session import ModemSession
from gateway.modem.status import ModemStatus
from gateway.testing import GatewayHandle, running_gateway


def quick_and_rare_sweeps(config: Config) -> Config:
    """Short AT timeouts (a silent modem times out in 1 s) and no periodic sweep."""
    modem = replace(config.modem[0], command_timeout=1.0)
    return replace(config, modem=(modem,), receive=replace(config.receive, sweep_interval=3600.0))


def status(gw: GatewayHandle) -> tuple[int, dict[str, object], str]:
    """Return (exit status, JSON snapshot, text) of ``otp-gateway status``."""
    as_json = cli("status", "--socket", str(gw.socket), "--json")
    text = cli("status", "--socket", str(gw.socket))
    assert as_json.returncode == text.returncode, (as_json.stderr, text.stderr)
    return as_json.returncode, json.loads(as_json.stdout), text.stdout


def codes(snapshot: dict[str, object]) -> list[str]:
    """The condition codes of the snapshot, in order."""
    conditions = snapshot["conditions"]
    assert isinstance(conditions, list)
    return [c["code"] for c in conditions]


async def probed(session: ModemSession, failed: bool) -> ModemStatus:
    """Run a health probe now; return the status once it failed (or passed)."""
    session.check_health()
    return await session.wait_for(lambda s: (s.probe_error is not None) is failed, 20)


def test_healthy_gateway_exits_0(tmp_path: Path) -> None:
    """A ready modem with nothing wrong: health ok, no conditions, exit 0."""
    with running_gateway(tmp_path) as gw:
        code, snapshot, text = status(gw)
    assert code == 0
    assert snapshot["health"] == "ok"
    assert snapshot["conditions"] == []
    assert "health:" not in text


def test_unanswering_modem_is_degraded_after_the_first_failed_probe(tmp_path: Path) -> None:
    """One unanswered health probe: the modem shows degraded with the reason, exit 6."""
    with running_gateway(tmp_path, configure=quick_and_rare_sweeps) as gw:
        session = gw.gateway.sessions["sim0"]
        gw.modem.set_fault("silent")
        failed = gw.run(probed(session, failed=True))
        assert failed.counters.reopens == 0  # no escalation yet: one probe only
        code, snapshot, text = status(gw)
        gw.modem.clear_fault("silent")
        gw.run(probed(session, failed=False))
        after, healed, _ = status(gw)
    assert code == 6
    assert snapshot["health"] == "degraded"
    modem = snapshot["modems"][0]  # type: ignore[index]
    assert modem["health"] == "degraded"
    assert modem["state"] == "ready"
    (condition,) = modem["conditions"]
    assert condition["code"] == "unresponsive"
    assert "AT+CSQ" in condition["reason"]
    assert "sim0       degraded" in text
    assert "sim0 unresponsive: health probe failed" in text
    assert after == 0
    assert healed["health"] == "ok"


def test_full_sim_is_shown_and_exits_6(tmp_path: Path) -> None:
    """A SIM holding as many SMS as it can is a storage-full condition, exit 6."""
    with running_gateway(tmp_path, configure=quick_and_rare_sweeps) as gw:
        pipeline = gw.gateway.pipelines["sim0"]
        gw.run(pipeline.wait_for(lambda s: s.get("sweeps") == 1, 10))  # the start sweep
        capacity = gw.modem.state()["storage"]["SM"]["capacity"]  # type: ignore[index]
        for number in range(int(capacity)):  # no +CMTI, no sweep: they stay on the SIM
            gw.modem.inject_sms(f"@example.com #{100000 + number}", notify=False)
        cli("status", "--socket", str(gw.socket))  # starts the AT+CPMS? query
        gw.run(gw.gateway.storage.settle())
        code, snapshot, text = status(gw)
    assert code == 6
    assert "storage-full" in codes(snapshot)
    assert f"SM full ({capacity}/{capacity})" in text


def test_unreadable_storage_is_shown_until_a_listing_works(tmp_path: Path) -> None:
    """A memory whose listing fails is storage-unreadable (exit 6) until a sweep reads it."""
    with running_gateway(tmp_path, configure=quick_and_rare_sweeps) as gw:
        pipeline = gw.gateway.pipelines["sim0"]
        session = gw.gateway.sessions["sim0"]
        gw.run(pipeline.wait_for(lambda s: s.get("sweeps") == 1, 10))
        gw.modem.set_fault("refuse", on="AT+CMGL", cms=321)
        inits = session.status.counters.inits
        gw.modem.unplug()  # re-initialised after the replug, then swept again
        gw.modem.replug()
        gw.run(pipeline.wait_for(lambda s: bool(s.get("list_failed")), 10))
        code, snapshot, text = status(gw)
        gw.modem.clear_fault("refuse")
        gw.run(pipeline.sweep())  # a sweep that reads every memory again
        after, healed, _ = status(gw)
    assert session.status.counters.inits > inits
    assert code == 6
    assert "storage-unreadable" in codes(snapshot)
    assert "storage-unreadable: SM: " in text
    assert after == 0, healed["conditions"]
