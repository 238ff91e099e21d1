"""The relay's accept loop: survives running out of file descriptors.

asyncio's own server reports ``EMFILE`` through the loop's exception handler on every
retry and waits a fixed second. Here, when ``accept(2)`` fails for lack of descriptors or
memory (``EMFILE``, ``ENFILE``, ``ENOBUFS``, ``ENOMEM``), the listening socket is taken
out of the event loop (it would stay readable and spin) and tried again after a capped,
doubling delay: 50 ms up to 1 s, so descriptors freed by closing clients are put to use
soon while a lasting shortage costs one wake-up a second (a retry that accepted some
connections before running short again starts over at 50 ms). Connections already open
are not touched and keep being served. One warning starts an episode; it ends, with one
info line (how long it lasted, how many retries it took), once the backlog has been
accepted to the last waiting client; so a connect storm cannot flood the log.
"""

from __future__ import annotations

import asyncio
import collections
import errno
import socket
from collections.abc import Callable

import structlog

from gateway.tracebacks import frames

log = structlog.get_logger("gateway.relay")

#: accept(2) errors about one connection that vanished before we took it (accept(2))
_ABORTED = frozenset({errno.ECONNABORTED, errno.EPROTO, errno.EPERM})
FIRST_DELAY = 0.05
MAX_DELAY = 1.0
BATCH = 64  # connections taken per readiness event, so a storm cannot starve the loop


class Acceptor:
    """Accept connections on a listening socket and hand each to a new protocol."""

    def __init__(
        self,
        sock: socket.socket,
        factory: Callable[[], asyncio.Protocol],
        *,
        counters: collections.Counter[str],
    ) -> None:
        self.sock = sock
        self.factory = factory
        self.counters = counters
        self._loop: asyncio.AbstractEventLoop | None = None
        self._retry: asyncio.TimerHandle | None = None
        self._delay = 0.0
        self._episode_start: float | None = None
        self._episode_retries = 0
        self._progress = False
        self._pending: set[asyncio.Task[None]] = set()
        self._closed = False

    @property
    def exhausted(self) -> bool:
        """Return whether accepting is paused for lack of descriptors (an episode is on)."""
        return self._episode_start is not None

    def start(self) -> None:
        """Start accepting in the running event loop (the socket must be listening)."""
        self._loop = asyncio.get_running_loop()
        self.sock.setblocking(False)
        self._loop.add_reader(self.sock.fileno(), self._ready)

    def close(self) -> None:
        """Stop accepting and close the listening socket."""
        if self._closed:
            return
        self._closed = True
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        if self._loop is not None:
            self._loop.remove_reader(self.sock.fileno())
        self.sock.close()

    async def wait_closed(self) -> None:
        """Return once connections accepted before :meth:`close` have their protocol."""
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)

    def _ready(self) -> None:
        for _ in range(BATCH):
            try:
                conn, _ = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                if self._episode_start is not None:
                    self._recovered()  # every waiting client has been taken in
                return
            except OSError as exc:
                if exc.errno in _ABORTED:
                    continue
                # out of descriptors (or anything unforeseen): back off instead of spinning
                self._exhausted(exc)
                return
            self._progress = True
            self._connect(conn)

    def _connect(self, conn: socket.socket) -> None:
        assert self._loop is not None
        conn.setblocking(False)
        task = self._loop.create_task(self._attach(conn))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _attach(self, conn: socket.socket) -> None:
        assert self._loop is not None
        try:
            await self._loop.connect_accepted_socket(self.factory, conn)
        except Exception as exc:  # one failed connection must not stop the others
            log.warning("relay.accept_failed", error=type(exc).__name__, frames=frames(exc))
            conn.close()

    def _exhausted(self, exc: OSError) -> None:
        assert self._loop is not None
        self._loop.remove_reader(self.sock.fileno())
        if self._episode_start is None:
            self._episode_start = self._loop.time()
            self._episode_retries = 0
            self._delay = FIRST_DELAY
            self.counters["accept_exhausted"] += 1
            log.warning(
                "relay.accept_exhausted",
                error=errno.errorcode.get(exc.errno or 0, str(exc.errno)),
                retry_in=self._delay,
            )
        else:
            self._episode_retries += 1
            self.counters["accept_retries"] += 1
            # descriptors came free since the last try: look again soon, else back off more
            self._delay = FIRST_DELAY if self._progress else min(self._delay * 2, MAX_DELAY)
        self._progress = False
        self._retry = self._loop.call_later(self._delay, self._resume)

    def _resume(self) -> None:
        self._retry = None
        if self._closed or self._loop is None:
            return
        self._loop.add_reader(self.sock.fileno(), self._ready)

    def _recovered(self) -> None:
        assert self._loop is not None
        assert self._episode_start is not None
        log.info(
            "relay.accept_recovered",
            seconds=round(self._loop.time() - self._episode_start, 3),
            retries=self._episode_retries,
        )
        self._episode_start = None
        self._delay = 0.0
