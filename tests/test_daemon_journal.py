"""The composed gateway in-process while its journal is degraded: claims, status, recovery."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path

import pytest

from gateway.client import AsyncClient
from gateway.config import Config
from gateway.journal import SqliteJournal
from gateway.testing import AsyncGatewayHandle, simulated_gateway

ORIGIN = "example.com"


def with_grace(config: Config) -> Config:
    """Keep codes a minute for a get that comes later (the grace window is opt-in)."""
    return replace(config, receive=replace(config.receive, grace_window=60.0))


def sweeps_past(count: int) -> Callable[[Mapping[str, object]], bool]:
    """Predicate on a pipeline snapshot: more than ``count`` sweeps ran."""

    def check(snapshot: Mapping[str, object]) -> bool:
        sweeps = snapshot.get("sweeps", 0)
        return isinstance(sweeps, int) and sweeps > count

    return check


@pytest.mark.timeout(180)  # the recovery waits for a probe: backoff capped at 60 s
def test_a_claim_the_degraded_journal_missed_is_recorded_at_recovery(tmp_path: Path) -> None:
    """A code handed out while the state dir was away is marked claimed once it is back."""

    async def body(gw: AsyncGatewayHandle) -> None:
        gateway = gw.gateway
        journal = gateway.journal
        assert isinstance(journal, SqliteJournal)  # what the daemon stored, read back
        pipeline = gateway.pipelines["sim0"]
        gw.modem.inject_sms(f"@{ORIGIN} #515151")
        await pipeline.wait_for(lambda s: s.get("codes") == 1, 10)  # in the grace window
        state = gateway.config.journal.state_dir
        state.rename(tmp_path / "away")
        status = gateway.snapshot()
        assert status["conditions"][0]["code"] == "journal-degraded"  # type: ignore[index]
        assert status["journal"]["retry_at"] is not None  # type: ignore[index]
        async with AsyncClient(gw.socket) as client:
            assert (await client.get(ORIGIN, timeout=10)).code == "515151"
        assert [c.claimed_at for c in journal.codes(origin=ORIGIN)] == [None]
        swept = pipeline.snapshot()["sweeps"]
        assert isinstance(swept, int)
        (tmp_path / "away").rename(state)
        # the recovery (by the watch's probe) records the claim, then sweeps the modem
        await pipeline.wait_for(sweeps_past(swept), 120)  # probes back off to 60 s
        (code,) = journal.codes(origin=ORIGIN)
        assert (code.claimed_by or "").startswith("relay")  # "relay uid=… key=…": the get's key
        assert gateway.snapshot()["conditions"] == []

    async def main() -> None:
        async with simulated_gateway(tmp_path, configure=with_grace) as gw:
            await body(gw)

    asyncio.run(main())
