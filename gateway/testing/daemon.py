"""A real gateway on the simulator, for your own tests (house style §11).

The daemon and a simulated modem run over a real pty; your code talks to the real Unix
socket. Synchronous (a background thread runs the event loop)::

    from gateway.testing import running_gateway

    def test_login_reads_the_code(tmp_path):
        with running_gateway(tmp_path, origins=["shop.example"]) as gw:
            with gw.client() as client:          # a gateway.client.Client
                # start a get in another thread or process, then:
                gw.wait_pending_gets(1)          # woken by the relay, no polling
                gw.modem.inject_sms("@shop.example #424242")
                ...

or in your own asyncio loop: ``async with simulated_gateway(tmp_path) as gw``, where
``gw.modem`` is the simulator's async :class:`~gateway.simulator.ModemHandle`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from gateway.client import AsyncClient, Client
from gateway.config import Config
from gateway.daemon import Gateway
from gateway.daemon.simulate import PEER_NUMBER, SimulatedSetup
from gateway.relay.server import RelayServer
from gateway.simulator import ModemHandle, Simulator, SimulatorThread, ThreadModemHandle

T = TypeVar("T")

__all__ = [
    "PEER_NUMBER",
    "AsyncGatewayHandle",
    "GatewayHandle",
    "running_gateway",
    "simulated_gateway",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class GatewayHandle:
    """A gateway running in a background thread: its socket, modem and files."""

    gateway: Gateway
    setup: SimulatedSetup
    modem: ThreadModemHandle
    thread: SimulatorThread

    @property
    def socket(self) -> Path:
        """Return the relay socket's path."""
        return self.setup.socket

    def client(self, timeout: float = 30.0) -> Client:
        """Return a connected blocking client (use it as a context manager)."""
        return Client(self.socket, timeout=timeout)

    def status(self) -> dict[str, object]:
        """Return the daemon's status snapshot (as ``otp-gateway status --json`` shows)."""
        return self.thread.call(self.gateway.snapshot)

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` in the daemon's event loop and return its result."""
        return self.thread.run(coroutine)

    def wait_pending_gets(self, count: int, timeout: float = 10.0) -> None:
        """Block until the relay holds at least ``count`` waiting gets (event-driven).

        Thread-safe. Raises ``TimeoutError`` after ``timeout`` seconds.
        """
        self.run(_wait_relay(self.gateway, lambda r: r.broker.pending >= count, timeout))

    def wait_subscriptions(self, count: int, timeout: float = 10.0) -> None:
        """Block until the relay holds at least ``count`` subscriptions (event-driven).

        Thread-safe. Raises ``TimeoutError`` after ``timeout`` seconds.
        """
        self.run(_wait_relay(self.gateway, lambda r: r.broker.subscriptions >= count, timeout))


@dataclass(frozen=True, slots=True, kw_only=True)
class AsyncGatewayHandle:
    """A gateway running in the caller's event loop."""

    gateway: Gateway
    setup: SimulatedSetup
    modem: ModemHandle

    @property
    def socket(self) -> Path:
        """Return the relay socket's path."""
        return self.setup.socket

    async def client(self) -> AsyncClient:
        """Return a connected asyncio client (close it, or use ``async with``)."""
        client = AsyncClient(self.socket)
        await client.connect()
        return client

    async def wait_pending_gets(self, count: int, timeout: float = 10.0) -> None:
        """Return once the relay holds at least ``count`` waiting gets (event-driven).

        Raises ``TimeoutError`` after ``timeout`` seconds.
        """
        await _wait_relay(self.gateway, lambda r: r.broker.pending >= count, timeout)

    async def wait_subscriptions(self, count: int, timeout: float = 10.0) -> None:
        """Return once the relay holds at least ``count`` subscriptions (event-driven).

        Raises ``TimeoutError`` after ``timeout`` seconds.
        """
        await _wait_relay(self.gateway, lambda r: r.broker.subscriptions >= count, timeout)


async def _wait_relay(
    gateway: Gateway, predicate: Callable[[RelayServer], bool], timeout: float
) -> None:
    relay = gateway.relay
    assert relay is not None, "the gateway is not started"
    async with asyncio.timeout(timeout):
        await relay.wait_until(predicate)


def _prepare(
    directory: Path,
    origins: Sequence[str],
    profile: str,
    configure: Callable[[Config], Config] | None,
) -> tuple[SimulatedSetup, Config]:
    setup = SimulatedSetup.in_directory(directory, origins=origins, profile=profile)
    config = setup.config()
    return setup, configure(config) if configure is not None else config


@contextmanager
def running_gateway(
    directory: Path,
    *,
    origins: Sequence[str] = (),
    profile: str = "generic",
    configure: Callable[[Config], Config] | None = None,
    control: bool = False,
) -> Iterator[GatewayHandle]:
    """Run a gateway on a simulated modem, files under ``directory`` (e.g. ``tmp_path``).

    ``origins`` are admitted besides ``example.com``; the current user may do every
    operation; ``configure`` may adjust the :class:`Config` (``dataclasses.replace``).
    With ``control``, the simulator also listens on ``handle.setup.control``, for
    ``otp-gateway simulator ... --control``. Yields a :class:`GatewayHandle` once the
    daemon is ready; stops everything on exit. Raises what :meth:`Gateway.start` raises.
    """
    setup, config = _prepare(directory, origins, profile, configure)
    control_path = setup.control if control else None
    with SimulatorThread([setup.modem()], control_path=control_path) as thread:
        gateway = Gateway(config)
        thread.run(gateway.start())
        try:
            yield GatewayHandle(gateway=gateway, setup=setup, modem=thread.modems[0], thread=thread)
        finally:
            thread.run(gateway.stop())


@asynccontextmanager
async def simulated_gateway(
    directory: Path,
    *,
    origins: Sequence[str] = (),
    profile: str = "generic",
    configure: Callable[[Config], Config] | None = None,
) -> AsyncIterator[AsyncGatewayHandle]:
    """Like :func:`running_gateway`, in the running event loop; yields an async handle."""
    setup, config = _prepare(directory, origins, profile, configure)
    async with Simulator([setup.modem()]) as simulator:
        gateway = Gateway(config)
        await gateway.start()
        try:
            yield AsyncGatewayHandle(gateway=gateway, setup=setup, modem=simulator.modems[0])
        finally:
            await gateway.stop()
