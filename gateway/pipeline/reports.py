"""Status reports and restart recovery: hand reports on at least once, reload held parts.

A recorded SMS-STATUS-REPORT is given to ``on_report`` and only then marked handled in
the journal. A crash in between leaves it "unassembled": at the next start
:func:`pending` finds it and it is handed on again, once. The same scan returns the
multipart parts recorded but never joined, for the reassembler to hold again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import structlog

from gateway.journal import Journal
from gateway.pipeline.counters import Counters, call_consumer
from gateway.pipeline.intake import decode
from gateway.pipeline.reassembly import Part
from gateway.sms import Deliver, StatusReport

log = structlog.get_logger("gateway.pipeline.receive")  # the pipeline's events, one logger

OnReport = Callable[[str, StatusReport], None]


@dataclass(frozen=True, slots=True, kw_only=True)
class Pending:
    """What a previous run of one modem's pipeline recorded but did not finish."""

    parts: tuple[Part, ...]  # multipart parts not yet joined into a message
    reports: tuple[tuple[int, StatusReport], ...]  # (pdu id, report) never handed on


def pending(journal: Journal, modem: str, now: float) -> Pending:
    """Return the unjoined parts and unhanded reports ``modem`` left in the journal.

    Rows whose body was purged are marked handled: nothing is left to join or hand on.
    Raises JournalError when the journal cannot be read or written.
    """
    parts: list[Part] = []
    reports: list[tuple[int, StatusReport]] = []
    for record in journal.pdus(unassembled=True):
        if record.modem != modem:
            continue
        message = None if record.raw is None else decode(record.raw)
        if isinstance(message, Deliver):
            parts.append(Part.of(message, pdu_id=record.id, received_at=record.received_at))
        elif isinstance(message, StatusReport):
            reports.append((record.id, message))
        else:  # body purged: nothing left to join or hand on
            journal.mark_handled(record.id, now=now)
    return Pending(parts=tuple(parts), reports=tuple(reports))


class ReportStep:
    """Hands one modem's status reports to ``on_report`` and marks them handled."""

    def __init__(
        self, *, modem: str, journal: Journal, counters: Counters, on_report: OnReport
    ) -> None:
        self.modem = modem
        self._journal = journal
        self._counts = counters
        self._on_report = on_report

    def hand_on(self, pdu_id: int, report: StatusReport, now: float) -> None:
        """Give a recorded status report to ``on_report``, then mark it handled.

        A crash in between replays it once at the next start (at least once); a handled
        report is never read back from the journal again. Raises JournalError.
        """
        call_consumer(self._counts, self.modem, self._on_report, self.modem, report)
        self._journal.mark_handled(pdu_id, now=now)

    def replay(self, reports: tuple[tuple[int, StatusReport], ...], now: float) -> None:
        """Hand on reports a previous run recorded but never handed on (see :func:`pending`).

        Raises JournalError when the journal cannot be written.
        """
        for pdu_id, report in reports:
            self._counts.count("replayed_reports")
            self.hand_on(pdu_id, report, now)
        if reports:
            log.info("receive.reports_replayed", modem=self.modem, reports=len(reports))
