"""Tests for the send queue over a real pty against the simulator, with a real journal."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from pipeline_send_helpers import DEST, SETTINGS, request, rig, run

from gateway import log as gwlog
from gateway.jobs import JobEvent as Step
from gateway.jobs import JobState
from gateway.journal import JobRecord, JournalError, SqliteJournal
from gateway.modem.status import SessionState
from gateway.ratelimit import Rate, RateLimiter
from gateway.relay.errors import BadRequest, NotFound, RateLimited, Unavailable
from gateway.relay.ports import JobEvent, JobStatus, SendAccepted, SendRequest
from gateway.webotp import parse

S = JobStatus


def statuses(events: list[JobEvent]) -> list[JobStatus]:
    """The statuses of a list of job events."""
    return [e.status for e in events]


def test_submitted_job_is_answered_at_once_then_sent_with_exactly_that_text(
    tmp_path: Path,
) -> None:
    """Submit answers with a job id and the code before the modem works; the network gets it."""

    async def scenario() -> None:
        async with rig(tmp_path) as r:
            accepted = await r.service.submit(request())
            assert accepted.status is S.QUEUED
            assert accepted.job_id.startswith("j-")
            assert len(accepted.job_id) >= 20
            assert accepted.code is not None
            assert len(accepted.code) == SETTINGS.code_length
            assert accepted.code.isdigit()
            assert r.modems[0].sent() == []  # answered before any AT command ran
            events = await r.events(accepted.job_id)
            assert statuses(events) == [S.QUEUED, S.SENDING, S.SENT]
            (sent,) = r.modems[0].sent()
            assert sent.number == DEST
            parsed = parse(sent.text)
            assert (parsed.origin, parsed.code, parsed.embedded_origin) == (
                "example.com",
                accepted.code,
                None,
            )
            assert sent.text.startswith("Your code is ")
            assert not sent.status_report_requested  # reports are off by default
            job = r.journal.job(accepted.job_id)
            assert job.state is JobState.SENT
            assert job.references == (sent.reference,)
            assert job.modem == "m0"

    run(scenario)


def test_given_code_embedded_origin_and_template_are_sent(tmp_path: Path) -> None:
    """A requested code, embedded origin and template end up in the SMS as asked."""

    async def scenario() -> None:
        async with rig(tmp_path) as r:
            accepted = await r.service.submit(
                request(code="K7Q9ZX", embedded_origin="shop.example", text="Login {code}")
            )
            assert accepted.code == "K7Q9ZX"
            assert await r.last(accepted.job_id) is S.SENT
            (sent,) = r.modems[0].sent()
            assert sent.text == "Login K7Q9ZX\n\n@example.com #K7Q9ZX @shop.example"

    run(scenario)


def test_three_concurrent_submits_are_each_sent_once(tmp_path: Path) -> None:
    """Three submits at once: three jobs, three SMS, each code exactly once."""

    async def scenario() -> None:
        async with rig(tmp_path) as r:
            accepted = await asyncio.gather(*(r.service.submit(request()) for _ in range(3)))
            assert len({a.job_id for a in accepted}) == 3
            finals = await asyncio.gather(*(r.last(a.job_id) for a in accepted))
            assert finals == [S.SENT] * 3
            codes = sorted(parse(m.text).code for m in r.modems[0].sent())
            assert codes == sorted(a.code for a in accepted if a.code)

    run(scenario)


LONG = "Welcome back to Example Shop! " * 6 + "Your one-time code is {code}."


def test_multi_segment_is_refused_with_the_reason(tmp_path: Path) -> None:
    """A template that needs two SMS is refused (multi_segment = refuse); nothing stored."""

    async def scenario() -> None:
        async with rig(tmp_path) as r:
            with pytest.raises(BadRequest) as caught:
                await r.service.submit(request(text=LONG))
            assert caught.value.message.startswith("text: the message needs 2 SMS")
            assert "multi_segment" in caught.value.message
            assert r.journal.jobs() == []

    run(scenario)


def test_multi_segment_when_allowed_sends_one_reference_per_part(tmp_path: Path) -> None:
    """With multi_segment = warn the two parts go out, each with its own TP-MR."""

    async def scenario() -> None:
        settings = replace(SETTINGS, multi_segment="warn")
        async with rig(tmp_path, settings=settings) as r:
            accepted = await r.service.submit(request(text=LONG))
            assert await r.last(accepted.job_id) is S.SENT
            parts = r.modems[0].sent()
            assert [(p.part, p.parts) for p in parts] == [(1, 2), (2, 2)]
            assert len({p.concat_reference for p in parts}) == 1
            whole = "".join(p.text for p in parts)
            assert parse(whole).code == accepted.code
            job = r.journal.job(accepted.job_id)
            assert job.references == tuple(p.reference for p in parts)
            assert len(set(job.references)) == 2

    run(scenario)


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ("+442079460958", "number: destination: read as +44 20 7946 0958: country GB is not"),
        ("+1415", "number: destination: "),
        ("not a number", "number: destination: not a phone number"),
        ("+999123456789", "number: destination: not a phone number (unknown country"),
    ],
)
def test_bad_or_refused_numbers_are_bad_requests_naming_the_number(
    tmp_path: Path, number: str, expected: str
) -> None:
    """Malformed numbers and countries off the allow-list are refused, naming the field."""

    async def scenario() -> None:
        async with rig(tmp_path) as r:
            with pytest.raises(BadRequest) as caught:
                await r.service.submit(request(number=number))
            assert caught.value.message.startswith(expected)
            assert r.journal.jobs() == []

    run(scenario)


def test_bad_code_and_template_are_bad_requests_without_the_code(tmp_path: Path) -> None:
    """A code with a space or a stray brace in the template is refused; the code is not quoted."""

    async def scenario() -> None:
        async with rig(tmp_path) as r:
            with pytest.raises(BadRequest) as caught:
                await r.service.submit(request(code="12 34"))
            assert caught.value.message.startswith("code: ")
            assert "12 34" not in caught.value.message
            with pytest.raises(BadRequest) as caught:
                await r.service.submit(request(text="Code {cod}"))
            assert caught.value.message.startswith("text: ")
            with pytest.raises(BadRequest, match="longer than 64"):
                await r.service.submit(request(code="9" * 65))

    run(scenario)


@pytest.mark.parametrize(
    ("limiter", "second", "limit", "retry_after"),
    [
        (RateLimiter(per_number=(Rate(count=2, period=600),)), {}, "per-number 2/10min", 600),
        (
            RateLimiter(per_origin=(Rate(count=2, period=3600),)),
            {"number": "+12015550123"},
            "per-origin 2/h",
            3600,
        ),
        (RateLimiter(global_per_minute=2), {"origin": "other.example"}, "global 2/min", 60),
    ],
)
def test_rate_limits_refuse_naming_the_limit_and_when_to_retry(
    tmp_path: Path,
    limiter: RateLimiter,
    second: dict[str, str],
    limit: str,
    retry_after: float,
) -> None:
    """The third request over a limit is refused with the limit's name and retry_after."""

    async def scenario() -> None:
        async with rig(tmp_path, limiter=limiter, run=False) as r:
            await r.service.submit(request())
            await r.service.submit(request())
            with pytest.raises(RateLimited) as caught:
                await r.service.submit(request(**second))
            assert limit in caught.value.message
            assert caught.value.retry_after is not None
            assert retry_after - 5 <= caught.value.retry_after <= retry_after
            assert len(r.journal.jobs()) == 2

    run(scenario)


def test_transient_cms_500_is_retried_and_sent_once(tmp_path: Path) -> None:
    """+CMS ERROR 500 once: the job goes back to the queue, is retried and sent once."""

    async def scenario() -> None:
        async with rig(tmp_path) as r:
            r.modems[0].set_fault("cms-on-send", code=500, times=1)
            accepted = await r.service.submit(request())
            events = await r.events(accepted.job_id)
            assert statuses(events) == [S.QUEUED, S.SENDING, S.QUEUED, S.SENDING, S.SENT]
            assert events[2].detail == "+CMS ERROR 500: unknown error"
            assert len(r.modems[0].sent()) == 1
            assert r.journal.job(accepted.job_id).attempts == 2

    run(scenario)


def test_transient_errors_stop_after_max_attempts(tmp_path: Path) -> None:
    """A transient error that never clears fails the job after max_attempts sends."""

    async def scenario() -> None:
        async with rig(tmp_path) as r:
            r.modems[0].set_fault("cms-on-send", code=512, times=None)
            accepted = await r.service.submit(request())
            events = await r.events(accepted.job_id)
            assert statuses(events)[-1] is S.FAILED
            assert statuses(events).count(S.SENDING) == SETTINGS.max_attempts
            assert r.modems[0].sent() == []

    run(scenario)


@pytest.mark.parametrize("code", [330, 304])
def test_permanent_cms_fails_at_once_and_the_next_job_still_goes(tmp_path: Path, code: int) -> None:
    """A permanent +CMS error fails its job on the first attempt; the queue goes on."""

    async def scenario() -> None:
        async with rig(tmp_path) as r:
            r.modems[0].set_fault("cms-on-send", code=code, times=1)
            first = await r.service.submit(request())
            second = await r.service.submit(request())
            events = await r.events(first.job_id)
            assert statuses(events) == [S.QUEUED, S.SENDING, S.FAILED]
            assert events[-1].detail is not None
            assert events[-1].detail.startswith(f"+CMS ERROR {code}: ")
            assert await r.last(second.job_id) is S.SENT
            assert [parse(m.text).code for m in r.modems[0].sent()] == [second.code]
            assert r.journal.job(first.job_id).attempts == 1

    run(scenario)


def test_timeout_after_ctrl_z_is_unknown_and_never_resent(tmp_path: Path) -> None:
    """No +CMGS after the body: the job is unknown, not resent; later jobs still go out."""

    async def scenario() -> None:
        async with rig(tmp_path) as r:
            modem = r.modems[0]
            modem.set_fault("late-reply", delay=1.5)  # longer than the 1 s body timeout
            first = await r.service.submit(request())
            events = await r.events(first.job_id)
            assert statuses(events) == [S.QUEUED, S.SENDING, S.UNKNOWN]
            modem.clear_fault("late-reply")
            second = await r.service.submit(request())
            assert await r.last(second.job_id) is S.SENT
            codes = [parse(m.text).code for m in modem.sent()]
            # the network did take the first one: it must appear once, never twice
            assert codes == [first.code, second.code]
            assert r.journal.job(first.job_id).state is JobState.UNKNOWN

    run(scenario)


def test_watch_of_an_unknown_job_raises_not_found(tmp_path: Path) -> None:
    """Watching a job id the journal does not have raises NotFound from the iterator."""

    async def scenario() -> None:
        async with rig(tmp_path, run=False) as r:
            with pytest.raises(NotFound):
                await r.events("j-does-not-exist")

    run(scenario)


def test_job_expires_while_no_modem_can_send_it(tmp_path: Path) -> None:
    """A job whose code expires while its only modem is unplugged ends expired, unsent."""

    async def scenario() -> None:
        # requests are accepted "600 s ago": their code expires 0.2 s after submit
        def clock() -> float:
            return time.time() - SETTINGS.validity + 0.2

        async with rig(tmp_path, submit_clock=clock) as r:
            r.modems[0].unplug()
            await r.sessions["m0"].wait_for(lambda s: s.state is SessionState.RECONNECTING, 5)
            accepted = await r.service.submit(request())
            events = await r.events(accepted.job_id)
            assert statuses(events) == [S.QUEUED, S.EXPIRED]
            assert r.modems[0].sent() == []

    run(scenario)


def test_logs_hold_no_code_text_or_pdu(tmp_path: Path) -> None:
    """Every event logged while sending (even unredacted) is free of the code, text and PDU."""

    async def scenario() -> tuple[str, str]:
        async with rig(tmp_path) as r:
            r.modems[0].set_fault("cms-on-send", code=500, times=1)
            accepted = await r.service.submit(request(code="K7Q9ZX8", text="Hi {code}"))
            assert await r.last(accepted.job_id) is S.SENT
            r.modems[0].set_fault("cms-on-send", code=330, times=1)
            failed = await r.service.submit(request(code="K7Q9ZX9"))
            assert await r.last(failed.job_id) is S.FAILED
            with pytest.raises(BadRequest):
                await r.service.submit(request(code="K7Q 9ZX"))
            (sent,) = r.modems[0].sent()
            return sent.text, sent.pdu

    for debug_secrets in (True, False):
        with gwlog.capture(debug_secrets=debug_secrets) as events:
            text, pdu = run(scenario)
        ours = [e for e in events if str(e.get("event", "")).startswith("send.")]
        assert {e["event"] for e in ours} >= {"send.job", "send.refused"}
        checked = ours if debug_secrets else events
        for event in checked:
            blob = repr(event)
            for secret in ("K7Q9ZX8", "K7Q9ZX9", "K7Q 9ZX", text, pdu, pdu[2:40], DEST):
                assert secret not in blob, event
        cms = [e.get("cms") for e in ours if e["event"] == "send.job"]
        assert 500 in cms
        assert 330 in cms


def test_submit_after_drain_is_unavailable_and_queued_jobs_stay(tmp_path: Path) -> None:
    """After drain no send starts: jobs stay queued in the journal, new ones are refused."""

    async def scenario() -> None:
        async with rig(tmp_path, run=False) as r:
            accepted = await r.service.submit(request())
            await r.dispatcher.drain(1.0)
            with pytest.raises(Unavailable):
                await r.service.submit(request())
            assert r.journal.job(accepted.job_id).state is JobState.QUEUED
            assert r.modems[0].sent() == []

    run(scenario)


def test_drain_waits_for_the_send_in_flight(tmp_path: Path) -> None:
    """drain() lets an AT+CMGS in flight finish within its bound: the job is sent."""

    async def scenario() -> None:
        async with rig(tmp_path) as r:
            r.modems[0].set_fault("late-reply", delay=0.3)
            accepted = await r.service.submit(request())
            session = r.sessions["m0"]
            await session.wait_for(lambda s: s.phase == "await-send-result", 5)
            await r.dispatcher.drain(5.0)
            assert r.journal.job(accepted.job_id).state is JobState.SENT
            assert len(r.modems[0].sent()) == 1

    run(scenario)


def test_drain_records_a_send_still_in_flight_as_unknown(tmp_path: Path) -> None:
    """A send still waiting for +CMGS when drain's bound ends is recorded unknown at once."""

    async def scenario() -> None:
        async with rig(tmp_path) as r:
            r.modems[0].set_fault("late-reply", delay=0.8)
            accepted = await r.service.submit(request())
            await r.sessions["m0"].wait_for(lambda s: s.phase == "await-send-result", 5)
            await r.dispatcher.drain(0.05)
            job = r.journal.job(accepted.job_id)
            assert job.state is JobState.UNKNOWN
            assert r.journal.job_events(job.id)[-1].detail == "gateway stopped while sending"

    run(scenario)


def test_request_repr_and_accepted_repr_hide_the_code() -> None:
    """SendRequest and SendAccepted never show the code in a repr."""
    req = SendRequest(number=DEST, origin="example.com", code="K7Q9ZX")
    assert "K7Q9ZX" not in repr(req)
    assert "K7Q9ZX" not in repr(SendAccepted(job_id="j-1", code="K7Q9ZX"))


class StartFailsOnce(SqliteJournal):
    """A journal whose write of the first START step fails, as on a full disk.

    Fault injection at the I/O boundary (the journal write), not a mock of the dispatcher:
    the transaction raises JournalError before anything is committed.
    """

    failures = 1

    def transition_job(self, job_id: str, event: Step, **kwargs: Any) -> JobRecord:
        if event is Step.START and self.failures:
            self.failures -= 1
            raise JournalError("journal: database or disk is full")
        return super().transition_job(job_id, event, **kwargs)


def test_job_whose_start_could_not_be_journalled_is_sent_after_a_backoff(
    tmp_path: Path,
) -> None:
    """A failed journal write of START leaves the job queued and it is still sent, once."""

    async def scenario() -> None:
        async with rig(tmp_path, journal_type=StartFailsOnce) as r:
            with gwlog.capture() as events:
                accepted = await r.service.submit(request())
                await r.reach(accepted.job_id, S.SENT)
            assert len(r.modems[0].sent()) == 1
            assert r.journal.job(accepted.job_id).attempts == 1
            assert "send.start_failed" in [e["event"] for e in events]

    run(scenario)
