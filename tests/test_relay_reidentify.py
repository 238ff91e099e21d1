"""A reload identifies every open connection's peer again, one lookup per user."""

from __future__ import annotations

import os
from pathlib import Path

from relay_helpers import Raw, relay, run

from gateway.relay.access import AccessControl, Identity, parse_rule


class Directory:
    """A group database the test edits; counts how often it is asked."""

    def __init__(self, groups: set[str]) -> None:
        self.groups = groups
        self.lookups = 0

    def resolve(self, uid: int, gid: int) -> Identity:
        """Return the test's current view of the user."""
        self.lookups += 1
        return Identity(user="shop", gids=frozenset({gid}), groups=frozenset(self.groups))


def test_reload_resolves_groups_again_once_per_user(tmp_path: Path) -> None:
    """After the group is removed, a reload ends the get it granted; three connections of
    one user cost one lookup."""
    directory = Directory({"buyers"})
    rules = [parse_rule("groups=buyers;ops=get,status;origins=shop.example")]

    async def scenario() -> None:
        async with relay(tmp_path / "g.sock") as server:
            server.replace_access(AccessControl(rules, resolver=directory))
            raws = [await Raw.open(server.config.path) for _ in range(3)]
            raws[0].write({"id": 1, "op": "get", "origin": "shop.example", "timeout": 30})
            for raw in raws:
                await raw.sync()
            assert server.broker.pending == 1
            assert [s.peer.groups for s in server._sessions.values()] == [frozenset({"buyers"})] * 3
            directory.groups = set()
            directory.lookups = 0
            assert server.replace_access(AccessControl(rules, resolver=directory)) == 1
            assert directory.lookups == 1
            assert (await raws[0].reply(1))["error"]["code"] == "forbidden"
            pids = {s.peer.pid for s in server._sessions.values()}
            assert pids == {os.getpid()}  # the connect-time pid is kept
            for raw in raws:
                await raw.close()

    run(scenario())
