"""What the blocking and the asyncio client have in common above their connection.

Both :class:`~gateway.relay.client.Client` and :class:`~gateway.relay.aclient.AsyncClient`
derive from :class:`ClientShell`: where the gateway is, whether and how long they
reconnect, their request ids, and the requests their methods build (a ``get`` with the
key and clocks of :class:`~gateway.relay.clientcodec.GetAttempts`, a ``send``, a
subscription's plan for getting its connection back). The protocol itself is
:class:`~gateway.relay.clientconn.ClientConnection`; what is left to each client is
pumping bytes and waiting, the one thing that differs between blocking and asyncio.
"""

from __future__ import annotations

import itertools
import os
import secrets
import time
from pathlib import Path

from gateway.relay.clientcodec import GetAttempts, Reconnect
from gateway.relay.messages import RequestId, Send, normalise_origin


class ClientShell:
    """Settings, request ids and request building shared by both clients."""

    def __init__(
        self, path: str | os.PathLike[str], *, reconnect: bool, reconnect_for: float
    ) -> None:
        self.path = Path(path)
        self.reconnect = reconnect
        self.reconnect_for = reconnect_for  # how long a subscription tries to get back
        self.reconnects = 0  # how often a lost connection was made again
        self._ids = itertools.count(1)

    def next_id(self) -> int:
        """Return a fresh request id (pass it to ``get`` to ``cancel`` it later)."""
        return next(self._ids)

    def _get_attempts(
        self,
        origin: str,
        embedded_origin: str | None,
        timeout: float | None,
        request_id: RequestId | None,
        since: float | None,
    ) -> GetAttempts:
        """Plan a ``get`` asked now; raises ``BadRequest`` for an invalid host or timeout."""
        return GetAttempts(
            self.next_id() if request_id is None else request_id,
            origin,
            embedded_origin=embedded_origin,
            timeout=timeout,
            since=since,
            key=secrets.token_hex(16),  # repeated when asking again: a retry, not a new consumer
            now=time.monotonic(),
            wall=time.time(),
        )

    def _send_request(
        self,
        number: str,
        origin: str,
        embedded_origin: str | None,
        code: str | None,
        text: str | None,
        *,
        watch: bool,
    ) -> Send:
        """Build a ``send`` with a fresh id from what a caller typed (hosts normalised first).

        Returns the :class:`Send`; raises ``BadRequest`` for an invalid host or empty number.
        """
        return Send(
            id=self.next_id(),
            number=number,
            origin=normalise_origin(origin),
            embedded_origin=None if embedded_origin is None else normalise_origin(embedded_origin),
            code=code,
            text=text,
            watch=watch,
        )

    def _resubscribe_plan(self) -> Reconnect:
        """Return how long a subscription that lost its connection tries to get it back."""
        return Reconnect(time.monotonic() + self.reconnect_for)
