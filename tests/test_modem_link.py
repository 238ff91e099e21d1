"""Tests for the serial link shell over real ptys served by the simulator."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from gateway.errors import UsageError
from gateway.modem.link import (
    LinkConfig,
    LinkDown,
    LinkError,
    PortBusy,
    SerialLink,
    port_holders,
    resolve,
)
from gateway.simulator import ModemConfig, ModemHandle, Simulator


class Probe:
    """Collects what a link reads and reports, with awaitable readiness."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.downs: list[str] = []
        self.changed = asyncio.Event()

    def on_data(self, data: bytes) -> None:
        """Record bytes read."""
        self.data += data
        self.changed.set()

    def on_down(self, reason: str) -> None:
        """Record a link-down report."""
        self.downs.append(reason)
        self.changed.set()

    async def until(self, predicate: Callable[[], bool]) -> None:
        """Wait until ``predicate`` holds (woken by each callback, no polling)."""
        while not predicate():
            self.changed.clear()
            await self.changed.wait()


def link_for(device: str, probe: Probe) -> SerialLink:
    """A link with a fast reconnect backoff."""
    config = LinkConfig(device=device, backoff_initial=0.01, backoff_max=0.05)
    return SerialLink(config, on_data=probe.on_data, on_down=probe.on_down)


def run(tmp_path: Path, scenario: Callable[[ModemHandle], Awaitable[None]]) -> None:
    """Run ``scenario`` against one simulated modem published at tmp_path/modem."""

    async def main() -> None:
        async with Simulator([ModemConfig(link=tmp_path / "modem")]) as simulator:
            await scenario(simulator.modems[0])

    asyncio.run(asyncio.wait_for(main(), 20))


def test_open_through_symlink_and_exchange(tmp_path: Path) -> None:
    """The link opens the udev-style symlink and reads the modem's answer via add_reader."""

    async def scenario(modem: ModemHandle) -> None:
        probe = Probe()
        link = link_for(modem.device, probe)
        link.open()
        try:
            assert resolve(modem.device).startswith("/dev/pts/")
            link.write(b"AT\r")
            await probe.until(lambda: b"OK\r\n" in probe.data)
        finally:
            link.close()
        assert not link.is_open

    run(tmp_path, scenario)


def test_second_open_reports_busy_and_names_the_holder(tmp_path: Path) -> None:
    """An exclusive open that fails says the port is busy, who holds it, and the real node."""

    async def scenario(modem: ModemHandle) -> None:
        first = link_for(modem.device, Probe())
        first.open()
        try:
            with pytest.raises(PortBusy) as caught:
                link_for(modem.device, Probe()).open()
            message = str(caught.value)
            assert "busy" in message
            assert resolve(modem.device) in message
            assert f"via {modem.device}" in message
            assert any("this process" in holder for holder in caught.value.holders)
        finally:
            first.close()
        again = link_for(modem.device, Probe())
        again.open()  # TIOCNXCL on close: the port can be opened again
        again.close()

    run(tmp_path, scenario)


def test_missing_device_is_a_clear_error(tmp_path: Path) -> None:
    """Opening a path that does not exist raises LinkError saying so."""

    async def scenario() -> None:
        link = link_for(str(tmp_path / "absent"), Probe())
        with pytest.raises(LinkError, match="not present"):
            link.open()

    asyncio.run(scenario())


def test_unplug_is_reported_and_reconnect_waits_for_replug(tmp_path: Path) -> None:
    """A vanished device is one on_down report; reconnect returns once it is back."""

    async def scenario(modem: ModemHandle) -> None:
        probe = Probe()
        link = link_for(modem.device, probe)
        link.open()
        modem.unplug()
        await probe.until(lambda: bool(probe.downs))
        assert len(probe.downs) == 1
        assert not link.is_open
        with pytest.raises(LinkDown):
            link.write(b"AT\r")
        reconnect = asyncio.create_task(link.reconnect())
        modem.replug()
        await reconnect
        try:
            assert link.is_open
            link.write(b"AT\r")
            await probe.until(lambda: b"OK" in probe.data)
        finally:
            link.close()

    run(tmp_path, scenario)


def test_reconnect_gives_up_when_stopping(tmp_path: Path) -> None:
    """reconnect() returns without opening once the stopping event is set."""

    async def scenario() -> None:
        link = link_for(str(tmp_path / "absent"), Probe())
        stopping = asyncio.Event()
        task = asyncio.create_task(link.reconnect(stopping))
        stopping.set()
        await task
        assert not link.is_open

    asyncio.run(asyncio.wait_for(scenario(), 5))


def test_port_holders_finds_this_process() -> None:
    """/proc is scanned for descriptors on the resolved device."""
    master, slave = os.openpty()
    try:
        holders = port_holders(os.ttyname(slave))
        assert any("this process" in holder for holder in holders)
    finally:
        os.close(slave)
        os.close(master)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"device": ""},
        {"device": "/dev/x", "baudrate": 0},
        {"device": "/dev/x", "backoff_initial": 2.0, "backoff_max": 1.0},
    ],
)
def test_bad_link_config_is_refused(kwargs: dict[str, object]) -> None:
    """Invalid link settings raise UsageError at construction."""
    with pytest.raises(UsageError):
        LinkConfig(**kwargs)  # type: ignore[arg-type]


@pytest.fixture
def raw_pty() -> Iterator[tuple[int, str]]:
    """A bare pty pair: yields (master fd, slave path); nobody reads the master unless told."""
    master, slave = os.openpty()
    os.set_blocking(master, False)
    path = os.ttyname(slave)
    os.close(slave)  # the link opens the slave by path, as it opens a modem
    try:
        yield master, path
    finally:
        os.close(master)


def test_write_never_blocks_and_a_stalled_port_is_reported_down(raw_pty: tuple[int, str]) -> None:
    """A port that takes nothing: write() returns at once, the rest waits, then link down."""
    _master, path = raw_pty

    async def main() -> None:
        probe = Probe()
        config = LinkConfig(device=path, write_timeout=0.2)
        link = SerialLink(config, on_data=probe.on_data, on_down=probe.on_down)
        link.open()
        try:
            ticks: list[int] = []
            asyncio.get_running_loop().call_soon(ticks.append, 1)
            link.write(b"A" * (1 << 20))  # far more than the pty's kernel buffer
            link.write(b"B")  # queued behind, never before
            assert 0 < link.pending_output <= (1 << 20) + 1
            assert ticks == []  # returned without running the loop: nothing blocked it
            await probe.until(lambda: bool(probe.downs))
            assert ticks == [1]
            assert probe.downs[0].startswith("write stalled")
            assert not link.is_open
            assert link.pending_output == 0
            with pytest.raises(LinkDown):
                link.write(b"AT\r")
        finally:
            link.close()

    asyncio.run(asyncio.wait_for(main(), 10))


def test_buffered_output_drains_in_order_as_the_port_reads(raw_pty: tuple[int, str]) -> None:
    """Once the other side reads, every queued byte arrives in order and nothing is down."""
    master, path = raw_pty
    payload = bytes(range(256)) * 2048  # 512 KiB, several kernel buffers' worth

    async def main() -> None:
        probe = Probe()
        link = SerialLink(
            LinkConfig(device=path, write_timeout=5.0), on_data=probe.on_data, on_down=probe.on_down
        )
        link.open()
        loop = asyncio.get_running_loop()
        received = bytearray()
        done = asyncio.Event()

        def readable() -> None:
            received.extend(os.read(master, 65536))
            if len(received) >= len(payload) + 3:
                done.set()

        try:
            link.write(payload)
            link.write(b"AT\r")
            assert link.pending_output > 0
            loop.add_reader(master, readable)
            await done.wait()
            assert bytes(received) == payload + b"AT\r"
            assert link.pending_output == 0
            assert probe.downs == []
        finally:
            loop.remove_reader(master)
            link.close()

    asyncio.run(asyncio.wait_for(main(), 20))


def test_close_discards_output_the_port_never_took(raw_pty: tuple[int, str]) -> None:
    """close() flushes the tty's output queue (TCOFLUSH), so no close waits for a drain."""
    master, path = raw_pty
    payload = b"A" * (1 << 20)

    async def main() -> int:
        probe = Probe()
        config = LinkConfig(device=path, write_timeout=30.0)
        link = SerialLink(config, on_data=probe.on_data, on_down=probe.on_down)
        link.open()
        link.write(payload)
        accepted = len(payload) - link.pending_output  # what the kernel queued
        link.close()
        assert link.pending_output == 0
        return accepted

    accepted = asyncio.run(asyncio.wait_for(main(), 10))
    os.set_blocking(master, True)
    received = 0
    while True:  # the slave is closed: EIO once everything still queued has been read
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        received += len(chunk)
    # without the flush every accepted byte would still reach the other side
    assert received < accepted
