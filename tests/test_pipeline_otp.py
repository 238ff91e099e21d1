"""Tests for the OTP decision: parse mode, allow-list, embedded origin, senders, expiry."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from types import MappingProxyType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.config.schema import ReceiveSettings
from gateway.errors import UsageError
from gateway.pipeline.otp import (
    REASONS,
    SCTS_SKEW,
    Accepted,
    OtpRules,
    Rejected,
    decide,
    sent_at,
)
from gateway.sms.address import SenderType

BASE = ReceiveSettings(
    allowed_origins=("example.com", "*.example.org", "xn--bcher-kva.example"),
    senders=MappingProxyType({"example.com": ("+15551110000", "MyBank")}),
)
STRICT = OtpRules.from_settings(BASE)
CHROMIUM = OtpRules.from_settings(replace(BASE, parse_mode="chromium"))
BANK = "+15551110000"
OTHER = "+15552220000"


def run(
    text: str,
    *,
    rules: OtpRules = STRICT,
    sender: str = BANK,
    complete: bool = True,
    received_at: float = 1000.0,
    now: float = 1001.0,
) -> Accepted | Rejected:
    """Decide with defaults: a complete message from an allowed sender, just received."""
    return decide(
        rules, text=text, sender=sender, complete=complete, received_at=received_at, now=now
    )


@pytest.mark.parametrize(
    ("text", "sender", "origin", "embedded", "code"),
    [
        ("Your code is 123456.\n\n@example.com #123456", BANK, "example.com", None, "123456"),
        ("@example.com #123456", "mybank", "example.com", None, "123456"),  # names: any case
        ("@a.example.org #X9 @example.com", BANK, "a.example.org", "example.com", "X9"),
        ("@deep.sub.example.org #42", OTHER, "deep.sub.example.org", None, "42"),
        ("@BÜCHER.example #77", OTHER, "xn--bcher-kva.example", None, "77"),
        ("@Example.COM #abc", BANK, "example.com", None, "abc"),
    ],
)
def test_accepted_codes(
    text: str, sender: str, origin: str, embedded: str | None, code: str
) -> None:
    """Allowed origin-bound messages become codes that expire code_expiry after receipt."""
    decision = run(text, sender=sender)
    assert decision == Accepted(
        origin=origin, embedded=embedded, code=code, expires_at=1000.0 + BASE.code_expiry
    )


@pytest.mark.parametrize(
    ("text", "sender", "reason"),
    [
        ("Hello, lunch at noon?", BANK, "format:no-origin-line"),
        ("", BANK, "format:empty-message"),
        ("@example.com #123456\n", BANK, "format:trailing-newline"),
        ("@example.com  #123456", BANK, "format:bad-separator"),
        ("@evil.example #123456", BANK, "origin-not-allowed"),
        ("@example.org #123456", BANK, "origin-not-allowed"),  # *.example.org: not the base
        ("@www.example.com #123456", BANK, "origin-not-allowed"),  # exact entry only
        ("@example.com #1 @evil.example", BANK, "embedded-not-allowed"),
        ("@example.com #123456", OTHER, "sender-not-allowed"),
        ("@example.com #123456", "Other", "sender-not-allowed"),
        ("@example.com #12\x1b[2J34", BANK, "code-bad-character"),  # an ANSI sequence
        ("@example.com #\u202e4321", BANK, "code-bad-character"),  # bidi override
        ("@example.com #12\u00a034", BANK, "code-bad-character"),  # NBSP: not ASCII space
        ("@example.com #1\u200b2", BANK, "code-bad-character"),  # zero-width space
        ("@example.com #12\x0034", BANK, "code-bad-character"),  # NUL
        ("@example.com #" + "1" * 65, BANK, "code-too-long"),
        # the iframe's sender list counts too: OTHER may not speak for example.com
        ("@a.example.org #X9 @example.com", OTHER, "embedded-sender-not-allowed"),
    ],
)
def test_rejected_messages(text: str, sender: str, reason: str) -> None:
    """Messages that must not be relayed say why with a stable reason token."""
    decision = run(text, sender=sender)
    assert isinstance(decision, Rejected)
    assert decision.reason == reason
    assert decision.reason.startswith("format:") or decision.reason in REASONS


@pytest.mark.parametrize("code", ["1" * 64, "🔑1234", "Ab-12_é", "#1#", "@x"])
def test_codes_within_bounds_are_accepted(code: str) -> None:
    """A code of at most 64 printable characters (the format allows any) is relayed."""
    decision = run(f"@example.com #{code}")
    assert isinstance(decision, Accepted)
    assert decision.code == code


def test_rejection_carries_the_parsed_origin() -> None:
    """After a successful parse the origin is known (for logs and counters)."""
    assert run("@evil.example #1") == Rejected(reason="origin-not-allowed", origin="evil.example")
    assert run("no code here") == Rejected(reason="format:no-origin-line")


def test_incomplete_message_never_yields_a_code() -> None:
    """A message missing parts is never parsed for a code, even if its last line looks right."""
    assert run("@example.com #123456", complete=False) == Rejected(reason="incomplete")


@pytest.mark.parametrize(("now", "accepted"), [(1599.0, True), (1600.0, False), (9999.0, False)])
def test_expiry_is_judged_at_decision_time(now: float, accepted: bool) -> None:
    """A code older than code_expiry when decided on (e.g. rebuilt after a restart) is kept."""
    decision = run("@example.com #123456", received_at=1000.0, now=now)
    if accepted:
        assert isinstance(decision, Accepted)
    else:
        assert decision == Rejected(reason="expired", origin="example.com")


@pytest.mark.parametrize(
    ("text", "strict", "chromium"),
    [
        ("Code 55 @example.com #55 thanks", "format:no-origin-line", "55"),
        ("@example.com #55\nsigned, the team", "format:code-line-not-last", "55"),
        ("@example.com #55", "55", "55"),
    ],
)
def test_parse_mode_comes_from_the_settings(text: str, strict: str, chromium: str) -> None:
    """``strict`` reads only the last line; ``chromium`` finds the first match anywhere."""
    for rules, expected in ((STRICT, strict), (CHROMIUM, chromium)):
        decision = run(text, rules=rules, sender=BANK)
        got = decision.code if isinstance(decision, Accepted) else decision.reason
        assert got == expected


SHORT = OtpRules.from_settings(
    replace(
        BASE,
        allowed_origins=("example.com", "short.example", "alpha.example", "both.example"),
        senders=MappingProxyType(
            {
                "short.example": ("72727",),  # untyped digits: the short code
                "alpha.example": ("alphanumeric:72727",),
                "both.example": ("short:72727", "alphanumeric:72727"),
            }
        ),
    )
)


@pytest.mark.parametrize(
    ("origin", "kind", "accepted"),
    [
        ("short.example", SenderType.SHORT_CODE, True),
        ("short.example", SenderType.ALPHANUMERIC, False),  # the attack: a name "72727"
        ("short.example", SenderType.NATIONAL, False),
        ("alpha.example", SenderType.ALPHANUMERIC, True),
        ("alpha.example", SenderType.SHORT_CODE, False),
        ("both.example", SenderType.ALPHANUMERIC, True),
        ("both.example", SenderType.SHORT_CODE, True),
        ("both.example", SenderType.INTERNATIONAL, False),
    ],
)
def test_sender_lists_match_the_type_of_number(
    origin: str, kind: SenderType, accepted: bool
) -> None:
    """An entry matches senders of its kind only: alphanumeric "72727" is not short code 72727."""
    decision = decide(
        SHORT,
        text=f"@{origin} #123456",
        sender="72727",
        complete=True,
        received_at=1000.0,
        now=1001.0,
        sender_kind=kind,
    )
    assert isinstance(decision, Accepted) is accepted
    if not accepted:
        assert decision == Rejected(reason="sender-not-allowed", origin=origin)


def test_no_sender_list_accepts_any_sender() -> None:
    """Origins without a configured sender list accept codes from anyone."""
    assert isinstance(run("@x.example.org #1", sender="ANYONE"), Accepted)


def test_values_refuse_nonsense() -> None:
    """An accepted decision needs a code; a rejection needs a known reason."""
    with pytest.raises(UsageError):
        Accepted(origin="example.com", embedded=None, code="", expires_at=1.0)
    with pytest.raises(UsageError):
        Rejected(reason="because")


def test_repr_hides_the_code() -> None:
    """An Accepted decision's repr never shows the code."""
    assert "424242" not in repr(run("@example.com #424242"))


@settings(deadline=None, max_examples=300)
@given(
    text=st.one_of(
        st.text(max_size=200),
        st.builds(
            lambda host, code, tail: f"@{host} #{code}{tail}",
            st.sampled_from(["example.com", "a.example.org", "evil.example", "xn--p1ai", ""]),
            st.text(min_size=0, max_size=12),
            st.sampled_from(["", " @example.com", " @evil.example", "\n", "\r\n@example.com #1"]),
        ),
    ),
    sender=st.sampled_from([BANK, OTHER, "MyBank", "x"]),
    complete=st.booleans(),
    mode=st.sampled_from([STRICT, CHROMIUM]),
)
def test_any_text_gets_a_decision_and_accepted_codes_are_allowed(
    text: str, sender: str, complete: bool, mode: OtpRules
) -> None:
    """Random text gives Accepted or Rejected, never an exception; accepted ones obey the rules."""
    decision = run(text, rules=mode, sender=sender, complete=complete)
    assert isinstance(decision, Accepted | Rejected)
    if isinstance(decision, Accepted):
        assert complete
        assert mode.allow_list.allows(decision.origin, decision.embedded)
        assert BASE.sender_allowed(decision.origin, sender)
        assert decision.code
        assert decision.code in text


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


@pytest.mark.parametrize(
    ("scts", "start"),
    [
        (None, 10_000.0),  # impossible TP-SCTS: the receive time
        (_at(10_000.0), 10_000.0),
        (_at(6_400.0), 6_400.0),  # an hour old: ages from the SC's stamp
        (_at(10_000.0 + SCTS_SKEW), 10_000.0),  # ahead within the skew: clamped
        (_at(10_000.0 + SCTS_SKEW + 1), 10_000.0),  # further ahead: implausible
        (_at(10_000.0 + 86_400.0), 10_000.0),
    ],
)
def test_sent_at_trusts_only_a_plausible_scts(scts: datetime | None, start: float) -> None:
    """A code ages from its TP-SCTS unless that is missing or lies too far ahead."""
    assert sent_at(10_000.0, scts) == start


def test_code_already_expired_by_its_scts_is_rejected() -> None:
    """A code stamped code_expiry ago by the SC is rejected as expired on arrival."""
    stamped = _at(10_000.0 - BASE.code_expiry)
    decision = decide(
        STRICT, text="@example.com #1", sender=BANK, complete=True, received_at=10_000.0,
        now=10_000.0, scts=stamped,
    )  # fmt: skip
    assert decision == Rejected(reason="expired", origin="example.com")


def test_code_expired_at_receipt_is_rejected_after_a_clock_step_back() -> None:
    """With ``now`` before ``received_at`` (clock stepped back), expiry at receipt rejects."""
    stamped = _at(10_000.0 - BASE.code_expiry)  # expires exactly when it was received
    decision = decide(
        STRICT, text="@example.com #1", sender=BANK, complete=True, received_at=10_000.0,
        now=10_000.0 - 3600.0, scts=stamped,
    )  # fmt: skip
    assert decision == Rejected(reason="expired", origin="example.com")


@given(
    received=st.floats(min_value=0, max_value=4e9),
    now=st.floats(min_value=0, max_value=4e9),
    age=st.floats(min_value=0, max_value=1e6),
)
def test_an_accepted_code_expires_after_its_receipt(
    received: float, now: float, age: float
) -> None:
    """Whatever the clocks say, an accepted code's expiry lies after its receipt and now."""
    decision = decide(
        STRICT, text="@example.com #1", sender=BANK, complete=True, received_at=received,
        now=now, scts=_at(max(0.0, received - age)),
    )  # fmt: skip
    if isinstance(decision, Accepted):
        assert decision.expires_at > max(received, now)


@given(
    received=st.floats(min_value=0, max_value=4e9),
    offset=st.floats(min_value=-1e9, max_value=1e9),
)
def test_scts_never_lengthens_a_code_life(received: float, offset: float) -> None:
    """Whatever the TP-SCTS, a code expires no later than code_expiry after receipt."""
    start = sent_at(received, _at(max(0.0, received + offset)))
    assert start <= received
