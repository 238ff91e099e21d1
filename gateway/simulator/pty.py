"""The pty shell: one pseudo-terminal per modem, pumping bytes to and from its model.

at-conformance §4: the slave is put in raw mode before anyone opens it (Linux keeps the
termios while the master is open). While no client has the slave open nothing is
written, so the next opener never reads stale URCs. A client opening the slave is
noticed with inotify ``IN_OPEN`` on the ``/dev/pts/N`` node (no polling), or by its
first bytes if that event was missed.

We hold one slave descriptor of our own, opened before any client. A real serial tty
is released on its last close, which drops a client's ``TIOCEXCL`` (gammu sets it); a
pty slave lives as long as its master, so the flag would outlive the client and every
later open by a non-root user would fail with EBUSY. So when a slave descriptor closes
(``IN_CLOSE_*``) we clear the flag through ours and close ours for a moment: POLLHUP on
the master then means no client is left. We reopen ours at once, flush what was queued
for the departed client, and set the flag again if a client still holds the port.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import os
import select
import struct
import termios
import tty
from collections.abc import Callable
from pathlib import Path

import structlog

from gateway.inotify import IN_CLOSE_NOWRITE, IN_CLOSE_WRITE, IN_OPEN, open_watch, read_events
from gateway.simulator.config import SimulatorError

log = structlog.get_logger(__name__)

IN_CLOSE = IN_CLOSE_WRITE | IN_CLOSE_NOWRITE
#: ioctl TIOCGEXCL (Linux >= 3.8: _IOR('T', 0x40, int)); the termios module lacks it
TIOCGEXCL = 0x80045440
#: output kept for a client that does not read, before the oldest bytes are dropped
MAX_PENDING = 1 << 20


def replace_link(link: Path, target: str) -> None:
    """Point ``link`` at ``target`` atomically (a client never sees it missing or half-made)."""
    temporary = link.with_name(f".{link.name}.{os.getpid()}.tmp")
    temporary.unlink(missing_ok=True)
    os.symlink(target, temporary)
    os.replace(temporary, link)


class PtyPort:
    """A pty whose master side is pumped by the event loop; slave exposed at ``device``."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        *,
        link: Path | None,
        on_data: Callable[[bytes], None],
        on_attach: Callable[[], None],
    ) -> None:
        self._loop = loop
        self._link = link
        self._on_data = on_data
        self._on_attach = on_attach
        self._master = -1
        self._watch = -1
        self._own = -1  # our own slave descriptor (module docstring)
        self._reading = False
        self._pending = bytearray()
        self._poll = select.poll()
        self.slave_path = ""
        self.attached = False

    @property
    def device(self) -> str:
        """Return the path clients open: the link if configured, else ``/dev/pts/N``."""
        return str(self._link) if self._link is not None else self.slave_path

    @property
    def plugged(self) -> bool:
        """Return True while the pty exists."""
        return self._master >= 0

    def open(self) -> None:
        """Create the pty, make it raw, watch for openers and publish the link."""
        if self.plugged:
            return
        master, slave = os.openpty()
        try:
            tty.setraw(slave)
            self.slave_path = os.ttyname(slave)
        except BaseException:
            os.close(slave)
            os.close(master)
            raise
        os.set_blocking(master, False)
        self._master = master
        self._own = slave
        self._poll = select.poll()
        self._poll.register(master, select.POLLOUT)
        self._watch = open_watch(Path(self.slave_path), IN_OPEN | IN_CLOSE)
        self._loop.add_reader(self._watch, self._on_watch)
        self._start_reading()
        if self._link is not None:
            try:
                replace_link(self._link, self.slave_path)
            except OSError as exc:
                self.close()
                raise SimulatorError(f"cannot create link {self._link}: {exc}") from exc
        log.info("simulator.pty.open", device=self.device, pts=self.slave_path)

    def close(self) -> None:
        """Close the master (clients see the device vanish) and remove the link."""
        if not self.plugged:
            return
        self._detach()
        self._stop_reading()
        self._loop.remove_reader(self._watch)
        os.close(self._watch)
        if self._own >= 0:
            os.close(self._own)
        os.close(self._master)
        self._master = self._watch = self._own = -1
        link = self._link
        if link is not None and link.is_symlink() and os.readlink(link) == self.slave_path:
            link.unlink()
        log.info("simulator.pty.close", device=self.device)

    def write(self, data: bytes) -> None:
        """Write to the client without blocking; dropped while no client has the port open."""
        if not self.attached or not data:
            return
        self._on_watch()  # a client close the loop has not handled yet is queued already
        if not self.attached or self._hung_up():
            self._detach()
            return
        if self._pending:
            self._pending += data
            del self._pending[: max(0, len(self._pending) - MAX_PENDING)]
            return
        try:
            written = os.write(self._master, data)
        except BlockingIOError:
            written = 0
        except OSError as exc:
            self._lost(exc)
            return
        if written < len(data):
            self._pending += data[written:]
            self._loop.add_writer(self._master, self._on_writable)

    def _hung_up(self) -> bool:
        # the loop may not have seen the client's close yet: never queue bytes for nobody
        return any(ev & select.POLLHUP for _, ev in self._poll.poll(0))

    def _flush_stale(self) -> None:
        """Drop bytes queued towards the slave before this client opened (at-conformance §4.3)."""
        if self._own >= 0:
            with contextlib.suppress(termios.error):
                termios.tcflush(self._own, termios.TCIFLUSH)
            return
        try:
            fd = os.open(self.slave_path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        except OSError:
            return  # e.g. the client holds it with TIOCEXCL and we are not root
        try:
            with contextlib.suppress(termios.error):  # the pty went away meanwhile
                termios.tcflush(fd, termios.TCIFLUSH)
        finally:
            os.close(fd)
        # our own open queued an IN_OPEN; drop it, or it would re-attach after the client left
        with contextlib.suppress(BlockingIOError):
            os.read(self._watch, 4096)

    def _on_writable(self) -> None:
        try:
            written = os.write(self._master, self._pending)
        except BlockingIOError:
            return
        except OSError as exc:
            self._lost(exc)
            return
        del self._pending[:written]
        if not self._pending:
            self._loop.remove_writer(self._master)

    def _on_watch(self) -> None:
        try:
            events = read_events(self._watch)
        except OSError:
            return  # the watch is gone with the pty
        for mask, _ in events:  # in order: open, close, open ...
            if not self.plugged:
                break
            if mask & IN_OPEN and not self.attached:
                self._attach()
            elif mask & IN_CLOSE and self.attached:
                self._probe()

    def _attach(self) -> None:
        if self._own < 0:  # lost after a failed reopen: take it back while we can
            with contextlib.suppress(OSError):
                self._own = os.open(self.slave_path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        self._flush_stale()
        self.attached = True
        self._start_reading()
        self._on_attach()

    def _probe(self) -> None:
        """A slave descriptor closed: detach if no client is left; never leave TIOCEXCL set."""
        own, self._own = self._own, -1
        if own < 0:
            if self._hung_up():
                self._detach()
            return
        exclusive = False
        with contextlib.suppress(OSError):
            exclusive = struct.unpack("i", fcntl.ioctl(own, TIOCGEXCL, b"\0" * 4))[0] != 0
            fcntl.ioctl(own, termios.TIOCNXCL)
        os.close(own)
        if self._hung_up():  # only the master's own reference is left
            self._detach()
        try:
            self._own = os.open(self.slave_path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        except OSError as exc:  # a client set TIOCEXCL again meanwhile and we are not root
            log.warning("simulator.pty.reopen", device=self.device, error=str(exc))
            return
        if not self.attached:
            self._flush_stale()  # bytes written before we saw the close were for nobody
        elif exclusive:
            with contextlib.suppress(OSError):
                fcntl.ioctl(self._own, termios.TIOCEXCL)  # the remaining client keeps it
        # drop the IN_CLOSE and IN_OPEN our close and reopen queued; a client opening in
        # this instant is attached by its first bytes instead (_on_readable)
        with contextlib.suppress(BlockingIOError):
            os.read(self._watch, 4096)

    def _on_readable(self) -> None:
        try:
            data = os.read(self._master, 4096)
        except BlockingIOError:
            return
        except OSError as exc:
            self._lost(exc)
            return
        if data:
            if not self.attached:  # a client whose IN_OPEN we dropped (see _probe)
                self._attach()
            self._on_data(data)

    def _lost(self, exc: OSError) -> None:
        # EIO: no slave descriptor is open (ours could not be reopened); wait for IN_OPEN
        if exc.errno not in (errno.EIO, errno.EBADF):
            log.warning("simulator.pty.error", device=self.device, error=str(exc))
        self._detach()
        if self._own < 0:
            self._stop_reading()

    def _start_reading(self) -> None:
        if not self._reading:
            self._reading = True
            self._loop.add_reader(self._master, self._on_readable)

    def _stop_reading(self) -> None:
        if self._reading:
            self._reading = False
            self._loop.remove_reader(self._master)

    def _detach(self) -> None:
        self.attached = False
        if self._pending:
            self._loop.remove_writer(self._master)
            self._pending.clear()
