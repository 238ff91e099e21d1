"""The gateway's configuration: one TOML file parsed into frozen dataclasses.

:func:`load` reads the file (default ``/etc/otp-gateway/gateway.toml``); :func:`parse`
turns an already-parsed TOML document into a :class:`Config`. Every field name is the TOML
key it comes from (``config/gateway.toml`` documents each one; a test keeps them in sync).
Durations are seconds or strings with a unit (``"10min"``). Unknown keys are errors; any
error is one :class:`ConfigError` naming the dotted key, e.g.
``modem[0].baudrate: expected an integer, got "fast"``.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Literal

from gateway.config_schema import (
    MEMORIES,
    OPERATIONS,
    ConfigError,
    Table,
    to_memory,
    to_mode,
    to_operation,
    to_path,
    to_pin,
    to_rate,
    to_region,
)
from gateway.log import Secret
from gateway.ratelimit import Rate
from gateway.webotp import (
    AllowList,
    FormatError,
    InputError,
    generate_code,
    normalise_host,
    render_template,
)

__all__ = ["DEFAULT_PATH", "MEMORIES", "OPERATIONS", "Config", "ConfigError", "load", "parse"]

DEFAULT_PATH = Path("/etc/otp-gateway/gateway.toml")
PROFILES = ("auto", "generic", "sim800", "e3372", "ec25")


@dataclass(frozen=True, slots=True, kw_only=True)
class ModemSettings:
    """One ``[[modem]]``: the port, how to talk to it, and the SIM PIN."""

    name: str
    device: str
    baudrate: int = 115200
    pin: Secret | None = None
    pin_file: Path | None = None
    flow_control: Literal["none", "rtscts", "xonxoff"] = "none"
    profile: str = "auto"
    command_timeout: float = 10.0
    send_timeout: float = 60.0
    health_interval: float = 30.0
    storage: tuple[str, ...] = ("SM", "ME")

    def __post_init__(self) -> None:
        if self.pin is not None and self.pin_file is not None:
            raise ConfigError("pin_file", "set pin or pin_file, not both")

    def resolve_pin(self) -> Secret | None:
        """Return the PIN, reading ``pin_file`` if set. Raises :class:`ConfigError`."""
        if self.pin_file is None:
            return self.pin
        try:
            pin = self.pin_file.read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"modem {self.name!r} pin_file", f"cannot read: {exc}") from exc
        if not pin.isdigit() or not 4 <= len(pin) <= 8:  # TS 31.101 §9.1: 4-8 digits
            raise ConfigError(f"modem {self.name!r} pin_file", "must hold a 4-8 digit PIN")
        return Secret(pin)


@dataclass(frozen=True, slots=True, kw_only=True)
class ReceiveSettings:
    """``[receive]``: parsing, sweeping, reassembly and which codes are accepted."""

    parse_mode: Literal["strict", "chromium"] = "strict"
    sweep_interval: float = 60.0
    multipart_timeout: float = 300.0
    code_expiry: float = 600.0
    grace_window: float = 5.0
    allowed_origins: tuple[str, ...] = ()
    senders: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        for origin in self.senders:
            if not self.allow_list().allows(origin):
                raise ConfigError(f'senders."{origin}"', "origin is not in allowed_origins")

    def allow_list(self) -> AllowList:
        """Return the origins codes are accepted for, as the WebOTP codec's allow-list."""
        return AllowList.from_entries(self.allowed_origins)


@dataclass(frozen=True, slots=True, kw_only=True)
class SendSettings:
    """``[send]``: composing outgoing OTP SMS and retrying them."""

    template: str = "Your code is {code}."
    code_length: int = 6
    code_alphabet: str = "0123456789"
    multi_segment: Literal["refuse", "warn"] = "refuse"
    delivery_reports: bool = False
    report_window: float = 86400.0
    allowed_countries: tuple[str, ...] = ()
    valid_numbers_only: bool = True
    max_attempts: int = 3
    backoff_initial: float = 5.0
    backoff_max: float = 60.0
    validity: float = 600.0

    def __post_init__(self) -> None:
        if self.backoff_initial > self.backoff_max:
            raise ConfigError("backoff_initial", "must not exceed backoff_max")


@dataclass(frozen=True, slots=True, kw_only=True)
class RateLimitSettings:
    """``[ratelimit]``: how many sends per number, per origin and per minute overall."""

    per_number: tuple[Rate, ...] = (Rate(count=3, period=600.0), Rate(count=10, period=86400.0))
    per_origin: tuple[Rate, ...] = (Rate(count=100, period=3600.0),)
    global_per_minute: int = 30  # 0: no global limit


@dataclass(frozen=True, slots=True, kw_only=True)
class AccessRule:
    """One ``[[relay.access]]``: these users/groups may do these operations for these origins."""

    users: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    operations: tuple[str, ...] = ()
    origins: tuple[str, ...] = ()  # allow-list entries; "*" means every origin

    def __post_init__(self) -> None:
        if not self.users and not self.groups:
            raise ConfigError("users", "a rule needs at least one user or group")
        if not self.operations:
            raise ConfigError("operations", "a rule needs at least one operation")


@dataclass(frozen=True, slots=True, kw_only=True)
class RelaySettings:
    """``[relay]``: the Unix socket and who may use it."""

    socket: Path = Path("/run/otp-gateway/gateway.sock")
    socket_mode: int = 0o660
    group: str | None = None
    max_line: int = 65536
    max_pending_gets: int = 16
    access: tuple[AccessRule, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class JournalSettings:
    """``[journal]``: where state lives and how long bodies and codes are kept."""

    state_dir: Path = Path("/var/lib/otp-gateway")
    body_retention: float = 7 * 86400.0
    code_retention: float = 86400.0


@dataclass(frozen=True, slots=True, kw_only=True)
class LogSettings:
    """``[log]``: level, format, and the explicit switch that lets secrets into logs."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["json", "console"] = "json"
    debug_secrets: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    """The whole configuration."""

    modem: tuple[ModemSettings, ...]
    receive: ReceiveSettings = ReceiveSettings()
    send: SendSettings = SendSettings()
    ratelimit: RateLimitSettings = RateLimitSettings()
    relay: RelaySettings = RelaySettings()
    journal: JournalSettings = JournalSettings()
    log: LogSettings = LogSettings()

    def __post_init__(self) -> None:
        if not self.modem:
            raise ConfigError("modem", "configure at least one [[modem]]")
        names = [m.name for m in self.modem]
        for i, name in enumerate(names):
            if name in names[:i]:
                raise ConfigError(f"modem[{i}].name", f"duplicate modem name {name!r}")


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
    return parse(data)


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
        flow_control=t.text("flow_control", "none", choices=("none", "rtscts", "xonxoff")),
        profile=t.text("profile", "auto", choices=PROFILES),
        command_timeout=t.duration("command_timeout", 10.0, minimum=0.1),
        send_timeout=t.duration("send_timeout", 60.0, minimum=1.0),
        health_interval=t.duration("health_interval", 30.0, minimum=1.0),
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
        senders[host] = senders_table.strings(origin, ())
    senders_table.done()
    return t.build(
        ReceiveSettings,
        parse_mode=t.text("parse_mode", "strict", choices=("strict", "chromium")),
        sweep_interval=t.duration("sweep_interval", 60.0, minimum=1.0),
        multipart_timeout=t.duration("multipart_timeout", 300.0, minimum=1.0),
        code_expiry=t.duration("code_expiry", 600.0, minimum=10.0),
        grace_window=t.duration("grace_window", 5.0),
        allowed_origins=allowed,
        senders=MappingProxyType(senders),
    )


def _send(t: Table) -> SendSettings:
    template = t.text("template", "Your code is {code}.")
    length = t.integer("code_length", 6, low=4, high=12)
    alphabet = t.text("code_alphabet", "0123456789")
    try:
        render_template(template, code="0" * length, origin="example.com")
    except InputError as exc:
        raise ConfigError(t.key("template"), exc.problem) from None
    try:
        generate_code(length, alphabet)
    except InputError as exc:
        raise ConfigError(t.key("code_alphabet"), exc.problem) from None
    return t.build(
        SendSettings,
        template=template,
        code_length=length,
        code_alphabet=alphabet,
        multi_segment=t.text("multi_segment", "refuse", choices=("refuse", "warn")),
        delivery_reports=t.flag("delivery_reports", False),
        report_window=t.duration("report_window", 86400.0, minimum=60.0),
        allowed_countries=t.strings("allowed_countries", (), to_region),
        valid_numbers_only=t.flag("valid_numbers_only", True),
        max_attempts=t.integer("max_attempts", 3, low=1, high=20),
        backoff_initial=t.duration("backoff_initial", 5.0, minimum=0.1),
        backoff_max=t.duration("backoff_max", 60.0, minimum=0.1),
        # TS 23.040 §9.2.3.12.1: relative TP-VP spans 5 minutes to 63 weeks.
        validity=t.duration("validity", 600.0, minimum=300.0),
    )


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
    )


def _relay(t: Table) -> RelaySettings:
    return t.build(
        RelaySettings,
        socket=t.get("socket", RelaySettings().socket, to_path),
        socket_mode=t.get("socket_mode", 0o660, to_mode),
        group=t.optional_text("group"),
        max_line=t.integer("max_line", 65536, low=1024, high=16 * 1024 * 1024),
        max_pending_gets=t.integer("max_pending_gets", 16, low=1, high=10_000),
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
    )


def _log(t: Table) -> LogSettings:
    return t.build(
        LogSettings,
        level=t.text("level", "info", choices=("debug", "info", "warning", "error")),
        format=t.text("format", "json", choices=("json", "console")),
        debug_secrets=t.flag("debug_secrets", False),
    )


def _host_key(t: Table, origin: str) -> str:
    try:
        return normalise_host(origin)
    except FormatError as exc:
        raise ConfigError(t.key(origin), f"not a host: {exc.message}") from None
