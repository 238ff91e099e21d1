"""The simulator in a background thread with its own event loop, behind a synchronous API.

For tests and programs that are not async: every call is marshalled into the loop thread
and waited for, so handles are safe to use from any thread.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, TypeVar, Unpack

from gateway.simulator.config import ModemConfig, SentMessage, SimulatorError
from gateway.simulator.inject import SmsOptions
from gateway.simulator.runner import ModemHandle, Simulator

T = TypeVar("T")


class ThreadModemHandle:
    """A :class:`~gateway.simulator.runner.ModemHandle` callable from any thread."""

    def __init__(self, owner: SimulatorThread, handle: ModemHandle) -> None:
        self._owner = owner
        self._handle = handle

    @property
    def device(self) -> str:
        """Return the path a client opens."""
        return self._owner.call(lambda: self._handle.device)

    @property
    def number(self) -> str:
        """Return the modem's own phone number."""
        return self._handle.number

    def inject_sms(self, text: str, **options: Unpack[SmsOptions]) -> list[int]:
        """Deliver ``text``; return storage indexes; raise SimulatorError for bad arguments.

        ``options`` are those of :func:`gateway.simulator.inject.inject_sms`.
        """
        return self._owner.call(lambda: self._handle.inject_sms(text, **options))

    def inject_pdu(self, pdu_hex: str, *, memory: str | None = None, notify: bool = True) -> int:
        """Deliver a raw PDU; return its index or -1; raise SimulatorError for non-PDUs."""
        return self._owner.call(
            lambda: self._handle.inject_pdu(pdu_hex, memory=memory, notify=notify)
        )

    def stored(self, memory: str = "SM") -> dict[int, str]:
        """Return index -> PDU hex of ``memory``."""
        return self._owner.call(lambda: self._handle.stored(memory))

    def sent(self) -> list[SentMessage]:
        """Return what the network accepted from this modem."""
        return self._owner.call(self._handle.sent)

    def set_fault(self, name: str, **params: object) -> None:
        """Activate a fault; raise SimulatorError if invalid."""
        self._owner.call(lambda: self._handle.set_fault(name, **params))

    def clear_fault(self, name: str | None = None) -> None:
        """Clear one fault or all."""
        self._owner.call(lambda: self._handle.clear_fault(name))

    def observe_commands(self, observer: Callable[[str], None]) -> Callable[[], None]:
        """Call ``observer(line)`` (in the simulator's thread) with each command line.

        Returns a function that removes it (callable from any thread).
        """
        return self._in_loop(lambda: self._handle.observe_commands(observer))

    def observe_bytes(self, observer: Callable[[bytes], None]) -> Callable[[], None]:
        """Call ``observer(data)`` (in the simulator's thread) with each chunk the client writes.

        Returns a function that removes it (callable from any thread).
        """
        return self._in_loop(lambda: self._handle.observe_bytes(observer))

    def _in_loop(self, subscribe: Callable[[], Callable[[], None]]) -> Callable[[], None]:
        """Call ``subscribe`` in the loop thread; return its remover, callable from any thread."""
        remove = self._owner.call(subscribe)

        def removing() -> None:
            self._owner.call(remove)

        return removing

    def unplug(self) -> None:
        """Pull the modem (pty closed, link removed)."""
        self._owner.call(self._handle.unplug)

    def replug(self) -> None:
        """Plug it back behind the same link; the modem boots."""
        self._owner.call(self._handle.replug)

    def reboot(self) -> None:
        """Restart the modem."""
        self._owner.call(self._handle.reboot)

    def state(self) -> dict[str, object]:
        """Return a snapshot of the modem's state."""
        return self._owner.call(self._handle.state)

    def wait_sent(self, count: int, timeout: float = 10.0) -> None:
        """Block until ``count`` parts were accepted; raise TimeoutError after ``timeout`` s."""

        async def wait() -> None:
            await asyncio.wait_for(self._handle.wait_sent(count), timeout)

        self._owner.run(wait())

    def wait_silent(self, timeout: float = 10.0) -> None:
        """Block until the modem answers nothing; raise TimeoutError after ``timeout`` s."""

        async def wait() -> None:
            await asyncio.wait_for(self._handle.wait_silent(), timeout)

        self._owner.run(wait())


class SimulatorThread:
    """Runs a :class:`Simulator` in a daemon-less background thread; use as a context manager."""

    def __init__(
        self,
        modems: Sequence[ModemConfig] = (ModemConfig(),),
        *,
        control_path: Path | None = None,
        timing: Literal["instant", "realistic"] = "instant",
        seed: int = 0,
    ) -> None:
        self.simulator = Simulator(modems, control_path=control_path, timing=timing, seed=seed)
        self.modems: list[ThreadModemHandle] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread and the simulator; raise whatever start() raised."""
        if self._thread is not None:
            raise SimulatorError("a SimulatorThread starts once")
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="simulator")
        self._thread.start()
        try:
            self.run(self.simulator.start())
        except BaseException:
            self._shutdown()
            raise
        self.modems = [ThreadModemHandle(self, h) for h in self.simulator.modems]

    def stop(self) -> None:
        """Stop the simulator and join the thread."""
        if self._thread is None or not self._thread.is_alive():
            return
        try:
            self.run(self.simulator.stop())
        finally:
            self._shutdown()

    def _shutdown(self) -> None:
        assert self._loop is not None
        assert self._thread is not None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` in the simulator's loop and return its result."""
        if self._loop is None or self._thread is None or not self._thread.is_alive():
            coroutine.close()
            raise SimulatorError("simulator thread not running")
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def call(self, function: Callable[[], T]) -> T:
        """Call ``function`` in the simulator's loop thread and return its result."""

        async def invoke() -> T:
            return function()

        return self.run(invoke())

    def __enter__(self) -> SimulatorThread:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
