"""A raw-fd AT client for simulator tests: opens the pty like a serial program would."""

from __future__ import annotations

import os
import select
import termios
import threading
import time
import tty
from types import TracebackType

from gateway.simulator import ThreadModemHandle


class PtyClient:
    """Opens a device node raw and non-blocking; reads with deadlines (no sleeps)."""

    def __init__(self, device: str) -> None:
        self.fd = os.open(device, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        tty.setraw(self.fd, termios.TCSANOW)
        self.buffer = b""

    def close(self) -> None:
        """Close the fd."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> PtyClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def send(self, data: bytes) -> None:
        """Write all of ``data``."""
        view = memoryview(data)
        while view:
            select.select([], [self.fd], [], 5.0)
            written = os.write(self.fd, view)
            view = view[written:]

    def _fill(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.fd], [], [], max(0.0, timeout))
        if not ready:
            return False
        try:
            chunk = os.read(self.fd, 65536)
        except BlockingIOError:
            return True
        if not chunk:
            raise EOFError("device closed")
        self.buffer += chunk
        return True

    def read_until(self, marker: bytes, timeout: float = 5.0) -> bytes:
        """Return everything up to and including ``marker``; raise TimeoutError."""
        deadline = time.monotonic() + timeout
        while marker not in self.buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no {marker!r} in {self.buffer!r}")
            self._fill(remaining)
        end = self.buffer.index(marker) + len(marker)
        data, self.buffer = self.buffer[:end], self.buffer[end:]
        return data

    def command(self, line: bytes, final: bytes = b"OK\r\n", timeout: float = 5.0) -> bytes:
        """Send ``line`` + CR and return the reply up to ``final``."""
        self.send(line + b"\r")
        return self.read_until(final, timeout)

    def silence(self, window: float) -> bytes:
        """Return whatever arrives within ``window`` seconds.

        Only for properties that are about time itself (e.g. CPU use while idle): absence
        of output is proven deterministically with :func:`written_while_reading` or a
        marker command whose reply must come first.
        """
        deadline = time.monotonic() + window
        while (remaining := deadline - time.monotonic()) > 0:
            self._fill(remaining)
        data, self.buffer = self.buffer, b""
        return data


def bytes_out(modem: ThreadModemHandle) -> int:
    """Return how many bytes the simulated modem has written to its pty so far."""
    count = modem.state()["bytes_out"]
    assert isinstance(count, int)
    return count


def written_while_reading(modem: ThreadModemHandle, client: PtyClient, data: bytes) -> int:
    """Send ``data``; once the modem has read all of it, return how many bytes it wrote.

    The modem model handles a chunk and writes its output in one loop callback, and the
    byte counter is read in a later one, so 0 proves that reading ``data`` produced no
    output at all (no sleep, no fixed window). Raises TimeoutError if ``data`` never
    reaches the modem within 5 s.
    """
    received = bytearray()
    arrived = threading.Event()

    def observe(chunk: bytes) -> None:
        received.extend(chunk)
        if len(received) >= len(data):
            arrived.set()

    before = bytes_out(modem)
    remove = modem.observe_bytes(observe)
    try:
        client.send(data)
        if not arrived.wait(5.0):
            raise TimeoutError(f"the modem read only {bytes(received)!r} of {data!r}")
    finally:
        remove()
    return bytes_out(modem) - before
