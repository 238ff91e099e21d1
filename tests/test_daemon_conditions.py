"""Tests for the status conditions: what each modem state and storage figure adds (pure)."""

from __future__ import annotations

import pytest

from gateway.daemon import status as health
from gateway.daemon.conditions import Condition, Health, modem_conditions, modem_health, overall
from gateway.daemon.storage import MemoryUse
from gateway.errors import UsageError
from gateway.modem.status import ModemStatus, SessionState


def modem(state: SessionState = SessionState.READY, **fields: object) -> ModemStatus:
    """A status snapshot of a modem at /dev/x."""
    return ModemStatus(state=state, device="/dev/x", **fields)  # type: ignore[arg-type]


CASES: list[tuple[ModemStatus, list[str], Health]] = [
    (modem(), [], Health.OK),
    (modem(probe_error="health probe failed: AT+CSQ: timeout"), ["unresponsive"], Health.DEGRADED),
    (modem(SessionState.RECONNECTING, error="end of file"), ["not-ready"], Health.DOWN),
    (modem(SessionState.INITIALISING, escalations=1), ["not-ready"], Health.DOWN),
    (modem(SessionState.FAILED, error="unresponsive"), ["failed"], Health.DOWN),
    (modem(SessionState.FAILED, error="wrong PIN", fatal=True), ["failed-fatal"], Health.DOWN),
    (modem(SessionState.STOPPED), [], Health.DOWN),
]


@pytest.mark.parametrize(("status", "codes", "expected"), CASES)
def test_state_conditions(status: ModemStatus, codes: list[str], expected: Health) -> None:
    """Each session state gives its condition code and the modem's health."""
    found = modem_conditions("m0", status)
    assert [c.code for c in found] == codes
    assert modem_health(status, found) is expected


def test_full_and_unreadable_storage() -> None:
    """A memory at capacity is storage-full; an unlistable one storage-unreadable."""
    uses = [MemoryUse(memory="SM", used=30, total=30), MemoryUse(memory="ME", used=1, total=100)]
    found = modem_conditions(
        "m0", modem(), storage_use=uses, unreadable={"ME": "+CMS ERROR 321", "*": "timeout"}
    )
    assert [(c.code, c.reason) for c in found] == [
        ("storage-full", "SM full (30/30): new SMS cannot be stored"),
        ("storage-unreadable", "storage: timeout"),
        ("storage-unreadable", "ME: +CMS ERROR 321"),
    ]
    assert modem_health(modem(), found) is Health.DEGRADED


def test_overall_health() -> None:
    """Down without a modem up (starting during the first start-up); degraded with any
    condition (a daemon one too); else ok."""
    journal = Condition(subject="journal", code="journal-degraded", reason="commit failed")
    assert overall([Health.DOWN, Health.DOWN], []) is Health.DOWN
    assert overall([Health.OK, Health.DOWN], []) is Health.OK
    assert overall([Health.OK], [journal]) is Health.DEGRADED
    assert overall([], []) is Health.DOWN
    not_ready = {"subject": "m0", "code": "not-ready", "reason": "initialising"}
    failed = {"subject": "m1", "code": "failed", "reason": "no answer"}
    assert overall([Health.DOWN], [not_ready], first_start=True) is Health.STARTING
    assert overall([Health.DOWN], [not_ready], first_start=False) is Health.DOWN
    assert overall([Health.DOWN, Health.DOWN], [not_ready, failed], first_start=True) is (
        Health.DOWN
    )


def test_snapshot_lists_modem_and_daemon_conditions() -> None:
    """The snapshot's conditions hold every modem's and the daemon's own, and set health."""
    journal = Condition(subject="journal", code="journal-degraded", reason="commit failed")
    send_only = Condition(subject="a", code="receive-unavailable", reason="no AT+CNMI")
    snap = health.snapshot(
        modems={"a": modem(), "b": modem(SessionState.RECONNECTING)},
        modem_extra={"a": [send_only]},
        conditions=[journal],
        receive={},
        send={},
        queue=0,
        counters={},
        uptime=1.0,
        version="x",
    )
    assert snap["health"] == "degraded"
    listed = snap["conditions"]
    assert isinstance(listed, list)
    assert [c["code"] for c in listed] == [
        "receive-unavailable",
        "not-ready",
        "journal-degraded",
    ]
    entries = snap["modems"]
    assert isinstance(entries, list)
    assert [e["health"] for e in entries] == ["degraded", "down"]


def test_a_condition_needs_subject_and_code() -> None:
    """An empty subject or code cannot exist."""
    with pytest.raises(UsageError):
        Condition(subject="", code="x", reason="")


def test_status_line_says_degraded_for_an_unanswered_probe() -> None:
    """The STATUS= line shows a ready modem that missed its last probe as degraded."""
    modems = {"a": modem(probe_error="health probe failed"), "b": modem(signal=20)}
    assert health.status_line(modems, 0) == "a degraded, b ready (-73 dBm); queue 0"
