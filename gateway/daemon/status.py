"""The daemon's health as data: the ``status`` snapshot and the sd_notify ``STATUS=`` line.

Pure functions over frozen snapshots (:class:`~gateway.modem.status.ModemStatus`, the
pipelines' and dispatcher's counters), so the shapes are tested without a modem. The
snapshot is what the relay's ``status`` operation returns (``StatusPort``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from gateway.daemon.conditions import (
    Condition,
    Health,
    modem_conditions,
    modem_health,
    overall,
)
from gateway.daemon.storage import MemoryUse
from gateway.modem.status import ModemStatus, SessionState

#: TS 27.007 §7.2 +CREG <stat> values, as words for people.
REGISTRATION = {
    0: "not registered",
    1: "home",
    2: "searching",
    3: "denied",
    4: "unknown",
    5: "roaming",
}


def signal_dbm(rssi: int | None) -> int | None:
    """Return the +CSQ <rssi> as dBm (TS 27.007 §8.5: 0 is -113 dBm, 2 dB steps), or None."""
    if rssi is None or not 0 <= rssi <= 31:
        return None  # 99: not known or not detectable
    return -113 + 2 * rssi


def startup_step(status: ModemStatus) -> str | None:
    """Return what a modem that is not ready is doing now, for people, or None when ready.

    Read from the session's state and the last ``+CPIN``/``+CREG`` it saw, so ``status``
    answers during start-up (issue 13.3) with e.g. ``waiting for network registration
    (searching)``.
    """
    state = status.state
    if state is SessionState.STARTING:
        return "opening the port"
    if state is SessionState.RECONNECTING:
        return "waiting for the port to come back"
    if state is SessionState.RECOVERING:
        return "recovering"
    if state is not SessionState.INITIALISING:
        return None
    if status.sim is None:
        return "talking to the modem"
    if status.sim != "READY":
        return f"waiting for the SIM ({status.sim})"
    if status.registration is not None and status.registration not in (1, 5):
        word = REGISTRATION.get(status.registration, str(status.registration))
        return f"waiting for network registration ({word})"
    return "initialising"


def modem_entry(
    name: str,
    status: ModemStatus,
    receive: Mapping[str, object] | None = None,
    retry_at: float | None = None,
    storage_use: Sequence[MemoryUse] = (),
    *,
    unreadable: Mapping[str, str] | None = None,
    extra: Sequence[Condition] = (),
) -> dict[str, object]:
    """Return one modem's section of the snapshot (JSON-serialisable).

    A failed modem has ``error`` (why), ``retry_at`` (Unix time of the next restart, or
    None) and ``fatal`` (True: never retried, e.g. wrong PIN). ``storage_use`` lists
    messages held and capacity per memory (``AT+CPMS?``; empty until first read).
    A send-only modem (no SMS reading over AT, e.g. a phone) has ``send_only`` True and
    ``receive_unavailable`` saying why; it sends, and the other modems receive.
    ``health`` is ``ok``, ``degraded`` (ready, with conditions) or ``down`` (not
    ready); ``conditions`` lists what is wrong (:mod:`gateway.daemon.conditions`):
    those found from the status, storage figures and ``unreadable`` memories, then
    ``extra`` (a caller's own, e.g. a send-only modem).
    """
    identity = status.identity
    conditions = [
        *modem_conditions(name, status, storage_use=storage_use, unreadable=unreadable),
        *extra,
    ]
    return {
        "name": name,
        "device": status.device,
        "state": status.state.value,
        "step": startup_step(status),
        "health": modem_health(status, conditions).value,
        "conditions": [c.as_dict() for c in conditions],
        "signal": status.signal,
        "signal_dbm": signal_dbm(status.signal),
        "registration": REGISTRATION.get(status.registration)
        if status.registration is not None
        else None,
        "operator": status.operator,
        "storage": list(status.memories),
        "storage_use": [use.as_dict() for use in storage_use],
        "model": None if identity is None else f"{identity.manufacturer} {identity.model}",
        "error": status.error,
        "fatal": status.fatal,
        "dialect": status.dialect,
        "send_only": status.receive_unavailable is not None,
        "receive_unavailable": status.receive_unavailable,
        "retry_at": retry_at if status.state is SessionState.FAILED else None,
        "receive": dict(receive or {}),
        "counters": {
            "commands": status.counters.commands,
            "timeouts": status.counters.timeouts,
            "reconnects": status.counters.reconnects,
            "inits": status.counters.inits,
        },
    }


def journal_conditions(journal: Mapping[str, object] | None) -> list[dict[str, object]]:
    """Return the journal's condition for ``status`` while it is degraded, else ``[]``.

    The shape is a condition's (subject, stable code, reason): ``journal-degraded``
    while received SMS cannot be recorded durably (they stay on the modem).
    """
    if journal is None or journal.get("state") != "degraded":
        return []
    reason = str(journal.get("reason") or "cannot record")
    return [{"subject": "journal", "code": "journal-degraded", "reason": reason}]


def status_line(modems: Mapping[str, ModemStatus], queue: int) -> str:
    """Return the one line ``systemctl status`` shows, e.g. ``modem0 ready (-73 dBm); queue 0``."""
    parts = []
    for name, status in modems.items():
        state = status.state.value
        if status.state is SessionState.READY and status.probe_error:
            state = "degraded"  # answered no health probe lately
        text = f"{name} {state}"
        if status.state is SessionState.INITIALISING:
            text += f" ({startup_step(status)})"  # STATUS= follows the start-up steps
        dbm = signal_dbm(status.signal)
        if status.state is SessionState.READY and dbm is not None:
            text += f" ({dbm} dBm)"
        if status.receive_unavailable is not None:
            text += " send-only"
        parts.append(text)
    return f"{', '.join(parts) or 'no modem'}; queue {queue}"


def snapshot(
    *,
    modems: Mapping[str, ModemStatus],
    retry_at: Mapping[str, float | None] | None = None,
    storage_use: Mapping[str, Sequence[MemoryUse]] | None = None,
    unreadable: Mapping[str, Mapping[str, str]] | None = None,
    modem_extra: Mapping[str, Sequence[Condition]] | None = None,
    conditions: Sequence[Condition] = (),
    receive: Mapping[str, Mapping[str, object]],
    send: Mapping[str, object],
    queue: int,
    counters: Mapping[str, int],
    uptime: float,
    version: str,
    journal: Mapping[str, object] | None = None,
) -> dict[str, object]:
    """Return the whole ``status`` snapshot: modems, queue depth, counters, uptime, journal.

    ``conditions`` lists what needs attention although the gateway runs (empty when
    nothing does): every modem's, then the daemon's own (``conditions``, and a journal
    that cannot record durably: ``journal`` says why). ``health`` (``ok``, ``degraded``,
    ``down``) sums them up; ``unreadable`` and ``modem_extra`` feed each modem's (see
    :func:`modem_entry`).
    """
    entries = [
        modem_entry(
            name,
            s,
            receive.get(name),
            (retry_at or {}).get(name),
            (storage_use or {}).get(name, ()),
            unreadable=(unreadable or {}).get(name),
            extra=(modem_extra or {}).get(name, ()),
        )
        for name, s in modems.items()
    ]
    first_start = all(
        s.counters.inits == 0 and s.state in (SessionState.STARTING, SessionState.INITIALISING)
        for s in modems.values()
    )
    found: list[dict[str, object]] = []
    healths = []
    for entry in entries:
        listed = entry["conditions"]
        found += listed if isinstance(listed, list) else []
        healths.append(Health(entry["health"]))
    found += [c.as_dict() for c in conditions]
    found += journal_conditions(journal)
    return {
        "version": version,
        "uptime": round(uptime, 3),
        "ready": any(s.state is SessionState.READY for s in modems.values()),
        "health": overall(healths, found, first_start=first_start).value,
        "conditions": found,
        "journal": dict(journal or {}),
        "modems": entries,
        "queue": {"depth": queue, **dict(send)},
        "counters": dict(counters),
    }
