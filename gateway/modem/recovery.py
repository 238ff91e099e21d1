"""Keeping a session usable: reconnect after unplug, re-init after restart, escalation.

Problems are queued and handled one at a time by :meth:`Supervisor.run`: a vanished port
is waited for and re-initialised; a restart or lost settings re-run the initialisation;
the watchdog escalates: reopen the port, then ``AT+CFUN=0``/``AT+CFUN=1`` (TS 27.007
§8.2), then FAILED. SIM errors (wrong PIN...) fail at once: retrying cannot help.

Every problem gets a bounded way out. A link-down is never dropped: a queued "down" is
stale (and skipped) only when the port is open again by the time it is handled, because
a later down would have closed it. After each problem the supervisor checks where the
session ended: neither ready nor failed nor stopped, with nothing else queued, it queues
the next step itself (reconnect when the port is closed, recovery when it is open). The
session's not-ready clock (:mod:`gateway.modem.readiness`) can cut any step short with
:meth:`Supervisor.escalate`.
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
from gateway.modem.readiness import Step
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
        self._handling: asyncio.Task[None] | None = None
        #: called before each look for a vanished port (a progress mark)
        self.on_attempt: Callable[[], None] | None = None

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

    def escalate(self, step: Step, reason: str) -> None:
        """Abandon whatever is being handled and take escalation ``step`` next.

        REOPEN runs the recovery ladder (reopen, then radio reset, then FAILED);
        RADIO_RESET goes straight to ``AT+CFUN=0``/``AT+CFUN=1``.
        """
        if self._host.state in (SessionState.FAILED, SessionState.STOPPED):
            return
        log.warning("modem.escalate", step=step.value, reason=reason)
        handling = self._handling
        if handling is not None and not handling.done():
            handling.cancel()
        self._troubles.put_nowait(("escalate", f"{step.value}:{reason}"))

    async def run(self) -> None:
        """Handle queued problems one at a time until stopped."""
        # Checks _stopping as well as being cancelled: asyncio.wait_for in 3.11 can swallow
        # a cancellation that races with its inner future completing (gh-86296).
        try:
            while not self._stopping.is_set():
                kind, reason = await self._troubles.get()
                if kind == "stop":
                    return
                if self._host.state in (SessionState.FAILED, SessionState.STOPPED):
                    continue
                if kind in ("reboot", "reinit"):
                    self._reinit_queued = False
                if kind == "down" and self._channel.link.is_open:
                    # stale: reported before the port was opened again (a later down
                    # would have closed it)
                    continue
                log.info("modem.restore", trouble=kind, reason=reason)
                self._handling = asyncio.create_task(
                    self._handle(kind, reason), name="modem-restore"
                )
                try:
                    await self._handling
                except asyncio.CancelledError:
                    current = asyncio.current_task()
                    if current is not None and current.cancelling():
                        raise  # run() itself was cancelled (the handler with it)
                    log.info("modem.restore_abandoned", trouble=kind)  # escalate() did it
                finally:
                    self._handling = None
                self._follow_up()
        finally:
            handling = self._handling
            if handling is not None:
                handling.cancel()

    async def _handle(self, kind: str, reason: str) -> None:
        try:
            if kind == "down":
                await self._reconnect(reason)
            elif kind == "watchdog":
                await self._recover(reason)
            elif kind == "escalate":
                step, _, why = reason.partition(":")
                if step == Step.RADIO_RESET.value:
                    await self._radio_reset_step(why)
                else:
                    await self._recover(why)
            elif self._channel.link.is_open:
                await self._host.initialise()
        except SimError as exc:
            self.fail(str(exc), fatal=True)
        except ModemFault as exc:
            if self._channel.link.is_open:
                await self._recover(str(exc))
            # else: the link went down meanwhile; _follow_up reconnects

    def _follow_up(self) -> None:
        """Queue the next step when a handled problem left the session in between."""
        state = self._host.state
        if (
            self._stopping.is_set()
            or not self._troubles.empty()
            or state in (SessionState.READY, SessionState.FAILED, SessionState.STOPPED)
        ):
            return
        if self._channel.link.is_open:
            self.trouble("watchdog", f"left {state.value} after recovery")
        else:
            self._troubles.put_nowait(("down", f"port closed while {state.value}"))

    async def _reconnect(self, reason: str) -> None:
        while not self._stopping.is_set():
            self._host.set_state(SessionState.RECONNECTING, reason)
            try:
                await self._channel.reconnect(self._stopping, self.on_attempt)
            except (AtTimeout, LinkError) as exc:
                reason = str(exc)
                self._channel.close()
                continue
            if self._stopping.is_set():
                return
            self._host.counters.reconnects += 1
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

    async def _radio_reset_step(self, reason: str) -> None:
        self._host.set_state(SessionState.RECOVERING, reason)
        self._host.counters.radio_resets += 1
        log.warning("modem.recover", step="radio reset", reason=reason)
        if not os.path.exists(self._channel.link.config.device):
            await self._reconnect(f"device vanished during recovery ({reason})")
            return
        await self._attempt("radio reset", self._radio_reset)

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

    async def _radio_reset(self) -> None:
        # TS 27.007 §8.2: minimum functionality, then full functionality again
        if not self._channel.link.is_open:
            self._channel.link.open()
        self._channel.force_idle()
        await self._host.run(action("AT+CFUN=0", kind=Kind.NETWORK))
        await self._host.run(action("AT+CFUN=1", kind=Kind.NETWORK))
        await self._channel.resync()

    def fail(self, reason: str, *, fatal: bool = False) -> None:
        """Give up: close the port and mark the session FAILED (``fatal``: SIM trouble)."""
        log.error("modem.failed", reason=reason, fatal=fatal)
        self._channel.close()
        self._host.set_state(SessionState.FAILED, reason, fatal=fatal)
