"""The receive pipeline's counters: named counts that wake waiters on every change.

``status`` shows them; tests and the benchmark wait on them (:meth:`Counters.changed`)
instead of polling. Counts only: never message content.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable

import structlog

from gateway.tracebacks import frames

log = structlog.get_logger("gateway.pipeline.receive")  # the pipeline's events, one logger


class Counters:
    """Named counters; every change sets the event the current waiters hold."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._changed = asyncio.Event()

    def count(self, name: str, by: int = 1) -> None:
        """Add ``by`` to counter ``name`` and wake everyone waiting for a change."""
        self._counts[name] += by
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def snapshot(self) -> dict[str, int]:
        """Return the counters that are non-zero or were touched, sorted by name."""
        return dict(sorted(self._counts.items()))

    async def changed(self) -> None:
        """Return at the next :meth:`count` (after this call started waiting)."""
        event = self._changed
        await event.wait()


def call_consumer(
    counters: Counters, modem: str, function: Callable[..., None], *args: object
) -> None:
    """Call a consumer's callback (on_code, on_report); its exceptions never stop reception.

    A failure is counted (``callback_errors``) and logged with the exception type, and
    at debug level with where it was raised (:func:`~gateway.tracebacks.frames`:
    no message, no values). Returns nothing and raises nothing.
    """
    try:
        function(*args)
    except Exception as exc:  # a consumer's bug must not stop reception
        counters.count("callback_errors")
        log.error("receive.callback_failed", modem=modem, error=type(exc).__name__)
        log.debug(
            "receive.callback_traceback", modem=modem, error=type(exc).__name__, frames=frames(exc)
        )
