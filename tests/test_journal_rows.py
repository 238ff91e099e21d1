"""The journal's row mappings: one declaration gives the column list and the record."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import pytest

from gateway.jobs import JobState
from gateway.journal import JobRecord, MessageRecord, PduRecord, PduStatus
from gateway.journal.rows import CODES, JOB_EVENTS, JOBS, MESSAGES, PDUS, RowMap
from gateway.journal.schema import migrate


def test_columns_follow_the_fields_with_their_stored_names() -> None:
    """The column list is the record's fields in order, renamed or left out as declared."""
    assert PDUS.columns == (
        "id, modem, memory, idx, raw, received_at, status, reason, message_id, handled_at"
    )
    assert "references" not in JOBS.columns.split(", ")
    assert JOBS.columns.endswith("modem, requested_by")


def test_a_row_becomes_its_record_with_conversions() -> None:
    """Stored text becomes the field's enum or datetime; other values pass as they are."""
    row = (3, "m0", "SM", 7, "07AB", 10.0, "quarantined", "bad", None, None)
    assert PDUS(row) == PduRecord(
        id=3,
        modem="m0",
        memory="SM",
        index=7,
        raw="07AB",
        received_at=10.0,
        status=PduStatus.QUARANTINED,
        reason="bad",
        message_id=None,
    )
    scts = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
    message = MESSAGES((1, "m0", "+1", scts.isoformat(), "hi", 1, 2, 5.0, None, "short"))
    assert message == MessageRecord(
        id=1,
        modem="m0",
        sender="+1",
        scts=scts,
        text="hi",
        parts=1,
        expected_parts=2,
        received_at=5.0,
        decision=None,
        sender_type="short",
    )


def test_fields_read_elsewhere_are_passed_in() -> None:
    """A field left out of the columns (a job's references) is given by the caller."""
    row = ("j1", "+1", "a.example", None, "t", "sent", 1, 0.0, 9.0, 1.0, 2.0, "m0", 1000)
    job = JOBS(row, references=(4, 5))
    assert job == JobRecord(
        id="j1",
        number="+1",
        origin="a.example",
        embedded=None,
        text="t",
        state=JobState.SENT,
        attempts=1,
        not_before=0.0,
        expires_at=9.0,
        created_at=1.0,
        updated_at=2.0,
        modem="m0",
        references=(4, 5),
        requested_by=1000,
    )


def test_every_mapping_reads_its_table() -> None:
    """Each mapping's columns exist in the current schema (a SELECT of them prepares)."""
    conn = sqlite3.connect(":memory:", isolation_level=None)
    migrate(conn)
    columns = {
        "pdus": PDUS.columns,
        "messages": MESSAGES.columns,
        "codes": CODES.columns,
        "jobs": JOBS.columns,
        "job_events": JOB_EVENTS.columns,
    }
    for table, listed in columns.items():
        assert conn.execute(f"SELECT {listed} FROM {table}").fetchall() == []  # noqa: S608
    conn.close()


def test_a_row_of_another_length_is_refused() -> None:
    """A row with a column too many or too few raises instead of shifting the fields."""
    with pytest.raises(ValueError, match="zip"):
        CODES((1, "a.example"))


def test_a_mapping_naming_no_field_is_refused() -> None:
    """Renaming, converting or leaving out a field the record lacks is a ValueError."""
    with pytest.raises(ValueError, match="PduRecord has no field idx"):
        RowMap(PduRecord, column={"idx": "idx"})
    with pytest.raises(ValueError, match="no field nope"):
        RowMap(JobRecord, without={"nope"})
