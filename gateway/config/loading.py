"""Loading the configuration: one TOML file read into the frozen dataclasses of the schema.

The dataclasses live in :mod:`gateway.config.schema`. :func:`load` reads the file
(default ``/etc/otp-gateway/gateway.toml``); :func:`parse` turns an already-parsed TOML
document into a :class:`Config` (pure; :func:`load` also checks that no two modems
resolve to one device). Every field name is the TOML
key it comes from (``config/gateway.toml`` documents each one; a test keeps them in sync).
Durations are seconds or strings with a unit (``"10min"``). Unknown keys are errors; any
error is one :class:`ConfigError` naming the dotted key, e.g.
``modem[0].baudrate: expected an integer, got "fast"``.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType

from gateway.config.errors import ConfigError
from gateway.config.schema import (
    LEVELS,
    PROFILES,
    AccessRule,
    Config,
    JournalSettings,
    LogSettings,
    ModemSettings,
    RateLimitSettings,
    ReceiveSettings,
    RelaySettings,
    SendSettings,
    same_device,
)
from gateway.config.tables import (
    Table,
    to_memory,
    to_mode,
    to_number_type,
    to_operation,
    to_path,
    to_pin,
    to_rate,
    to_region,
    to_sender,
)
from gateway.numbers import DEFAULT_NUMBER_TYPES
from gateway.ratelimit import Rate
from gateway.webotp import (
    AllowList,
    FormatError,
    InputError,
    normalise_host,
)

DEFAULT_PATH = Path("/etc/otp-gateway/gateway.toml")


def load(path: Path = DEFAULT_PATH) -> Config:
    """Read and parse the TOML file at ``path``.

    Returns the :class:`Config`; raises :class:`ConfigError` (unreadable file, invalid
    TOML, or any invalid key, named by its dotted path).
    """
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(str(path), f"cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(str(path), f"not UTF-8 text: {exc.reason}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), f"invalid TOML: {exc}") from exc
    config = parse(data)
    check_devices(config)
    return config


def check_devices(config: Config, resolve: Callable[[str], str] = os.path.realpath) -> None:
    """Refuse two ``[[modem]]`` whose devices resolve to one path (a symlink and its target).

    :func:`load` calls it; ``resolve`` follows symbolic links (``/dev/serial/by-id/...``).
    Returns nothing; raises :class:`ConfigError` naming ``modem[i].device``.
    """
    same_device(tuple(resolve(modem.device) for modem in config.modem))


def parse(data: Mapping[str, object]) -> Config:
    """Turn a parsed TOML document into a :class:`Config`; raises :class:`ConfigError`."""
    top = Table(data, "")
    modems = tuple(_modem(t, i) for i, t in enumerate(top.tables("modem")))
    sections = {
        "receive": _receive(top.table("receive")),
        "send": _send(top.table("send")),
        "ratelimit": _ratelimit(top.table("ratelimit")),
        "relay": _relay(top.table("relay")),
        "journal": _journal(top.table("journal")),
        "log": _log(top.table("log")),
    }
    return top.build(Config, modem=modems, **sections)


def _modem(t: Table, index: int) -> ModemSettings:
    pin = t.get("pin", None, to_pin)
    pin_file = t.get("pin_file", None, to_path)
    return t.build(
        ModemSettings,
        name=t.text("name", f"modem{index}"),
        device=t.text("device", None),
        baudrate=t.integer("baudrate", 115200, low=300, high=4_000_000),
        pin=pin,
        pin_file=pin_file,
        pin_credential=t.optional_text("pin_credential"),
        flow_control=t.text("flow_control", "none", choices=("none", "rtscts", "xonxoff")),
        profile=t.text("profile", "auto", choices=PROFILES),
        command_timeout=t.duration("command_timeout", 10.0, minimum=0.1),
        send_timeout=t.duration("send_timeout", 60.0, minimum=1.0),
        health_interval=t.duration("health_interval", 30.0, minimum=1.0),
        not_ready_limit=t.duration("not_ready_limit", 300.0, minimum=1.0),
        storage=t.strings("storage", ("SM", "ME"), to_memory),
    )


def _receive(t: Table) -> ReceiveSettings:
    origins = t.strings("allowed_origins", ())
    try:
        allowed = AllowList.from_entries(origins).entries
    except InputError as exc:
        raise ConfigError(t.key("allowed_origins"), f"{exc.key}: {exc.problem}") from None
    senders_table = t.table("senders")
    senders = {}
    for origin in list(senders_table.raw_keys()):
        host = _host_key(senders_table, origin)
        senders[host] = senders_table.strings(origin, (), to_sender)
    senders_table.done()
    return t.build(
        ReceiveSettings,
        parse_mode=t.text("parse_mode", "strict", choices=("strict", "chromium")),
        sweep_interval=t.duration("sweep_interval", 60.0, minimum=1.0),
        multipart_timeout=t.duration("multipart_timeout", 300.0, minimum=1.0),
        code_expiry=t.duration("code_expiry", 600.0, minimum=10.0),
        grace_window=t.duration("grace_window", 0.0),
        clock_skew=t.duration("clock_skew", 30.0),
        allowed_origins=allowed,
        senders=MappingProxyType(senders),
    )


def _send(t: Table) -> SendSettings:
    return t.build(
        SendSettings,
        template=t.text("template", "Your code is {code}."),
        code_length=t.integer("code_length", 6, low=4, high=12),
        code_alphabet=t.text("code_alphabet", "0123456789"),
        multi_segment=t.text("multi_segment", "refuse", choices=("refuse", "warn")),
        delivery_reports=t.flag("delivery_reports", False),
        report_window=t.duration("report_window", 86400.0, minimum=60.0),
        allowed_countries=t.strings("allowed_countries", (), to_region),
        valid_numbers_only=t.flag("valid_numbers_only", True),
        allowed_number_types=t.strings(
            "allowed_number_types", DEFAULT_NUMBER_TYPES, to_number_type
        ),
        default_region=t.get("default_region", None, _optional_region),
        max_attempts=t.integer("max_attempts", 3, low=1, high=20),
        backoff_initial=t.duration("backoff_initial", 5.0, minimum=0.1),
        backoff_max=t.duration("backoff_max", 60.0, minimum=0.1),
        # TS 23.040 §9.2.3.12.1: relative TP-VP spans 5 minutes to 63 weeks.
        validity=t.duration("validity", 600.0, minimum=300.0),
    )


def _optional_region(value: object) -> str | None:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {type(value).__name__}")
    return to_region(value.upper())


def _ratelimit(t: Table) -> RateLimitSettings:
    defaults = RateLimitSettings()
    return t.build(
        RateLimitSettings,
        per_number=tuple(map(Rate.parse, t.strings("per_number", (), to_rate)))
        if t.has("per_number")
        else defaults.per_number,
        per_origin=tuple(map(Rate.parse, t.strings("per_origin", (), to_rate)))
        if t.has("per_origin")
        else defaults.per_origin,
        global_per_minute=t.integer("global_per_minute", 30, low=0, high=100_000),
        global_per_day=t.integer("global_per_day", 200, low=0, high=1_000_000),
    )


def _relay(t: Table) -> RelaySettings:
    return t.build(
        RelaySettings,
        socket=t.get("socket", RelaySettings().socket, to_path),
        socket_mode=t.get("socket_mode", 0o660, to_mode),
        group=t.optional_text("group"),
        max_line=t.integer("max_line", 65536, low=1024, high=16 * 1024 * 1024),
        max_pending_gets=t.integer("max_pending_gets", 16, low=1, high=10_000),
        max_connections=t.integer("max_connections", 1024, low=1, high=65_536),
        max_connections_per_uid=t.integer("max_connections_per_uid", 64, low=1, high=65_536),
        idle_timeout=t.duration("idle_timeout", 600.0),
        resume_window=t.duration("resume_window", 300.0),
        access=tuple(_access(rule) for rule in t.tables("access")),
    )


def _access(t: Table) -> AccessRule:
    origins = t.strings("origins", ())
    try:
        AllowList.from_entries(o for o in origins if o != "*")
    except InputError as exc:
        raise ConfigError(t.key("origins"), f"{exc.key}: {exc.problem}") from None
    return t.build(
        AccessRule,
        users=t.strings("users", ()),
        groups=t.strings("groups", ()),
        operations=t.strings("operations", (), to_operation),
        origins=origins,
    )


def _journal(t: Table) -> JournalSettings:
    return t.build(
        JournalSettings,
        state_dir=t.get("state_dir", JournalSettings().state_dir, to_path),
        body_retention=t.duration("body_retention", 7 * 86400.0),
        code_retention=t.duration("code_retention", 86400.0),
        record_retention=t.duration("record_retention", 30 * 86400.0),
    )


def _log(t: Table) -> LogSettings:
    return t.build(
        LogSettings,
        level=t.text("level", "info", choices=LEVELS),
        format=t.text("format", "json", choices=("json", "console")),
        debug_secrets=t.flag("debug_secrets", False),
    )


def _host_key(t: Table, origin: str) -> str:
    try:
        return normalise_host(origin)
    except FormatError as exc:
        raise ConfigError(t.key(origin), f"not a host: {exc.message}") from None
