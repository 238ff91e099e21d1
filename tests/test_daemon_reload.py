"""Tests for what a SIGHUP reload takes over and what waits for a restart."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from gateway.config import AccessRule, Config, ModemSettings, parse
from gateway.daemon.reload import reloaded

BASE = parse(
    {
        "modem": [{"name": "sim0", "device": "/dev/ttyUSB0"}],
        "receive": {"allowed_origins": ["shop.example"]},
    }
)
RULE = AccessRule(users=("alice",), operations=("get",), origins=("*",))


def test_receive_and_access_rules_are_taken_over() -> None:
    """New allow-lists and access rules apply at once; nothing is named for a restart."""
    new = replace(
        BASE,
        receive=replace(BASE.receive, allowed_origins=("bank.example",)),
        relay=replace(BASE.relay, access=(RULE,)),
    )
    merged, kept = reloaded(BASE, new)
    assert merged == new
    assert kept == []


def test_other_sections_are_kept_and_named() -> None:
    """Modem, relay socket and journal changes keep the running values and are named."""
    new: Config = replace(
        BASE,
        modem=(ModemSettings(name="sim1", device="/dev/ttyUSB1"),),
        relay=replace(BASE.relay, socket=Path("/run/other.sock"), access=(RULE,)),
        journal=replace(BASE.journal, state_dir=Path("/var/lib/other")),
    )
    merged, kept = reloaded(BASE, new)
    assert kept == ["modem", "journal", "relay"]
    assert merged.modem == BASE.modem
    assert merged.journal == BASE.journal
    assert merged.relay == replace(BASE.relay, access=(RULE,))
