"""Shared helpers for the relay tests: fake daemon ports and a raw protocol client."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from gateway.relay.access import AccessControl, Rule, parse_rule
from gateway.relay.errors import RelayError
from gateway.relay.ports import (
    CodeRecord,
    JobEvent,
    JobStatus,
    SendAccepted,
    SendRequest,
    StatusPort,
)
from gateway.relay.server import RelayConfig, RelayServer

T = TypeVar("T")
AT = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
ROOT_RULES = [
    parse_rule("users=root;ops=get,subscribe,send,status;origins=shop.example,bank.example"),
]


class FakeSendPort:
    """An in-test send queue implementing SendPort: accepts jobs, or refuses with an error."""

    def __init__(self) -> None:
        self.requests: list[SendRequest] = []
        self.refuse: RelayError | None = None

    async def submit(self, request: SendRequest) -> SendAccepted:
        """Store the request and return a job id, or raise the configured refusal."""
        if self.refuse is not None:
            raise self.refuse
        self.requests.append(request)
        return SendAccepted(job_id=f"job-{len(self.requests)}", code=request.code)

    async def watch(self, job_id: str) -> AsyncIterator[JobEvent]:
        """Yield sending, sent and delivered for the job."""
        for status in (JobStatus.SENDING, JobStatus.SENT, JobStatus.DELIVERED):
            yield JobEvent(job_id=job_id, status=status, at=AT)


class FakeStatusPort:
    """An in-test StatusPort with one ready modem."""

    async def refresh(self) -> None:
        """Nothing to bring up to date."""

    def snapshot(self) -> Mapping[str, object]:
        """Return a fixed snapshot."""
        return {"modems": [{"state": "ready", "signal": 20}], "queue_depth": 0}


def record(
    code: str,
    origin: str = "shop.example",
    embedded: str | None = None,
    *,
    received_at: dt.datetime | None = None,
    record_id: int | None = None,
) -> CodeRecord:
    """Return a code record as the daemon would offer it: arrived now unless told."""
    return CodeRecord(
        origin=origin,
        embedded_origin=embedded,
        code=code,
        sender="+15557654321",
        received_at=dt.datetime.now(dt.UTC) if received_at is None else received_at,
        record_id=record_id,
    )


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run one test scenario in a fresh event loop with a safety timeout."""
    return asyncio.run(asyncio.wait_for(coro, 50))


@contextlib.asynccontextmanager
async def relay(
    path: Path,
    *,
    rules: Sequence[Rule] = ROOT_RULES,
    send: FakeSendPort | None = None,
    status: StatusPort | None = None,
    on_claim: Callable[[CodeRecord], bool | None] | None = None,
    on_release: Callable[[CodeRecord], None] | None = None,
    refuses_origin: Callable[[str, str | None], str | None] | None = None,
    **config: Any,
) -> AsyncIterator[RelayServer]:
    """Run a relay server on ``path`` with fake ports for the duration of the block."""
    server = RelayServer(
        RelayConfig(path=path, **config),
        access=AccessControl(rules),
        send=FakeSendPort() if send is None else send,
        status=FakeStatusPort() if status is None else status,
        on_claim=on_claim,
        on_release=on_release,
        refuses_origin=refuses_origin,
    )
    async with server:
        yield server


class Raw:
    """A bare protocol client: write JSON objects, read replies by id."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.greeting: dict[str, Any] = {}
        self.others: list[dict[str, Any]] = []

    @classmethod
    async def open(cls, path: Path) -> Raw:
        """Connect and read the greeting."""
        reader, writer = await asyncio.open_unix_connection(os.fspath(path))
        raw = cls(reader, writer)
        raw.greeting = await raw.read()
        return raw

    def write(self, *objects: object) -> None:
        """Write each object as one line."""
        self.writer.write(b"".join(json.dumps(o).encode() + b"\n" for o in objects))

    async def read(self) -> dict[str, Any]:
        """Read the next line as an object; raise EOFError at end of stream."""
        line = await self.reader.readline()
        if not line:
            raise EOFError
        obj: dict[str, Any] = json.loads(line)
        return obj

    async def reply(self, rid: object) -> dict[str, Any]:
        """Return the next message for request ``rid``, keeping others for later."""
        for index, obj in enumerate(self.others):
            if obj.get("id") == rid:
                return self.others.pop(index)
        while True:
            obj = await self.read()
            if obj.get("id") == rid:
                return obj
            self.others.append(obj)

    async def sync(self) -> None:
        """Round-trip a status request: everything written before it has been handled."""
        self.write({"id": "sync", "op": "status"})
        await self.reply("sync")

    async def close(self) -> None:
        """Close the connection."""
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()
