"""The asyncio shell around :class:`AtEngine`: one command at a time over a SerialLink.

Bytes read by the link are fed to the engine in the loop; the engine's deadline is kept
armed with ``loop.call_at``; responses resolve the waiting command's future; URCs and
channel notices go to the callbacks given at construction. Command text is logged only in
its log-safe form (``AT+CPIN=<redacted>``; a CMGS body is never logged).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from gateway.at import AtEngine, AtTimeout, Command, Timeouts
from gateway.at.engine import State
from gateway.at.errors import ModemNotAnswering, UnexpectedReply
from gateway.at.events import (
    Event,
    Misfit,
    Prompt,
    Response,
    Resynced,
    ResyncFailed,
    ResyncStalled,
    Stray,
    Timeout,
    Unrecognised,
    Urc,
)
from gateway.at.lines import parse_final
from gateway.modem.link import LinkConfig, LinkDown, SerialLink

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandWritten(Event):
    """A command line went out to the modem (log-safe text)."""

    command: str


class LinkLost(LinkDown):
    """The link went down while a command was in flight."""

    def __init__(self, message: str, *, after_body: bool) -> None:
        super().__init__(message)
        self.after_body = after_body  # a CMGS body was written: outcome unknown


class AtChannel:
    """Runs AT commands over a serial link, one at a time, in the running event loop."""

    def __init__(
        self,
        link: LinkConfig,
        timeouts: Timeouts,
        *,
        on_urc: Callable[[Urc], None],
        on_notice: Callable[[Event], None],
        on_down: Callable[[str], None],
        resync_probes: int = 5,
    ) -> None:
        # a random first nonce: an answer to a probe of an earlier process is stale too
        self.engine = AtEngine(
            timeouts=timeouts, max_probes=resync_probes, nonce_seed=secrets.randbelow(255)
        )
        self.link = SerialLink(link, on_data=self._on_data, on_down=self._link_down)
        self._on_urc = on_urc
        self._on_notice = on_notice
        self._on_down = on_down
        self._resync_probes = resync_probes
        self._lock = asyncio.Lock()
        self._waiter: asyncio.Future[Response] | None = None
        self._idle = asyncio.Event()
        self._idle.set()
        self._stalled = 0
        self._last_stray: str | None = None  # last final result discarded while resyncing
        self._timer: asyncio.TimerHandle | None = None

    # ------------------------------------------------------------------ lifecycle
    async def open(self) -> None:
        """Open the link and resynchronise.

        Raises LinkError (LinkDown if the port vanished again meanwhile), or AtTimeout
        if the modem is mute.
        """
        self.engine.reset()
        self.link.open()
        await self.resync()

    async def reconnect(
        self, stopping: asyncio.Event, attempt: Callable[[], None] | None = None
    ) -> None:
        """Wait for the device to come back, open it and resynchronise.

        ``attempt`` is called before each try to open. Raises LinkDown if the port
        vanished again while resynchronising, AtTimeout if the modem stays mute.
        """
        self.engine.reset()
        await self.link.reconnect(stopping, attempt)
        if self.link.is_open:
            await self.resync()

    def close(self) -> None:
        """Close the link; a waiting command fails with LinkLost."""
        self.link.close()
        self._abandon("port closed")

    async def resync(self) -> None:
        """Resynchronise now.

        Raises ModemNotAnswering (an AtTimeout) once ``resync_probes`` probes went
        unanswered, LinkDown when the port is closed or goes down meanwhile (the wait then
        ends at once: a vanished port is never taken for a resynchronised one).
        """
        if not self.link.is_open:
            raise LinkDown(f"modem port {self.link.config.device} is not open")
        loop = asyncio.get_running_loop()
        self._stalled = 0
        self._last_stray = None
        self._idle.clear()
        self.engine.resync(loop.time())
        self._flush()
        self._arm()
        await self._wait_idle("resync")
        if not self.link.is_open:
            raise LinkDown(f"modem port {self.link.config.device} went down while resynchronising")

    @property
    def generation(self) -> int:
        """The engine's synchronisation generation (changes at every resync or reopen)."""
        return self.engine.generation

    @property
    def pending(self) -> tuple[str, str] | None:
        """(log-safe command, engine state) of the command in flight, if any."""
        command = self.engine.pending
        return None if command is None else (command.log_text, self.engine.state.value)

    def force_idle(self) -> None:
        """Drop the engine's resynchronisation (to send a recovery command to a mute modem)."""
        self.engine.reset()
        self._idle.set()
        self._arm()

    # ------------------------------------------------------------------ commands
    async def execute(self, command: Command) -> Response:
        """Run ``command``; return its Response (errors are in it, not raised).

        Raises AtTimeout (the engine then resynchronises; UnexpectedReply for a reply
        that does not fit the command, ModemNotAnswering when resynchronisation failed)
        or LinkDown/LinkLost.
        """
        async with self._lock:
            if self.engine.state is State.NOT_ANSWERING and self.link.is_open:
                await self.resync()  # a fresh, bounded attempt: the modem may be back
            await self._wait_idle(command.log_text)
            if not self.link.is_open:
                raise LinkDown(f"{command.log_text}: modem port is not open")
            loop = asyncio.get_running_loop()
            waiter: asyncio.Future[Response] = loop.create_future()
            data = self.engine.send(command, loop.time())
            self._idle.clear()
            self._waiter = waiter
            log.debug("at.command", command=command.log_text)
            try:
                self.link.write(data)
            except LinkDown:
                self._abandon("write failed")
            self._arm()
            self._on_notice(CommandWritten(command=command.log_text))
            try:
                return await waiter
            finally:
                self._waiter = None

    async def _wait_idle(self, what: str) -> None:
        if not (self._idle.is_set() and self.engine.idle):
            timeouts = self.engine.timeouts
            # a backstop only: the engine itself gives up after its bounded probes
            probes = self.engine.max_probes
            limit = probes * (max(timeouts.probe, timeouts.quick) + timeouts.drain) + 1.0
            try:
                await asyncio.wait_for(self._idle.wait(), limit)
            except TimeoutError:
                self._not_answering(what)
        if self.engine.state is State.NOT_ANSWERING:
            self._not_answering(what)

    def _not_answering(self, what: str) -> None:
        seen = f"the modem answers {self._last_stray}" if self._last_stray else "no answer"
        raise ModemNotAnswering(what, seen) from None

    # ------------------------------------------------------------------ plumbing
    def _on_data(self, data: bytes) -> None:
        loop = asyncio.get_running_loop()
        self._dispatch(self.engine.feed(data, loop.time()))

    def _on_timer(self) -> None:
        self._timer = None
        deadline = self.engine.deadline
        if deadline is None:
            return
        now = max(asyncio.get_running_loop().time(), deadline)
        self._dispatch(self.engine.timeout(now))

    def _arm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        deadline = self.engine.deadline
        if deadline is not None and self.link.is_open:
            self._timer = asyncio.get_running_loop().call_at(deadline, self._on_timer)

    def _flush(self) -> None:
        data = self.engine.data_to_send()
        if data and self.link.is_open:
            with contextlib.suppress(LinkDown):  # reported through on_down
                self.link.write(data)

    def _dispatch(self, events: list[Event]) -> None:
        self._flush()
        for event in events:
            if isinstance(event, Response):
                self._resolve(event)
            elif isinstance(event, Timeout):
                log.warning("at.timeout", command=event.command, phase=event.phase.value)
                self._fail(AtTimeout(event.command, event.phase.value), event)
            elif isinstance(event, Misfit):
                log.warning("at.misfit", command=event.command, phase=event.phase.value)
                self._fail(UnexpectedReply(event.command, event.phase.value), event)
            elif isinstance(event, Urc):
                self._on_urc(event)
            elif isinstance(event, Resynced):
                self._stalled = 0
                log.debug("at.resynced", probes=event.probes)
                self._on_notice(event)
            elif isinstance(event, ResyncStalled):
                self._stalled += 1
                self._on_notice(event)
            elif isinstance(event, ResyncFailed):
                log.warning("at.not_answering", probes=event.probes)
                self._on_notice(event)
            elif isinstance(event, Prompt):
                log.debug("at.prompt", command=event.command)
                self._on_notice(event)
            elif isinstance(event, Stray | Unrecognised):
                if isinstance(event, Stray) and parse_final(event.line) is not None:
                    self._last_stray = event.line
                # content may be a fragment of a PDU: log its size only
                log.debug("at.discarded", kind=type(event).__name__, length=len(event.line))
                self._on_notice(event)
        if self.engine.state in (State.IDLE, State.NOT_ANSWERING):
            self._idle.set()  # waiters look at the state: NOT_ANSWERING raises
        self._arm()

    def _resolve(self, response: Response) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(response)

    def _fail(self, error: Exception, event: Event) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)
        self._on_notice(event)

    def _abandon(self, reason: str) -> None:
        after_body = self.engine.state is State.AWAIT_SEND_RESULT
        self.engine.reset()
        self._idle.set()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(LinkLost(f"link lost: {reason}", after_body=after_body))

    def _link_down(self, reason: str) -> None:
        self._abandon(reason)
        self._on_down(reason)
