"""SMS storage commands of TS 27.005 §3: AT+CPMS, reading, listing and deleting messages.

Memory slot 0 of AT+CPMS is where +CMGR/+CMGL/+CMGD work, slot 1 where messages are
written and sent from (TS 27.005 §3.2.2).
"""

from __future__ import annotations

from gateway.simulator import textmode
from gateway.simulator.atcommand import Command, Form
from gateway.simulator.commands_general import args
from gateway.simulator.device import Device, Spec
from gateway.simulator.results import CommandFailed, cms
from gateway.simulator.storage import STAT_BY_LABEL, Memory, Stat, Stored
from gateway.simulator.tpdu import TpduError, tpdu_length


def _cpms(model: Device, command: Command, now: float) -> list[str]:
    slots = model.profile.cpms_memories
    if command.form is Form.TEST:
        return ["+CPMS: " + ",".join("(" + ",".join(f'"{m}"' for m in s) + ")" for s in slots)]
    if command.form is Form.READ:
        return [
            "+CPMS: "
            + ",".join(
                f'"{n}",{model.memories[n].used},{model.memories[n].capacity}'
                for n in model.settings.cpms
            )
        ]
    values = args(command)
    if command.form is not Form.SET or not model.profile.cpms_min_args <= len(values) <= 3:
        raise CommandFailed(cms(302))
    chosen = list(model.settings.cpms)
    for i, value in enumerate(values):
        if value is None:
            continue
        if not isinstance(value, str) or value.upper() not in slots[i]:
            raise CommandFailed(cms(302))
        chosen[i] = value.upper()
    model.settings.cpms = (chosen[0], chosen[1], chosen[2])
    return [
        "+CPMS: "
        + ",".join(f"{model.memories[n].used},{model.memories[n].capacity}" for n in chosen)
    ]


def memory_slot(model: Device, slot: int) -> Memory:
    """Return the memory AT+CPMS selected for ``slot`` (0 read/delete, 1 write/send)."""
    return model.memories[model.settings.cpms[slot]]


def index_arg(model: Device, command: Command, memory: Memory) -> int:
    """Return the command's <index>; raise CommandFailed (+CMS ERROR: 321) if invalid."""
    values = args(command)
    index = values[0] if values else None
    if not isinstance(index, int) or not memory.valid_index(index):
        raise CommandFailed(cms(321))
    return index


def stored_arg(model: Device, command: Command, slot: int) -> Stored:
    """Return the message at the command's <index> in memory ``slot``.

    Raises CommandFailed (+CMS ERROR: 321) for an invalid index or an empty one.
    """
    memory = memory_slot(model, slot)
    stored = memory.slots.get(index_arg(model, command, memory))
    if stored is None:
        raise CommandFailed(cms(321))
    return stored


def _render(model: Device, stored: Stored, *, listing: bool = False) -> tuple[str, str]:
    if model.settings.cmgf == 0:
        try:
            length = tpdu_length(stored.pdu)
        except TpduError:
            length = 0
        stat = "" if model.profile.cmgr_without_stat and not listing else str(int(stored.stat))
        return f"{stat},,{length}", stored.pdu
    if stored.stat in (Stat.STO_UNSENT, Stat.STO_SENT):
        return textmode.submit_lines(model, stored.pdu, stat=stored.stat)
    return textmode.deliver_lines(model, stored.pdu, stat=stored.stat, listing=listing)


def _cmgr(model: Device, command: Command, now: float) -> list[str]:
    if command.form is Form.TEST:
        return []
    stored = stored_arg(model, command, 0)
    header, body = _render(model, stored)
    if stored.stat is Stat.REC_UNREAD:
        stored.stat = Stat.REC_READ
    return [f"+CMGR: {header}", body]


def _cmgl(model: Device, command: Command, now: float) -> list[str]:
    text = model.settings.cmgf == 1
    if command.form is Form.TEST:
        return (
            ['+CMGL: ("REC UNREAD","REC READ","STO UNSENT","STO SENT","ALL")']
            if text
            else ["+CMGL: (0-4)"]
        )
    values = args(command)
    wanted = values[0] if values else ("REC UNREAD" if text else 0)
    if text and isinstance(wanted, str) and wanted.upper() in STAT_BY_LABEL:
        stat = STAT_BY_LABEL[wanted.upper()]
    elif not text and isinstance(wanted, int) and 0 <= wanted <= 4:
        stat = wanted
    else:
        raise CommandFailed(cms(305 if text else 304))
    memory = memory_slot(model, 0)
    lines: list[str] = []
    for index in sorted(memory.slots):
        stored = memory.slots[index]
        if stat != 4 and int(stored.stat) != stat:
            continue
        # TS 27.005 §3.4.2: +CMGL is <index> followed by the fields +CMGR shows
        header, body = _render(model, stored, listing=True)
        lines += [f"+CMGL: {index},{header}", body]
        if stored.stat is Stat.REC_UNREAD:
            stored.stat = Stat.REC_READ
    return lines


def _cmgd(model: Device, command: Command, now: float) -> list[str]:
    memory = memory_slot(model, 0)
    if command.form is Form.TEST:
        used = ",".join(str(i) for i in sorted(memory.slots))
        return [f"+CMGD: ({used}),(0-4)"]
    values = args(command)
    flag = values[1] if len(values) > 1 else 0
    if not isinstance(flag, int) or not 0 <= flag <= 4:
        raise CommandFailed(cms(302))
    if flag:
        memory.delete_flagged(flag)
        return []
    memory.slots.pop(index_arg(model, command, memory), None)
    return []


HANDLERS: dict[str, Spec] = {
    "+CPMS": Spec(handler=_cpms, sim=True),
    "+CMGR": Spec(handler=_cmgr, sim=True),
    "+CMGL": Spec(handler=_cmgl, sim=True),
    "+CMGD": Spec(handler=_cmgd, sim=True),
}
