"""Test-side operations on a model: inject incoming SMS, read storage, describe state."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, TypedDict

from gateway.simulator.config import SimulatorError
from gateway.simulator.tpdu import TpduError, split_sca
from gateway.sms import pdu as pducodec

if TYPE_CHECKING:
    from gateway.simulator.model import ModemModel


class SmsOptions(TypedDict, total=False):
    """The optional arguments of :func:`inject_sms`, for the handles that pass them on."""

    sender: str
    memory: str | None
    scts: datetime | None
    order: Sequence[int] | None
    drop: Sequence[int]
    notify: bool
    force_ucs2: bool


def inject_sms(
    model: ModemModel,
    text: str,
    now: float,
    *,
    sender: str = "+15557654321",
    memory: str | None = None,
    scts: datetime | None = None,
    order: Sequence[int] | None = None,
    drop: Sequence[int] = (),
    notify: bool = True,
    force_ucs2: bool = False,
) -> list[int]:
    """Deliver ``text`` from ``sender`` as one or more SMS-DELIVER parts.

    ``order`` and ``drop`` name parts 1..N (delivery order, parts never delivered).
    Returns the storage indexes of the stored parts (routed +CMT or rejected parts have
    none). Raises SimulatorError for an unencodable sender/text or a bad order/memory.
    """
    if memory is not None:
        model.memory(memory)
    try:
        parts = pducodec.encode_deliver(
            sender,
            text,
            scts=scts or model.wall(now),
            concat_reference=model.next_concat_reference(),
            force_ucs2=force_ucs2,
        )
    except (pducodec.PduError, ValueError) as exc:
        raise SimulatorError(f"cannot encode this SMS: {exc}") from exc
    numbers = list(range(1, len(parts) + 1))
    sequence = list(order) if order is not None else numbers
    if sorted(sequence) != numbers or not set(drop) <= set(numbers):
        raise SimulatorError(f"order/drop must name parts 1..{len(parts)}")
    indexes: list[int] = []
    for number in sequence:
        if number in drop:
            continue
        index = model.router.deliver(parts[number - 1].hex, now, memory=memory, notify=notify)
        if index is not None:
            indexes.append(index)
    return indexes


def inject_pdu(
    model: ModemModel, pdu_hex: str, now: float, *, memory: str | None = None, notify: bool = True
) -> int:
    """Deliver a raw PDU (hex with SCA) as if from the network, undecodable ones included.

    Returns the storage index, or -1 when it was routed as +CMT or rejected (storage
    full). Raises SimulatorError if ``pdu_hex`` is not hex with a plausible SCA field.
    """
    if memory is not None:
        model.memory(memory)
    try:
        split_sca(pdu_hex)
    except TpduError as exc:
        raise SimulatorError(f"not a PDU: {exc}") from exc
    index = model.router.deliver(pdu_hex.upper(), now, memory=memory, notify=notify)
    return -1 if index is None else index


def stored(model: ModemModel, memory: str = "SM") -> dict[int, str]:
    """Return index -> PDU hex of one memory; raise SimulatorError for an unknown memory."""
    return {i: s.pdu for i, s in sorted(model.memory(memory).slots.items())}


def state(model: ModemModel, now: float) -> dict[str, object]:
    """Return a JSON-friendly snapshot of the modem's state."""
    s = model.settings
    return {
        "number": model.number,
        "profile": model.profile.name,
        "sim": model.sim.state.value,
        "sim_busy": model.sim_busy(now),
        "pin_attempts_left": model.sim.pin_left,
        "registered": model.registered(now),
        "echo": model.parser.echo,
        "cmee": s.cmee,
        "cmgf": s.cmgf,
        "cscs": s.cscs,
        "cfun": s.cfun,
        "cnmi": list(s.cnmi),
        "cpms": list(s.cpms),
        "smsc": s.smsc,
        "storage": {n: {"used": m.used, "capacity": m.capacity} for n, m in model.memories.items()},
        "faults": sorted(model.faults),
        "sent": len(model.sent()),
        "commands": model.commands_run,
        "bytes_in": model.bytes_in,
        "bytes_out": model.bytes_out,
    }
