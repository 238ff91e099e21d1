"""Tests of the pty shell: raw pty, link, reopen without stale URCs, unplug/replug, threads."""

from __future__ import annotations

import asyncio
import errno
import fcntl
import os
import struct
import termios
import threading
import time
from pathlib import Path

import pytest
import serial
from simulator_client import PtyClient

from gateway.simulator import ModemConfig, Simulator, SimulatorError, SimulatorThread
from gateway.sms import pdu as pducodec


def test_link_points_at_a_raw_pty(tmp_path: Path) -> None:
    """The link resolves to /dev/pts/N and AT gets OK with echo."""
    link = tmp_path / "modem"
    with SimulatorThread([ModemConfig(link=link)]) as sim:
        assert sim.modems[0].device == str(link)
        assert os.readlink(link).startswith("/dev/pts/")
        with PtyClient(str(link)) as client:
            assert client.command(b"AT") == b"AT\r\r\nOK\r\n"
    assert not link.exists()
    assert not link.is_symlink()


def test_pyserial_client(tmp_path: Path) -> None:
    """pyserial opens the link and talks AT like to a real modem."""
    link = tmp_path / "modem"
    with SimulatorThread([ModemConfig(link=link)]) as sim:
        sim.modems[0].inject_sms("hello")
        with serial.Serial(str(link), 115200, timeout=5) as port:
            port.write(b"ATE0\r")
            assert port.read_until(b"OK\r\n").endswith(b"OK\r\n")
            port.write(b"AT+CMGL=4\r")
            listing = port.read_until(b"OK\r\n")
    assert listing.startswith(b"\r\n+CMGL: 1,0,,")


def test_reopen_gets_no_stale_urcs(tmp_path: Path) -> None:
    """URCs raised while no client has the port open are not delivered to the next opener."""
    link = tmp_path / "modem"
    with SimulatorThread([ModemConfig(link=link)]) as sim:
        with PtyClient(str(link)) as client:
            client.command(b"ATE0;+CNMI=2,1,0,0,0")
        modem = sim.modems[0]
        modem.inject_sms("while closed")  # the close may not even be noticed yet
        for _ in range(5):  # smstools reopens the port every cycle
            with PtyClient(str(link)) as client:
                assert client.command(b"AT") == b"\r\nOK\r\n"
        with PtyClient(str(link)) as client:
            client.command(b"AT")
            modem.inject_sms("while open")
            assert client.read_until(b"\r\n", 5) + client.read_until(b"\r\n") == (
                b'\r\n+CMTI: "SM",2\r\n'
            )


def test_unplug_and_replug_behind_same_link(tmp_path: Path) -> None:
    """Unplug: the client sees EIO/EOF and the link vanishes; replug: new pty, same link, boot."""
    link = tmp_path / "modem"
    config = ModemConfig(link=link, profile="sim800", sim_busy_seconds=30.0)
    with SimulatorThread([config]) as sim:
        modem = sim.modems[0]
        client = PtyClient(str(link))
        client.command(b"ATE0")  # works while the SIM is still busy
        modem.unplug()
        assert not link.is_symlink()
        assert modem.state()["plugged"] is False
        with pytest.raises((EOFError, OSError)) as info:
            client.command(b"AT", timeout=2)
        if isinstance(info.value, OSError):
            assert info.value.errno == errno.EIO
        client.close()
        modem.replug()
        target = os.readlink(link)
        assert target.startswith("/dev/pts/")
        assert os.path.exists(target)
        with PtyClient(str(link)) as again:
            # the modem powered on again: echo back on, SIM initialising
            assert again.command(b"AT+CMEE=1") == b"AT+CMEE=1\r\r\nOK\r\n"
            assert again.command(b"AT+CPIN?", b"\r\n+CME ERROR: 14\r\n").endswith(b"14\r\n")


def test_two_modems_exchange_over_ptys(tmp_path: Path) -> None:
    """Modem A sends to modem B's number; B's client gets +CMTI and reads the text."""
    a = ModemConfig(number="+15550000001", link=tmp_path / "a")
    b = ModemConfig(number="+15550000002", link=tmp_path / "b")
    with (
        SimulatorThread([a, b]) as sim,
        PtyClient(str(tmp_path / "a")) as alice,
        PtyClient(str(tmp_path / "b")) as bob,
    ):
        alice.command(b"ATE0")
        bob.command(b"ATE0;+CNMI=2,1,0,0,0")
        part = pducodec.encode_submit("+15550000002", "@example.com #424242")[0]
        alice.send(f"AT+CMGS={part.tpdu_length}\r".encode())
        assert alice.read_until(b"> ") == b"\r\n> "
        alice.send(part.hex.encode() + b"\x1a")
        assert alice.read_until(b"OK\r\n") == b"\r\n+CMGS: 0\r\n\r\nOK\r\n"
        assert bob.read_until(b'"SM",1\r\n') == b'\r\n+CMTI: "SM",1\r\n'
        sim.modems[0].wait_sent(1, timeout=5)
        assert sim.modems[0].sent()[0].text == "@example.com #424242"
        pdu_line = bob.command(b"AT+CMGR=1").split(b"\r\n")[2].decode()
        message = pducodec.decode_incoming(pdu_line)
        assert isinstance(message, pducodec.Deliver)
        assert message.text == "@example.com #424242"


def test_devices_without_link_are_pts_paths() -> None:
    """Without a link the device is the /dev/pts/N path itself; several modems per process."""
    configs = [ModemConfig(number=f"+1555000000{i}") for i in range(3)]
    with SimulatorThread(configs) as sim:
        devices = [m.device for m in sim.modems]
        assert len(set(devices)) == 3
        assert all(d.startswith("/dev/pts/") for d in devices)
        with PtyClient(devices[2]) as client:
            assert client.command(b"AT+CGMI").startswith(b"AT+CGMI\r\r\nOTPGW")


def test_wait_sent_times_out() -> None:
    """wait_sent raises TimeoutError when nothing is sent in time."""
    with SimulatorThread() as sim, pytest.raises(TimeoutError):
        sim.modems[0].wait_sent(1, timeout=0.2)


def test_thread_joined_after_exit() -> None:
    """Leaving the context stops the loop and joins the thread."""
    before = threading.active_count()
    with SimulatorThread():
        assert threading.active_count() == before + 1
    assert threading.active_count() == before


def test_bad_config_rejected() -> None:
    """Duplicate numbers and unknown profiles are refused with SimulatorError."""
    with pytest.raises(SimulatorError):
        Simulator([ModemConfig(), ModemConfig()])
    with pytest.raises(SimulatorError):
        ModemConfig(profile="nokia")
    with pytest.raises(SimulatorError):
        ModemConfig(number="12ab")


def test_async_simulator_in_callers_loop(tmp_path: Path) -> None:
    """Simulator runs in the caller's loop; a client in a thread talks to it."""
    link = tmp_path / "modem"

    async def main() -> bytes:
        async with Simulator([ModemConfig(link=link)]) as sim:

            def client() -> bytes:
                with PtyClient(str(link)) as c:
                    return c.command(b"AT+CSQ")

            reply = await asyncio.to_thread(client)
            assert sim.modems[0].state()["commands"] == 1
            return reply

    assert asyncio.run(main()) == b"AT+CSQ\r\r\n+CSQ: 20,99\r\n\r\nOK\r\n"
    assert not link.is_symlink()


def test_async_wait_sent(tmp_path: Path) -> None:
    """ModemHandle.wait_sent resolves once the network accepted the message."""
    link = tmp_path / "modem"
    part = pducodec.encode_submit("+15550009999", "hi")[0]

    async def main() -> int:
        async with Simulator([ModemConfig(link=link)]) as sim:

            def client() -> None:
                with PtyClient(str(link)) as c:
                    c.send(f"AT+CMGS={part.tpdu_length}\r".encode())
                    c.read_until(b"> ")
                    c.send(part.hex.encode() + b"\x1a")
                    c.read_until(b"OK\r\n")

            task = asyncio.ensure_future(asyncio.to_thread(client))
            await asyncio.wait_for(sim.modems[0].wait_sent(1), 10)
            await task
            return sim.modems[0].sent()[0].reference

    assert asyncio.run(main()) == 0


def test_open_close_storm_leaves_simulator_idle(tmp_path: Path) -> None:
    """Many quick open/close cycles leave no busy loop behind, and the port still works."""
    link = tmp_path / "modem"
    with SimulatorThread([ModemConfig(link=link)]) as sim:
        for _ in range(30):
            fd = os.open(link, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
            os.close(fd)
        with PtyClient(str(link)) as client:
            assert client.command(b"AT") == b"AT\r\r\nOK\r\n"
        assert sim.modems[0].state()["plugged"] is True
        before = time.process_time()
        with PtyClient(str(link)) as client:
            assert client.command(b"AT") == b"AT\r\r\nOK\r\n"
            # a fixed window on purpose: the property is CPU time spent while idle, which
            # only a stretch of wall time can show (neither our thread nor the simulator
            # may spin)
            client.silence(0.5)
        assert time.process_time() - before < 0.25


def _exclusive(fd: int) -> bool:
    """Return whether the tty behind ``fd`` has TIOCEXCL set (ioctl TIOCGEXCL)."""
    flag = fcntl.ioctl(fd, 0x80045440, b"\0" * 4)
    (value,) = struct.unpack("i", flag)
    return bool(value)


def test_client_tiocexcl_ends_with_the_client(tmp_path: Path) -> None:
    """A client's TIOCEXCL (gammu sets it) ends when it closes, as on a real serial tty.

    A pty slave outlives its clients, so without this a second gammu run by a non-root
    user failed with EBUSY. The injected SMS makes the modem write, and writing first
    handles the close already queued by inotify.
    """
    link = tmp_path / "modem"
    with SimulatorThread([ModemConfig(link=link)]) as sim:
        with PtyClient(str(link)) as client:
            fcntl.ioctl(client.fd, termios.TIOCEXCL)
            assert client.command(b"ATE0;+CNMI=2,1,0,0,0") == b"ATE0;+CNMI=2,1,0,0,0\r\r\nOK\r\n"
        sim.modems[0].inject_sms("after the close")
        assert sim.modems[0].state()["attached"] is False
        with PtyClient(str(link)) as client:
            assert not _exclusive(client.fd)
            assert client.command(b"AT") == b"\r\nOK\r\n"  # no stale +CMTI before it


def test_tiocexcl_kept_while_its_client_stays(tmp_path: Path) -> None:
    """Another descriptor closing leaves the first client attached and still exclusive."""
    link = tmp_path / "modem"
    with SimulatorThread([ModemConfig(link=link)]) as sim, PtyClient(str(link)) as first:
        first.command(b"ATE0;+CNMI=2,1,0,0,0")
        os.close(os.open(link, os.O_RDWR | os.O_NOCTTY))  # e.g. a port scanner (root)
        fcntl.ioctl(first.fd, termios.TIOCEXCL)
        sim.modems[0].inject_sms("still here")
        assert first.read_until(b'"SM",1\r\n') == b'\r\n+CMTI: "SM",1\r\n'
        assert _exclusive(first.fd)
        assert sim.modems[0].state()["attached"] is True


def test_removed_observers_see_nothing_more(tmp_path: Path) -> None:
    """A removed command or byte observer sees no later traffic; removing it twice is harmless."""
    link = tmp_path / "modem"
    with SimulatorThread([ModemConfig(link=link)]) as sim:
        modem = sim.modems[0]
        lines: list[str] = []
        chunks: list[bytes] = []
        stop_lines = modem.observe_commands(lines.append)
        stop_chunks = modem.observe_bytes(chunks.append)
        with PtyClient(str(link)) as client:
            client.command(b"AT")
            for stop in (stop_lines, stop_chunks, stop_lines, stop_chunks):
                stop()
            client.command(b"AT+CSQ")
    assert lines == ["AT"]
    assert b"".join(chunks) == b"AT\r"
