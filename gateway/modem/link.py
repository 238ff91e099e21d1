"""Serial link I/O shell: open the port exclusively, pump bytes, report a vanished device.

The only I/O around the AT engine. Reads are driven by ``loop.add_reader`` on the port's
file descriptor (no polling thread); a read error (EIO/ENXIO after a USB unplug, or EOF on
a pty whose master went away) is reported once through ``on_down`` and the port is closed.
Writes never block the event loop: what the descriptor takes now is written, the rest is
buffered and written by ``loop.add_writer`` as the port drains. A port that takes nothing
for ``write_timeout`` seconds (flow control stalled: CTS low, XOFF, a hung USB endpoint) is
reported down the same way.
:meth:`SerialLink.reconnect` then waits for the device path to come back with a capped
exponential backoff (inotify is not in the standard library; the cap keeps it cheap).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import os
import termios
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import serial
import structlog

from gateway.errors import ModemFault, UsageError
from gateway.modem.mmdetect import modemmanager_running

log = structlog.get_logger(__name__)


class LinkError(ModemFault):
    """The serial port could not be opened or used."""


class PortBusy(LinkError):
    """Another process holds the port (ModemManager, a second daemon, a terminal)."""

    def __init__(self, message: str, holders: tuple[str, ...]) -> None:
        super().__init__(message)
        self.holders = holders


class LinkDown(LinkError):
    """The port vanished or failed while in use (unplug, USB reset, pty closed)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkConfig:
    """How to open the modem's AT port."""

    device: str  # /dev/ttyUSB2, /dev/serial/by-id/..., or any udev symlink
    baudrate: int = 115200
    rtscts: bool = False
    xonxoff: bool = False
    #: seconds buffered output may make no progress before the link is declared down
    write_timeout: float = 2.0
    backoff_initial: float = 0.05
    backoff_max: float = 5.0

    def __post_init__(self) -> None:
        if not self.device:
            raise UsageError("a modem device path is required")
        if self.baudrate <= 0 or self.write_timeout <= 0:
            raise UsageError("baudrate and write_timeout must be positive")
        if not 0 < self.backoff_initial <= self.backoff_max:
            raise UsageError("need 0 < backoff_initial <= backoff_max")


def resolve(device: str) -> str:
    """Return the real device node behind ``device`` (symlinks followed), for messages."""
    return os.path.realpath(device)


def port_holders(device: str) -> tuple[str, ...]:
    """Return ``"name (pid N)"`` for each process with ``device`` open, found via /proc."""
    target = resolve(device)
    found: list[str] = []
    proc = Path("/proc")
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fds = list((entry / "fd").iterdir())
            hit = any(os.readlink(fd) == target for fd in fds)
            if not hit:
                continue
            name = (entry / "comm").read_text().strip()
        except OSError:
            continue  # gone, or not ours to look at
        mine = " - this process" if int(entry.name) == os.getpid() else ""
        found.append(f"{name} (pid {entry.name}{mine})")
    return tuple(found)


def _busy_error(device: str, exc: BaseException) -> PortBusy:
    holders = port_holders(device)
    real = resolve(device)
    via = f" (via {device})" if real != device else ""
    who = f"held by {', '.join(holders)}" if holders else "held by another process"
    hint = ""
    if any(h.startswith("ModemManager") for h in holders) or (
        not holders and modemmanager_running()
    ):
        hint = '; ModemManager grabs modems: install the udev rule with ID_MM_DEVICE_IGNORE="1"'
    return PortBusy(f"modem port {real}{via} is busy: {who}{hint} ({exc})", holders)


class SerialLink:
    """The modem's serial port, read through the event loop."""

    def __init__(
        self,
        config: LinkConfig,
        *,
        on_data: Callable[[bytes], None],
        on_down: Callable[[str], None],
    ) -> None:
        self.config = config
        self._on_data = on_data
        self._on_down = on_down
        self._port: serial.Serial | None = None
        self._fd: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._output = bytearray()  # written by _writable as the port drains
        self._stall: asyncio.TimerHandle | None = None

    @property
    def pending_output(self) -> int:
        """Bytes accepted by :meth:`write` that the port has not taken yet."""
        return len(self._output)

    @property
    def is_open(self) -> bool:
        """True while the port is open."""
        return self._port is not None

    def open(self) -> None:
        """Open the port exclusively and start reading in the running loop.

        Raises PortBusy when another process holds it, LinkError when it cannot be opened.
        """
        if self._port is not None:
            return
        device = self.config.device
        try:
            port = serial.Serial(
                port=device,
                baudrate=self.config.baudrate,
                rtscts=self.config.rtscts,
                xonxoff=self.config.xonxoff,
                timeout=0,
                write_timeout=0,  # never used: writes go through os.write (non-blocking)
                exclusive=True,  # flock(LOCK_EX): other pyserial users and daemons
            )
        except (serial.SerialException, OSError, ValueError) as exc:
            code = getattr(exc, "errno", None)
            if code in (errno.EBUSY, errno.EWOULDBLOCK) or "exclusively lock" in str(exc):
                raise _busy_error(device, exc) from exc
            if code == errno.ENOENT or not os.path.exists(device):
                raise LinkError(f"modem port {device} is not present") from exc
            raise LinkError(f"cannot open modem port {resolve(device)}: {exc}") from exc
        fd = port.fileno()
        os.set_blocking(fd, False)
        with contextlib.suppress(OSError):
            # TIOCEXCL: the kernel refuses further opens of the tty (except by root).
            fcntl.ioctl(fd, termios.TIOCEXCL)
        self._port, self._fd = port, fd
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(fd, self._readable)
        log.info("link.open", device=device, resolved=resolve(device))

    def write(self, data: bytes) -> None:
        """Queue ``data`` for the port without blocking: write what it takes, buffer the rest.

        Bytes go out in order. Raises LinkDown if the port is closed or the write fails;
        a port that takes nothing for ``write_timeout`` s is reported through ``on_down``.
        """
        fd = self._fd
        if fd is None or self._loop is None:
            raise LinkDown(f"modem port {self.config.device} is not open")
        if self._output:
            self._output += data  # behind what is already waiting
            return
        try:
            written = os.write(fd, data)
        except BlockingIOError:
            written = 0
        except OSError as exc:
            self._down(f"write failed: {errno.errorcode.get(exc.errno or 0, exc.errno)}")
            raise LinkDown(f"modem port {self.config.device}: write failed") from exc
        if written < len(data):
            self._output += data[written:]
            self._loop.add_writer(fd, self._writable)
            self._arm_stall()

    def _writable(self) -> None:
        fd = self._fd
        if fd is None:
            return
        try:
            written = os.write(fd, self._output)
        except BlockingIOError:
            return
        except OSError as exc:
            self._down(f"write failed: {errno.errorcode.get(exc.errno or 0, exc.errno)}")
            return
        del self._output[:written]
        if self._output:
            if written:
                self._arm_stall()  # progress: the deadline counts from the last write
            return
        self._stop_writing()

    def _arm_stall(self) -> None:
        if self._stall is not None:
            self._stall.cancel()
        assert self._loop is not None
        self._stall = self._loop.call_later(self.config.write_timeout, self._stalled)

    def _stalled(self) -> None:
        self._stall = None
        self._down(
            f"write stalled: {len(self._output)} bytes not taken in "
            f"{self.config.write_timeout:g} s (flow control?)"
        )

    def _stop_writing(self) -> None:
        self._output.clear()
        if self._stall is not None:
            self._stall.cancel()
            self._stall = None
        if self._fd is not None and self._loop is not None:
            self._loop.remove_writer(self._fd)

    def close(self) -> None:
        """Stop reading, discard unsent output and close the port (idempotent)."""
        self._stop_writing()
        port, fd, self._port, self._fd = self._port, self._fd, None, None
        if port is None or fd is None:
            return
        if self._loop is not None:
            self._loop.remove_reader(fd)
        with contextlib.suppress(OSError):
            fcntl.ioctl(fd, termios.TIOCNXCL)  # the flag outlives us on the tty otherwise
        with contextlib.suppress(OSError, termios.error):
            # discard output the modem never took: on ttyUSB/ttyACM the last close waits
            # up to closing_wait (30 s) for it to drain, blocking the event loop
            termios.tcflush(fd, termios.TCOFLUSH)
        with contextlib.suppress(serial.SerialException, OSError):
            port.close()

    async def reconnect(
        self,
        stopping: asyncio.Event | None = None,
        on_attempt: Callable[[], None] | None = None,
    ) -> None:
        """Wait (capped exponential backoff) until the device is back, then open it.

        ``on_attempt`` is called before each look for the device (a progress mark for
        whoever supervises). Returns once open; returns early without opening if
        ``stopping`` gets set.
        """
        delay = self.config.backoff_initial
        attempt = 0
        while stopping is None or not stopping.is_set():
            attempt += 1
            if on_attempt is not None:
                on_attempt()
            if os.path.exists(self.config.device):
                try:
                    self.open()
                    log.info("link.reconnected", device=self.config.device, attempts=attempt)
                    return
                except LinkError as exc:
                    log.warning("link.reopen_failed", device=self.config.device, error=str(exc))
            # capped exponential backoff between reopen attempts while the node is away
            # (USB re-enumeration); a reconnect loop, not a poll of a working modem
            if stopping is None:
                await asyncio.sleep(delay)
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), delay)
            delay = min(delay * 2, self.config.backoff_max)

    def _readable(self) -> None:
        fd = self._fd
        if fd is None:
            return
        try:
            data = os.read(fd, 4096)
        except BlockingIOError:
            return
        except OSError as exc:
            # EIO/ENXIO: the USB device (or the pty master) went away.
            self._down(f"read failed: {errno.errorcode.get(exc.errno or 0, exc.errno)}")
            return
        if not data:
            self._down("end of file")
            return
        self._on_data(data)

    def _down(self, reason: str) -> None:
        if self._port is None:
            return
        self.close()
        log.warning("link.down", device=self.config.device, reason=reason)
        self._on_down(reason)
