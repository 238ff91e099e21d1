"""Tests for the send rules: request validation, failure judgement, report steps."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.at import AtTimeout
from gateway.at.errors import CmeError, CmsError, CommandFailed, ModemNotAnswering, UnexpectedReply
from gateway.config.schema import SendSettings
from gateway.jobs import Job, JobState, RetryPolicy
from gateway.jobs import JobEvent as Step
from gateway.journal import ReportMatch
from gateway.modem.channel import LinkLost
from gateway.modem.link import LinkDown
from gateway.modem.session import ModemUnavailable, SendOutcomeUnknown
from gateway.pipeline.sendrules import (
    HANDOFF,
    Judgement,
    PreparedSend,
    Verdict,
    after_failure,
    job_event,
    judge,
    prepare,
    report_recipient,
    report_step,
    watch_ends,
)
from gateway.relay.errors import BadRequest, ErrorCode, NumberTypeRefused, OriginMismatch
from gateway.relay.ports import JobStatus, SendRequest
from gateway.sms import StatusReport
from gateway.sms.octets import PduEncodeError
from gateway.webotp import parse

SETTINGS = SendSettings(allowed_countries=("US", "GB"))
NOW = 1_800_000_000.0


def prepared(**fields: str | None) -> PreparedSend:
    """Prepare a request for example.com to a valid US number, with ``fields`` changed."""
    values: dict[str, str | None] = {"number": "+14155552671", "origin": "example.com"}
    values.update(fields)
    return prepare(SendRequest(**values), SETTINGS)  # type: ignore[arg-type]


def test_prepare_generates_a_code_and_uses_the_template() -> None:
    """Without a code one is generated with the configured length and alphabet."""
    result = prepared()
    assert result.number == "+14155552671"
    assert len(result.message.code) == 6
    assert result.message.code.isdigit()
    assert result.message.text == f"Your code is {result.message.code}.\n\n" + (
        f"@example.com #{result.message.code}"
    )
    assert result.message.code not in repr(result)


def test_prepare_normalises_the_number_to_e164() -> None:
    """A number without "+" and with separators becomes E.164."""
    assert prepared(number="44 7400 123-456").number == "+447400123456"


def test_prepare_keeps_a_given_code_and_embedded_origin() -> None:
    """The given code and embedded origin reach the origin-bound line."""
    result = prepared(code="AB12CD", embedded_origin="shop.example", text="")
    assert result.message.text == "@example.com #AB12CD @shop.example"


@pytest.mark.parametrize(
    ("fields", "start"),
    [
        ({"number": "+33612345678"}, "number: destination: read as +33 6 12 34 56 78: country FR"),
        ({"number": "+1415"}, "number: destination: "),
        ({"number": "+15550000000"}, "number: destination: read as +1 555-000-0000: not a valid"),
        ({"code": ""}, "code: the code is empty"),
        ({"code": "12\t34"}, "code: the code contains whitespace"),
        ({"text": "Code {x}"}, "text: stray '{'"),
        ({"text": "x" * 200 + " {code}"}, "text: the message needs 2 SMS"),
    ],
)
def test_prepare_refuses_with_the_field_named(fields: dict[str, str], start: str) -> None:
    """Every refusal is a BadRequest whose message starts with the field's name."""
    with pytest.raises(BadRequest) as caught:
        prepared(**fields)
    assert caught.value.message.startswith(start)


@pytest.mark.parametrize(
    ("number", "kind"),
    [
        ("+449098790000", "premium_rate"),  # UK 09: premium rate
        ("+19005550123", "premium_rate"),  # US 900
        ("+448431234567", "premium_rate"),  # UK 084x is premium/service in the metadata
        ("+443001234567", "uan"),  # UK 03: universal access number
        ("+447640123456", "pager"),
        ("+445612345678", "voip"),
        ("+447012345678", "personal_number"),
        ("+448001234567", "toll_free"),
        ("+442079460958", "fixed_line"),  # a landline cannot read an SMS
    ],
)
def test_prepare_refuses_number_types_used_for_sms_pumping(number: str, kind: str) -> None:
    """Non-personal number types are refused with their own error code (number-type-refused)."""
    with pytest.raises(NumberTypeRefused) as caught:
        prepared(number=number)
    assert caught.value.code is ErrorCode.NUMBER_TYPE_REFUSED
    assert isinstance(caught.value, BadRequest)
    assert f"a {kind} number is not allowed" in caught.value.message


def test_prepare_accepts_mobile_and_fixed_or_mobile_by_default() -> None:
    """A UK mobile and a US number (fixed line or mobile in the NANP) pass by default."""
    assert prepared(number="+447400123456").number == "+447400123456"
    assert prepared(number="+12015550123").number == "+12015550123"


def test_allowed_number_types_is_configurable() -> None:
    """Listing a type in allowed_number_types admits it; dropping one refuses it."""
    landlines = replace(SETTINGS, allowed_number_types=("fixed_line", "mobile"))
    request = SendRequest(number="+442079460958", origin="example.com")
    assert prepare(request, landlines).number == "+442079460958"
    mobile_only = replace(SETTINGS, allowed_number_types=("mobile",))
    with pytest.raises(NumberTypeRefused):
        prepare(SendRequest(number="+12015550123", origin="example.com"), mobile_only)


@pytest.mark.parametrize(
    ("fields", "start"),
    [
        ({"text": "@bank.example #999999\n{code}"}, "text: a chromium reader would read another"),
        ({"text": "Hi\r@bank.example #999999 @example.com"}, "text: a chromium reader"),
        ({"text": "@example.com #999999"}, "text: a chromium reader would read another code"),
        ({"code": "12#34"}, "code: a chromium reader would not read this code back"),
        ({"embedded_origin": "[::1]"}, "embedded_origin: a chromium reader"),
    ],
)
def test_prepare_refuses_a_forged_origin_with_its_own_code(
    fields: dict[str, str], start: str
) -> None:
    """A send whose SMS a reader would take for another origin or code is origin-mismatch."""
    with pytest.raises(OriginMismatch) as caught:
        prepared(**fields)
    assert caught.value.code is ErrorCode.ORIGIN_MISMATCH
    assert caught.value.message.startswith(start)
    assert caught.value.message.endswith(")")
    assert "999999" not in caught.value.message


def test_prepare_allows_multi_segment_when_configured_to_warn() -> None:
    """multi_segment = warn keeps the two-part message and its warning."""
    settings = replace(SETTINGS, multi_segment="warn")
    request = SendRequest(number="+14155552671", origin="example.com", text="x" * 200)
    result = prepare(request, settings)
    assert result.message.segments == 2
    assert "multi-segment" in {w.reason for w in result.message.warnings}


def test_prepare_accepts_possible_numbers_when_validity_is_not_required() -> None:
    """valid_numbers_only = false admits test ranges such as +1 555 01xx."""
    settings = replace(SETTINGS, valid_numbers_only=False)
    request = SendRequest(number="+15550000000", origin="example.com")
    assert prepare(request, settings).number == "+15550000000"


@given(
    number=st.text(max_size=30),
    code=st.none() | st.text(max_size=70),
    text=st.none() | st.text(max_size=200),
)
def test_prepare_gives_a_message_or_a_bad_request(
    number: str, code: str | None, text: str | None
) -> None:
    """Any request yields a message that parses back to its code, or BadRequest."""
    try:
        request = SendRequest(number=number or "x", origin="example.com", code=code, text=text)
    except ValueError:
        return
    field: str | None = None
    try:
        result = prepare(request, SETTINGS)
    except BadRequest as exc:
        field = exc.message.split(":")[0]
    else:
        assert result.number.startswith("+")
        assert parse(result.message.text).code == result.message.code
    assert field in {None, "number", "code", "text"}
    if field is None:
        assert parse(result.message.text, mode="chromium").code == result.message.code


@pytest.mark.parametrize(
    ("exc", "verdict", "cms"),
    [
        (SendOutcomeUnknown("no result after the message body"), Verdict.UNKNOWN, None),
        (ModemUnavailable("modem not ready (reconnecting)"), Verdict.HANDOFF, None),
        (LinkLost("link lost: gone", after_body=False), Verdict.HANDOFF, None),
        (LinkDown("pty closed"), Verdict.HANDOFF, None),
        (CmsError(500), Verdict.RETRY, 500),
        (CmsError(512), Verdict.RETRY, 512),
        (CmsError(330), Verdict.FAIL, 330),
        (CmsError(304), Verdict.FAIL, 304),
        (CmsError(999), Verdict.FAIL, 999),
        (CmeError(14), Verdict.RETRY, None),
        (CommandFailed("AT+CMGS=20", "ERROR"), Verdict.FAIL, None),
        (AtTimeout("AT+CMGS=20", "prompt"), Verdict.RETRY, None),
        (UnexpectedReply("AT+CMGS=20", "prompt"), Verdict.RETRY, None),  # OK, no prompt
        (ModemNotAnswering("AT+CMGS=20", "no answer"), Verdict.RETRY, None),  # not written
        (PduEncodeError("TP-MR 300 outside 0..255"), Verdict.FAIL, None),
    ],
)
def test_judge_classifies_send_failures(exc: Exception, verdict: Verdict, cms: int | None) -> None:
    """Each failure of send_pdu maps to handoff, retry, fail or unknown."""
    judgement = judge(exc)
    assert judgement.verdict is verdict
    assert judgement.cms == cms
    assert judgement.detail


def sending(attempts: int = 1, expires_at: float = NOW + 600) -> Job:
    """A job in state sending with ``attempts`` made."""
    return Job(id="j", state=JobState.SENDING, attempts=attempts, expires_at=expires_at)


POLICY = RetryPolicy(max_attempts=3, backoff_initial=5.0, backoff_max=60.0)


def test_after_failure_retries_with_backoff_then_gives_up() -> None:
    """Transient errors back off 5 s, 10 s; the third failed attempt fails the job."""
    retry = Judgement(verdict=Verdict.RETRY, detail="+CMS ERROR 500: unknown error", cms=500)
    run = (after_failure(sending(n), retry, now=NOW, policy=POLICY, handoffs=0) for n in (1, 2, 3))
    assert list(run) == [
        (Step.TRANSIENT_ERROR, NOW + 5.0),
        (Step.TRANSIENT_ERROR, NOW + 10.0),
        (Step.RETRIES_EXHAUSTED, None),
    ]


def test_after_failure_does_not_count_handoffs_as_attempts() -> None:
    """Attempts lost to a vanished modem leave the retry budget untouched."""
    retry = Judgement(verdict=Verdict.RETRY, detail="x")
    assert after_failure(sending(3), retry, now=NOW, policy=POLICY, handoffs=2) == (
        Step.TRANSIENT_ERROR,
        NOW + 5.0,
    )


def test_after_failure_handoff_requeues_now_and_expired_codes_end() -> None:
    """A handoff requeues at once; any failure after expiry ends the job expired."""
    handoff = Judgement(verdict=Verdict.HANDOFF, detail=HANDOFF)
    assert after_failure(sending(), handoff, now=NOW, policy=POLICY, handoffs=0) == (
        Step.TRANSIENT_ERROR,
        NOW,
    )
    late = sending(expires_at=NOW)
    assert after_failure(late, handoff, now=NOW, policy=POLICY, handoffs=0)[0] is Step.EXPIRED
    retry = Judgement(verdict=Verdict.RETRY, detail="x")
    soon = sending(expires_at=NOW + 2)  # the 5 s backoff would end after the expiry
    assert after_failure(soon, retry, now=NOW, policy=POLICY, handoffs=0)[0] is Step.EXPIRED


def test_after_failure_unknown_and_fail_are_final_even_when_valid() -> None:
    """Outcome lost and permanent errors never requeue."""
    for verdict, step in (
        (Verdict.UNKNOWN, Step.OUTCOME_LOST),
        (Verdict.FAIL, Step.PERMANENT_ERROR),
    ):
        judgement = Judgement(verdict=verdict, detail="x")
        assert after_failure(sending(), judgement, now=NOW, policy=POLICY, handoffs=0) == (
            step,
            None,
        )


def report(status: int) -> StatusReport:
    """A status report with TP-ST ``status``."""
    at = datetime(2026, 11, 27, tzinfo=UTC)
    return StatusReport(
        smsc=None, reference=7, recipient="+14155552671", scts=at, discharge=at, status=status
    )


@pytest.mark.parametrize(
    ("status", "parts", "reported", "delivered", "step"),
    [
        (0x00, 1, 1, 1, Step.DELIVERED),
        (0x00, 2, 1, 1, None),
        (0x00, 2, 2, 2, Step.DELIVERED),
        (0x41, 2, 1, 0, Step.DELIVERY_FAILED),
        (0x60, 1, 1, 0, Step.DELIVERY_FAILED),
    ],
)
def test_report_step(
    status: int, parts: int, reported: int, delivered: int, step: Step | None
) -> None:
    """Delivered once every part is; failed at the first part the SC gave up on."""
    match = ReportMatch(job_id="j", part=0, parts=parts, reported=reported, delivered=delivered)
    assert report_step(report(status), match) is step


@pytest.mark.parametrize(
    ("recipient", "expected"),
    [("+14155552671", "+14155552671"), ("14155552671", "+14155552671"), ("+1 415-555", "+1415555")],
)
def test_report_recipient_is_e164(recipient: str, expected: str) -> None:
    """TP-RA without its TOA gets the "+" the journal stores numbers with."""
    assert report_recipient(recipient) == expected


def test_watch_ends_after_final_states_or_sent_without_reports() -> None:
    """Sent is the last event only when no delivery report can follow."""
    assert watch_ends(JobState.UNKNOWN, reports=True)
    assert watch_ends(JobState.SENT, reports=False)
    assert not watch_ends(JobState.SENT, reports=True)
    assert not watch_ends(JobState.QUEUED, reports=False)


@pytest.mark.parametrize("state", list(JobState))
def test_job_event_maps_each_state_to_the_status_of_the_same_name(state: JobState) -> None:
    """Every internal job state has its wire status (the two enums are kept in step)."""
    status = job_event("job-1", state, 0.0).status
    assert (status.name, status.value) == (state.name, state.value)
    assert len(JobStatus) == len(JobState)
