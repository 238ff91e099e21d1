"""The configuration's schema: one frozen dataclass per TOML table.

Each field name is the TOML key it is read from (``gateway.config`` does the reading;
``config/gateway.toml`` documents every key). The dataclasses validate themselves in
``__post_init__``, so an invalid settings value cannot exist even when built in code;
errors are :class:`ConfigError` with the field name, which the reader prefixes with the
table's path.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Literal

from gateway.config.errors import ConfigError
from gateway.config.tables import MEMORIES, OPERATIONS
from gateway.log import Secret
from gateway.numbers import DEFAULT_NUMBER_TYPES, NUMBER_TYPES, is_region
from gateway.ratelimit import Rate
from gateway.sms.address import SenderType, guess_sender_type, sender_matches
from gateway.webotp import AllowList, InputError, compose, generate_code

#: ``[[modem]] profile`` values: "auto" or a dialect of gateway.modem.dialects (a test keeps
#: the two in step; the literal keeps the modem package out of configuration loading)
PROFILES = (
    "auto",
    "generic",
    "sim800",
    "e3372",
    "huawei",
    "ec25",
    "wavecom",
    "zte",
    "qualcomm",
    "nokia",
)
LEVELS = ("debug", "info", "warning", "error")


def _require(ok: bool, key: str, problem: str) -> None:
    """Raise ConfigError(key, problem) unless ``ok``."""
    if not ok:
        raise ConfigError(key, problem)


def same_device(devices: tuple[str, ...]) -> None:
    """Raise ConfigError naming ``modem[i].device`` when two modems share one device path.

    ``devices`` are the modems' device paths in order, as compared (normalised or
    resolved by the caller). Two sessions on one serial port would garble each other.
    """
    for i, device in enumerate(devices):
        if device in devices[:i]:
            first = devices.index(device)
            raise ConfigError(f"modem[{i}].device", f"same device as modem[{first}] ({device})")


@dataclass(frozen=True, slots=True, kw_only=True)
class ModemSettings:
    """One ``[[modem]]``: the port, how to talk to it, and the SIM PIN."""

    name: str
    device: str
    baudrate: int = 115200
    pin: Secret | None = None
    pin_file: Path | None = None
    pin_credential: str | None = None  # a systemd credential (LoadCredential=) holding it
    flow_control: Literal["none", "rtscts", "xonxoff"] = "none"
    profile: str = "auto"
    command_timeout: float = 10.0
    send_timeout: float = 60.0
    health_interval: float = 30.0
    not_ready_limit: float = 300.0
    storage: tuple[str, ...] = ("SM", "ME")

    def __post_init__(self) -> None:
        _require(bool(self.name), "name", "must not be empty")
        _require(bool(self.device), "device", "must not be empty")
        _require(self.baudrate > 0, "baudrate", "must be positive")
        _require(self.pin is None or isinstance(self.pin, Secret), "pin", "must be a Secret")
        _require(
            self.pin is None or self.pin_file is None, "pin_file", "set pin or pin_file, not both"
        )
        _require(
            self.pin_credential is None or (self.pin is None and self.pin_file is None),
            "pin_credential",
            "set one of pin, pin_file and pin_credential",
        )
        _require(
            self.pin_credential is None
            or (
                bool(self.pin_credential)
                and "/" not in self.pin_credential
                and self.pin_credential not in (".", "..")
            ),
            "pin_credential",
            "expected a credential name (as in LoadCredential=NAME:PATH), not a path",
        )
        _require(
            self.flow_control in ("none", "rtscts", "xonxoff"),
            "flow_control",
            "expected none, rtscts or xonxoff",
        )
        _require(self.profile in PROFILES, "profile", f"expected one of {', '.join(PROFILES)}")
        for name in ("command_timeout", "send_timeout", "health_interval", "not_ready_limit"):
            _require(getattr(self, name) > 0, name, "must be positive")
        _require(
            bool(self.storage) and set(self.storage) <= set(MEMORIES),
            "storage",
            f"expected memories among {', '.join(MEMORIES)}",
        )

    def resolve_pin(self, environ: Mapping[str, str] | None = None) -> Secret | None:
        """Return the PIN: inline, from ``pin_file``, or from the systemd credential.

        A credential is read from ``$CREDENTIALS_DIRECTORY`` (``environ``, default
        ``os.environ``), which systemd sets for ``LoadCredential=``. Raises
        :class:`ConfigError` when the file cannot be read or holds no 4-8 digit PIN.
        """
        if self.pin_credential is not None:
            env = os.environ if environ is None else environ
            key = f"modem {self.name!r} pin_credential"
            directory = env.get("CREDENTIALS_DIRECTORY")
            if not directory:
                raise ConfigError(
                    key,
                    "$CREDENTIALS_DIRECTORY is not set: the unit needs "
                    f"LoadCredential={self.pin_credential}:/path/to/the/pin/file",
                )
            return _read_pin(Path(directory) / self.pin_credential, key)
        if self.pin_file is None:
            return self.pin
        return _read_pin(self.pin_file, f"modem {self.name!r} pin_file")


def _read_pin(path: Path, key: str) -> Secret:
    """Return the PIN held in ``path`` (whitespace around it ignored); raises ConfigError."""
    try:
        pin = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(key, f"cannot read: {exc}") from exc
    if not pin.isdigit() or not 4 <= len(pin) <= 8:  # TS 31.101 §9.1: 4-8 digits
        raise ConfigError(key, "must hold a 4-8 digit PIN")
    return Secret(pin)


@dataclass(frozen=True, slots=True, kw_only=True)
class ReceiveSettings:
    """``[receive]``: parsing, sweeping, reassembly and which codes are accepted."""

    parse_mode: Literal["strict", "chromium"] = "strict"
    sweep_interval: float = 60.0
    multipart_timeout: float = 300.0
    code_expiry: float = 600.0
    # 0: only codes that arrive after the request (WebOTP's rule); opt in to a few seconds
    grace_window: float = 0.0
    clock_skew: float = 30.0  # how far the SMSC's clock may lag ours (late-read arrival times)
    allowed_origins: tuple[str, ...] = ()
    senders: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        _require(
            self.parse_mode in ("strict", "chromium"), "parse_mode", "expected strict or chromium"
        )
        for name in ("sweep_interval", "multipart_timeout", "code_expiry"):
            _require(getattr(self, name) > 0, name, "must be positive")
        _require(self.grace_window >= 0, "grace_window", "must not be negative")
        _require(0 <= self.clock_skew <= 3600, "clock_skew", "must be between 0 and 1h")
        # a code kept for a later get must still be valid when that get takes it
        _require(
            self.grace_window <= self.code_expiry, "grace_window", "must not exceed code_expiry"
        )
        try:
            self.allow_list()
        except InputError as exc:
            raise ConfigError("allowed_origins", f"{exc.key}: {exc.problem}") from None
        for origin in self.senders:
            if not self.allow_list().allows(origin):
                raise ConfigError(f'senders."{origin}"', "origin is not in allowed_origins")

    def sender_allowed(
        self,
        origin: str,
        sender: str,
        *,
        kind: SenderType | None = None,
        embedded: str | None = None,
    ) -> bool:
        """Return True when ``sender`` of ``kind`` may send codes for ``origin`` and ``embedded``.

        Both the top-level and the embedded (iframe) origin are checked: each one with a
        sender list must list the sender. Origins without a list accept any sender. The
        kind must be the entry's (:func:`gateway.sms.address.sender_matches`): an
        alphanumeric "72727" does not match the short code 72727. ``kind=None`` (a message
        stored before the kind was kept) takes the kind the address's shape suggests.
        """
        if kind is None:
            kind = guess_sender_type(sender)
        for host in (origin, embedded):
            allowed = None if host is None else self.senders.get(host)
            if allowed is not None and not any(
                sender_matches(entry, sender, kind) for entry in allowed
            ):
                return False
        return True

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
    allowed_number_types: tuple[str, ...] = DEFAULT_NUMBER_TYPES
    default_region: str | None = None
    max_attempts: int = 3
    backoff_initial: float = 5.0
    backoff_max: float = 60.0
    validity: float = 600.0

    def __post_init__(self) -> None:
        _require(4 <= self.code_length <= 12, "code_length", "must be between 4 and 12")
        try:
            # composed like a send, so a template that carries an origin line of its own
            # (one a reader would take instead of ours) is refused at start, not per send
            compose(origin="example.com", code="0" * self.code_length, text=self.template)
        except InputError as exc:
            raise ConfigError("template", exc.problem) from None
        try:
            generate_code(self.code_length, self.code_alphabet)
        except InputError as exc:
            raise ConfigError("code_alphabet", exc.problem) from None
        _require(
            self.multi_segment in ("refuse", "warn"), "multi_segment", "expected refuse or warn"
        )
        _require(self.report_window > 0, "report_window", "must be positive")
        for country in self.allowed_countries:
            _require(is_region(country), "allowed_countries", f"unknown country {country!r}")
        for kind in self.allowed_number_types:
            _require(
                kind in NUMBER_TYPES,
                "allowed_number_types",
                f"unknown number type {kind!r}; expected among {', '.join(NUMBER_TYPES)}",
            )
        if self.default_region is not None:
            _require(
                is_region(self.default_region),
                "default_region",
                f"unknown country {self.default_region!r}",
            )
        _require(self.max_attempts >= 1, "max_attempts", "must be at least 1")
        _require(self.backoff_initial > 0, "backoff_initial", "must be positive")
        _require(
            self.backoff_initial <= self.backoff_max,
            "backoff_initial",
            "must not exceed backoff_max",
        )
        # TS 23.040 §9.2.3.12.1: the relative validity period starts at 5 minutes.
        _require(self.validity >= 300, "validity", "must be at least 300 s")


@dataclass(frozen=True, slots=True, kw_only=True)
class RateLimitSettings:
    """``[ratelimit]``: sends per number, per origin, per minute overall, per SIM per day."""

    per_number: tuple[Rate, ...] = (Rate(count=3, period=600.0), Rate(count=10, period=86400.0))
    per_origin: tuple[Rate, ...] = (Rate(count=100, period=3600.0),)
    global_per_minute: int = 30  # 0: no global limit
    global_per_day: int = 200  # 0: no daily cap; sends in any 24 h, whichever SIM sends

    def __post_init__(self) -> None:
        for name in ("per_number", "per_origin"):
            rates = getattr(self, name)
            _require(all(isinstance(r, Rate) for r in rates), name, "expected Rate values")
        _require(self.global_per_minute >= 0, "global_per_minute", "must not be negative")
        _require(self.global_per_day >= 0, "global_per_day", "must not be negative")


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
        for operation in self.operations:
            _require(operation in OPERATIONS, "operations", f"unknown operation {operation!r}")

    def allows(self, operation: str, origin: str | None = None) -> bool:
        """Return True when this rule grants ``operation`` (for ``origin``, if given)."""
        if operation not in self.operations:
            return False
        if origin is None or "*" in self.origins:
            return True
        return AllowList.from_entries(self.origins).allows(origin)


@dataclass(frozen=True, slots=True, kw_only=True)
class RelaySettings:
    """``[relay]``: the Unix socket and who may use it."""

    socket: Path = Path("/run/otp-gateway/gateway.sock")
    socket_mode: int = 0o660
    group: str | None = None
    max_line: int = 65536
    max_pending_gets: int = 16
    max_connections: int = 1024
    max_connections_per_uid: int = 64
    idle_timeout: float = 600.0  # seconds; 0 keeps idle connections open
    resume_window: float = 300.0  # how far back a get's since / subscribe's after reach
    access: tuple[AccessRule, ...] = ()

    def __post_init__(self) -> None:
        _require(self.socket.is_absolute(), "socket", "must be an absolute path")
        _require(0 <= self.socket_mode <= 0o777, "socket_mode", "must be a mode 0000-0777")
        _require(self.group is None or bool(self.group), "group", "must not be empty")
        _require(self.max_line >= 1024, "max_line", "must be at least 1024")
        _require(self.max_pending_gets >= 1, "max_pending_gets", "must be at least 1")
        _require(self.max_connections >= 1, "max_connections", "must be at least 1")
        _require(self.max_connections_per_uid >= 1, "max_connections_per_uid", "must be at least 1")
        _require(self.idle_timeout >= 0, "idle_timeout", "must not be negative")
        _require(0 <= self.resume_window <= 3600, "resume_window", "must be between 0 and 1h")


@dataclass(frozen=True, slots=True, kw_only=True)
class JournalSettings:
    """``[journal]``: where state lives and how long bodies, codes and records are kept."""

    state_dir: Path = Path("/var/lib/otp-gateway")
    body_retention: float = 7 * 86400.0
    code_retention: float = 86400.0
    record_retention: float = 30 * 86400.0

    def __post_init__(self) -> None:
        _require(self.state_dir.is_absolute(), "state_dir", "must be an absolute path")
        _require(self.body_retention >= 0, "body_retention", "must not be negative")
        _require(self.code_retention >= 0, "code_retention", "must not be negative")
        _require(
            self.record_retention >= max(self.body_retention, self.code_retention),
            "record_retention",
            "must be at least body_retention and code_retention",
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class LogSettings:
    """``[log]``: level, format, and the explicit switch that lets secrets into logs."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["json", "console"] = "json"
    debug_secrets: bool = False

    def __post_init__(self) -> None:
        _require(self.level in LEVELS, "level", f"expected one of {', '.join(LEVELS)}")
        _require(self.format in ("json", "console"), "format", "expected json or console")


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
        # the same path spelt twice (no I/O here: links are resolved by config.load)
        same_device(tuple(posixpath.normpath(m.device) for m in self.modem))
