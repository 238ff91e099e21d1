"""Tests for the relay server's per-peer access rules, over real sockets under tmp_path."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import structlog
from relay_helpers import ROOT_RULES, Raw, record, relay, run

from gateway.relay.access import AccessControl, parse_rule


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


def test_replaced_access_applies_to_pending_gets_and_running_subscriptions(tmp_path: Path) -> None:
    """New rules end a now-forbidden get and filter a running subscription at each offer."""
    narrower = [parse_rule("users=root;ops=get,subscribe,status;origins=bank.example")]

    async def scenario() -> None:
        async with relay(tmp_path / "g.sock") as server:
            raw = await Raw.open(server.config.path)
            raw.write({"id": "sub", "op": "subscribe"})
            raw.write({"id": "shop", "op": "get", "origin": "shop.example"})
            raw.write({"id": "bank", "op": "get", "origin": "bank.example"})
            assert (await raw.reply("sub"))["result"]["subscribed"] is True
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
            assert (await raw.reply("sub"))["result"]["subscribed"] is True
            assert server.replace_access(AccessControl(status_only)) == 1
            assert (await raw.reply("sub"))["error"]["code"] == "forbidden"
            assert server.broker.subscriptions == 0
            server.offer(record("333333"))
            await raw.sync()
            assert raw.others == []
            await raw.close()

    run(scenario())


def test_get_for_an_origin_never_offered_is_refused_at_once(tmp_path: Path) -> None:
    """A get whose origin the daemon refuses ends forbidden with its reason, nothing pending."""

    def refuses(origin: str, embedded_origin: str | None) -> str | None:
        return None if origin == "shop.example" else f"no codes for {origin} here"

    async def scenario() -> None:
        async with relay(tmp_path / "g.sock", refuses_origin=refuses) as server:
            raw = await Raw.open(server.config.path)
            raw.write({"id": 1, "op": "get", "origin": "bank.example", "timeout": 3600})
            error = (await raw.reply(1))["error"]
            assert error == {"code": "forbidden", "message": "no codes for bank.example here"}
            assert server.broker.pending == 0
            raw.write({"id": 2, "op": "get", "origin": "shop.example"})
            await raw.sync()
            server.offer(record("271828"))
            assert (await raw.reply(2))["result"]["code"] == "271828"
            await raw.close()

    run(scenario())
