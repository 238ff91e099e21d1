"""The ``status`` snapshot as text for people: one line per modem, then queue and counters.

Pure: the snapshot dict (as the relay's ``status`` returns it) in, text out; only the
retry countdown reads the clock.
"""

from __future__ import annotations

import time

from gateway.cli.printable import printable


def render_status(snapshot: dict[str, object]) -> str:
    """Return the ``status`` snapshot as a small human table.

    A ready modem with conditions shows as ``degraded``; every condition (modems' and
    the daemon's) is listed under ``health:`` with its code and reason.
    """
    raw = snapshot.get("modems")
    modems = [m for m in raw if isinstance(m, dict)] if isinstance(raw, list) else []
    storages = [_storage(modem) for modem in modems]
    width = max([len("STORAGE"), *map(len, storages)])
    lines = [
        f"otp-gateway {snapshot.get('version', '?')}, up {_duration(snapshot.get('uptime'))}",
        "",
        f"{'MODEM':<10} {'STATE':<13} {'SIGNAL':<9} {'NETWORK':<28} {'STORAGE':<{width}} DEVICE",
    ]
    for modem, storage in zip(modems, storages, strict=True):
        dbm = modem.get("signal_dbm")
        signal = f"{dbm} dBm" if isinstance(dbm, int) else "-"
        network = str(modem.get("registration") or "-")
        if modem.get("operator"):
            network += f" ({modem['operator']})"
        state = modem.get("state", "?")
        listed = modem.get("conditions")
        # send-only is said on its own line below; any other condition is a degradation
        if (
            state == "ready"
            and isinstance(listed, list)
            and any(isinstance(c, dict) and c.get("code") != "receive-unavailable" for c in listed)
        ):
            state = "degraded"
        lines.append(
            f"{modem.get('name', '?')!s:<10} {state!s:<13} {signal:<9} "
            f"{network:<28} {storage:<{width}} {modem.get('device', '')}"
        )
        if modem.get("state") == "failed":
            lines.append(f"  {modem.get('name', '?')}: {_failure(modem)}")
        elif modem.get("receive_unavailable"):
            lines.append(
                f"  {modem.get('name', '?')}: send-only: receiving SMS is unavailable on "
                f"this device ({modem['receive_unavailable']}); sending works"
            )
        elif modem.get("step"):
            lines.append(f"  {modem.get('name', '?')}: {modem['step']}")
    conditions = snapshot.get("conditions")
    listed = [c for c in conditions if isinstance(c, dict)] if isinstance(conditions, list) else []
    if listed:
        lines += ["", f"health:      {snapshot.get('health', '?')}"]
        lines += [f"  {c.get('subject')} {c.get('code')}: {c.get('reason')}" for c in listed]
    queue = snapshot.get("queue")
    depth = queue.get("depth", 0) if isinstance(queue, dict) else 0
    relay = snapshot.get("relay")
    relay = relay if isinstance(relay, dict) else {}
    daily = queue.get("daily_cap") if isinstance(queue, dict) else None
    cap = (
        f"{daily.get('used')}/{daily.get('cap')} sends in the last 24 h"
        if isinstance(daily, dict)
        else "off"
    )
    lines += [
        "",
        f"send queue:  {depth} job(s) waiting",
        f"daily cap:   {cap}",
        f"consumers:   {relay.get('connections', 0)} connected, "
        f"{relay.get('pending_gets', 0)} waiting for a code",
    ]
    lines.append(f"journal:     {_journal(snapshot.get('journal'))}")
    counters = snapshot.get("counters")
    if isinstance(counters, dict) and counters:
        shown = ", ".join(f"{k} {v}" for k, v in sorted(counters.items()))
        lines.append(f"counters:    {shown}")
    # operator names, failure reasons and devices come from outside: escape controls
    return "\n".join(printable(line) for line in lines)


def _journal(journal: object) -> str:
    """``ok``, or ``DEGRADED: <reason>; next retry in 8s`` (SMS then stay on the modem)."""
    if not isinstance(journal, dict) or not journal:
        return "-"
    if journal.get("state") != "degraded":
        return str(journal.get("state", "?"))
    text = f"DEGRADED: {journal.get('reason') or 'cannot record'}"
    retry_at = journal.get("retry_at")
    if isinstance(retry_at, int | float):
        text += f"; next retry in {_duration(max(0.0, retry_at - time.time()))}"
    return text


def _storage(modem: dict[str, object]) -> str:
    """``SM 3/30,ME 0/100`` from the last ``AT+CPMS?`` reading, else the memory names."""
    use = modem.get("storage_use")
    if isinstance(use, list) and use:
        return ",".join(
            f"{u.get('memory')} {u.get('used')}/{u.get('total')}"
            for u in use
            if isinstance(u, dict)
        )
    names = modem.get("storage")
    return ",".join(str(m) for m in names) if isinstance(names, list) and names else "-"


def _failure(modem: dict[str, object]) -> str:
    """Why a modem failed and when (or whether) the daemon starts it again."""
    text = str(modem.get("error") or "failed")
    retry_at = modem.get("retry_at")
    if modem.get("fatal"):
        return f"{text}; not retried (fix the SIM or PIN, then restart the daemon)"
    if isinstance(retry_at, int | float):
        return f"{text}; next retry in {_duration(max(0.0, retry_at - time.time()))}"
    return f"{text}; retrying now"


def _duration(seconds: object) -> str:
    if not isinstance(seconds, int | float):
        return "?"
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    return (
        f"{hours}h{rest // 60:02d}m{rest % 60:02d}s" if hours else f"{rest // 60}m{rest % 60:02d}s"
    )
