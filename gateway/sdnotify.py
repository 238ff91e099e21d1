"""The sd_notify protocol (sd_notify(3)), with the standard library only.

The service manager passes ``NOTIFY_SOCKET`` (a path, or ``@name`` for the abstract
namespace); we send newline-separated ``KEY=VALUE`` datagrams to it: ``READY=1`` once the
modem is initialised and the socket is bound, ``STATUS=…``, ``WATCHDOG=1``,
``RELOADING=1``, ``STOPPING=1``. Without ``NOTIFY_SOCKET`` every call does nothing, so the
daemon runs the same under systemd and in a terminal.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class WatchdogSettings:
    """How often the service manager wants ``WATCHDOG=1`` (``WatchdogSec=``)."""

    interval: float

    @property
    def ping_every(self) -> float:
        """Return the ping period: half the interval, as sd_watchdog_enabled(3) advises."""
        return self.interval / 2


def watchdog_settings(environ: Mapping[str, str] | None = None) -> WatchdogSettings | None:
    """Return the watchdog settings meant for this process, or None if there are none.

    ``WATCHDOG_USEC`` is honoured only when ``WATCHDOG_PID`` is unset or names us.
    """
    env = os.environ if environ is None else environ
    usec = env.get("WATCHDOG_USEC", "")
    pid = env.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    if pid and (not pid.isdigit() or int(pid) != os.getpid()):
        return None
    return WatchdogSettings(interval=int(usec) / 1_000_000)


class Notifier:
    """Sends sd_notify messages; a no-op when the process was not started by systemd."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET", "")
        self._address: str | bytes | None = None
        if address.startswith("@"):
            self._address = b"\0" + address[1:].encode()
        elif address.startswith("/"):
            self._address = address
        self._sock: socket.socket | None = None

    @property
    def enabled(self) -> bool:
        """Return True if a notify socket was given."""
        return self._address is not None

    def notify(self, **fields: str | int) -> bool:
        """Send one message made of ``KEY=VALUE`` lines; return False if nothing was sent.

        Failures to send (the manager went away) are swallowed: notification is advisory.
        """
        if self._address is None:
            return False
        payload = "\n".join(f"{key}={value}" for key, value in fields.items()).encode()
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._sock.sendto(payload, self._address)
        except OSError:
            return False
        return True

    def ready(self, status: str | None = None) -> bool:
        """Tell the manager start-up is complete (``READY=1``), with an optional status."""
        return self.notify(READY=1, MAINPID=os.getpid(), **({"STATUS": status} if status else {}))

    def status(self, text: str) -> bool:
        """Set the one-line status shown by ``systemctl status``."""
        return self.notify(STATUS=text)

    def watchdog(self) -> bool:
        """Pet the watchdog (``WATCHDOG=1``)."""
        return self.notify(WATCHDOG=1)

    def reloading(self) -> bool:
        """Say a configuration reload has started (``RELOADING=1``)."""
        return self.notify(RELOADING=1)

    def stopping(self) -> bool:
        """Say shutdown has started (``STOPPING=1``)."""
        return self.notify(STOPPING=1)

    def close(self) -> None:
        """Close the datagram socket."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None
