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


def test_subscribe_for_an_origin_the_peer_may_not_see_is_refused_as_its_get_is(
    tmp_path: Path,
) -> None:
    """A subscribe naming an origin no rule grants ends forbidden at once, in the get's words."""

    async def scenario() -> None:
        async with relay(tmp_path / "g.sock") as server:
            raw = await Raw.open(server.config.path)
            with structlog.testing.capture_logs() as events:
                raw.write({"id": "g", "op": "get", "origin": "evil.example"})
                raw.write({"id": "s", "op": "subscribe", "origin": "evil.example"})
                raw.write(
                    {
                        "id": "e",
                        "op": "subscribe",
                        "origin": "shop.example",
                        "embedded_origin": "evil.example",
                    }
                )
                get_error = (await raw.reply("g"))["error"]
                sub_error = (await raw.reply("s"))["error"]
                embedded_error = (await raw.reply("e"))["error"]
            assert sub_error == {
                "code": "forbidden",
                "message": get_error["message"].replace("get", "subscribe"),
            }
            assert sub_error["message"].startswith(
                "subscribe is not allowed for this peer for this origin: no [[relay.access]]"
            )
            assert sub_error["message"].endswith(" for evil.example")
            assert embedded_error["code"] == "forbidden"
            assert server.broker.subscriptions == 0
            assert server.access.denials == {"get": 1, "subscribe": 2}
            denied = [e for e in events if e["event"] == "relay.denied" and e["op"] == "subscribe"]
            assert [(e["origin"], e["embedded_origin"]) for e in denied] == [
                ("evil.example", None),
                ("shop.example", "evil.example"),
            ]
            await raw.close()

    run(scenario())


def test_subscribe_for_an_origin_never_offered_is_refused_with_the_gets_reason(
    tmp_path: Path,
) -> None:
    """A subscribe naming a pair the daemon never relays ends forbidden with the get's reason."""

    def refuses(origin: str, embedded_origin: str | None) -> str | None:
        for host in (origin, embedded_origin):
            if host not in (None, "shop.example"):
                return f"no codes for {host} here"
        return None

    async def scenario() -> None:
        async with relay(tmp_path / "g.sock", refuses_origin=refuses) as server:
            raw = await Raw.open(server.config.path)
            for rid, origin, embedded in (
                (1, "bank.example", None),
                (2, "shop.example", "bank.example"),
            ):
                raw.write({"id": f"g{rid}", "op": "get", "origin": origin,
                           "embedded_origin": embedded, "timeout": 3600})  # fmt: skip
                raw.write({"id": f"s{rid}", "op": "subscribe", "origin": origin,
                           "embedded_origin": embedded})  # fmt: skip
                get_error = (await raw.reply(f"g{rid}"))["error"]
                assert (await raw.reply(f"s{rid}"))["error"] == get_error
                assert get_error == {
                    "code": "forbidden",
                    "message": "no codes for bank.example here",
                }
            assert (server.broker.subscriptions, server.broker.pending) == (0, 0)
            raw.write({"id": "plain", "op": "subscribe"})  # no origin: as before, not asked
            assert (await raw.reply("plain"))["result"]["subscribed"] is True
            await raw.close()

    run(scenario())


def test_subscribe_for_an_origin_streams_only_its_codes(tmp_path: Path) -> None:
    """A subscription naming a pair gets only that pair's codes; a plain one still gets all."""

    async def scenario() -> None:
        async with relay(tmp_path / "g.sock") as server:
            raw = await Raw.open(server.config.path)
            raw.write({"id": "shop", "op": "subscribe", "origin": "SHOP.example"})
            raw.write({"id": "all", "op": "subscribe"})
            assert (await raw.reply("shop"))["result"]["subscribed"] is True
            assert (await raw.reply("all"))["result"]["subscribed"] is True
            server.offer(record("111111", origin="bank.example"))
            server.offer(record("222222", origin="shop.example", embedded="bank.example"))
            server.offer(record("333333", origin="shop.example"))
            plain = [(await raw.reply("all"))["data"]["code"] for _ in range(3)]
            assert plain == ["111111", "222222", "333333"]
            event = await raw.reply("shop")
            assert (event["event"], event["data"]["code"]) == ("code", "333333")
            await raw.sync()
            assert raw.others == []  # nothing else for the narrowed subscription
            await raw.close()

    run(scenario())


def test_subscribe_for_an_origin_resumed_after_a_cursor_replays_only_its_codes(
    tmp_path: Path,
) -> None:
    """Resuming a narrowed subscription with after replays that pair's later codes only."""

    async def scenario() -> None:
        async with relay(tmp_path / "g.sock", resume_window=300.0) as server:
            for number, origin in enumerate(
                ("shop.example", "bank.example", "shop.example", "bank.example"), start=1
            ):
                server.offer(record(f"{number}" * 6, origin=origin, record_id=number))
            raw = await Raw.open(server.config.path)
            raw.write({"id": "s", "op": "subscribe", "origin": "bank.example", "after": 2})
            assert (await raw.reply("s"))["result"] == {"subscribed": True, "cursor": 2}
            event = await raw.reply("s")
            assert (event["data"]["code"], event["data"]["cursor"]) == ("444444", 4)
            server.offer(record("555555", origin="shop.example", record_id=5))
            server.offer(record("666666", origin="bank.example", record_id=6))
            assert (await raw.reply("s"))["data"]["code"] == "666666"
            await raw.sync()
            assert raw.others == []
            await raw.close()

    run(scenario())


def test_replaced_access_ends_a_subscription_for_an_origin_no_longer_granted(
    tmp_path: Path,
) -> None:
    """New rules without the origin of a narrowed subscription end it forbidden; others stay."""
    narrower = [parse_rule("users=root;ops=get,subscribe,status;origins=bank.example")]

    async def scenario() -> None:
        async with relay(tmp_path / "g.sock") as server:
            raw = await Raw.open(server.config.path)
            raw.write({"id": "shop", "op": "subscribe", "origin": "shop.example"})
            raw.write({"id": "bank", "op": "subscribe", "origin": "bank.example"})
            raw.write({"id": "all", "op": "subscribe"})
            for rid in ("shop", "bank", "all"):
                assert (await raw.reply(rid))["result"]["subscribed"] is True
            assert server.replace_access(AccessControl(narrower)) == 1
            assert (await raw.reply("shop"))["error"] == {
                "code": "forbidden",
                "message": "subscribe is no longer allowed for this peer and origin",
            }
            assert server.broker.subscriptions == 2
            server.offer(record("777777", origin="bank.example"))
            assert (await raw.reply("bank"))["data"]["code"] == "777777"
            assert (await raw.reply("all"))["data"]["code"] == "777777"
            await raw.close()

    run(scenario())
