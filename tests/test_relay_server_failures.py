"""Tests for the relay server when a port or callback it calls raises."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from relay_helpers import FakeSendPort, Raw, record, relay, run

from gateway.log import capture
from gateway.relay.ports import CodeRecord, SendAccepted, SendRequest


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
            assert "test_relay_server_failures.py" in _where(events[0], "424242")
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
