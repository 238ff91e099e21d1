"""Tests for the relay's asyncio Unix-socket server, over real sockets under tmp_path."""

from __future__ import annotations

import asyncio
import json
import os
import resource
import select
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import structlog
from relay_helpers import ROOT_RULES, FakeSendPort, Raw, record, relay, run

from gateway.errors import UsageError
from gateway.log import capture
from gateway.relay.access import AccessControl, parse_rule
from gateway.relay.aclient import AsyncClient
from gateway.relay.client import Client
from gateway.relay.errors import RateLimited, Unavailable
from gateway.relay.ports import CodeRecord, SendAccepted, SendRequest


def test_greeting_and_status(tmp_path: Path) -> None:
    """A client is greeted with the protocol version; status merges daemon and relay data."""

    async def scenario() -> None:
        async with relay(tmp_path / "g.sock"):
            raw = await Raw.open(tmp_path / "g.sock")
            assert raw.greeting["hello"] == "otp-gateway"
            assert raw.greeting["protocol"] == 1
            raw.write({"id": 1, "op": "status"})
            status = (await raw.reply(1))["result"]
            assert status["modems"] == [{"state": "ready", "signal": 20}]
            assert status["relay"]["connections"] == 1
            assert status["relay"]["socket"]["activated"] is False
            await raw.close()

    run(scenario())


def test_get_resolves_when_a_code_is_offered(tmp_path: Path) -> None:
    """A pending get receives the code the daemon offers after it, with all its fields."""

    async def scenario() -> None:
        async with relay(tmp_path / "g.sock") as server:
            raw = await Raw.open(tmp_path / "g.sock")
            raw.write({"id": 1, "op": "get", "origin": "shop.example", "timeout": 30})
            await raw.sync()
            assert server.offer(record("123456")) is True
            assert (await raw.reply(1))["result"] == {
                "origin": "shop.example",
                "embedded_origin": None,
                "code": "123456",
                "sender": "+15557654321",
                "received_at": "2026-01-01T12:00:00+00:00",
            }
            await raw.close()

    run(scenario())


def test_half_closed_client_still_gets_its_answer(tmp_path: Path) -> None:
    """A client that shuts down its write side after a get (printf | socat) still gets it."""

    async def scenario() -> None:
        async with relay(tmp_path / "g.sock") as server:
            raw = await Raw.open(tmp_path / "g.sock")
            raw.write({"id": 1, "op": "get", "origin": "shop.example"})
            await raw.sync()
            raw.writer.write_eof()
            server.offer(record("864200"))
            assert (await raw.reply(1))["result"]["code"] == "864200"
            with pytest.raises(EOFError):
                await raw.read()
            await raw.close()

    run(scenario())


def test_code_before_the_request_is_not_delivered_outside_grace(tmp_path: Path) -> None:
    """A code offered before the get is skipped; the get takes the next one."""

    async def scenario() -> None:
        async with relay(tmp_path / "g.sock") as server:
            assert server.offer(record("old111")) is False
            raw = await Raw.open(tmp_path / "g.sock")
            raw.write({"id": 1, "op": "get", "origin": "shop.example"})
            await raw.sync()
            server.offer(record("new222"))
            assert (await raw.reply(1))["result"]["code"] == "new222"
            await raw.close()

    run(scenario())


def test_grace_window_admits_a_code_received_just_before(tmp_path: Path) -> None:
    """With a grace window, a get answers at once with an unclaimed recent code."""

    async def scenario() -> None:
        async with relay(tmp_path / "g.sock", grace=60.0) as server:
            server.offer(record("777000"))
            raw = await Raw.open(tmp_path / "g.sock")
            raw.write({"id": 1, "op": "get", "origin": "shop.example"})
            assert (await raw.reply(1))["result"]["code"] == "777000"
            await raw.close()

    run(scenario())


def test_two_concurrent_gets_get_different_codes(tmp_path: Path) -> None:
    """Two clients waiting for the same origin receive one code each, first come first."""

    async def scenario() -> None:
        async with relay(tmp_path / "g.sock") as server:
            first, second = await Raw.open(server.config.path), await Raw.open(server.config.path)
            first.write({"id": "a", "op": "get", "origin": "shop.example"})
            await first.sync()
            second.write({"id": "b", "op": "get", "origin": "shop.example"})
            await second.sync()
            server.offer(record("111111"))
            server.offer(record("222222"))
            assert (await first.reply("a"))["result"]["code"] == "111111"
            assert (await second.reply("b"))["result"]["code"] == "222222"
            await first.close()
            await second.close()

    run(scenario())


def test_cancel_aborts_a_pending_get(tmp_path: Path) -> None:
    """Cancel ends the get with 'cancelled', confirms, and the next code goes elsewhere."""

    async def scenario() -> None:
        async with relay(tmp_path / "g.sock") as server:
            raw = await Raw.open(server.config.path)
            raw.write({"id": 1, "op": "get", "origin": "shop.example"})
            raw.write({"id": 2, "op": "cancel", "target": 1})
            assert (await raw.reply(1))["error"]["code"] == "cancelled"
            assert (await raw.reply(2))["result"] == {"cancelled": 1}
            raw.write({"id": 3, "op": "cancel", "target": 1})
            assert (await raw.reply(3))["error"]["code"] == "not-found"
            assert server.offer(record("123")) is False
            await raw.sync()
            assert raw.others == []
            await raw.close()

    run(scenario())


def test_timeout_ends_a_get_with_a_clear_error(tmp_path: Path) -> None:
    """A get that sees no code within its timeout gets a 'timeout' error naming it."""

    async def scenario() -> None:
        async with relay(tmp_path / "g.sock") as server:
            raw = await Raw.open(server.config.path)
            raw.write({"id": 1, "op": "get", "origin": "shop.example", "timeout": 0.2})
            raw.write({"id": 2, "op": "get", "origin": "shop.example", "timeout": 30})
            error = (await raw.reply(1))["error"]
            assert error == {
                "code": "timeout",
                "message": "no code arrived within the timeout of 0.2 s",
            }
            assert server.broker.pending == 1
            await raw.close()

    run(scenario())


def test_over_long_line_gets_an_error_then_a_disconnect(tmp_path: Path) -> None:
    """A line past max_line is answered with line-too-long and the connection is closed."""

    async def scenario() -> None:
        async with relay(tmp_path / "g.sock", max_line=1024) as server:
            raw = await Raw.open(server.config.path)
            raw.writer.write(b'{"id":1,"op":"status","x":"' + b"y" * 4096)
            reply = await raw.read()
            assert reply["error"]["code"] == "line-too-long"
            with pytest.raises(EOFError):
                await raw.read()
            other = await Raw.open(server.config.path)
            await other.sync()
            await raw.close()
            await other.close()

    run(scenario())


@pytest.mark.parametrize(
    ("line", "rid", "fragment"),
    [
        (b"{not json\n", None, "not valid JSON"),
        (b'{"id":5,"op":"dance"}\n', 5, "op must be one of"),
        (b'{"id":6,"op":"get","origin":["shop.example"]}\n', 6, "origin must be a string"),
        (b'{"id":7,"op":"get","origin":"shop.example","timeout":-1}\n', 7, "timeout"),
        (b'{"id":8,"op":"send","number":5,"origin":"shop.example"}\n', 8, "number"),
    ],
)
def test_bad_requests_are_answered_and_the_connection_keeps_serving(
    tmp_path: Path, line: bytes, rid: object, fragment: str
) -> None:
    """Invalid JSON, unknown op and wrong types give bad-request; later requests still work."""

    async def scenario() -> None:
        async with relay(tmp_path / "g.sock") as server:
            raw = await Raw.open(server.config.path)
            raw.writer.write(line)
            error = (await raw.reply(rid))["error"]
            assert error["code"] == "bad-request"
            assert fragment in error["message"]
            await raw.sync()
            assert server.counters["rejected"] == 1
            await raw.close()

    run(scenario())


def test_pending_gets_per_connection_are_limited(tmp_path: Path) -> None:
    """A connection past max_pending_gets is told too-many-pending; a reused id is refused."""

    async def scenario() -> None:
        async with relay(tmp_path / "g.sock", max_pending_gets=2) as server:
            raw = await Raw.open(server.config.path)
            for rid in (1, 2, 3):
                raw.write({"id": rid, "op": "get", "origin": "shop.example"})
            assert (await raw.reply(3))["error"]["code"] == "too-many-pending"
            raw.write({"id": 1, "op": "status"})
            assert (await raw.reply(1))["error"]["message"].startswith("id is already used")
            assert server.broker.pending == 2
            await raw.close()

    run(scenario())


def test_forbidden_origin_is_refused_logged_without_code_and_counted(tmp_path: Path) -> None:
    """A get for an origin the peer may not see is forbidden, counted and logged codeless."""

    async def scenario() -> None:
        async with relay(tmp_path / "g.sock") as server:
            raw = await Raw.open(server.config.path)
            with structlog.testing.capture_logs() as events:
                raw.write({"id": 1, "op": "get", "origin": "evil.example"})
                assert (await raw.reply(1))["error"]["code"] == "forbidden"
                raw.write({"id": 2, "op": "get", "origin": "shop.example"})
                await raw.sync()
                server.offer(record("314159"))
                assert (await raw.reply(2))["result"]["code"] == "314159"
            assert server.access.denials == {"get": 1}
            denial = next(e for e in events if e["event"] == "relay.denied")
            assert denial["origin"] == "evil.example"
            assert denial["uid"] == os.getuid()
            assert "314159" not in repr(events)
            await raw.close()

    run(scenario())


def test_subscribe_streams_permitted_codes_and_cancel_ends_it(tmp_path: Path) -> None:
    """A subscriber gets code events for its origins only; cancel ends the stream."""

    async def scenario() -> None:
        async with relay(tmp_path / "g.sock") as server:
            raw = await Raw.open(server.config.path)
            raw.write({"id": "s", "op": "subscribe"})
            assert (await raw.reply("s"))["result"] == {"subscribed": True}
            server.offer(record("1", origin="other.example"))
            server.offer(record("2"))
            event = await raw.reply("s")
            assert (event["event"], event["data"]["code"]) == ("code", "2")
            raw.write({"id": "c", "op": "cancel", "target": "s"})
            assert (await raw.reply("s")) == {"id": "s", "event": "end", "data": {}}
            assert (await raw.reply("c"))["result"] == {"cancelled": "s"}
            assert server.broker.subscriptions == 0
            await raw.close()

    run(scenario())


def test_send_with_watch_streams_job_events(tmp_path: Path) -> None:
    """Send answers with a job id, then streams the port's status events and an end event."""

    async def scenario() -> None:
        async with relay(tmp_path / "g.sock") as server:
            raw = await Raw.open(server.config.path)
            raw.write(
                {
                    "id": 1,
                    "op": "send",
                    "number": "+15550001",
                    "origin": "shop.example",
                    "code": "424242",
                    "watch": True,
                }
            )
            assert (await raw.reply(1))["result"] == {
                "job": "job-1",
                "status": "queued",
                "code": "424242",
            }
            statuses = [(await raw.reply(1))["data"].get("status") for _ in range(4)]
            assert statuses == ["sending", "sent", "delivered", None]
            await raw.close()

    run(scenario())


def test_send_refusals_keep_their_code_and_retry_after(tmp_path: Path) -> None:
    """A rate-limited send is answered rate-limited with retry_after; no port is unavailable."""

    async def scenario() -> None:
        port = FakeSendPort()
        port.refuse = RateLimited("3 per 10 minutes for this number", retry_after=120.0)
        async with relay(tmp_path / "g.sock", send=port) as server:
            raw = await Raw.open(server.config.path)
            raw.write({"id": 1, "op": "send", "number": "+15550001", "origin": "shop.example"})
            assert (await raw.reply(1))["error"] == {
                "code": "rate-limited",
                "message": "3 per 10 minutes for this number",
                "retry_after": 120.0,
            }
            server.send_port = None
            raw.write({"id": 2, "op": "send", "number": "+15550001", "origin": "shop.example"})
            assert (await raw.reply(2))["error"]["code"] == "unavailable"
            await raw.close()

    run(scenario())


@pytest.fixture
def many_files() -> Iterator[None]:
    """Raise this process's open-file limit to 4096 (for 2,000 socket ends), then restore it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(4096, hard)), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.mark.usefixtures("many_files")
def test_thousand_idle_clients_while_another_is_served(tmp_path: Path) -> None:
    """With 1,000 idle connections open, another client's get still resolves."""

    async def scenario() -> None:
        async with relay(tmp_path / "g.sock") as server:
            idle = await asyncio.gather(*(Raw.open(server.config.path) for _ in range(1000)))
            assert all(client.greeting["protocol"] == 1 for client in idle)
            active = await Raw.open(server.config.path)
            active.write({"id": 1, "op": "get", "origin": "shop.example"})
            await active.sync()
            server.offer(record("999999"))
            assert (await active.reply(1))["result"]["code"] == "999999"
            active.write({"id": 2, "op": "status"})
            assert (await active.reply(2))["result"]["relay"]["connections"] == 1001
            await asyncio.gather(*(client.close() for client in [*idle, active]))

    run(scenario())


def _hangup(sock: socket.socket, timeout: float) -> bool:
    """Wait (without reading) until the peer closes; return whether it did in time."""
    poller = select.epoll()
    try:
        poller.register(sock.fileno(), select.EPOLLRDHUP | select.EPOLLHUP)
        return bool(poller.poll(timeout))
    finally:
        poller.close()


@pytest.mark.parametrize("limit", ["hard-limit", "drain-timeout"])
def test_consumer_that_never_reads_is_disconnected(tmp_path: Path, limit: str) -> None:
    """A subscriber that never reads is dropped (backlog cap or stall timeout); others go on."""
    config: dict[str, Any] = (
        {"write_high_water": 4096, "write_hard_limit": 65536, "drain_timeout": 30.0}
        if limit == "hard-limit"
        else {"write_high_water": 4096, "write_hard_limit": 2**30, "drain_timeout": 0.2}
    )

    async def scenario() -> None:
        async with relay(tmp_path / "g.sock", **config) as server:
            stuck = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            stuck.connect(os.fspath(server.config.path))
            stuck.sendall(
                b'{"id":1,"op":"subscribe"}\n{"id":2,"op":"get","origin":"bank.example"}\n'
            )
            other = await Raw.open(server.config.path)
            other.write({"id": 1, "op": "get", "origin": "shop.example"})
            await other.sync()
            assert server.broker.subscriptions == 1  # the stuck client's lines were handled
            offered = 0
            while server.counters["slow_consumers_dropped"] == 0 and offered < 200_000:
                server.offer(record(f"{offered:06d}", origin="bank.example"))
                offered += 1
                if limit == "drain-timeout" and offered == 5000:
                    break
            assert await asyncio.to_thread(_hangup, stuck, 20.0)
            assert server.counters["slow_consumers_dropped"] == 1
            assert server.broker.subscriptions == 0
            assert server.broker.pending == 1  # only the other client's get is left
            server.offer(record("123456"))
            assert (await other.reply(1))["result"]["code"] == "123456"
            stuck.close()
            await other.close()

    run(scenario())


def test_socket_file_has_mode_0660_and_group_and_is_unlinked(tmp_path: Path) -> None:
    """The socket file is created 0660 with the configured group and removed on close."""
    path = tmp_path / "g.sock"

    async def scenario() -> None:
        async with relay(path, group=65534):
            info = os.lstat(path)
            assert stat.S_ISSOCK(info.st_mode)
            assert stat.S_IMODE(info.st_mode) == 0o660
            assert info.st_gid == 65534
            assert [p.name for p in tmp_path.iterdir()] == ["g.sock"]
        assert not path.exists()

    run(scenario())


def test_stale_socket_file_is_replaced(tmp_path: Path) -> None:
    """A socket file nobody listens on (ECONNREFUSED) is replaced by ours."""
    path = tmp_path / "g.sock"
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(os.fspath(path))
    dead.close()

    async def scenario() -> None:
        async with relay(path):
            raw = await Raw.open(path)
            await raw.sync()
            await raw.close()

    run(scenario())


def test_live_socket_is_not_stolen(tmp_path: Path) -> None:
    """A second server on a path where one listens fails and the first keeps serving."""
    path = tmp_path / "g.sock"

    async def scenario() -> None:
        async with relay(path):
            with pytest.raises(UsageError, match="in use by a running process"):
                async with relay(path):
                    pass
            raw = await Raw.open(path)
            await raw.sync()
            await raw.close()

    run(scenario())


def test_a_regular_file_is_never_replaced(tmp_path: Path) -> None:
    """A non-socket file at the socket path is left alone and reported."""
    path = tmp_path / "g.sock"
    path.write_text("keep me")

    async def scenario() -> None:
        with pytest.raises(UsageError, match="not a socket"):
            async with relay(path):
                pass

    run(scenario())
    assert path.read_text() == "keep me"


def test_server_close_ends_pending_gets_with_unavailable(tmp_path: Path) -> None:
    """On shutdown a waiting client is told 'unavailable', then the connection closes."""

    async def scenario() -> None:
        async with relay(tmp_path / "g.sock") as server:
            raw = await Raw.open(server.config.path)
            raw.write({"id": 1, "op": "get", "origin": "shop.example"})
            await raw.sync()
        assert (await raw.reply(1))["error"]["code"] == "unavailable"
        with pytest.raises(EOFError):
            await raw.read()
        await raw.close()

    run(scenario())


def test_socket_activation_uses_the_passed_fd(tmp_path: Path) -> None:
    """Under systemd-socket-activate the relay serves on fd 3 and never binds its own path."""
    activate = shutil.which("systemd-socket-activate") or "/lib/systemd/systemd-socket-activate"
    path, unused = tmp_path / "activated.sock", tmp_path / "unused.sock"
    command = [activate, "-l", os.fspath(path), sys.executable, "-m", "gateway.relay"]
    command += ["--socket", os.fspath(unused), "--rule", "users=root;ops=status"]
    proc = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        assert "as 3" in proc.stderr.readline()  # "Listening on <path> as 3."
        with Client(path) as client:
            status = client.status()
        socket_info = status["relay"]["socket"]  # type: ignore[index]
        assert socket_info == {"path": os.fspath(path), "activated": True, "fd": 3}
        assert not unused.exists()
        proc.terminate()
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()


UNPRIVILEGED_CLIENT = """
import json, sys
from gateway.client import Client, RelayError
out = {}
with Client(sys.argv[1]) as client:
    out["status"] = sorted(client.status())
    for origin in ("shop.example", "public.example"):
        try:
            client.get(origin, timeout=0.3)
        except RelayError as exc:
            out[origin] = exc.code.value
print(json.dumps(out))
"""


def test_other_uid_is_refused_origins_it_may_not_see(tmp_path: Path) -> None:
    """A client running as nobody gets status and its own origin, but not root's origins."""
    public = Path(tempfile.mkdtemp(prefix="relay-uid-"))  # pytest's tmp dirs are 0700
    public.chmod(0o711)
    rules = [*ROOT_RULES, parse_rule("users=nobody;ops=status,get;origins=public.example")]

    async def scenario() -> None:
        async with relay(public / "g.sock", rules=rules, group=65534) as server:
            with structlog.testing.capture_logs() as events:
                proc = await asyncio.create_subprocess_exec(
                    "setpriv",
                    "--reuid=65534",
                    "--regid=65534",
                    "--clear-groups",
                    sys.executable,
                    "-c",
                    UNPRIVILEGED_CLIENT,
                    os.fspath(public / "g.sock"),
                    stdout=subprocess.PIPE,
                    env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
                )
                stdout, _ = await proc.communicate()
            assert proc.returncode == 0
            out = json.loads(stdout)
            assert out == {
                "status": ["modems", "queue_depth", "relay"],
                "shop.example": "forbidden",
                "public.example": "timeout",
            }
            assert server.access.denials == {"get": 1}
            denial = next(e for e in events if e["event"] == "relay.denied")
            assert (denial["uid"], denial["user"], denial["origin"]) == (
                65534,
                "nobody",
                "shop.example",
            )

    try:
        run(scenario())
    finally:
        shutil.rmtree(public)


def test_close_does_not_hang_on_a_consumer_that_never_reads(tmp_path: Path) -> None:
    """Shutdown flushes for at most drain_timeout, then cuts off a stuck reader."""

    async def scenario() -> None:
        server_cm = relay(
            tmp_path / "g.sock", write_high_water=4096, write_hard_limit=2**30, drain_timeout=0.3
        )
        server = await server_cm.__aenter__()
        stuck = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stuck.connect(os.fspath(server.config.path))
        stuck.sendall(b'{"id":1,"op":"subscribe"}\n')
        probe = await Raw.open(server.config.path)
        await probe.sync()
        assert server.broker.subscriptions == 1
        for number in range(5000):
            server.offer(record(f"{number:06d}", origin="bank.example"))
        await probe.close()
        await server_cm.__aexit__(None, None, None)
        assert server.counters["connections_total"] == 2
        assert await asyncio.to_thread(_hangup, stuck, 5.0)
        stuck.close()

    run(scenario())


def test_on_claim_reports_every_code_handed_to_a_get(tmp_path: Path) -> None:
    """The daemon hears of codes taken by a waiting get and from the grace window alike."""
    claimed: list[object] = []

    async def scenario() -> None:
        async with relay(tmp_path / "g.sock", grace=60.0, on_claim=claimed.append) as server:
            raw = await Raw.open(server.config.path)
            raw.write({"id": 1, "op": "get", "origin": "shop.example"})
            await raw.sync()
            assert server.offer(record("1", origin="shop.example")) is True
            assert server.offer(record("2", origin="bank.example")) is False  # kept for grace
            raw.write({"id": 2, "op": "get", "origin": "bank.example"})
            assert (await raw.reply(2))["result"]["code"] == "2"
            await raw.close()

    run(scenario())
    assert [getattr(r, "code", None) for r in claimed] == ["1", "2"]


class BrokenStatus:
    """A StatusPort whose snapshot fails, as a buggy daemon part might."""

    async def refresh(self) -> None:
        """Nothing to bring up to date."""

    def snapshot(self) -> dict[str, object]:
        """Fail with a message holding a bare code (it must not reach the log)."""
        raise RuntimeError("boom on 424242")


class BrokenSend(FakeSendPort):
    """A SendPort whose submit fails with a bug, not a RelayError."""

    async def submit(self, request: SendRequest) -> SendAccepted:
        """Fail with a message holding a bare code (it must not reach the log)."""
        raise KeyError("135790")


def _where(event: Mapping[str, Any], secret: str) -> str:
    """Return the logged frames of ``event`` as text; assert the secret is nowhere in it."""
    where = event["frames"]
    assert isinstance(where, list)
    assert where
    assert secret not in str(event)
    return "\n".join(where)


def test_a_failing_port_gives_unavailable_and_the_connection_survives(tmp_path: Path) -> None:
    """An exception inside a port is answered 'unavailable', logged with where it was raised."""

    async def scenario() -> None:
        async with relay(tmp_path / "g.sock", status=BrokenStatus()) as server:
            raw = await Raw.open(server.config.path)
            with capture() as events:
                raw.write({"id": 1, "op": "status"})
                assert (await raw.reply(1))["error"]["code"] == "unavailable"
            assert events[0]["event"] == "relay.internal_error"
            assert events[0]["error"] == "RuntimeError"
            assert "test_relay_server.py" in _where(events[0], "424242")
            assert _where(events[0], "424242").endswith("in snapshot")
            raw.write({"id": 2, "op": "get", "origin": "shop.example", "timeout": 0.05})
            assert (await raw.reply(2))["error"]["code"] == "timeout"
            await raw.close()

    run(scenario())


def test_a_failing_send_port_is_logged_with_its_traceback(tmp_path: Path) -> None:
    """A send port that raises a bug answers 'unavailable' and logs where, never the message."""

    async def scenario() -> None:
        async with relay(tmp_path / "g.sock", send=BrokenSend()) as server:
            raw = await Raw.open(server.config.path)
            with capture() as events:
                request = {"op": "send", "number": "+15550001111", "origin": "shop.example"}
                raw.write({"id": 1, **request})
                assert (await raw.reply(1))["error"]["code"] == "unavailable"
            (failed,) = [e for e in events if e["event"] == "relay.send_port_failed"]
            assert "in submit" in _where(failed, "135790")
            await raw.close()

    run(scenario())


def test_a_failing_claim_callback_is_logged_with_its_traceback(tmp_path: Path) -> None:
    """A daemon on_claim callback that raises still lets the get resolve; the bug is logged."""

    def broken(claimed: CodeRecord) -> None:
        raise ValueError(f"cannot journal {claimed.code}")

    async def scenario() -> None:
        async with relay(tmp_path / "g.sock", on_claim=broken) as server:
            raw = await Raw.open(server.config.path)
            raw.write({"id": 1, "op": "get", "origin": "shop.example"})
            await raw.sync()
            with capture() as events:
                server.offer(record("918273"))
            assert (await raw.reply(1))["result"]["code"] == "918273"
            (failed,) = [e for e in events if e["event"] == "relay.on_claim_failed"]
            assert "in broken" in _where(failed, "918273")
            await raw.close()

    run(scenario())


def test_replaced_access_applies_to_pending_gets_and_running_subscriptions(tmp_path: Path) -> None:
    """New rules end a now-forbidden get and filter a running subscription at each offer."""
    narrower = [parse_rule("users=root;ops=get,subscribe,status;origins=bank.example")]

    async def scenario() -> None:
        async with relay(tmp_path / "g.sock") as server:
            raw = await Raw.open(server.config.path)
            raw.write({"id": "sub", "op": "subscribe"})
            raw.write({"id": "shop", "op": "get", "origin": "shop.example"})
            raw.write({"id": "bank", "op": "get", "origin": "bank.example"})
            assert (await raw.reply("sub"))["result"] == {"subscribed": True}
            await raw.sync()
            with structlog.testing.capture_logs() as events:
                assert server.replace_access(AccessControl(narrower)) == 1
            assert (await raw.reply("shop"))["error"]["code"] == "forbidden"
            assert [e["event"] for e in events] == ["relay.revoked"]
            assert server.broker.pending == 1
            assert server.offer(record("111111", origin="shop.example")) is False
            assert server.offer(record("222222", origin="bank.example")) is True
            assert (await raw.reply("bank"))["result"]["code"] == "222222"
            assert (await raw.reply("sub"))["data"]["code"] == "222222"
            await raw.sync()
            assert raw.others == []  # the subscription never saw shop.example's code
            await raw.close()

    run(scenario())


def test_replaced_access_without_subscribe_ends_the_subscription(tmp_path: Path) -> None:
    """A subscription whose peer lost the subscribe permission ends with 'forbidden'."""
    status_only = [parse_rule("users=root;ops=status")]

    async def scenario() -> None:
        async with relay(tmp_path / "g.sock") as server:
            raw = await Raw.open(server.config.path)
            raw.write({"id": "sub", "op": "subscribe"})
            assert (await raw.reply("sub"))["result"] == {"subscribed": True}
            assert server.replace_access(AccessControl(status_only)) == 1
            assert (await raw.reply("sub"))["error"]["code"] == "forbidden"
            assert server.broker.subscriptions == 0
            server.offer(record("333333"))
            await raw.sync()
            assert raw.others == []
            await raw.close()

    run(scenario())


def test_connections_over_the_limit_are_refused_and_the_listener_keeps_serving(
    tmp_path: Path,
) -> None:
    """Past max_connections a client gets 'unavailable' and EOF; a freed slot admits again."""

    async def scenario() -> None:
        async with relay(tmp_path / "g.sock", max_connections=2) as server:
            first, second = await Raw.open(server.config.path), await Raw.open(server.config.path)
            with structlog.testing.capture_logs() as events:
                refused = await Raw.open(server.config.path)  # its first line is the refusal
            assert refused.greeting["id"] is None
            assert refused.greeting["error"]["code"] == "unavailable"
            assert "too many connections" in refused.greeting["error"]["message"]
            with pytest.raises(EOFError):
                await refused.read()
            assert [e["event"] for e in events] == ["relay.too_many_connections"]
            with pytest.raises(Unavailable, match="too many connections"):
                await asyncio.to_thread(Client, server.config.path)
            with pytest.raises(Unavailable, match="too many connections"):
                await AsyncClient(server.config.path).connect()
            await second.sync()  # the admitted ones are served as before
            await first.close()
            await server.wait_until(lambda s: s.connections == 1)
            third = await Raw.open(server.config.path)
            assert third.greeting["hello"] == "otp-gateway"
            third.write({"id": 1, "op": "status"})
            relay_status = (await third.reply(1))["result"]["relay"]
            assert relay_status["connections"] == 2
            assert relay_status["counters"]["connections_refused"] == 3
            await asyncio.gather(second.close(), third.close(), refused.close())

    run(scenario())
