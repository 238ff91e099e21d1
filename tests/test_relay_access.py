"""Tests for relay access control: peer identity and deny-by-default rules."""

from __future__ import annotations

import datetime as dt
import os

import pytest

from gateway.errors import UsageError
from gateway.relay.access import (
    AccessControl,
    Identity,
    Peer,
    Permission,
    Rule,
    SystemIdentity,
    build_rule,
    parse_rule,
)
from gateway.relay.errors import Forbidden
from gateway.relay.ports import CodeRecord
from gateway.webotp import AllowList


class TableIdentity:
    """An in-test identity database: uid -> (name, supplementary group names)."""

    def __init__(self, table: dict[int, tuple[str, set[str]]]) -> None:
        self.table = table

    def resolve(self, uid: int, gid: int) -> Identity:
        name, groups = self.table.get(uid, (None, set()))
        return Identity(user=name, gids=frozenset({gid}), groups=frozenset(groups))


USERS = TableIdentity(
    {
        1000: ("shop", {"shop"}),
        1001: ("mailer", {"mailer", "otp-senders"}),
        1002: ("viewer", {"viewer"}),
    }
)
RULES = [
    parse_rule("users=shop;ops=get;origins=shop.example"),
    parse_rule("groups=otp-senders;ops=send;origins=*"),
    parse_rule("users=viewer,1003;ops=status,subscribe;origins=*.example.org"),
]


def control() -> AccessControl:
    return AccessControl(RULES, resolver=USERS)


def peer(uid: int) -> Peer:
    return control().identify(uid, uid, 4242)


@pytest.mark.parametrize(
    ("uid", "operation", "origin", "embedded", "allowed"),
    [
        (1000, Permission.GET, "shop.example", None, True),
        (1000, Permission.GET, "www.shop.example", None, False),
        (1000, Permission.GET, "shop.example", "bank.example", False),
        (1000, Permission.SEND, "shop.example", None, False),
        (1000, Permission.STATUS, None, None, False),
        (1001, Permission.SEND, "anything.example", None, True),
        (1001, Permission.GET, "shop.example", None, False),
        (1002, Permission.STATUS, None, None, True),
        (1002, Permission.SUBSCRIBE, None, None, True),
        (1003, Permission.STATUS, None, None, True),  # named by uid, unknown to the database
        (1004, Permission.STATUS, None, None, False),  # nobody named it: denied by default
    ],
)
def test_rules_grant_operations_and_origins(
    uid: int, operation: Permission, origin: str | None, embedded: str | None, allowed: bool
) -> None:
    """Only a rule naming the user (or a group of theirs) grants the operation and origin."""
    assert control().allowed(peer(uid), operation, origin, embedded) is allowed


def test_denials_are_counted_per_operation() -> None:
    """Each refusal raises Forbidden and increments the operation's denial counter."""
    access = control()
    shop = access.identify(1000, 1000, 1)
    with pytest.raises(Forbidden):
        access.check(shop, Permission.GET, "bank.example")
    with pytest.raises(Forbidden):
        access.check(shop, Permission.STATUS)
    access.check(shop, Permission.GET, "shop.example")
    assert access.denials == {"get": 1, "status": 1}


def test_subscription_filter_follows_subscribe_rules() -> None:
    """A subscriber sees codes only for origins its subscribe rules cover."""
    access = control()
    at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    ok = CodeRecord(origin="a.example.org", code="1", sender="x", received_at=at)
    other = CodeRecord(origin="example.org", code="1", sender="x", received_at=at)
    assert access.may_see(peer(1002), ok)
    assert not access.may_see(peer(1002), other)
    assert not access.may_see(peer(1000), ok)
    assert access.denials == {}  # filtering codes is not a refused request


def test_empty_rule_list_denies_everything() -> None:
    """With no rules nothing is allowed, not even status."""
    access = AccessControl([], resolver=USERS)
    assert not access.allowed(access.identify(0, 0, 1), Permission.STATUS)


def test_wildcard_user_rule_applies_to_everyone() -> None:
    """users=* grants the operation to any peer, known to the system or not."""
    access = AccessControl([parse_rule("users=*;ops=status")], resolver=USERS)
    assert access.allowed(access.identify(99999, 99999, 1), Permission.STATUS)


def test_rule_origins_use_the_webotp_allow_list() -> None:
    """Rule origins are a gateway.webotp AllowList; '*' alone admits any origin."""
    rule = parse_rule("users=a;ops=get;origins=*.Example.com,BÜCHER.example")
    assert rule.origins == AllowList.from_entries(["*.example.com", "xn--bcher-kva.example"])
    assert rule.covers("x.example.com", None)
    assert not rule.covers("example.com", None)
    assert parse_rule("users=a;ops=get;origins=*").covers("any.host", "other.host")


@pytest.mark.parametrize(
    "spec",
    [
        "ops=get",  # nobody named
        "users=a",  # no operation
        "users=a;ops=fly",
        "users=a;ops=get;origins=https://x.example",
        "users=a;ops=get;origins=*.com",
        "people=a;ops=get",
        "users=a;ops",
    ],
)
def test_bad_rule_specs_raise_usage_error(spec: str) -> None:
    """A malformed rule names itself in a UsageError."""
    with pytest.raises(UsageError, match="rule"):
        parse_rule(spec)


def test_rule_requires_someone_and_something() -> None:
    """A Rule with no users/groups or no operations cannot exist."""
    with pytest.raises(ValueError, match="user or group"):
        Rule(operations=frozenset({Permission.GET}))


def test_system_identity_resolves_real_accounts() -> None:
    """The system resolver finds root's name and group and nobody's supplementary groups."""
    resolver = SystemIdentity()
    root = resolver.resolve(0, 0)
    assert root.user == "root"
    assert "root" in root.groups
    assert 0 in root.gids
    nobody = resolver.resolve(65534, 65534)
    assert nobody.user is not None
    assert 65534 in nobody.gids
    assert set(os.getgrouplist(nobody.user, 65534)) <= nobody.gids


def test_system_identity_tolerates_unknown_ids() -> None:
    """An unknown uid resolves to no name and just the peer's gid."""
    ident = SystemIdentity().resolve(3_999_999, 3_999_999)
    assert ident == Identity(user=None, gids=frozenset({3_999_999}), groups=frozenset())


def test_build_rule_takes_config_tables() -> None:
    """A [[relay.access]] table's string lists build the same rule as the spec syntax."""
    from gateway.config import AccessRule

    table = AccessRule(users=("shop",), operations=("get", "status"), origins=("shop.example",))
    built = build_rule(
        users=table.users, groups=table.groups, operations=table.operations, origins=table.origins
    )
    assert built == parse_rule("users=shop;ops=get,status;origins=shop.example")
