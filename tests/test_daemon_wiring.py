"""Settings mapped to component configurations, and the status shapes (pure functions)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from gateway.cli.status_text import render_status
from gateway.config import (
    AccessRule,
    Config,
    ConfigError,
    ModemSettings,
    RateLimitSettings,
    parse,
)
from gateway.daemon import status, wiring
from gateway.log import Secret
from gateway.modem.status import ModemStatus, SessionState
from gateway.ratelimit import Rate
from gateway.relay.access import Peer, Permission


def test_session_config_maps_the_modem_table(tmp_path: Path) -> None:
    """Device, speed, flow control, timeouts, health interval and PIN reach the session."""
    pin_file = tmp_path / "pin"
    pin_file.write_text("4321\n", encoding="ascii")
    modem = ModemSettings(
        name="m",
        device="/dev/ttyUSB2",
        baudrate=9600,
        flow_control="rtscts",
        pin_file=pin_file,
        command_timeout=4.0,
        send_timeout=30.0,
        health_interval=15.0,
        storage=("ME", "SM"),
    )
    config = wiring.session_config(modem)
    assert (config.link.device, config.link.baudrate) == ("/dev/ttyUSB2", 9600)
    assert (config.link.rtscts, config.link.xonxoff) == (True, False)
    assert (config.timeouts.quick, config.timeouts.prompt, config.timeouts.body) == (4, 4, 30)
    assert config.health.interval == 15.0
    assert config.init.pin == "4321"
    assert config.init.storage == ("ME", "SM")


def test_session_config_unreadable_pin_file(tmp_path: Path) -> None:
    """A pin_file that cannot be read is a configuration error naming the modem."""
    modem = ModemSettings(name="m", device="/dev/x", pin_file=tmp_path / "absent")
    with pytest.raises(ConfigError, match="modem 'm' pin_file"):
        wiring.session_config(modem)


def test_access_rules_and_relay_config() -> None:
    """[[relay.access]] tables become deny-by-default rules; the grace window reaches the relay."""
    config = Config(
        modem=(ModemSettings(name="m", device="/dev/x", pin=Secret("1234")),),
    )
    rules = (AccessRule(users=("shop",), operations=("get",), origins=("shop.example",)),)
    config = Config(modem=config.modem, relay=type(config.relay)(access=rules))
    access = wiring.access_control(config)
    shop = Peer(uid=1000, gid=1000, pid=1, user="shop")
    assert access.allowed(shop, Permission.GET, "shop.example")
    assert not access.allowed(shop, Permission.GET, "bank.example")
    assert not access.allowed(shop, Permission.SEND, "shop.example")
    assert wiring.relay_config(config).grace == config.receive.grace_window
    assert wiring.relay_config(config).max_connections == 1024


def test_max_connections_reaches_the_relay() -> None:
    """[relay] max_connections is parsed, bounded and handed to the relay server."""
    base = {"modem": [{"name": "m", "device": "/dev/x"}]}
    config = parse({**base, "relay": {"max_connections": 64}})
    assert wiring.relay_config(config).max_connections == 64
    with pytest.raises(ConfigError, match="max_connections"):
        parse({**base, "relay": {"max_connections": 0}})


def test_per_uid_cap_and_idle_timeout_reach_the_relay() -> None:
    """[relay] max_connections_per_uid and idle_timeout are parsed, checked and handed on."""
    base = {"modem": [{"name": "m", "device": "/dev/x"}]}
    defaults = wiring.relay_config(parse(base))
    assert (defaults.max_connections_per_uid, defaults.idle_timeout) == (64, 600.0)
    config = parse({**base, "relay": {"max_connections_per_uid": 8, "idle_timeout": "90s"}})
    relay = wiring.relay_config(config)
    assert (relay.max_connections_per_uid, relay.idle_timeout) == (8, 90.0)
    assert wiring.relay_config(parse({**base, "relay": {"idle_timeout": 0}})).idle_timeout == 0
    with pytest.raises(ConfigError, match=r"relay\.max_connections_per_uid"):
        parse({**base, "relay": {"max_connections_per_uid": 0}})
    with pytest.raises(ConfigError, match=r"relay\.idle_timeout"):
        parse({**base, "relay": {"idle_timeout": "-5s"}})


def test_resume_window_and_clock_skew_are_parsed_checked_and_capped() -> None:
    """[relay] resume_window reaches the relay, never beyond [receive] code_expiry;
    [receive] clock_skew is parsed and bounded; both name their key when wrong."""
    base = {"modem": [{"name": "m", "device": "/dev/x"}]}
    defaults = parse(base)
    assert wiring.relay_config(defaults).resume_window == 300.0
    assert defaults.receive.clock_skew == 30.0
    config = parse({**base, "relay": {"resume_window": "20min"}, "receive": {"clock_skew": "10s"}})
    assert wiring.relay_config(config).resume_window == config.receive.code_expiry == 600.0
    assert config.receive.clock_skew == 10.0
    with pytest.raises(ConfigError, match=r"relay\.resume_window"):
        parse({**base, "relay": {"resume_window": "2h"}})
    with pytest.raises(ConfigError, match=r"receive\.clock_skew"):
        parse({**base, "receive": {"clock_skew": "-1s"}})


def test_history_horizon_covers_the_longest_limit() -> None:
    """The limiter replays as much history as its longest window."""
    limits = RateLimitSettings(
        per_number=(Rate(count=10, period=86400.0),), per_origin=(), global_per_day=0
    )
    assert wiring.history_horizon(limits) == 86400.0
    none = RateLimitSettings(per_number=(), per_origin=(), global_per_day=0)
    assert wiring.history_horizon(none) == 60.0
    # the daily cap (on by default) needs the last 24 hours
    assert wiring.history_horizon(RateLimitSettings(per_number=(), per_origin=())) == 86400.0


@pytest.mark.parametrize(
    ("rssi", "dbm"), [(0, -113), (20, -73), (31, -51), (99, None), (None, None)]
)
def test_signal_dbm(rssi: int | None, dbm: int | None) -> None:
    """+CSQ <rssi> is shown in dBm (TS 27.007 §8.5); 99 means unknown."""
    assert status.signal_dbm(rssi) == dbm


def test_status_line() -> None:
    """The STATUS= line names each modem's state (and signal when ready) and the queue."""
    modems = {
        "a": ModemStatus(state=SessionState.READY, device="/dev/a", signal=20),
        "b": ModemStatus(state=SessionState.RECONNECTING, device="/dev/b"),
    }
    assert status.status_line(modems, 3) == "a ready (-73 dBm), b reconnecting; queue 3"
    assert status.status_line({}, 0) == "no modem; queue 0"


def test_status_line_and_entry_of_a_send_only_modem() -> None:
    """A send-only modem says so in the STATUS= line and in its snapshot entry."""
    phone = ModemStatus(
        state=SessionState.READY,
        device="/dev/phone",
        dialect="nokia",
        receive_unavailable="the device offers no SMS storage over AT",
    )
    assert status.status_line({"phone": phone}, 0) == "phone ready send-only; queue 0"
    entry = status.modem_entry("phone", phone)
    assert entry["send_only"] is True
    assert entry["receive_unavailable"] == "the device offers no SMS storage over AT"
    assert entry["dialect"] == "nokia"
    ready = status.modem_entry("a", ModemStatus(state=SessionState.READY, device="/dev/a"))
    assert ready["send_only"] is False
    assert ready["receive_unavailable"] is None


def degraded_snapshot(journal: dict[str, object] | None) -> dict[str, object]:
    """Return a snapshot with no modem and the given journal section."""
    return status.snapshot(
        modems={},
        receive={},
        send={},
        queue=0,
        counters={},
        uptime=1.0,
        version="9",
        journal=journal,
    )


def test_snapshot_lists_a_degraded_journal_with_its_reason() -> None:
    """A degraded journal is a journal-degraded condition, shown with its reason and retry."""
    reason = "journal /s/journal.sqlite3: commit failed: database or disk is full"
    journal: dict[str, object] = {
        "state": "degraded",
        "reason": reason,
        "retry_at": time.time() + 30,
    }
    snapshot = degraded_snapshot(journal)
    assert snapshot["conditions"] == [
        {"subject": "journal", "code": "journal-degraded", "reason": reason}
    ]
    assert snapshot["journal"] == journal
    text = render_status(snapshot)
    assert f"journal:     DEGRADED: {reason}; next retry in 0m" in text


def test_snapshot_of_a_healthy_journal_is_not_degraded() -> None:
    """A journal in state ok adds no condition."""
    snapshot = degraded_snapshot({"state": "ok", "reason": None})
    assert snapshot["conditions"] == []
    assert "journal:     ok" in render_status(snapshot)
    assert degraded_snapshot(None)["conditions"] == []
