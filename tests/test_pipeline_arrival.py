"""Timing rules use when an SMS arrived, not when it was read (issue 12.4)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pipeline_receive_helpers import Rig, count, fresh_scts, no_leaks, run

from gateway.client import AsyncClient, Timeout
from gateway.journal import SqliteJournal
from gateway.pipeline.arrival import arrival
from gateway.pipeline.intake import decode, key_of
from gateway.pipeline.otp import SCTS_SKEW
from gateway.sms import Deliver
from gateway.testing import simulated_gateway

READ = 1_800_000_000.0  # when the daemon read the message (Unix time)


@pytest.fixture
def leaks() -> Iterator[set[str]]:
    """Capture every log event of the test; fail if one holds a code, body or PDU."""
    with no_leaks() as secrets:
        yield secrets


@pytest.mark.parametrize(
    ("scts", "announced", "expected"),
    [
        (None, None, READ),  # nothing better known: the read
        (None, READ - 50.0, READ - 50.0),  # the +CMTI time
        (READ - 47.0, READ - 40.0, READ - 40.0),  # the +CMTI time wins over the SCTS
        (READ - 10.0, READ - 100.0, READ),  # a +CMTI before the SCTS was another SMS's
        (READ - 47.0, None, READ - 17.0),  # SCTS + 30 s skew tolerance
        (READ - 10.0, None, READ),  # never later than the read
        (READ + SCTS_SKEW + 1.0, None, READ),  # an SCTS far after the read is not trusted
        (READ + 60.0, None, READ),  # slightly after the read: the read
    ],
)
def test_arrival_prefers_the_cmti_time_then_the_scts_within_the_skew(
    scts: float | None, announced: float | None, expected: float
) -> None:
    """Arrival is the +CMTI time, else SCTS plus the skew tolerance, never after the read."""
    stamp = None if scts is None else datetime.fromtimestamp(scts, tz=UTC)
    assert arrival(READ, stamp, announced_at=announced, skew=30.0) == expected


def test_a_code_swept_after_the_get_that_arrived_47_s_before_it_is_not_handed_over(
    tmp_path: Path,
) -> None:
    """A code stored 47 s before the get, read by the sweep after it, does not answer it;
    the next fresh code does, and the stale one stays unclaimed."""

    async def scenario() -> None:
        async with simulated_gateway(tmp_path) as gw, AsyncClient(gw.socket) as client:
            waiting = asyncio.create_task(client.get("example.com", timeout=30))
            await gw.wait_pending_gets(1)
            stale = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=47)
            gw.modem.inject_sms("@example.com #470470", scts=stale, notify=False)
            pipeline = gw.gateway.pipelines["sim0"]
            assert await pipeline.sweep() == 1
            assert not waiting.done()
            assert gw.gateway.relay is not None
            assert gw.gateway.relay.broker.pending == 1
            gw.modem.inject_sms("@example.com #123123")
            assert (await waiting).code == "123123"
            journal = gw.gateway.journal
            assert isinstance(journal, SqliteJournal)  # what the daemon stored, read back
            claimed = {c.code: c.claimed_at is not None for c in journal.codes()}
            assert claimed == {"470470": False, "123123": True}

    asyncio.run(asyncio.wait_for(scenario(), 60))


def test_a_get_asked_again_with_since_takes_the_code_swept_meanwhile(tmp_path: Path) -> None:
    """A get that names when it first asked takes a code that arrived after that and
    was read late by the sweep; a get without since does not."""

    async def scenario() -> None:
        async with simulated_gateway(tmp_path) as gw, AsyncClient(gw.socket) as client:
            # the consumer first asked 90 s ago; the SMS reached the SMSC 60 s ago and
            # waited on the SIM while the daemon was away
            asked = time.time() - 90
            stamped = fresh_scts() - timedelta(seconds=60)
            gw.modem.inject_sms("@example.com #515151", scts=stamped, notify=False)
            assert await gw.gateway.pipelines["sim0"].sweep() == 1
            with pytest.raises(Timeout):
                await client.get("example.com", timeout=0.2)
            record = await client.get("example.com", timeout=5, since=asked)
            assert record.code == "515151"
            assert record.cursor is not None

    asyncio.run(asyncio.wait_for(scenario(), 60))


def test_multipart_parts_still_on_the_modem_are_joined_after_a_restart(
    tmp_path: Path, leaks: set[str]
) -> None:
    """A part journaled long ago is not handed out incomplete at restart while its other
    parts wait unread on the SIM: the start-up sweep completes the message."""
    text = "@example.com #707070 " + "x" * 300  # three GSM 7-bit parts

    async def scenario(rig: Rig) -> None:
        old = rig.task
        assert old is not None
        old.cancel()  # the daemon goes down
        with pytest.raises(asyncio.CancelledError):
            await old
        indexes = rig.inject(text, scts=fresh_scts(), notify=False)
        assert len(indexes) == 3
        stored = rig.modem.stored()
        first = min(indexes)
        message = decode(stored[first])
        assert isinstance(message, Deliver)
        assert message.concat is not None
        # the previous run read its first part ten minutes ago and was killed after
        rig.journal.record_pdu(
            modem="m1",
            memory="SM",
            index=first,
            pdu_hex=stored[first],
            now=time.time() - 600.0,
            key=key_of(stored[first], message),
        )
        pipeline = rig.restart_pipeline(old)
        rig.task = asyncio.create_task(pipeline.run())
        (record,) = await rig.codes(1)
        assert record.code == "707070"
        snapshot = await rig.wait(count("messages", 1))
        assert "incomplete" not in snapshot
        assert snapshot["pending_messages"] == 0

    run(tmp_path, leaks, scenario)
