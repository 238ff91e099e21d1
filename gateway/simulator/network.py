"""The virtual network (SMSC): accepts SMS-SUBMIT, delivers between modems, sends reports.

Sans-I/O: time comes in as ``now``; delays are scheduled on the shared
:class:`~gateway.simulator.clock.Scheduler`. ``timing="realistic"`` draws delays from a
seeded random generator so runs are reproducible.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, Protocol

from gateway.simulator.clock import Scheduler
from gateway.simulator.config import SentMessage
from gateway.simulator.tpdu import submit_to_deliver
from gateway.sms import pdu as pducodec

SMSC_NUMBER = "+15550000000"
#: wall clock of virtual time 0 when the shell does not say (2026-11-27T00:00:00Z)
DEFAULT_EPOCH = 1_795_737_600.0

Timing = Literal["instant", "realistic"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Delays:
    """Network delays in seconds as (low, high) ranges for one timing mode."""

    submit: tuple[float, float]
    delivery: tuple[float, float]
    report: tuple[float, float]


DELAYS: dict[str, Delays] = {
    "instant": Delays(submit=(0.0, 0.0), delivery=(0.0, 0.0), report=(0.0, 0.0)),
    # what a busy live network looks like: CMGS 1.5-4 s, reports seconds later
    "realistic": Delays(submit=(1.5, 4.0), delivery=(1.0, 5.0), report=(2.0, 8.0)),
}


class Subscriber(Protocol):
    """What the network needs from a modem it delivers to."""

    number: str

    def receive_deliver(self, pdu_hex: str, now: float) -> None:
        """Store or route an SMS-DELIVER (with SCA) that arrived from the network."""

    def receive_report(self, pdu_hex: str, now: float) -> None:
        """Store or route an SMS-STATUS-REPORT (with SCA) for an earlier submit."""


class Network:
    """One SMSC shared by every modem of a simulator."""

    def __init__(
        self,
        scheduler: Scheduler,
        *,
        timing: Timing = "instant",
        seed: int = 0,
        wall_epoch: float = DEFAULT_EPOCH,
    ) -> None:
        if timing not in DELAYS:
            raise ValueError(f"timing must be one of {sorted(DELAYS)}")
        self.scheduler = scheduler
        self.timing: Timing = timing
        self.delays = DELAYS[timing]
        self.random = random.Random(seed)  # noqa: S311 - reproducible delays, not secrets
        self.wall_epoch = wall_epoch
        self._subscribers: dict[str, Subscriber] = {}
        self._sent: dict[str, list[SentMessage]] = {}
        self._mr: dict[str, int] = {}

    def attach(self, subscriber: Subscriber) -> None:
        """Register a modem under its number (numbers must be unique)."""
        if subscriber.number in self._subscribers:
            raise ValueError(f"duplicate number {subscriber.number}")
        self._subscribers[subscriber.number] = subscriber
        self._sent[subscriber.number] = []
        self._mr[subscriber.number] = 0

    def wall(self, now: float) -> datetime:
        """Return the wall-clock time of virtual time ``now``."""
        return datetime.fromtimestamp(self.wall_epoch + now, tz=UTC).replace(microsecond=0)

    def delay(self, kind: Literal["submit", "delivery", "report"]) -> float:
        """Return a delay for ``kind`` drawn from the timing mode's range."""
        low, high = getattr(self.delays, kind)
        return low if low == high else self.random.uniform(low, high)

    def sent(self, number: str) -> list[SentMessage]:
        """Return what the network accepted from the modem with ``number``."""
        return list(self._sent.get(number, ()))

    def submit(self, sender: Subscriber, pdu_hex: str, now: float) -> tuple[int, float]:
        """Accept an SMS-SUBMIT (hex with SCA); return its TP-MR and how long the submit takes.

        Delivery and the status report happen after that delay. Raises
        gateway.sms.pdu.PduError if the PDU does not decode.
        """
        submit = pducodec.decode_submit(pdu_hex)
        took = self.delay("submit")
        reference = self._mr[sender.number]
        self._mr[sender.number] = (reference + 1) % 256
        when = self.wall(now)
        concat = submit.concat
        self._sent[sender.number].append(
            SentMessage(
                number=submit.number,
                text=submit.text,
                pdu=pdu_hex.upper(),
                reference=reference,
                time=when,
                concat_reference=concat.reference if concat else None,
                parts=concat.total if concat else 1,
                part=concat.sequence if concat and 1 <= concat.sequence <= concat.total else 1,
                status_report_requested=submit.status_report_requested,
            )
        )
        target = self._subscribers.get(pducodec.normalise_number(submit.number))
        if target is not None:
            deliver = submit_to_deliver(pdu_hex, sender=sender.number, scts=when, smsc=SMSC_NUMBER)
            self.scheduler.call_at(
                now + took + self.delay("delivery"), lambda t: target.receive_deliver(deliver, t)
            )
        if submit.status_report_requested:
            self._schedule_report(sender, reference, submit.number, when, now + took)
        return reference, took

    def _schedule_report(
        self, sender: Subscriber, reference: int, recipient: str, scts: datetime, now: float
    ) -> None:
        at = now + self.delay("report")

        def report(t: float) -> None:
            encoded = pducodec.encode_status_report(
                reference=reference,
                recipient=recipient,
                scts=scts,
                discharge=self.wall(t),
                status=0,
                smsc=SMSC_NUMBER,
            )
            sender.receive_report(encoded.hex, t)

        self.scheduler.call_at(at, report)
