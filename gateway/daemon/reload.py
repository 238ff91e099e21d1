"""What a SIGHUP reload may change: the receive allow-lists and the relay's access rules.

Everything else (modems, socket, journal, send, rate limits, logging) needs a restart:
:func:`reloaded` keeps it as it was and names the sections that differ, so the daemon
can warn about them. Pure: configurations in, a configuration out.
"""

from __future__ import annotations

from dataclasses import replace

from gateway.config import Config

#: sections taken over only by a restart (``relay`` too, except its access rules)
RESTART_SECTIONS = ("modem", "send", "ratelimit", "journal", "log")


def reloaded(old: Config, new: Config) -> tuple[Config, list[str]]:
    """Merge a re-read configuration into the running one.

    Returns the configuration to run with (``old`` with ``new``'s receive section and
    relay access rules) and the names of the sections whose changes wait for a restart.
    Never raises.
    """
    kept = [name for name in RESTART_SECTIONS if getattr(new, name) != getattr(old, name)]
    if replace(new.relay, access=()) != replace(old.relay, access=()):
        kept.append("relay")
    merged = replace(old, receive=new.receive, relay=replace(old.relay, access=new.relay.access))
    return merged, kept
