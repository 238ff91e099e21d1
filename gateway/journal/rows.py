"""How the journal's table rows become its records: one mapping per record type.

A :class:`RowMap` is written once per record: the columns it reads are the record's
fields in their declared order (a field may name its column where the two differ, and
fields filled from elsewhere are left out), and a column whose value is not stored as the
field holds it (an enum, a datetime) names its conversion. Both the column list of a
``SELECT`` or ``RETURNING`` and the conversion of a row come from that one mapping, so a
column cannot be read at one position and taken from another. It is plain SQL text and
no ``sqlite3``: another backend with the same tables reads its rows through it too.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from gateway.jobs import JobState
from gateway.journal.records import (
    CodeRecord,
    JobEventRecord,
    JobRecord,
    MessageRecord,
    PduRecord,
    PduStatus,
)

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

R = TypeVar("R", bound="DataclassInstance")


class RowMap(Generic[R]):
    """Reads rows of one table as ``record`` values (see the module docstring)."""

    def __init__(
        self,
        record: type[R],
        *,
        column: Mapping[str, str] | None = None,
        convert: Mapping[str, Callable[[Any], object]] | None = None,
        without: Collection[str] = (),
    ) -> None:
        """Map the fields of ``record`` except ``without`` to columns of the same name.

        ``column`` names the column of a field stored under another name; ``convert``
        turns a stored value into the field's (never given NULL: for NOT NULL columns).
        Raises ValueError when ``column``, ``convert`` or ``without`` name no field.
        """
        names = [f.name for f in dataclasses.fields(record)]
        column, convert = column or {}, convert or {}
        unknown = (set(column) | set(convert) | set(without)) - set(names)
        if unknown:
            raise ValueError(f"{record.__name__} has no field {', '.join(sorted(unknown))}")
        self.record = record
        self.fields = tuple(name for name in names if name not in without)
        #: the columns to read, in :attr:`fields` order (``SELECT {columns} FROM ...``)
        self.columns = ", ".join(column.get(name, name) for name in self.fields)
        self._convert = tuple(convert.items())

    def __call__(self, row: Sequence[Any], **rest: Any) -> R:
        """Return the record of ``row`` (read with :attr:`columns`); ``rest``: the other fields."""
        values = dict(zip(self.fields, row, strict=True))
        for name, convert in self._convert:
            values[name] = convert(values[name])
        return self.record(**values, **rest)


PDUS = RowMap(PduRecord, column={"index": "idx"}, convert={"status": PduStatus})
MESSAGES = RowMap(MessageRecord, convert={"scts": datetime.fromisoformat})
CODES = RowMap(CodeRecord)
#: a job's ``references`` come from ``job_parts``: pass them as ``references=``
JOBS = RowMap(JobRecord, convert={"state": JobState}, without={"references"})
JOB_EVENTS = RowMap(JobEventRecord, convert={"state": JobState})
