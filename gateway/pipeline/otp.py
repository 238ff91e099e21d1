"""Which received messages become code records: pure rules over a complete message.

A message yields a code when (WICG sms-one-time-codes) its text parses as an
origin-bound code in the configured mode, the origin and any embedded origin are on
the allow-list, the sender (address and type of number) is allowed for the origin and
for the embedded origin when a sender list is configured for them,
and the code has not already expired by the time it is decided on. A code's age counts
from the service centre's timestamp (TP-SCTS, TS 23.040 §9.2.3.11) when it is plausible,
so an OTP left on the SIM while the daemon was stopped is not relayed as a fresh one.
Everything else is a :class:`Rejected` with a stable reason token, safe to log and
count (never the code or the text).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from gateway.config.schema import ReceiveSettings
from gateway.errors import UsageError
from gateway.journal.records import NewCode
from gateway.sms.address import SenderType
from gateway.webotp import AllowList, FormatError, OriginBoundCode, parse
from gateway.webotp.codes import received_code_problem

#: reason tokens of :class:`Rejected` besides ``format:<FormatError.reason>``
REASONS = (
    "incomplete",
    "origin-not-allowed",
    "embedded-not-allowed",
    "sender-not-allowed",
    "embedded-sender-not-allowed",
    "code-too-long",  # longer than gateway.webotp.codes.MAX_RECEIVED_LENGTH
    "code-bad-character",  # a control, format (bidi), separator, ... character
    "expired",
    "refused",  # the journal refused the message as judged (see REFUSED)
)
#: the decision of a message the journal refused to store as judged: kept without a code
REFUSED = "refused"


@dataclass(frozen=True, slots=True, kw_only=True)
class OtpRules:
    """The receive settings in the shape decisions need (allow-list built once)."""

    settings: ReceiveSettings
    allow_list: AllowList

    @classmethod
    def from_settings(cls, settings: ReceiveSettings) -> OtpRules:
        """Return the rules of ``settings`` (already validated by the config schema)."""
        return cls(settings=settings, allow_list=settings.allow_list())


#: The message carries a code to relay, valid until ``expires_at``: the very value the
#: journal stores with the message (an accepted code is a new code), not a copy of it.
Accepted = NewCode


@dataclass(frozen=True, slots=True, kw_only=True)
class Rejected:
    """The message is kept but yields no code; ``reason`` is a log-safe token."""

    reason: str
    origin: str | None = None  # the parsed origin, when there was one

    def __post_init__(self) -> None:
        if self.reason not in REASONS and not self.reason.startswith("format:"):
            raise UsageError(f"unknown rejection reason {self.reason!r}")


Decision = Accepted | Rejected

#: how far a TP-SCTS may lie after the receive time (clock skew between the SC and us)
#: and still be trusted; a later one is implausible and the receive time counts instead
SCTS_SKEW = 300.0


def sent_at(received_at: float, scts: datetime | None) -> float:
    """Return when a message's code started to age: its TP-SCTS if plausible, else receipt.

    A TP-SCTS that is missing (impossible, decoded as None) or more than
    :data:`SCTS_SKEW` seconds after ``received_at`` is not trusted; one slightly after
    is clamped to ``received_at``. Raises nothing.
    """
    if scts is None:
        return received_at
    stamped = scts.timestamp()
    if stamped > received_at + SCTS_SKEW:
        return received_at
    return min(received_at, stamped)


def decide(
    rules: OtpRules,
    *,
    text: str,
    sender: str,
    complete: bool,
    received_at: float,
    now: float,
    scts: datetime | None = None,
    sender_kind: SenderType | None = None,
) -> Decision:
    """Decide whether a received message becomes a code record.

    Returns :class:`Accepted` with ``expires_at = sent_at(received_at, scts) +
    code_expiry`` (so never later than ``received_at + code_expiry``), or
    :class:`Rejected` with a reason token (``expired`` when that time has passed at
    ``now`` or at ``received_at``, whichever is later). ``sender_kind`` is the kind of
    the sender's address from its TP-OA type of number (None: not known, guessed from
    the address). Raises nothing.
    """
    if not complete:
        # a missing part may be the one with the origin line; never guess at a code
        return Rejected(reason="incomplete")
    try:
        bound: OriginBoundCode = parse(text, mode=rules.settings.parse_mode)
    except FormatError as exc:
        return Rejected(reason=f"format:{exc.reason}")
    origin, embedded = bound.origin, bound.embedded_origin
    # the format allows any non-whitespace code of any length; we relay only what a
    # person could type back: bounded, no ESC sequences, no bidi overrides
    problem = received_code_problem(bound.code)
    if problem is not None:
        return Rejected(reason=problem[0], origin=origin)
    if not rules.allow_list.allows(origin):
        return Rejected(reason="origin-not-allowed", origin=origin)
    if embedded is not None and not rules.allow_list.allows(embedded):
        return Rejected(reason="embedded-not-allowed", origin=origin)
    if not rules.settings.sender_allowed(origin, sender, kind=sender_kind):
        return Rejected(reason="sender-not-allowed", origin=origin)
    # the iframe's origin has its own sender list: a sender allowed only for the
    # top-level origin must not bind codes to an embedded origin it may not speak for
    if embedded is not None and not rules.settings.sender_allowed(
        embedded, sender, kind=sender_kind
    ):
        return Rejected(reason="embedded-sender-not-allowed", origin=origin)
    expires_at = sent_at(received_at, scts) + rules.settings.code_expiry
    # expired at receipt counts too: after the wall clock steps back, ``now`` may lie
    # before ``received_at``, and the journal refuses a code that expires by its receipt
    if expires_at <= max(now, received_at):
        return Rejected(reason="expired", origin=origin)
    return Accepted(origin=origin, embedded=embedded, code=bound.code, expires_at=expires_at)
