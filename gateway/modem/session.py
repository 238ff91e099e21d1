"""The asyncio modem session: init, health, recovery; the operations the pipeline uses.

``start()`` returns once the modem is initialised (or raises). After that the session
keeps itself usable: a vanished port is waited for and re-initialised; a restart URC
(``SMS Ready``, ``^SYSSTART``, ``RDY``) or lost settings re-run the whole initialisation;
N consecutive timeouts escalate: reopen the port, then ``AT+CFUN=0``/``AT+CFUN=1``, then
the session is FAILED. Whatever the cause, a modem whose port is present but that stays
not ready for ``not_ready_limit`` seconds is escalated step by step (reopen, radio
reset, then ``on_stuck``: the daemon exits so systemd restarts it), and
:meth:`ModemSession.progressing` tells the daemon's watchdog whether the session is
ready or at least making progress (:mod:`gateway.modem.readiness`).
A wrong PIN fails the session at once and is never sent again, not even by a later
process: ``SessionConfig.pin_record`` keeps the rejection per SIM.
PDUs and the PIN never reach the logs.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import structlog

from gateway.at import AtTimeout, Command, query
from gateway.at.events import Event, Registration, Response, ResyncStalled, Urc, VendorNotice
from gateway.at.events import Resynced as ResyncedEvent
from gateway.at.events import Stray as StrayEvent
from gateway.at.events import Unrecognised as UnrecognisedEvent
from gateway.errors import ModemFault, UsageError
from gateway.modem.channel import AtChannel
from gateway.modem.feed import EVENT_BACKLOG, EventFeed
from gateway.modem.health import HealthMonitor
from gateway.modem.init import Initialiser, InitResult
from gateway.modem.link import LinkDown, LinkError
from gateway.modem.notready import NotReadyWatch
from gateway.modem.operations import SmsOperations
from gateway.modem.pinguard import PinGuard
from gateway.modem.readiness import ReadinessConfig, Step
from gateway.modem.recovery import Supervisor
from gateway.modem.sessiontypes import (
    ModemFailed,
    ModemUnavailable,
    ReceiveUnavailable,
    SendOutcomeUnknown,
    SessionConfig,
    StateChanged,
)
from gateway.modem.sim import PinContext, SimError, WrongPin
from gateway.modem.status import Counters, ModemIdentity, ModemStatus, SessionState
from gateway.tracebacks import frames, safe_reason

__all__ = [
    "EVENT_BACKLOG",
    "ModemFailed",
    "ModemSession",
    "ModemUnavailable",
    "ReceiveUnavailable",
    "SendOutcomeUnknown",
    "SessionConfig",
    "StateChanged",
]

log = structlog.get_logger(__name__)


class ModemSession(SmsOperations):
    """One modem, kept initialised; one AT command at a time (operations: SmsOperations)."""

    def __init__(
        self, config: SessionConfig, *, on_stuck: Callable[[str], None] | None = None
    ) -> None:
        """``on_stuck(reason)`` is called when the not-ready ladder gives up (the daemon
        exits then); without it the session only becomes FAILED."""
        self.config = config
        self._on_stuck = on_stuck
        self._watch = NotReadyWatch(
            ReadinessConfig(
                limit=config.not_ready_limit,
                radio_reset=config.radio_reset,
                stall=config.stall_limit,
            ),
            config.link.device,
            self._escalate,
        )
        self._probe_error: str | None = None
        self.counters = Counters()
        self._state = SessionState.STOPPED
        self._error: str | None = None
        self._result: InitResult | None = None
        self._identity: ModemIdentity | None = None
        self._registration: int | None = None
        self._sim: str | None = None
        self._signal: int | None = None
        self._selected: str | None = None
        self._pin_rejected = False
        self._pins = PinContext(guard=PinGuard(config.pin_record), device=config.link.device)
        self._fatal = False  # failed for a reason retrying cannot fix (SIM, PIN)
        self._feed = EventFeed(EVENT_BACKLOG)
        self._network = asyncio.Event()  # set by each +CREG/+CGREG/+CEREG URC
        self._stopping = asyncio.Event()
        self._storage = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        self._channel = AtChannel(
            config.link,
            config.timeouts,
            on_urc=self._on_urc,
            on_notice=self._on_notice,
            on_down=self._on_down,
            resync_probes=config.resync_probes,
        )
        self._supervisor = self._new_supervisor()
        self._health = HealthMonitor(
            config.health,
            ready=lambda: self._state is SessionState.READY,
            ping=self._ping,
            verify=self._verify,
            consecutive_timeouts=lambda: self.counters.consecutive_timeouts,
            escalate=lambda reason: self._supervisor.trouble("watchdog", reason),
            settings_lost=lambda: self._supervisor.trouble("reinit", "settings lost"),
        )

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Open the port and initialise; return when READY.

        Raises PortBusy/LinkError, SimError (PinRequired, WrongPin, SimLocked),
        RegistrationTimeout, AtTimeout or a typed AT error; the port is closed then.
        Raises UsageError if the session is already running.
        """
        if self._state not in (SessionState.STOPPED, SessionState.FAILED):
            raise UsageError(f"modem session already {self._state.value}")
        await self._end_tasks()  # a FAILED session's supervisor and health loop
        self._stopping.clear()
        self._supervisor = self._new_supervisor()
        self.set_state(SessionState.STARTING)
        try:
            await self._channel.open()
            await self.initialise()
        except BaseException as exc:
            self._channel.close()
            reason = safe_reason(exc)  # a foreign exception's text may carry data
            self.set_state(SessionState.FAILED, reason, fatal=isinstance(exc, SimError))
            raise
        self._tasks = [
            asyncio.create_task(self._supervisor.run(), name="modem-supervisor"),
            asyncio.create_task(self._health.run(), name="modem-health"),
        ]
        for task in self._tasks:
            task.add_done_callback(self._task_ended)

    def _new_supervisor(self) -> Supervisor:
        supervisor = Supervisor(self, self._channel, self._stopping)
        supervisor.on_attempt = self._watch.looked
        return supervisor

    async def stop(self) -> None:
        """Stop background work and close the port (idempotent)."""
        self._stopping.set()
        self._supervisor.trouble("stop", "")
        self._health.stop()
        await self._end_tasks()
        self._channel.close()
        self.set_state(SessionState.STOPPED, "stopped")

    async def _end_tasks(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):  # logged when it died
                await task

    def _task_ended(self, task: asyncio.Task[None]) -> None:
        # A supervisor or health loop that died (a bug) leaves the modem unattended for
        # good: fail the session, so whoever restarts failed sessions starts it again.
        if task.cancelled() or self._stopping.is_set() or task not in self._tasks:
            return
        exc = task.exception()
        error = type(exc).__name__ if exc else "returned"
        where = frames(exc) if exc else []  # where it was raised; never the message
        log.error("modem.task_failed", task=task.get_name(), error=error, frames=where)
        self._supervisor.fail(f"{task.get_name()} ended: {error}")

    async def __aenter__(self) -> ModemSession:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ observation
    @property
    def status(self) -> ModemStatus:
        """A frozen snapshot of state, identity, radio and counters."""
        result = self._result
        pending = self._channel.pending
        return ModemStatus(
            state=self._state,
            device=self.config.link.device,
            identity=self._identity,
            sim=self._sim,
            registration=self._registration,
            signal=self._signal,
            memories=result.read_memories if result else (),
            smsc=result.smsc if result else None,
            operator=result.operator if result else None,
            cnmi=result.cnmi if result else None,
            dialect=result.dialect if result else None,
            receive_unavailable=result.receive_unavailable if result else None,
            counters=self.counters.snapshot(),
            error=self._error,
            fatal=self._state is SessionState.FAILED and self._fatal,
            pending=pending[0] if pending else None,
            phase=pending[1] if pending else None,
            probe_error=self._probe_error if self._state is SessionState.READY else None,
            escalations=self._watch.steps_taken,
        )

    def check_health(self) -> None:
        """Run the next health probe now instead of at the end of the interval."""
        self._health.poke()

    def progressing(self) -> bool:
        """True if the session is ready (or at rest) or has made progress lately.

        At rest: READY, STOPPED or FAILED (a failed session is the restarter's, and a
        fatal failure is shown in ``status``). Otherwise some command must have been
        answered or timed out, the state changed, or a vanished port looked for within
        :attr:`SessionConfig.stall_limit` seconds. The daemon sends ``WATCHDOG=1`` only
        while every session is progressing.
        """
        if self._state in (SessionState.READY, SessionState.STOPPED, SessionState.FAILED):
            return True
        return not self._watch.stalled()

    async def wait_for(
        self, predicate: Callable[[ModemStatus], bool], timeout: float | None = None
    ) -> ModemStatus:
        """Return the first status snapshot satisfying ``predicate`` (no polling).

        Raises TimeoutError after ``timeout`` seconds.
        """
        async with asyncio.timeout(timeout):
            while True:
                status = self.status
                if predicate(status):
                    return status
                await self._feed.changed()

    async def next_event(self) -> Event:
        """Return the next URC or StateChanged event."""
        return await self._feed.next()

    async def events(self) -> AsyncIterator[Event]:
        """Iterate over URCs and StateChanged events as they come."""
        while True:
            yield await self._feed.next()

    # ------------------------------------------------------------------ operations
    async def command(self, command: Command) -> Response:
        """Run one AT command when READY; return its Response (errors not raised).

        Raises ModemUnavailable, AtTimeout or LinkDown.
        """
        await self._until_ready()
        return await self.run(command)

    # ------------------------------------------------------------------ internals
    async def _until_ready(self) -> None:
        if self._state is SessionState.READY:
            return
        if self._state is SessionState.FAILED:
            raise ModemFailed(f"modem session failed: {self._error}")
        if self._state is SessionState.STOPPED:
            raise ModemUnavailable("modem session stopped")
        try:
            await self.wait_for(
                lambda s: (
                    s.state in (SessionState.READY, SessionState.FAILED, SessionState.STOPPED)
                ),
                self.config.ready_wait,
            )
        except TimeoutError:
            raise ModemUnavailable(f"modem not ready ({self._state.value})") from None
        state = self.status.state  # re-read: the await above may have changed it
        if state is SessionState.FAILED:
            raise ModemFailed(f"modem session failed: {self._error}")
        if state is not SessionState.READY:
            raise ModemUnavailable(f"modem session {state.value}: {self._error}")

    async def run(self, command: Command) -> Response:
        """Run ``command`` now, READY or not (for the initialiser and the supervisor).

        Returns the Response; raises AtTimeout or LinkDown. Counts timeouts.
        """
        self.counters.commands += 1
        try:
            response = await self._channel.execute(command)
        except AtTimeout:
            self.counters.timeouts += 1
            self.counters.consecutive_timeouts += 1
            self._notify()
            raise
        finally:
            self._watch.mark()
        self.counters.consecutive_timeouts = 0
        if self._probe_error is not None:
            self._probe_error = None  # it answers again
            self._notify()
        return response

    def _report(self, key: str, value: object) -> None:
        if key == "busy_retry":
            self.counters.busy_retries += 1
        elif key == "identity" and isinstance(value, ModemIdentity):
            self._identity = value
        elif key == "sim":
            self._sim = value if isinstance(value, str) else None
        elif key == "registration":
            self._registration = value if isinstance(value, int) else None
        self._notify()

    async def initialise(self) -> None:
        """Run the whole initialisation and become READY.

        Raises SimError (WrongPin is remembered, in ``pin_record`` too, and never
        retried; PinNotSent when one attempt is left), RegistrationTimeout,
        AtTimeout, LinkDown or a typed AT error.
        """
        self.set_state(SessionState.INITIALISING)
        if self._pin_rejected:
            raise WrongPin("the configured PIN was rejected before; not sending it again")
        initialiser = Initialiser(
            self.run,
            self.config.init,
            self._report,
            network_changed=self.network_changed,
            pins=self._pins,
        )
        try:
            result = await initialiser.run()
        except WrongPin:
            self._pin_rejected = True
            raise
        self._result = result
        self._selected = result.cpms[0] if result.cpms else None  # none: send-only
        self._registration = result.registration
        # A first signal reading, so `status` shows one at once rather than after the
        # first health ping; nice to have, never a reason to fail the start.
        try:
            await self._read_signal()
        except LinkError:
            raise  # the port went away meanwhile: not ready, whatever the sequence said
        except ModemFault:
            pass  # no reading yet: the first health ping takes one
        if not self._channel.link.is_open:
            # never READY on a closed port: its down report is queued and reconnects
            raise LinkDown(f"modem port {self.config.link.device} went down while initialising")
        self.counters.inits += 1
        log.info(
            "modem.ready",
            manufacturer=result.identity.manufacturer,
            model=result.identity.model,
            memories=list(result.read_memories),
            cnmi=result.cnmi,
            operator=result.operator,
            dialect=result.dialect,
            send_only=result.receive_unavailable is not None,
        )
        self.set_state(SessionState.READY)

    async def network_changed(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for a registration URC (consumes it; never raises)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._network.wait(), timeout)
        self._network.clear()

    async def _ping(self) -> None:
        self.counters.pings += 1
        try:
            await self._read_signal()
        except ModemFault as exc:
            # shown as "degraded" in status at once, before any escalation
            self._probe_error = f"health probe failed: {safe_reason(exc)}"
            self._notify()
            raise

    async def _read_signal(self) -> None:
        # TS 27.007 §8.5: +CSQ: <rssi>,<ber>; 99 means not known
        response = await self.run(query("AT+CSQ", "+CSQ"))
        for line in response.lines:
            head = line.partition(":")[2].split(",")[0].strip()
            if head.isdigit():
                self._signal = int(head)
        self._notify()

    async def _verify(self) -> bool:
        expected = self._result.cnmi if self._result else None
        if expected is None:
            return True
        response = await self.run(query("AT+CNMI?", "+CNMI"))
        actual = [line.partition(":")[2].replace(" ", "") for line in response.lines]
        return response.ok and actual == [expected]

    # ------------------------------------------------------------------ callbacks
    def _on_urc(self, urc: Urc) -> None:
        self.counters.urcs += 1
        if isinstance(urc, Registration):
            self._registration = urc.stat
            self._network.set()
        if isinstance(urc, VendorNotice) and urc.restart:
            log.info("modem.restarted", notice=urc.tag)
            if self._state is not SessionState.STARTING:
                self._supervisor.trouble("reboot", urc.tag)
        self._publish(urc)
        self._notify()

    def _on_notice(self, event: Event) -> None:
        if isinstance(event, ResyncedEvent):
            self.counters.resyncs += 1
            if self._state is SessionState.READY:
                # back in sync after a timeout or a reply that did not fit: URCs written
                # meanwhile may be lost (a silent modem, discarded output), so the event
                # goes on the stream for the receive pipeline to sweep early
                self._publish(event)
        elif isinstance(event, ResyncStalled):
            self.counters.stalled_probes += 1
        elif isinstance(event, StrayEvent | UnrecognisedEvent):
            self.counters.discarded_lines += 1
        self._notify()

    def _on_down(self, reason: str) -> None:
        self.counters.link_downs += 1
        self._notify()
        if self._state in (SessionState.FAILED, SessionState.STOPPED):
            return
        self.set_state(SessionState.RECONNECTING, reason)
        self._supervisor.trouble("down", reason)

    @property
    def state(self) -> SessionState:
        """The current session state."""
        return self._state

    @property
    def epoch(self) -> tuple[int, int]:
        """(initialisations, AT engine generation): changes at every re-initialisation,
        resynchronisation and reopen; a read is trusted for a delete only within one."""
        return (self.counters.inits, self._channel.generation)

    def set_state(self, state: SessionState, reason: str = "", *, fatal: bool = False) -> None:
        """Move to ``state`` (FAILED records ``reason``); publishes StateChanged.

        ``fatal`` marks a FAILED state that a restart cannot fix (wrong PIN, SIM locked):
        :attr:`ModemStatus.fatal` tells supervisors not to retry it.
        """
        if state is SessionState.FAILED:
            self._error = reason
            self._fatal = fatal
        if state is self._state:
            return
        self._state = state
        if state is SessionState.READY:
            self._probe_error = None
        at_rest = state in (SessionState.READY, SessionState.STOPPED) or (
            state is SessionState.FAILED and self._fatal
        )
        self._watch.observe(state.value, at_rest=at_rest)
        self._publish(StateChanged(state=state, reason=reason))
        log.info("modem.state", state=state.value, reason=reason)
        self._notify()

    # ------------------------------------------------------------------ not-ready ladder
    def _escalate(self, step: Step, reason: str) -> None:
        """A not-ready step fell due: escalate, or give up (FAILED, then ``on_stuck``)."""
        self._notify()
        if step is Step.GIVE_UP:
            steps = "reopen and radio reset" if self.config.radio_reset else "reopen"
            reason = f"{reason} after {steps}"
            if self._state is not SessionState.FAILED:
                self._supervisor.fail(reason)
            if self._on_stuck is not None:
                self._on_stuck(reason)
        elif self._state is not SessionState.FAILED:
            self._supervisor.escalate(step, reason)

    def _publish(self, event: Event) -> None:
        if self._feed.publish(event):
            self.counters.dropped_events += 1

    def _notify(self) -> None:
        self._feed.notify()
