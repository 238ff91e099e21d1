"""The session's event feed: a bounded URC/state event queue and a change signal.

One consumer reads the events (:meth:`EventFeed.next`); when it falls
:data:`EVENT_BACKLOG` behind, the oldest are dropped rather than the newest, so a stuck
consumer costs bounded memory. :meth:`EventFeed.notify` wakes everyone waiting in
:meth:`EventFeed.changed` (status watchers) without polling.
"""

from __future__ import annotations

import asyncio

from gateway.at.events import Event

#: events kept for a consumer that does not read; beyond it the oldest are dropped
EVENT_BACKLOG = 10_000


class EventFeed:
    """Events for one reader plus a broadcast "something changed" signal."""

    def __init__(self, backlog: int = EVENT_BACKLOG) -> None:
        self._events: asyncio.Queue[Event] = asyncio.Queue(maxsize=backlog)
        self._changed = asyncio.Event()

    def publish(self, event: Event) -> bool:
        """Queue ``event``; return True when the oldest event was dropped to make room."""
        dropped = self._events.full()
        if dropped:
            self._events.get_nowait()
        self._events.put_nowait(event)
        return dropped

    async def next(self) -> Event:
        """Return the next event, waiting for one."""
        return await self._events.get()

    def notify(self) -> None:
        """Wake every task waiting in :meth:`changed`."""
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def changed(self) -> None:
        """Return at the next :meth:`notify` after this call."""
        await self._changed.wait()
