"""Keeping a session usable: reconnect after unplug, re-init after restart, escalation.

Problems are queued and handled one at a time by :meth:`Supervisor.run`: a vanished port
is waited for and re-initialised; a restart or lost settings re-run the initialisation;
the watchdog escalates: reopen the port, then ``AT+CFUN=0``/``AT+CFUN=1`` (TS 27.007
§8.2), then FAILED. SIM errors (wrong PIN...) fail at once: retrying cannot help.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from typing import Protocol

import structlog

from gateway.at import AtTimeout, Command, Kind, action
from gateway.at.events import Response
from gateway.errors import ModemFault
from gateway.modem.channel import AtChannel
from gateway.modem.link import LinkError
from gateway.modem.sim import SimError
from gateway.modem.status import Counters, SessionState

log = structlog.get_logger(__name__)


class Host(Protocol):
    """What the supervisor needs from the session."""

    counters: Counters

    @property
    def state(self) -> SessionState: ...

    def set_state(self, state: SessionState, reason: str = "", *, fatal: bool = False) -> None: ...

    async def initialise(self) -> None: ...

    async def run(self, command: Command) -> Response: ...


class Supervisor:
    """Serialises recovery work for one session."""

    def __init__(self, host: Host, channel: AtChannel, stopping: asyncio.Event) -> None:
        self._host = host
        self._channel = channel
        self._stopping = stopping
        self._troubles: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self._reinit_queued = False

    def trouble(self, kind: str, reason: str) -> None:
        """Queue a problem: "down", "reboot", "reinit" (settings lost) or "watchdog"."""
        if kind == "stop":
            self._troubles.put_nowait((kind, reason))
            return
        if self._host.state in (SessionState.FAILED, SessionState.STOPPED):
            return
        if kind in ("reboot", "reinit"):
            if self._reinit_queued:
                return
            self._reinit_queued = True
            self._host.counters.reboots += 1
        elif kind == "watchdog":
            self._host.set_state(SessionState.RECOVERING, reason)
        self._troubles.put_nowait((kind, reason))

    async def run(self) -> None:
        """Handle queued problems one at a time until stopped."""
        # Checks _stopping as well as being cancelled: asyncio.wait_for in 3.11 can swallow
        # a cancellation that races with its inner future completing (gh-86296).
        while not self._stopping.is_set():
            kind, reason = await self._troubles.get()
            if kind == "stop":
                return
            if self._host.state in (SessionState.FAILED, SessionState.STOPPED):
                continue
            if kind in ("reboot", "reinit"):
                self._reinit_queued = False
            log.info("modem.restore", trouble=kind, reason=reason)
            try:
                if kind == "down":
                    await self._reconnect(reason)
                elif kind == "watchdog":
                    await self._recover(reason)
                elif self._channel.link.is_open:
                    await self._host.initialise()
            except SimError as exc:
                self.fail(str(exc), fatal=True)
            except ModemFault as exc:
                if self._channel.link.is_open:
                    await self._recover(str(exc))
                # else: the link went down meanwhile; its own trouble is queued

    async def _reconnect(self, reason: str) -> None:
        while not self._stopping.is_set():
            self._host.set_state(SessionState.RECONNECTING, reason)
            try:
                await self._channel.reconnect(self._stopping)
            except (AtTimeout, LinkError) as exc:
                reason = str(exc)
                self._channel.close()
                continue
            if self._stopping.is_set():
                return
            self._host.counters.reconnects += 1
            self._drain_troubles("down")
            await self._host.initialise()
            return

    async def _recover(self, reason: str) -> None:
        self._host.set_state(SessionState.RECOVERING, reason)
        self._host.counters.reopens += 1
        log.warning("modem.recover", step="reopen", reason=reason)
        if await self._attempt("reopen", self._reopen):
            return
        if not os.path.exists(self._channel.link.config.device):
            # the device is gone (USB reset renumbering): wait for it instead
            await self._reconnect(f"device vanished during recovery ({reason})")
            return
        self._host.counters.radio_resets += 1
        log.warning("modem.recover", step="radio reset")
        if await self._attempt("radio reset", self._radio_reset):
            return
        self.fail(f"modem unresponsive after reopen and radio reset ({reason})")

    async def _attempt(self, step: str, prepare: Callable[[], Awaitable[None]]) -> bool:
        """Run one escalation step, then re-initialise; return False if the modem failed it.

        SIM errors are raised: no further step can fix them.
        """
        try:
            await prepare()
            await self._host.initialise()
        except SimError:
            raise
        except ModemFault as exc:
            log.warning("modem.recover_failed", step=step, error=str(exc))
            return False
        self._host.counters.consecutive_timeouts = 0
        return True

    async def _reopen(self) -> None:
        self._channel.close()
        await self._channel.open()
        self._drain_troubles("down")

    async def _radio_reset(self) -> None:
        # TS 27.007 §8.2: minimum functionality, then full functionality again
        if not self._channel.link.is_open:
            self._channel.link.open()
        self._channel.force_idle()
        await self._host.run(action("AT+CFUN=0", kind=Kind.NETWORK))
        await self._host.run(action("AT+CFUN=1", kind=Kind.NETWORK))
        await self._channel.resync()

    def _drain_troubles(self, kind: str) -> None:
        # stale "down" reports from before the port was reopened
        keep = []
        while not self._troubles.empty():
            item = self._troubles.get_nowait()
            if item[0] != kind:
                keep.append(item)
        for item in keep:
            self._troubles.put_nowait(item)

    def fail(self, reason: str, *, fatal: bool = False) -> None:
        """Give up: close the port and mark the session FAILED (``fatal``: SIM trouble)."""
        log.error("modem.failed", reason=reason, fatal=fatal)
        self._channel.close()
        self._host.set_state(SessionState.FAILED, reason, fatal=fatal)
