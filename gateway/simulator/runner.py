"""The asyncio shell: modems on ptys sharing one virtual network, in the caller's loop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Literal, TypeVar, Unpack

import structlog

from gateway.simulator import inject
from gateway.simulator.clock import Scheduler
from gateway.simulator.config import ModemConfig, SentMessage, SimulatorError
from gateway.simulator.control import start_control
from gateway.simulator.model import ModemModel
from gateway.simulator.network import Network
from gateway.simulator.pty import PtyPort

log = structlog.get_logger(__name__)

Observer = TypeVar("Observer")


def _subscribe(observers: list[Observer], observer: Observer) -> Callable[[], None]:
    """Append ``observer`` to ``observers``; return a function that removes it (once)."""
    observers.append(observer)

    def remove() -> None:
        if observer in observers:
            observers.remove(observer)

    return remove


class ModemHandle:
    """One simulated modem as tests and the control socket see it (call in the loop thread)."""

    def __init__(self, simulator: Simulator, model: ModemModel, port: PtyPort) -> None:
        self._sim = simulator
        self.model = model
        self.port = port

    @property
    def device(self) -> str:
        """Return the path a client opens (the link if configured, else ``/dev/pts/N``)."""
        return self.port.device

    @property
    def number(self) -> str:
        """Return the modem's own phone number (+E.164)."""
        return self.model.number

    def _now(self) -> float:
        return self._sim.loop.time()

    def inject_sms(self, text: str, **options: Unpack[inject.SmsOptions]) -> list[int]:
        """Deliver ``text`` as one or more SMS-DELIVER; return the storage indexes.

        ``options`` (``sender``, ``memory``, ``scts``, ``order``, ``drop``, ``notify``,
        ``force_ucs2``) and the SimulatorError raised for bad arguments are those of
        :func:`gateway.simulator.inject.inject_sms`.
        """
        indexes = inject.inject_sms(self.model, text, self._now(), **options)
        self._sim.pump()
        return indexes

    def inject_pdu(self, pdu_hex: str, *, memory: str | None = None, notify: bool = True) -> int:
        """Deliver a raw PDU; return its index (-1 if routed or rejected); raise SimulatorError."""
        index = inject.inject_pdu(self.model, pdu_hex, self._now(), memory=memory, notify=notify)
        self._sim.pump()
        return index

    def stored(self, memory: str = "SM") -> dict[int, str]:
        """Return index -> PDU hex of ``memory``; raise SimulatorError for an unknown one."""
        return inject.stored(self.model, memory)

    def sent(self) -> list[SentMessage]:
        """Return what the network accepted from this modem, one entry per part."""
        return self.model.sent()

    def set_fault(self, name: str, **params: object) -> None:
        """Activate a fault (names in contracts.md); raise SimulatorError if invalid."""
        self.model.set_fault(name, params, self._now())
        self._sim.pump()

    def clear_fault(self, name: str | None = None) -> None:
        """Clear one fault or all; raise SimulatorError for an unknown name."""
        self.model.clear_fault(name, self._now())
        self._sim.pump()

    def observe_commands(self, observer: Callable[[str], None]) -> Callable[[], None]:
        """Call ``observer(line)`` with each command line before the modem runs it.

        The observer runs in the loop while the modem has not answered yet, so a test
        can check the host's state at the moment of, e.g., ``AT+CMGD``; it may set
        faults that then apply to that very command. Returns a function that removes it.
        """
        return _subscribe(self.model.command_observers, observer)

    def observe_bytes(self, observer: Callable[[bytes], None]) -> Callable[[], None]:
        """Call ``observer(data)`` with every chunk the client writes, before the modem reads it.

        Sees what command lines hide: ESC (0x1B) cancelling a prompt, Ctrl-Z, message
        bodies. Returns a function that removes it.
        """
        return _subscribe(self.model.byte_observers, observer)

    def unplug(self) -> None:
        """Pull the modem: the pty closes and the link disappears."""
        self.port.close()

    def replug(self) -> None:
        """Plug it back: a new pty behind the same link; the modem boots again."""
        if self.port.plugged:
            return
        self.port.open()
        self.model.power_on(self._now())
        self._sim.pump()

    def reboot(self) -> None:
        """Restart the modem: settings lost, boot URCs (e.g. ``SMS Ready``) again."""
        self.model.power_on(self._now())
        self._sim.pump()

    def state(self) -> dict[str, object]:
        """Return a JSON-friendly snapshot (settings, SIM, storage, faults, device)."""
        snapshot = inject.state(self.model, self._now())
        snapshot |= {"device": self.device, "plugged": self.port.plugged}
        snapshot["attached"] = self.port.attached
        return snapshot

    async def wait_sent(self, count: int) -> None:
        """Return once the network has accepted at least ``count`` parts from this modem."""
        if len(self.sent()) >= count:
            return
        future: asyncio.Future[None] = self._sim.loop.create_future()
        self._sim.waiters.append((self, count, future))
        await future

    async def wait_silent(self) -> None:
        """Return once the modem answers nothing (a ``silent`` fault set or fired)."""
        if self.model.silenced:
            return
        future: asyncio.Future[None] = self._sim.loop.create_future()
        self._sim.silence_waiters.append((self, future))
        await future


class Simulator:
    """Modems on ptys plus the optional control socket, running in the caller's loop."""

    def __init__(
        self,
        modems: Sequence[ModemConfig] = (ModemConfig(),),
        *,
        control_path: Path | None = None,
        timing: Literal["instant", "realistic"] = "instant",
        seed: int = 0,
    ) -> None:
        if not modems:
            raise SimulatorError("at least one modem")
        numbers = [m.number for m in modems]
        if len(set(numbers)) != len(numbers):
            raise SimulatorError("every modem needs its own number")
        links = [m.link for m in modems if m.link is not None]
        if len(set(links)) != len(links):
            raise SimulatorError("every modem needs its own link")
        if timing not in ("instant", "realistic"):
            raise SimulatorError("timing must be 'instant' or 'realistic'")
        self.configs = tuple(modems)
        self.control_path = control_path
        self.timing: Literal["instant", "realistic"] = timing
        self.seed = seed
        self.modems: list[ModemHandle] = []
        self.waiters: list[tuple[ModemHandle, int, asyncio.Future[None]]] = []
        self.silence_waiters: list[tuple[ModemHandle, asyncio.Future[None]]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._armed: float | None = None
        self._control: asyncio.AbstractServer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """Return the loop the simulator runs in; raise SimulatorError before start()."""
        if self._loop is None:
            raise SimulatorError("simulator not started")
        return self._loop

    async def start(self) -> None:
        """Create the ptys (and control socket); return when clients can open them."""
        self._loop = asyncio.get_running_loop()
        now = self._loop.time()
        self.network = Network(
            Scheduler(), timing=self.timing, seed=self.seed, wall_epoch=time.time() - now
        )
        try:
            for config in self.configs:
                model = ModemModel(config, network=self.network, now=now)
                port = PtyPort(
                    self._loop,
                    link=config.link,
                    on_data=self._receiver(model),
                    on_attach=self._attacher(model),
                )
                port.open()
                self.modems.append(ModemHandle(self, model, port))
            if self.control_path is not None:
                self._control = await start_control(self, self.control_path)
        except BaseException:
            await self.stop()
            raise
        self.pump()
        log.info("simulator.started", modems=[m.device for m in self.modems])

    @staticmethod
    def _attacher(model: ModemModel) -> Callable[[], None]:
        def attach() -> None:
            model.parser.clear_line()  # a new client: forget a half-typed line

        return attach

    def _receiver(self, model: ModemModel) -> Callable[[bytes], None]:
        def receive(data: bytes) -> None:
            model.receive_data(data, self.loop.time())
            self.pump()

        return receive

    async def stop(self) -> None:
        """Close every pty, the control socket and its file; fail pending waiters."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for handle in self.modems:
            handle.port.close()
        if self._control is not None:
            self._control.close()
            await self._control.wait_closed()
            self._control = None
            if self.control_path is not None:
                self.control_path.unlink(missing_ok=True)
        futures = [w[2] for w in self.waiters] + [w[1] for w in self.silence_waiters]
        for future in futures:
            if not future.done():
                future.set_exception(SimulatorError("simulator stopped"))
        self.waiters.clear()
        self.silence_waiters.clear()

    async def __aenter__(self) -> Simulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def pump(self) -> None:
        """Write every model's output, arm the timer for the next deadline, wake waiters."""
        for handle in self.modems:
            data = handle.model.take_output()
            if data:
                handle.port.write(data)
            unplug = handle.model.take_unplug()
            if unplug is not None:
                # later in the loop: the port may be in the middle of its read callback
                self.loop.call_soon(handle.unplug)
                if unplug:
                    self.loop.call_later(unplug[0], handle.replug)
        deadline = self.network.scheduler.next_deadline()
        if deadline != self._armed:
            if self._timer is not None:
                self._timer.cancel()
            self._armed = deadline
            self._timer = None if deadline is None else self.loop.call_at(deadline, self._due)
        if self.waiters:
            still = []
            for handle, count, future in self.waiters:
                if future.done():
                    continue
                if len(handle.sent()) >= count:
                    future.set_result(None)
                else:
                    still.append((handle, count, future))
            self.waiters = still
        if self.silence_waiters:
            waiting = []
            for handle, future in self.silence_waiters:
                if handle.model.silenced and not future.done():
                    future.set_result(None)
                elif not future.done():
                    waiting.append((handle, future))
            self.silence_waiters = waiting

    def _due(self) -> None:
        deadline = self._armed
        self._armed = self._timer = None
        # call_at may fire a clock tick early: run at least what was due at the deadline
        self.network.scheduler.run_due(max(self.loop.time(), deadline or 0.0))
        self.pump()
