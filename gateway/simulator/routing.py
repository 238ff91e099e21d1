"""Where an arriving SMS or status report goes: storage, +CMTI/+CDSI, or routed +CMT/+CDS.

TS 27.005 §3.4.1 (AT+CNMI): <mt> 0 store silently, 1/3 store and notify with ``+CMTI``,
2 route as ``+CMT`` (acknowledged with AT+CNMA); <ds> 1 routes reports as ``+CDS``,
2 stores them and notifies with ``+CDSI``. Each multi-line URC is written as one unit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.simulator import textmode
from gateway.simulator.storage import Stat
from gateway.simulator.tpdu import tpdu_length

if TYPE_CHECKING:
    from gateway.simulator.device import Device


class Router:
    """Applies the modem's CNMI settings and storage faults to arriving messages."""

    __slots__ = ("model", "pending_ack")

    def __init__(self, model: Device) -> None:
        self.model = model
        self.pending_ack = False

    def _urcs_enabled(self) -> bool:
        # <mode> 0: indications are buffered in the TA; we drop them (a restart loses them too)
        return self.model.settings.cnmi[0] != 0 and "no-urc" not in self.model.faults

    def deliver(self, pdu_hex: str, now: float, *, memory: str | None, notify: bool) -> int | None:
        """Handle one SMS-DELIVER; return its storage index, or None if routed or rejected."""
        model = self.model
        mode, mt = model.settings.cnmi[0], model.settings.cnmi[1]
        if memory is None and mt == 2 and mode != 0:
            self.pending_ack = True
            model.urc(self._cmt(pdu_hex), now)
            return None
        name = memory or model.settings.cpms[2]
        if "storage-full" in model.faults:
            return None
        index = model.memory(name).store(pdu_hex, Stat.REC_UNREAD)
        if index is None:
            return None  # memory full: the network keeps it (TS 23.040 §10.1 memory capacity)
        if notify and (memory is not None or mt in (1, 3)) and self._urcs_enabled():
            model.urc(f'+CMTI: "{name}",{index}', now)
        return index

    def report(self, pdu_hex: str, now: float) -> None:
        """Handle one SMS-STATUS-REPORT per <ds> and the profile's quirks."""
        model = self.model
        ds = model.settings.cnmi[3]
        routed = ds == 1 or (ds == 2 and model.profile.reports_always_routed)
        if routed and model.settings.cnmi[0] != 0:
            model.urc(self._cds(pdu_hex), now)
            return
        index = model.memory("SR").store(pdu_hex, Stat.REC_UNREAD, is_report=True)
        if index is not None and ds == 2 and self._urcs_enabled():
            model.urc(f'+CDSI: "{model.profile.report_announce_memory}",{index}', now)

    def _cmt(self, pdu_hex: str) -> str:
        if self.model.settings.cmgf == 0:
            return f"+CMT: ,{tpdu_length(pdu_hex)}\r\n{pdu_hex}"
        header, body = textmode.deliver_lines(self.model, pdu_hex, stat=None)
        return f"+CMT: {header}\r\n{body}"

    def _cds(self, pdu_hex: str) -> str:
        if self.model.settings.cmgf == 0:
            return f"+CDS: {tpdu_length(pdu_hex)}\r\n{pdu_hex}"
        return "+CDS: " + textmode.report_fields(pdu_hex)
