"""Noticing that the peer of a half-closed connection has gone, without polling.

After end-of-file asyncio stops reading a socket (reading would only return EOF again),
so it would not notice the peer closing its read side too. A Unix stream socket reports
``POLLHUP`` once *both* directions are shut (the peer closed, died or called
``shutdown(SHUT_RDWR)``; unix(7), ``unix_poll`` in the kernel), and only ``POLLRDHUP``
while the peer merely stopped writing (``printf … | socat``), which still wants its
answers. :class:`HangupWatch` keeps one private epoll set in which such sockets are
registered with an empty event mask, so it reports only ``EPOLLHUP``/``EPOLLERR``
(epoll_ctl(2): those two are always reported); the epoll descriptor itself is readable
exactly when one of them fired, and the event loop watches that one descriptor.
"""

from __future__ import annotations

import asyncio
import contextlib
import select
from collections.abc import Callable


def hung_up(fd: int) -> bool:
    """Return whether the socket ``fd`` reports ``POLLHUP`` or ``POLLERR`` now (no waiting)."""
    poller = select.poll()
    poller.register(fd, 0)  # POLLHUP/POLLERR are always reported, whatever the mask
    return any(events & (select.POLLHUP | select.POLLERR) for _, events in poller.poll(0))


class HangupWatch:
    """Call back once when a registered socket's peer has gone (``EPOLLHUP``/``EPOLLERR``)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._epoll = select.epoll()
        self._callbacks: dict[int, Callable[[], None]] = {}
        loop.add_reader(self._epoll.fileno(), self._ready)

    @property
    def watched(self) -> int:
        """Return how many sockets are watched."""
        return len(self._callbacks)

    def watch(self, fd: int, gone: Callable[[], None]) -> None:
        """Call ``gone()`` (once, from the event loop) when the peer of ``fd`` has gone.

        Unwatch before the descriptor is closed. Raises ``OSError`` for a bad ``fd``.
        """
        if fd in self._callbacks:
            self._callbacks[fd] = gone
            return
        self._epoll.register(fd, 0)
        self._callbacks[fd] = gone

    def unwatch(self, fd: int) -> None:
        """Stop watching ``fd`` (no error when it was not watched)."""
        if self._callbacks.pop(fd, None) is not None:
            with contextlib.suppress(OSError):
                self._epoll.unregister(fd)

    def close(self) -> None:
        """Stop watching everything and release the epoll descriptor."""
        self._loop.remove_reader(self._epoll.fileno())
        self._callbacks.clear()
        self._epoll.close()

    def _ready(self) -> None:
        for fd, _ in self._epoll.poll(0):
            gone = self._callbacks.get(fd)
            # unwatch first: the event is level-triggered and would fire again
            self.unwatch(fd)
            if gone is not None:
                gone()
