"""Tests for the rejected-PIN record: the pure rule, then the file under tmp_path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.modem.pinguard import Decision, PinGuard, PinRecordError, SimKey, decide

KEY = SimKey(kind="iccid", value="8901260000000000011")


@pytest.mark.parametrize(
    ("rejected", "attempts", "decision"),
    [
        ((), None, Decision.SEND),
        ((), 3, Decision.SEND),
        ((), 2, Decision.SEND),
        ((), 1, Decision.LAST_ATTEMPT),
        ((), 0, Decision.LAST_ATTEMPT),
        (("h",), 3, Decision.REJECTED_BEFORE),
        (("other",), None, Decision.SEND),
        (("a", "b"), None, Decision.LAST_ATTEMPT),  # cannot count: two rejections, one left
        (("a", "b"), 2, Decision.SEND),  # the modem counts: trust it
    ],
)
def test_decide(rejected: tuple[str, ...], attempts: int | None, decision: Decision) -> None:
    """Never the same PIN twice, never the last attempt, two rejections mean one is left."""
    assert decide(rejected, "h", attempts) is decision


def test_record_survives_a_new_guard_and_holds_no_pin(tmp_path: Path) -> None:
    """A rejection written by one guard is seen by the next; the file has hashes only."""
    path = tmp_path / "record.json"
    PinGuard(path).rejected(KEY, "24680")
    guard = PinGuard(path)
    assert guard.decide(KEY, "24680", None) is Decision.REJECTED_BEFORE
    assert guard.decide(KEY, "13579", None) is Decision.SEND
    other = SimKey(kind="iccid", value="8901260000000000999")
    assert guard.decide(other, "24680", None) is Decision.SEND
    data = json.loads(path.read_text(encoding="utf-8"))
    assert "24680" not in json.dumps(data["sims"])
    assert guard.pin_hash(KEY, "24680") != guard.pin_hash(other, "24680")  # keyed per SIM
    guard.accepted(KEY)
    assert PinGuard(path).decide(KEY, "24680", None) is Decision.SEND


def test_memory_only_guard_remembers_for_its_lifetime(tmp_path: Path) -> None:
    """Without a path the records live in the guard object."""
    guard = PinGuard(None)
    guard.rejected(KEY, "1111")
    assert guard.decide(KEY, "1111", 3) is Decision.REJECTED_BEFORE
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("text", ["{", '{"salt": "zz", "sims": {}}', '{"salt": "00", "sims": []}'])
def test_damaged_record_is_an_error(tmp_path: Path, text: str) -> None:
    """A damaged file is not taken as 'no rejections': PinRecordError names it."""
    path = tmp_path / "record.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PinRecordError, match=r"record\.json"):
        PinGuard(path).decide(KEY, "1234", 3)


def test_unwritable_directory_is_an_error(tmp_path: Path) -> None:
    """A record that cannot be written raises PinRecordError (no temporary file left)."""
    path = tmp_path / "missing-dir" / "record.json"
    with pytest.raises(PinRecordError, match="cannot write"):
        PinGuard(path).rejected(KEY, "1234")
    assert not path.parent.exists()


def test_sim_key_validates() -> None:
    """A key is an ICCID or a device; its label never shows the whole ICCID."""
    with pytest.raises(ValueError, match="SIM key"):
        SimKey(kind="imsi", value="1")
    assert KEY.label == "SIM …0011"
    assert SimKey(kind="device", value="/dev/ttyUSB2").label == "the SIM in /dev/ttyUSB2"
