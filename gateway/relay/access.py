"""Who may do what on the relay socket: peer identity and deny-by-default rules.

The server reads the peer's uid/gid/pid with ``SO_PEERCRED`` (socket(7)); this module
resolves the user's name and groups (primary + supplementary, via ``pwd``/``grp``/
``os.getgrouplist``; injectable for tests) and matches them against rules mapping users
and groups to operations and origins. Nothing is allowed unless a rule allows it.
Origins are matched with :class:`gateway.webotp.AllowList` (exact hosts, ``*.domain``
for subdomains); ``*`` alone admits every origin.

A peer's name and groups are resolved when it connects and again at each reload
(SIGHUP, :meth:`gateway.relay.server.RelayServer.replace_access`), never in between:
a group membership added or removed is seen by open connections at the next reload,
by new connections at once. The gid ``SO_PEERCRED`` reported at connect (the peer
process's own group then) always counts.
"""

from __future__ import annotations

import collections
import enum
import grp
import os
import pwd
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from gateway.errors import UsageError
from gateway.relay.errors import Forbidden
from gateway.relay.ports import CodeRecord
from gateway.webotp import AllowList


class Permission(enum.Enum):
    """An operation a rule can grant (``cancel`` needs none: it acts on one's own requests)."""

    GET = "get"
    SUBSCRIBE = "subscribe"
    SEND = "send"
    STATUS = "status"


@dataclass(frozen=True, slots=True, kw_only=True)
class Identity:
    """A user's name and group memberships, as the system resolves them."""

    user: str | None
    gids: frozenset[int]
    groups: frozenset[str]


@dataclass(frozen=True, slots=True, kw_only=True)
class Peer:
    """The process on the other end of a connection (``SO_PEERCRED``) and its identity."""

    uid: int
    gid: int
    pid: int
    user: str | None = None
    gids: frozenset[int] = frozenset()
    groups: frozenset[str] = frozenset()


class IdentityResolver(Protocol):
    """Resolves a uid (and the peer's gid) to a user name and groups."""

    def resolve(self, uid: int, gid: int) -> Identity:
        """Return the identity; unknown ids give ``user=None`` and just ``{gid}``."""
        ...


class SystemIdentity:
    """Resolves through the system databases (``pwd``, ``grp``, ``getgrouplist``)."""

    def resolve(self, uid: int, gid: int) -> Identity:
        """Return the user's name, primary and supplementary groups (and the peer's gid)."""
        gids = {gid}
        try:
            entry = pwd.getpwuid(uid)
            user: str | None = entry.pw_name
            gids.update(os.getgrouplist(entry.pw_name, entry.pw_gid))
        except (KeyError, OSError):  # unknown uid, or NSS failing: judge by the numbers only
            user = None
        names = set()
        for one in gids:
            try:
                names.add(grp.getgrgid(one).gr_name)
            except KeyError:
                continue
        return Identity(user=user, gids=frozenset(gids), groups=frozenset(names))


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """Users and groups (names, decimal ids, or ``*`` for anyone) granted operations.

    ``origins`` limits ``get``/``subscribe``/``send``; ``any_origin`` lifts the limit.
    """

    users: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()
    operations: frozenset[Permission]
    origins: AllowList = field(default_factory=AllowList)
    any_origin: bool = False

    def __post_init__(self) -> None:
        if not self.users and not self.groups:
            raise ValueError("a rule must name at least one user or group")
        if not self.operations:
            raise ValueError("a rule must grant at least one operation")

    def applies_to(self, peer: Peer) -> bool:
        """Return whether the rule names this peer's user or one of its groups."""
        if "*" in self.users or str(peer.uid) in self.users:
            return True
        if peer.user is not None and peer.user in self.users:
            return True
        if self.groups & peer.groups:
            return True
        return any(str(gid) in self.groups for gid in peer.gids | {peer.gid})

    def covers(self, origin: str, embedded_origin: str | None) -> bool:
        """Return whether both the origin and (when present) the embedded origin match."""
        return self.any_origin or self.origins.allows(origin, embedded_origin)


class AccessControl:
    """Deny-by-default decisions over a list of rules, with denial counters."""

    def __init__(self, rules: Sequence[Rule], *, resolver: IdentityResolver | None = None) -> None:
        self.rules = tuple(rules)
        self._resolver: IdentityResolver = resolver or SystemIdentity()
        self.denials: collections.Counter[str] = collections.Counter()

    def identify(self, uid: int, gid: int, pid: int) -> Peer:
        """Return the :class:`Peer` for credentials read from ``SO_PEERCRED``."""
        ident = self._resolver.resolve(uid, gid)
        return Peer(
            uid=uid, gid=gid, pid=pid, user=ident.user, gids=ident.gids, groups=ident.groups
        )

    def allowed(
        self,
        peer: Peer,
        operation: Permission,
        origin: str | None = None,
        embedded_origin: str | None = None,
    ) -> bool:
        """Return whether some rule grants ``operation`` (for ``origin``) to ``peer``."""
        for rule in self._granting(peer, operation):
            if origin is None or rule.covers(origin, embedded_origin):
                return True
        return False

    def check(
        self,
        peer: Peer,
        operation: Permission,
        origin: str | None = None,
        embedded_origin: str | None = None,
    ) -> None:
        """Allow or refuse; a refusal is counted per operation.

        Raises :class:`Forbidden` when no rule grants it.
        """
        if not self.allowed(peer, operation, origin, embedded_origin):
            self.denials[operation.value] += 1
            target = "" if origin is None else " for this origin"
            who = peer.user or f"uid {peer.uid}"
            raise Forbidden(
                f"{operation.value} is not allowed for this peer{target}: no [[relay.access]]"
                f" rule grants {operation.value} to {who} or its groups"
                + ("" if origin is None else f" for {origin}")
            )

    def may_see(self, peer: Peer, record: CodeRecord) -> bool:
        """Return whether a subscription of ``peer`` may see the code ``record`` now.

        Asked at every offer (never frozen at subscribe time), so a reload that narrows
        the rules takes effect on running subscriptions at once.
        """
        return self.allowed(peer, Permission.SUBSCRIBE, record.origin, record.embedded_origin)

    def _granting(self, peer: Peer, operation: Permission) -> Iterable[Rule]:
        return (r for r in self.rules if operation in r.operations and r.applies_to(peer))


def _split(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def build_rule(
    *,
    users: Iterable[str] = (),
    groups: Iterable[str] = (),
    operations: Iterable[str],
    origins: Iterable[str] = (),
) -> Rule:
    """Build a rule from plain strings (a ``[[relay.access]]`` table, a command line).

    ``origins`` are allow-list entries; ``"*"`` admits every origin. Returns the
    :class:`Rule`; raises :class:`UsageError` naming the problem.
    """
    entries = list(origins)
    try:
        return Rule(
            users=frozenset(users),
            groups=frozenset(groups),
            operations=frozenset(Permission(op) for op in operations),
            origins=AllowList.from_entries(o for o in entries if o != "*"),
            any_origin="*" in entries,
        )
    except (ValueError, UsageError) as exc:
        raise UsageError(f"access rule: {exc}") from exc


def parse_rule(spec: str) -> Rule:
    """Parse ``users=a,b;groups=g;ops=get,status;origins=*.example.com`` into a rule.

    Returns the :class:`Rule`; raises :class:`UsageError` naming the problem.
    """
    parts: dict[str, list[str]] = {}
    for chunk in filter(None, (c.strip() for c in spec.split(";"))):
        key, sep, value = chunk.partition("=")
        if not sep or key.strip() not in {"users", "groups", "ops", "origins"}:
            raise UsageError(f"rule {spec!r}: expected users=|groups=|ops=|origins=, got {chunk!r}")
        parts[key.strip()] = _split(value)
    try:
        return build_rule(
            users=parts.get("users", []),
            groups=parts.get("groups", []),
            operations=parts.get("ops", []),
            origins=parts.get("origins", []),
        )
    except UsageError as exc:
        raise UsageError(f"rule {spec!r}: {exc}") from exc
