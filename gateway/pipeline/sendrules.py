"""The send side's rules, pure: validating a request and judging a failed send.

:func:`prepare` turns a :class:`~gateway.relay.ports.SendRequest` into the message to send
(E.164 destination on the country allow-list, code given or generated, WebOTP text with
its size) or a relay error naming the problem. :func:`judge` says what an exception from
:meth:`gateway.modem.session.ModemSession.send_pdu` means for the job: hand it to another
modem, retry later, fail it, or leave it ``unknown`` (never resent). No I/O, no clock.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, replace

from gateway.at import AtTimeout
from gateway.at.errors import AtError, CmeError, CmsError
from gateway.config.schema import SendSettings
from gateway.errors import UsageError
from gateway.jobs import Job, JobState, RetryPolicy
from gateway.jobs import JobEvent as Step
from gateway.journal import ReportMatch
from gateway.modem.link import LinkError
from gateway.modem.session import ModemUnavailable, SendOutcomeUnknown
from gateway.numbers import E164, NumberError, NumberTypeError, parse_destination
from gateway.relay.errors import BadRequest, NumberTypeRefused, OriginMismatch
from gateway.relay.ports import JobEvent, JobStatus, SendRequest
from gateway.sms import StatusReport, normalise_number
from gateway.webotp import ComposedMessage, InputError, compose, generate_code
from gateway.webotp.codes import MAX_LENGTH
from gateway.webotp.compose import MISREAD_REASONS

#: ``detail`` of the journal event when a job goes back to the queue because its modem
#: went away before the message body was written: not a failed attempt.
HANDOFF = "modem unavailable before the message body; requeued"


@dataclass(frozen=True, slots=True, kw_only=True)
class PreparedSend:
    """A validated request: the E.164 destination and the composed WebOTP message."""

    number: E164
    message: ComposedMessage

    def __post_init__(self) -> None:
        if not self.number.startswith("+"):
            raise UsageError("prepared send: the number must be E.164")

    def __repr__(self) -> str:
        # The message holds the code: never in a repr (house style §8).
        return f"PreparedSend(number='***', origin={self.message.origin!r}, message='***')"


def prepare(request: SendRequest, settings: SendSettings) -> PreparedSend:
    """Validate ``request`` and compose its SMS under ``settings``.

    The code is the request's or a fresh one (:func:`gateway.webotp.generate_code`, from
    :mod:`secrets`); the template is the request's text or ``settings.template``. Returns
    the :class:`PreparedSend`; raises :class:`~gateway.relay.errors.BadRequest` naming the
    field and the problem (bad number, country not allowed, bad code, bad template,
    too many segments when ``multi_segment = "refuse"``), its subclasses
    :class:`~gateway.relay.errors.NumberTypeRefused` for a number type not in
    ``allowed_number_types`` and :class:`~gateway.relay.errors.OriginMismatch` for a
    message some reader would not read back as the request (the reason token ends the
    message). Messages never quote the code.
    """
    try:
        number = parse_destination(
            request.number,
            settings.allowed_countries,
            require_valid=settings.valid_numbers_only,
            allowed_types=settings.allowed_number_types,
            default_region=settings.default_region,
        )
    except NumberTypeError as exc:
        raise NumberTypeRefused(f"number: {exc}") from None
    except NumberError as exc:
        raise BadRequest(f"number: {exc}") from None
    if request.code is not None and len(request.code) > MAX_LENGTH:
        raise BadRequest(f"code: longer than {MAX_LENGTH} characters")
    code = (
        request.code
        if request.code is not None
        else generate_code(settings.code_length, settings.code_alphabet)
    )
    template = request.text if request.text is not None else settings.template
    try:
        message = compose(
            origin=request.origin,
            code=code,
            embedded_origin=request.embedded_origin,
            text=template,
        )
    except InputError as exc:
        if exc.reason in MISREAD_REASONS:
            raise OriginMismatch(f"{exc.key}: {exc.problem} ({exc.reason})") from None
        raise BadRequest(f"{exc.key}: {exc.problem}") from None
    if message.segments > 1 and settings.multi_segment == "refuse":
        unit = "septets" if message.encoding == "gsm7" else "UCS-2 units"
        raise BadRequest(
            f"text: the message needs {message.segments} SMS ({message.length} {unit}) and "
            "send.multi_segment is 'refuse'; shorten the template"
        )
    return PreparedSend(number=number, message=message)


class Verdict(enum.Enum):
    """What a failed send means for its job."""

    HANDOFF = "handoff"  # the modem went away before the body: requeue, attempt not counted
    RETRY = "retry"  # transient: back to the queue with backoff while the code is valid
    FAIL = "fail"  # permanent: the job fails now
    UNKNOWN = "unknown"  # the body was written, no result: maybe sent, never resent


@dataclass(frozen=True, slots=True, kw_only=True)
class Judgement:
    """A :class:`Verdict`, a log-safe ``detail`` and the ``+CMS``/``+CME`` number if any."""

    verdict: Verdict
    detail: str
    cms: int | None = None
    cme: int | None = None


def judge(exc: BaseException) -> Judgement:
    """Classify an exception raised while sending one job.

    ``SendOutcomeUnknown`` (no ``+CMGS: <mr>`` seen after Ctrl-Z: a timeout, a reply
    without it, a link loss) is ``UNKNOWN``; a session that is not ready or a link lost
    before the body is ``HANDOFF``; ``+CMS``/``+CME`` errors follow
    :mod:`gateway.at.errors` (transient -> ``RETRY``, else ``FAIL``); a timeout (a reply
    that did not fit, a modem not answering) before the ``> `` prompt means nothing was
    sent (TS 27.005 §3.5.1) and is ``RETRY``; anything else is ``FAIL``. Returns the
    :class:`Judgement`; never raises.
    """
    if isinstance(exc, SendOutcomeUnknown):
        return Judgement(verdict=Verdict.UNKNOWN, detail=str(exc))
    if isinstance(exc, ModemUnavailable | LinkError):
        return Judgement(verdict=Verdict.HANDOFF, detail=HANDOFF)
    if isinstance(exc, CmsError | CmeError):
        verdict = Verdict.RETRY if exc.transient else Verdict.FAIL
        label = "+CMS ERROR" if isinstance(exc, CmsError) else "+CME ERROR"
        detail = f"{label} {exc.code if exc.code is not None else '?'}: {exc.name}"
        return Judgement(
            verdict=verdict,
            detail=detail,
            cms=exc.code if isinstance(exc, CmsError) else None,
            cme=exc.code if isinstance(exc, CmeError) else None,
        )
    if isinstance(exc, AtError):
        return Judgement(verdict=Verdict.RETRY if exc.transient else Verdict.FAIL, detail=str(exc))
    if isinstance(exc, AtTimeout):
        return Judgement(verdict=Verdict.RETRY, detail=f"no {exc.phase} in time; not sent")
    return Judgement(verdict=Verdict.FAIL, detail=f"send failed: {type(exc).__name__}")


def after_failure(
    job: Job, judgement: Judgement, *, now: float, policy: RetryPolicy, handoffs: int
) -> tuple[Step, float | None]:
    """Return the state-table event for a failed send of ``job`` and its retry time.

    ``job`` is ``sending`` (its attempts include this one); ``handoffs`` of those attempts
    were modem losses, which do not count against ``policy.max_attempts``. The retry time
    is None unless the event is ``TRANSIENT_ERROR`` (back to ``queued``).
    """
    if judgement.verdict is Verdict.UNKNOWN:
        return Step.OUTCOME_LOST, None
    if judgement.verdict is Verdict.FAIL:
        return Step.PERMANENT_ERROR, None
    if now >= job.expires_at:
        return Step.EXPIRED, None
    if judgement.verdict is Verdict.HANDOFF:
        return Step.TRANSIENT_ERROR, now
    counted = replace(job, attempts=max(1, job.attempts - handoffs))
    step, after = counted.on_transient_error(now=now, policy=policy)
    return step, after.not_before if step is Step.TRANSIENT_ERROR else None


def report_recipient(recipient: str) -> str:
    """Return a status report's TP-RA in the journal's form (E.164 with its "+")."""
    number = normalise_number(recipient)
    return "+" + number if number.isdigit() else number  # international without its TOA


def report_step(report: StatusReport, match: ReportMatch) -> Step | None:
    """Return how a matched final report moves a ``sent`` job, or None (more to come).

    TS 23.040 §9.2.3.15: TP-ST 0x00-0x1F delivered; 0x40-0x7F the SC gave up. The job is
    delivered once every part was delivered and fails at the first part that was not.
    """
    if not report.delivered:
        return Step.DELIVERY_FAILED
    if match.complete and match.delivered == match.parts:
        return Step.DELIVERED
    return None


def watch_ends(state: JobState, *, reports: bool) -> bool:
    """Return True when a watcher has seen the last event of a job in ``state``.

    Final states end it; so does ``sent`` when delivery reports are off (nothing follows).
    """
    return state.final or (state is JobState.SENT and not reports)


def job_event(job_id: str, state: JobState, at: float, detail: str | None = None) -> JobEvent:
    """Return the relay's :class:`~gateway.relay.ports.JobEvent` for ``state`` at ``at``."""
    return JobEvent(
        job_id=job_id,
        status=JobStatus(state.value),
        at=dt.datetime.fromtimestamp(at, tz=dt.UTC),
        detail=detail,
    )
