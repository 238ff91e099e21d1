"""The journal on SQLite (stdlib) in the state directory: WAL, synchronous=FULL.

:class:`SqliteJournal` is the one backend today of the :class:`gateway.journal.Journal`
interface. It is composed of one mixin per concern over one connection
(:class:`~gateway.journal.base.JournalBase`): receive records and codes
(:mod:`~gateway.journal.receive`, :mod:`~gateway.journal.messages`), send jobs
(:mod:`~gateway.journal.send`) and retention (:mod:`~gateway.journal.retention`).
"""

from __future__ import annotations

from pathlib import Path

from gateway.config.schema import JournalSettings
from gateway.journal.receive import ReceiveJournal
from gateway.journal.retention import DAY, RetentionJournal
from gateway.journal.send import SendJournal

#: The journal's file name inside the state directory.
FILENAME = "journal.sqlite3"


class SqliteJournal(ReceiveJournal, SendJournal, RetentionJournal):
    """The gateway's journal in one SQLite file: receive records, send jobs, counters, retention."""

    def __init__(
        self,
        path: Path,
        *,
        body_retention: float = 7 * DAY,
        code_retention: float = DAY,
        record_retention: float = 30 * DAY,
    ) -> None:
        self.set_retention(body=body_retention, code=code_retention, record=record_retention)
        super().__init__(path)

    @classmethod
    def in_state_dir(
        cls,
        state_dir: Path,
        *,
        body_retention: float,
        code_retention: float,
        record_retention: float = 30 * DAY,
    ) -> SqliteJournal:
        """Open (creating if needed) the journal file in ``state_dir``.

        Returns the open journal; raises :class:`JournalError` when it cannot be opened
        or a retention period is invalid (see :meth:`RetentionJournal.set_retention`).
        """
        return cls(
            Path(state_dir) / FILENAME,
            body_retention=body_retention,
            code_retention=code_retention,
            record_retention=record_retention,
        )

    @classmethod
    def configured(cls, settings: JournalSettings) -> SqliteJournal:
        """Open the journal ``[journal]`` describes: its state_dir and retention periods.

        Returns the open journal; raises :class:`JournalError` when it cannot be opened.
        """
        return cls.in_state_dir(
            settings.state_dir,
            body_retention=settings.body_retention,
            code_retention=settings.code_retention,
            record_retention=settings.record_retention,
        )

    def __enter__(self) -> SqliteJournal:
        return self
