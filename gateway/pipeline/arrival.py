"""When an SMS arrived, for the timing rules: pure, time passed in (issue 12.4).

The daemon may read a message long after the modem stored it: the sweep finds it, or
the daemon was down. What counts for "did the code arrive after the ``get`` asked" and
for the multipart timeout is when it *arrived*, not when it was read:

1. the time this run saw its ``+CMTI`` (TS 27.005 §3.4.1: the modem announces each SMS
   as it is stored), our own clock — unless it lies before the TP-SCTS (less the skew):
   then it announced an earlier message at the same index;
2. else the service centre's timestamp (TP-SCTS, TS 23.040 §9.2.3.11), the time the SC
   received it: delivery follows within seconds. The SC's clock and ours may disagree,
   so ``skew`` seconds are added before it is believed (``receive.clock_skew``): a code
   is taken for older than a request only when even ``scts + skew`` lies before it, so a
   lagging SC clock never hides a fresh code. A TP-SCTS more than
   :data:`~gateway.pipeline.otp.SCTS_SKEW` after the read (a wrong time zone, an SC
   clock far ahead) is not trusted;
3. else the time it was read.

Never later than the read: that is when it certainly had arrived.
"""

from __future__ import annotations

from datetime import datetime

from gateway.pipeline.otp import SCTS_SKEW


def arrival(
    read_at: float, scts: datetime | None, *, announced_at: float | None = None, skew: float
) -> float:
    """Return when a message read at ``read_at`` (Unix time) arrived, by the rules above.

    Raises nothing.
    """
    stamped = None if scts is None else scts.timestamp()
    if announced_at is not None and (stamped is None or announced_at >= stamped - skew):
        return min(announced_at, read_at)
    # (an announcement from before the SC even had the message belongs to another one)
    if stamped is None:
        return read_at
    if stamped > read_at + SCTS_SKEW:
        return read_at  # implausible: a wrong zone or an SC clock far ahead
    return min(read_at, stamped + skew)
