"""Tests for the send queue across modems, delivery reports and restarts (real ptys)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from pipeline_send_helpers import DEST, SETTINGS, request, rig, run

from gateway.jobs import JobEvent as Step
from gateway.jobs import JobState
from gateway.modem.status import SessionState
from gateway.relay.ports import JobStatus
from gateway.sms import StatusReport, decode_incoming, encode_status_report
from gateway.webotp import compose, parse

S = JobStatus
REPORTS = replace(SETTINGS, delivery_reports=True)


def test_two_modems_unplug_one_mid_queue_every_job_sent_exactly_once(tmp_path: Path) -> None:
    """20 jobs on two modems; one is pulled mid-queue: each job goes out once, none lost."""

    async def scenario() -> None:
        async with rig(tmp_path, modems=2) as r:
            first, second = r.modems
            accepted = [await r.service.submit(request()) for _ in range(20)]
            await first.wait_sent(3)
            # catch the first modem between AT+CMGS and its prompt, then pull it
            first.set_fault("late-prompt", delay=30)
            await r.sessions["m0"].wait_for(lambda s: s.phase == "await-prompt", 5)
            first.unplug()
            finals = await asyncio.gather(*(r.last(a.job_id) for a in accepted))
            assert finals == [S.SENT] * 20
            codes = [parse(m.text).code for m in first.sent() + second.sent()]
            assert sorted(codes) == sorted(a.code for a in accepted if a.code)
            assert len(first.sent()) >= 3
            assert len(second.sent()) >= 1
            assert r.sessions["m0"].status.state is not SessionState.READY
            snapshot = r.dispatcher.snapshot()
            counts = snapshot["counts"]
            assert isinstance(counts, dict)
            assert counts["handoffs"] >= 1
            assert counts["sent"] == 20
            # the handed-off job's attempt on the pulled modem did not count as a failure
            handed = [
                a.job_id
                for a in accepted
                if any(e.event == "transient-error" for e in r.journal.job_events(a.job_id))
            ]
            assert handed
            assert all(r.journal.job(j).modem == "m1" for j in handed)

    run(scenario)


def test_two_modems_share_the_queue(tmp_path: Path) -> None:
    """With two ready modems both send: one AT+CMGS at a time each, in parallel."""

    async def scenario() -> None:
        async with rig(tmp_path, modems=2) as r:
            accepted = [await r.service.submit(request()) for _ in range(10)]
            await asyncio.gather(*(r.last(a.job_id) for a in accepted))
            counts = [len(m.sent()) for m in r.modems]
            assert sum(counts) == 10
            assert min(counts) >= 1
            modems = r.dispatcher.snapshot()["modems"]
            assert isinstance(modems, dict)
            assert {name: info["sent"] for name, info in modems.items()} == {
                "m0": counts[0],
                "m1": counts[1],
            }

    run(scenario)


def test_one_modem_down_then_back_sends_the_queued_job(tmp_path: Path) -> None:
    """With a single modem unplugged the job waits queued and goes out after replug."""

    async def scenario() -> None:
        async with rig(tmp_path) as r:
            modem, session = r.modems[0], r.sessions["m0"]
            modem.unplug()
            await session.wait_for(lambda s: s.state is SessionState.RECONNECTING, 5)
            accepted = await r.service.submit(request())
            modem.replug()
            assert await r.last(accepted.job_id) is S.SENT
            assert len(modem.sent()) == 1
            assert r.journal.job(accepted.job_id).attempts == 1

    run(scenario)


def test_delivery_report_moves_the_job_to_delivered(tmp_path: Path) -> None:
    """With reports on, the simulator's +CDSI report (read by AT+CMGR) delivers the job."""

    async def scenario() -> None:
        async with rig(tmp_path, settings=REPORTS) as r:
            r.feed_reports()
            accepted = await r.service.submit(request())
            events = await r.events(accepted.job_id)
            assert [e.status for e in events] == [S.QUEUED, S.SENDING, S.SENT, S.DELIVERED]
            (sent,) = r.modems[0].sent()
            assert sent.status_report_requested
            assert r.journal.job(accepted.job_id).state is JobState.DELIVERED
            assert r.journal.counters()["reports.matched"] == 1

    run(scenario)


def test_multipart_is_delivered_only_when_every_part_is(tmp_path: Path) -> None:
    """A two-part SMS gets one report per part; delivered needs both."""

    async def scenario() -> None:
        settings = replace(REPORTS, multi_segment="warn")
        long_text = "Welcome back to Example Shop! " * 6 + "Your code is {code}."
        async with rig(tmp_path, settings=settings) as r:
            r.feed_reports()
            accepted = await r.service.submit(request(text=long_text))
            events = await r.events(accepted.job_id)
            assert [e.status for e in events][-1] is S.DELIVERED
            assert len(r.modems[0].sent()) == 2
            assert r.journal.counters()["reports.matched"] == 2

    run(scenario)


def test_failed_delivery_report_fails_the_job(tmp_path: Path) -> None:
    """A final report with a permanent TP-ST (0x41) fails the sent job.

    The simulator only reports success, so this report is built with our PDU encoder,
    decoded back, and handed to the dispatcher as the receive pipeline would.
    """

    async def scenario() -> None:
        async with rig(tmp_path, settings=REPORTS) as r:
            accepted = await r.service.submit(request())
            watch = r.service.watch(accepted.job_id)
            statuses = [(await anext(watch)).status for _ in range(3)]
            assert statuses == [S.QUEUED, S.SENDING, S.SENT]
            (sent,) = r.modems[0].sent()
            now = datetime.now(UTC).replace(microsecond=0)
            pending = encode_status_report(
                reference=sent.reference, recipient=DEST, scts=now, discharge=now, status=0x20
            )
            failed = encode_status_report(
                reference=sent.reference, recipient=DEST, scts=now, discharge=now, status=0x41
            )
            for encoded in (pending, failed):
                report = decode_incoming(encoded.hex)
                assert isinstance(report, StatusReport)
                r.dispatcher.on_status_report("m0", report)
            last = await anext(watch)
            assert last.status is S.FAILED
            assert last.detail == "status report TP-ST 65"
            assert r.journal.job(accepted.job_id).state is JobState.FAILED
            assert [e async for e in watch] == []  # failed is final: the watch has ended

    run(scenario)


def test_unmatched_report_is_kept_and_changes_nothing(tmp_path: Path) -> None:
    """A report for a reference we never used is stored unmatched; no job moves."""

    async def scenario() -> None:
        async with rig(tmp_path, settings=REPORTS) as r:
            accepted = await r.service.submit(request())
            await r.reach(accepted.job_id, S.SENT)
            (sent,) = r.modems[0].sent()
            now = datetime.now(UTC).replace(microsecond=0)
            encoded = encode_status_report(
                reference=(sent.reference + 7) % 256, recipient=DEST, scts=now, discharge=now
            )
            report = decode_incoming(encoded.hex)
            assert isinstance(report, StatusReport)
            r.dispatcher.on_status_report("m0", report)
            assert r.journal.job(accepted.job_id).state is JobState.SENT
            assert r.journal.counters()["reports.unmatched"] == 1

    run(scenario)


def test_resume_sends_queued_jobs_marks_sending_unknown_and_expired_expired(
    tmp_path: Path,
) -> None:
    """Jobs left in the journal by a stopped daemon: queued ones go out on start, others not."""

    async def scenario() -> None:
        async with rig(tmp_path, run=False) as r:
            now = time.time()
            texts: dict[str, str] = {}
            for name, created, expires in (
                ("queued-1", now - 10, now + 590),
                ("queued-2", now - 5, now + 595),
                ("sending", now - 20, now + 580),
                ("expired", now - 700, now - 100),
            ):
                message = compose(origin="example.com", code=f"C{len(texts)}X7Q9")
                texts[name] = message.text
                r.journal.create_job(
                    job_id=name,
                    number=DEST,
                    origin="example.com",
                    embedded=None,
                    text=message.text,
                    now=created,
                    expires_at=expires,
                )
            r.journal.transition_job("sending", Step.START, now=now - 19, modem="m0")
            r.start_dispatcher()
            assert await r.last("queued-1") is S.SENT
            assert await r.last("queued-2") is S.SENT
            assert await r.last("sending") is S.UNKNOWN
            assert await r.last("expired") is S.EXPIRED
            sent = [m.text for m in r.modems[0].sent()]
            assert sent == [texts["queued-1"], texts["queued-2"]]

    run(scenario)


def test_wake_picks_up_a_job_written_to_the_journal_by_someone_else(tmp_path: Path) -> None:
    """A job stored in the journal behind the dispatcher's back is sent after wake()."""

    async def scenario() -> None:
        async with rig(tmp_path) as r:
            now = time.time()
            message = compose(origin="example.com", code="W4K3UP")
            r.journal.create_job(
                job_id="outside",
                number=DEST,
                origin="example.com",
                embedded=None,
                text=message.text,
                now=now,
                expires_at=now + 600,
            )
            r.dispatcher.wake()
            assert await r.last("outside") is S.SENT
            assert [m.text for m in r.modems[0].sent()] == [message.text]

    run(scenario)
