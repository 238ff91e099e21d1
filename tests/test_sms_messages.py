"""Tests for the validated message values of the PDU codec."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from gateway.errors import UsageError
from gateway.sms import Deliver, StatusReport, Submit
from gateway.sms.timestamp import encode_timestamp

SCTS = datetime(2026, 11, 27, 2, 30, 15, tzinfo=UTC)
DELIVER: dict[str, Any] = {
    "smsc": None,
    "sender": "+15557654321",
    "sender_toa": 0x91,
    "scts": SCTS,
    "pid": 0,
    "dcs": 0,
    "encoding": "gsm7",
    "text": "hi",
    "data": None,
    "concat": None,
    "more_messages": False,
    "status_report_indication": False,
}
SUBMIT: dict[str, Any] = {
    "smsc": None,
    "reference": 0,
    "number": "+15557654321",
    "number_toa": 0x91,
    "status_report_requested": False,
    "validity": None,
    "pid": 0,
    "dcs": 0,
    "encoding": "gsm7",
    "text": "hi",
    "concat": None,
}


@pytest.mark.parametrize(
    "change",
    [
        {"pid": 256},
        {"sender_toa": -1},
        {"scts": datetime(2026, 1, 1)},
        {"encoding": "utf8"},
        {"data": b"\x00"},
        {"encoding": "8bit"},
    ],
)
def test_invalid_deliver(change: dict[str, Any]) -> None:
    """Out-of-range octets, naive times, unknown encodings and stray data are refused."""
    with pytest.raises(UsageError):
        Deliver(**{**DELIVER, **change})


@pytest.mark.parametrize(
    "change",
    [{"reference": 256}, {"dcs": -1}, {"validity": datetime(2026, 1, 1)}, {"number_toa": 300}],
)
def test_invalid_submit(change: dict[str, Any]) -> None:
    """A SUBMIT with an impossible field cannot exist."""
    with pytest.raises(UsageError):
        Submit(**{**SUBMIT, **change})


def test_valid_values_are_frozen() -> None:
    """Valid values construct, and assigning to them fails."""
    msg = Deliver(**{**DELIVER, "encoding": "8bit", "data": b"\x01", "text": "\x01"})
    with pytest.raises(AttributeError):
        msg.text = "x"  # type: ignore[misc]
    assert Submit(**SUBMIT).reject_duplicates is False


@pytest.mark.parametrize(
    "change", [{"reference": 256}, {"status": -1}, {"discharge": datetime(2026, 1, 1)}]
)
def test_invalid_status_report(change: dict[str, Any]) -> None:
    """A status report needs one-octet MR and ST and aware times."""
    base: dict[str, Any] = {
        "smsc": None,
        "reference": 1,
        "recipient": "+1555",
        "scts": SCTS,
        "discharge": SCTS,
        "status": 0,
    }
    with pytest.raises(UsageError):
        StatusReport(**{**base, **change})


def test_raw_times_are_derived() -> None:
    """Without raw octets, scts_raw and discharge_raw are what the times encode to."""
    assert Deliver(**DELIVER).scts_raw == encode_timestamp(SCTS)
    report = StatusReport(
        smsc=None, reference=1, recipient="+1555", scts=SCTS, discharge=SCTS, status=0
    )
    assert report.scts_raw == report.discharge_raw == encode_timestamp(SCTS)
    assert report.timestamp_invalid is False


def test_impossible_time_with_raw_octets() -> None:
    """scts None is valid together with the impossible octets the SC sent."""
    msg = Deliver(**{**DELIVER, "scts": None, "scts_raw": bytes(7)})
    assert (msg.scts, msg.scts_raw, msg.timestamp_invalid) == (None, bytes(7), True)


@pytest.mark.parametrize(
    "change",
    [
        {"scts": None},  # impossible time without its octets
        {"scts": None, "scts_raw": encode_timestamp(SCTS)},  # octets hold a valid time
        {"scts_raw": bytes(7)},  # octets do not stand for scts
        {"scts_raw": encode_timestamp(SCTS)[:6]},  # not 7 octets
        {"scts": None, "scts_raw": b"\xff" * 8},
    ],
)
def test_time_and_raw_must_agree(change: dict[str, Any]) -> None:
    """A time and raw octets that contradict each other cannot exist."""
    with pytest.raises(UsageError):
        Deliver(**{**DELIVER, **change})


@pytest.mark.parametrize(
    "change",
    [{"discharge": None}, {"discharge": None, "discharge_raw": encode_timestamp(SCTS)}],
)
def test_status_report_discharge_must_agree(change: dict[str, Any]) -> None:
    """A report's TP-DT None needs the impossible octets it came from."""
    base: dict[str, Any] = {
        "smsc": None,
        "reference": 1,
        "recipient": "+1555",
        "scts": SCTS,
        "discharge": SCTS,
        "status": 0,
    }
    with pytest.raises(UsageError):
        StatusReport(**{**base, **change})
