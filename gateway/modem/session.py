"""The asyncio modem session: init, health, recovery, and the operations the pipeline uses.

``start()`` returns once the modem is initialised (or raises). After that the session
keeps itself usable: a vanished port is waited for and re-initialised; a restart URC
(``SMS Ready``, ``^SYSSTART``, ``RDY``) or lost settings re-run the whole initialisation;
N consecutive timeouts escalate: reopen the port, then ``AT+CFUN=0``/``AT+CFUN=1``, then
the session is FAILED. A wrong PIN fails the session at once and is never sent again.
PDUs and the PIN never reach the logs.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import structlog

from gateway.at import AtTimeout, CmsError, Command, Kind, Timeouts, action, query
from gateway.at.events import Event, Phase, Registration, Response, ResyncStalled, Urc, VendorNotice
from gateway.at.events import Resynced as ResyncedEvent
from gateway.at.events import Stray as StrayEvent
from gateway.at.events import Unrecognised as UnrecognisedEvent
from gateway.errors import ModemFault, UsageError
from gateway.modem.channel import AtChannel, LinkLost
from gateway.modem.health import HealthConfig, HealthMonitor
from gateway.modem.init import (
    InitConfig,
    Initialiser,
    InitResult,
    SimError,
    WrongPin,
    cpms_command,
)
from gateway.modem.link import LinkConfig
from gateway.modem.recovery import Supervisor
from gateway.modem.status import Counters, ModemIdentity, ModemStatus, SessionState
from gateway.modem.storage import (
    StoredMessage,
    parse_listing,
    parse_read,
    parse_reference,
)

log = structlog.get_logger(__name__)

#: events kept for a consumer that does not read; beyond it the oldest are dropped
EVENT_BACKLOG = 10_000
_MEMORY = re.compile(r"[A-Z]{2}")
_HEX = re.compile(r"(?:[0-9A-Fa-f]{2})+")


class ModemUnavailable(ModemFault):
    """The session is not ready (reconnecting, recovering, failed or stopped)."""


class ModemFailed(ModemUnavailable):
    """Recovery gave up: the modem stays unresponsive after reopen and radio reset."""


class SendOutcomeUnknown(ModemFault):
    """The PDU and Ctrl-Z were written but no result came: it may or may not be sent.

    Not a failure: resending may duplicate the message (TS 27.005 §3.5.1 gives no way
    to ask afterwards). The caller decides, e.g. by waiting for a status report.
    """


@dataclass(frozen=True, slots=True, kw_only=True)
class StateChanged(Event):
    """The session moved to ``state`` (also delivered on the event stream)."""

    state: SessionState
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionConfig:
    """Everything the session needs; timeouts are short in tests, long in the field."""

    link: LinkConfig
    timeouts: Timeouts = field(default_factory=Timeouts)
    init: InitConfig = field(default_factory=InitConfig)
    health: HealthConfig = field(default_factory=HealthConfig)
    resync_probes: int = 5
    ready_wait: float = 30.0  # how long an operation waits for READY

    def __post_init__(self) -> None:
        if self.resync_probes < 1 or self.ready_wait <= 0:
            raise UsageError("resync_probes and ready_wait must be positive")


class ModemSession:
    """One modem, kept initialised; one AT command at a time."""

    def __init__(self, config: SessionConfig) -> None:
        self.config = config
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
        self._fatal = False  # failed for a reason retrying cannot fix (SIM, PIN)
        self._events: asyncio.Queue[Event] = asyncio.Queue(maxsize=EVENT_BACKLOG)
        self._changed = asyncio.Event()
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
        self._supervisor = Supervisor(self, self._channel, self._stopping)
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
        self._supervisor = Supervisor(self, self._channel, self._stopping)
        self.set_state(SessionState.STARTING)
        try:
            await self._channel.open()
            await self.initialise()
        except BaseException as exc:
            self._channel.close()
            self.set_state(SessionState.FAILED, str(exc), fatal=isinstance(exc, SimError))
            raise
        self._tasks = [
            asyncio.create_task(self._supervisor.run(), name="modem-supervisor"),
            asyncio.create_task(self._health.run(), name="modem-health"),
        ]

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
            with contextlib.suppress(asyncio.CancelledError):
                await task

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
            counters=self.counters.snapshot(),
            error=self._error,
            fatal=self._state is SessionState.FAILED and self._fatal,
            pending=pending[0] if pending else None,
            phase=pending[1] if pending else None,
        )

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
                changed = self._changed
                await changed.wait()

    async def next_event(self) -> Event:
        """Return the next URC or StateChanged event."""
        return await self._events.get()

    async def events(self) -> AsyncIterator[Event]:
        """Iterate over URCs and StateChanged events as they come."""
        while True:
            yield await self._events.get()

    # ------------------------------------------------------------------ operations
    async def command(self, command: Command) -> Response:
        """Run one AT command when READY; return its Response (errors not raised).

        Raises ModemUnavailable, AtTimeout or LinkDown.
        """
        await self._until_ready()
        return await self.run(command)

    async def send_pdu(self, pdu_hex: str, tpdu_length: int) -> int:
        """Send one SMS-SUBMIT with AT+CMGS; return the message reference (TP-MR).

        Raises SendOutcomeUnknown if the body was written but no result came, CmsError
        for a refused send, AtTimeout if the prompt never came (not sent), ModemUnavailable.
        """
        if not _HEX.fullmatch(pdu_hex) or not 1 <= tpdu_length <= len(pdu_hex) // 2:
            raise UsageError("send_pdu needs PDU hex and its TPDU length (AT+CMGS <length>)")
        command = Command(
            text=f"AT+CMGS={tpdu_length}", prefixes=("+CMGS",), kind=Kind.SEND, body=pdu_hex
        )
        await self._until_ready()
        try:
            response = await self.run(command)
        except AtTimeout as exc:
            if exc.phase == Phase.BODY.value:
                raise SendOutcomeUnknown("no result after the message body") from exc
            raise
        except LinkLost as exc:
            if exc.after_body:
                raise SendOutcomeUnknown("link lost after the message body") from exc
            raise
        response.raise_for_error()
        return parse_reference(response.lines)

    async def list_messages(self, memory: str) -> list[StoredMessage]:
        """List every stored message in ``memory`` (AT+CMGL=4, PDU mode).

        Raises UsageError for a bad memory name, typed AT errors, ModemUnavailable.
        """
        async with self._storage:
            await self._select(memory)
            list_all = Command(text="AT+CMGL=4", prefixes=("+CMGL",), pdu=True, kind=Kind.LIST)
            response = (await self.run(list_all)).raise_for_error()
        messages, bad = parse_listing(memory, response.lines)
        if bad:
            log.warning("modem.malformed_listing", memory=memory, entries=bad)
        return messages

    async def read_message(self, memory: str, index: int) -> StoredMessage | None:
        """Read one stored message; return None for an empty slot.

        Raises UsageError, typed AT errors, ReplyError, ModemUnavailable.
        """
        async with self._storage:
            await self._select(memory)
            cmgr = Command(text=f"AT+CMGR={_index(index)}", prefixes=("+CMGR",), pdu=True)
            response = await self.run(cmgr)
        error = response.error()
        if isinstance(error, CmsError) and error.code == 321:
            return None  # TS 27.005 §3.2.5: invalid memory index = empty slot
        if error is not None:
            raise error
        return parse_read(memory, index, response.lines)

    async def delete_message(self, memory: str, index: int) -> None:
        """Delete one stored message (AT+CMGD). Raises typed AT errors, ModemUnavailable."""
        async with self._storage:
            await self._select(memory)
            (await self.run(action(f"AT+CMGD={_index(index)}"))).raise_for_error()

    async def ack_routed(self) -> bool:
        """Acknowledge a routed +CMT/+CDS (AT+CNMA, TS 27.005 §3.4.4).

        Returns False when the modem expected no acknowledgement (+CMS ERROR: 340, the
        usual case with AT+CSMS=0). Raises other typed AT errors, ModemUnavailable.
        """
        await self._until_ready()
        response = await self.run(action("AT+CNMA"))
        error = response.error()
        if isinstance(error, CmsError) and error.code == 340:
            return False
        response.raise_for_error()
        return True

    # ------------------------------------------------------------------ internals
    async def _select(self, memory: str) -> None:
        if not _MEMORY.fullmatch(memory):
            raise UsageError(f"bad storage memory {memory!r}")
        await self._until_ready()
        result = self._result
        if self._selected == memory or result is None:
            return
        memories = (memory, *result.cpms[1:])  # same slot count as AT+CPMS=? offered
        (await self.run(query(cpms_command(memories), "+CPMS"))).raise_for_error()
        self._selected = memory

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
        self.counters.consecutive_timeouts = 0
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

        Raises SimError (WrongPin is remembered and never retried), RegistrationTimeout,
        AtTimeout, LinkDown or a typed AT error.
        """
        self.set_state(SessionState.INITIALISING)
        if self._pin_rejected:
            raise WrongPin("the configured PIN was rejected before; not sending it again")
        initialiser = Initialiser(
            self.run, self.config.init, self._report, network_changed=self.network_changed
        )
        try:
            result = await initialiser.run()
        except WrongPin:
            self._pin_rejected = True
            raise
        self._result = result
        self._selected = result.cpms[0]
        self._registration = result.registration
        self.counters.inits += 1
        log.info(
            "modem.ready",
            manufacturer=result.identity.manufacturer,
            model=result.identity.model,
            memories=list(result.read_memories),
            cnmi=result.cnmi,
            operator=result.operator,
        )
        self.set_state(SessionState.READY)

    async def network_changed(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for a registration URC (consumes it; never raises)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._network.wait(), timeout)
        self._network.clear()

    async def _ping(self) -> None:
        self.counters.pings += 1
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

    # ------------------------------------------------------------------ recovery
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
        elif isinstance(event, ResyncStalled):
            self.counters.stalled_probes += 1
        elif isinstance(event, StrayEvent | UnrecognisedEvent):
            self.counters.discarded_lines += 1
        self._notify()

    def _on_down(self, reason: str) -> None:
        self.counters.link_downs += 1
        if self._state in (SessionState.FAILED, SessionState.STOPPED):
            return
        self.set_state(SessionState.RECONNECTING, reason)
        self._supervisor.trouble("down", reason)

    @property
    def state(self) -> SessionState:
        """The current session state."""
        return self._state

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
        self._publish(StateChanged(state=state, reason=reason))
        log.info("modem.state", state=state.value, reason=reason)
        self._notify()

    def _publish(self, event: Event) -> None:
        if self._events.full():
            self._events.get_nowait()
            self.counters.dropped_events += 1
        self._events.put_nowait(event)

    def _notify(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()


def _index(index: int) -> int:
    if isinstance(index, bool) or not 0 <= index <= 65535:
        raise UsageError(f"bad storage index {index!r}")
    return index
