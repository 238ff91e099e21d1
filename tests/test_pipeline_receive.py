"""Tests for the receive pipeline over a real pty against the simulator, with a real journal."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType

import pytest
from pipeline_receive_helpers import SENDER, SETTINGS, Rig, count, no_leaks, run

from gateway.simulator import ModemConfig


@pytest.fixture
def leaks() -> Iterator[set[str]]:
    """Capture every log event of the test; fail if one holds a code, body or PDU."""
    with no_leaks() as secrets:
        yield secrets


def test_otp_becomes_code_and_is_deleted_only_after_the_journal_has_it(
    tmp_path: Path, leaks: set[str]
) -> None:
    """An injected OTP SMS becomes a code record; at AT+CMGD the journal already holds it."""
    seen_at_delete: list[tuple[bool, bool]] = []

    async def scenario(rig: Rig) -> None:
        (index,) = rig.inject("Your code is 482913\n\n@example.com #482913")
        pdu = rig.modem.stored("SM")[index]

        def on_command(line: str) -> None:
            if line.upper().startswith("AT+CMGD"):
                raws = {p.raw for p in rig.journal.pdus()}
                codes = [c.code for c in rig.journal.codes()]
                seen_at_delete.append((pdu in raws, codes == ["482913"]))

        rig.modem.observe_commands(on_command)
        (record,) = await rig.codes(1)
        await rig.wait(count("deleted", 1))
        assert seen_at_delete == [(True, True)]
        assert rig.modem.stored("SM") == {}
        assert (record.origin, record.embedded_origin, record.code) == (
            "example.com",
            None,
            "482913",
        )
        assert record.sender == SENDER
        (stored,) = rig.journal.codes()
        assert stored.id == record.record_id
        # aged from the simulator's TP-SCTS: the same second as the receipt, or just before
        assert 0 <= SETTINGS.code_expiry - (stored.expires_at - stored.received_at) < 2
        assert record.received_at.timestamp() == pytest.approx(stored.received_at)

    run(tmp_path, leaks, scenario)


def test_multipart_otp_out_of_order(tmp_path: Path, leaks: set[str]) -> None:
    """A three-part OTP delivered as parts 3, 1, 2 is joined in order and relayed once."""
    text = "Security notice. " * 20 + "\n@sub.example.org #A1B2C3 @example.com"

    async def scenario(rig: Rig) -> None:
        indexes = rig.inject(text, order=[3, 1, 2])
        assert len(indexes) == 3
        (record,) = await rig.codes(1)
        snapshot = await rig.wait(count("deleted", 3))
        assert (record.origin, record.embedded_origin, record.code) == (
            "sub.example.org",
            "example.com",
            "A1B2C3",
        )
        assert snapshot["messages"] == 1
        assert snapshot["pending_parts"] == 0
        assert rig.journal.pdus(unassembled=True) == []
        (code,) = rig.journal.codes()
        assert code.message_id is not None
        assert rig.journal.message_text(code.message_id) == text
        assert rig.modem.stored("SM") == {}

    run(tmp_path, leaks, scenario)


def test_burst_of_fifty_with_lost_urcs_is_recovered_by_the_sweep(
    tmp_path: Path, leaks: set[str]
) -> None:
    """Fifty SMS stored without +CMTI are all found by the periodic sweep and deleted."""

    async def scenario(rig: Rig) -> None:
        await rig.wait(count("sweeps", 1))  # the start sweep ran on an empty modem
        rig.modem.set_fault("no-urc")
        for i in range(50):
            rig.inject(f"@example.com #{100000 + i}", sender=f"+1555700{i:04d}")
        assert len(rig.modem.stored("SM")) == 50
        records = await rig.codes(50)
        snapshot = await rig.wait(count("swept", 50))
        assert sorted(r.code for r in records if r.code) == [str(100000 + i) for i in range(50)]
        assert snapshot["deleted"] == 50
        assert snapshot.get("urc_messages", 0) == 0
        assert rig.modem.stored("SM") == {}

    settings = replace(SETTINGS, sweep_interval=0.2)
    run(tmp_path, leaks, scenario, modem=ModemConfig(storage_capacity=60), settings=settings)


def test_full_storage_recovers(tmp_path: Path, leaks: set[str]) -> None:
    """A full storage stops new SMS; the sweep empties it and reception resumes with URCs."""

    async def scenario(rig: Rig) -> None:
        await rig.wait(count("sweeps", 1))
        for i in range(5):  # arrives while nobody is told: storage fills up
            rig.inject(f"@example.com #{200000 + i}", notify=False, sender=f"+1555800{i:04d}")
        assert rig.inject("@example.com #299999") == []  # rejected: memory full
        await rig.codes(5)
        await rig.wait(count("deleted", 5))
        assert rig.modem.stored("SM") == {}
        (index,) = rig.inject("@example.com #277777", sender="+15558889999")
        records = await rig.codes(6)
        assert records[-1].code == "277777"
        snapshot = await rig.wait(count("deleted", 6))
        assert snapshot["urc_messages"] == 1  # announced again: reception resumed
        assert "299999" not in [r.code for r in records]
        assert index not in rig.modem.stored("SM")

    settings = replace(SETTINGS, sweep_interval=0.2)
    run(tmp_path, leaks, scenario, modem=ModemConfig(storage_capacity=5), settings=settings)


def test_non_otp_message_is_kept_and_counted(tmp_path: Path, leaks: set[str]) -> None:
    """A plain SMS is stored as a message, counted as kept, and yields no code."""
    body = "Lunch at noon? Bring the blue folder"

    async def scenario(rig: Rig) -> None:
        rig.inject(body)
        snapshot = await rig.wait(count("kept", 1))
        await rig.wait(count("deleted", 1))
        assert snapshot["kept.format:no-origin-line"] == 1
        assert snapshot["messages"] == 1
        assert rig.sink.codes == []
        assert rig.journal.codes() == []
        assert rig.journal.counters()["messages.complete"] == 1
        assert rig.journal.message_text(1) == body

    run(tmp_path, leaks, scenario)


@pytest.mark.parametrize(
    ("text", "sender", "reason"),
    [
        ("@evil.example #123456", SENDER, "origin-not-allowed"),
        ("@example.com #123456 @evil.example", SENDER, "embedded-not-allowed"),
        ("@example.com #123456", "+15550009999", "sender-not-allowed"),
        ("@example.org #123456", SENDER, "origin-not-allowed"),
    ],
)
def test_disallowed_codes_are_not_relayed(
    tmp_path: Path, leaks: set[str], text: str, sender: str, reason: str
) -> None:
    """Origin, embedded origin and sender rules keep a code from being relayed."""
    senders = MappingProxyType({"example.com": (SENDER,)})
    settings = replace(SETTINGS, senders=senders)

    async def scenario(rig: Rig) -> None:
        rig.inject(text, sender=sender)
        snapshot = await rig.wait(count("kept", 1))
        assert snapshot[f"kept.{reason}"] == 1
        assert rig.sink.codes == []
        assert rig.journal.codes() == []

    run(tmp_path, leaks, scenario, settings=settings)


def test_incomplete_multipart_is_kept_after_the_timeout(tmp_path: Path, leaks: set[str]) -> None:
    """Part 2 of 2 never comes: after multipart_timeout part 1 is stored as incomplete."""
    text = "x" * 150 + " more words to need a second part\n@example.com #565656"

    async def scenario(rig: Rig) -> None:
        rig.inject(text, drop=[2])
        snapshot = await rig.wait(count("incomplete", 1))
        assert snapshot["kept.incomplete"] == 1
        assert snapshot["pending_parts"] == 0
        assert rig.sink.codes == []
        assert rig.journal.counters()["messages.incomplete"] == 1
        assert rig.journal.pdus(unassembled=True) == []

    settings = replace(SETTINGS, multipart_timeout=0.3)
    run(tmp_path, leaks, scenario, settings=settings)
