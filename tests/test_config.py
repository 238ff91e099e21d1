"""Tests for the configuration loader, the example file and check-config."""

from __future__ import annotations

import dataclasses
import grp
import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.config import (
    AccessRule,
    Config,
    ConfigError,
    JournalSettings,
    LogSettings,
    ModemSettings,
    RateLimitSettings,
    ReceiveSettings,
    RelaySettings,
    SendSettings,
    load,
    parse,
)
from gateway.config.tables import parse_duration
from gateway.errors import UsageError
from gateway.log import Secret
from gateway.ratelimit import Rate
from gateway.sms.address import SenderType

EXAMPLE = Path(__file__).resolve().parent.parent / "config" / "gateway.toml"
MODEM = '[[modem]]\ndevice = "/dev/ttyUSB0"\n'

#: TOML table (as written in the file) -> the dataclass its keys fill.
SECTIONS: dict[str, type] = {
    "[[modem]]": ModemSettings,
    "[receive]": ReceiveSettings,
    "[send]": SendSettings,
    "[ratelimit]": RateLimitSettings,
    "[relay]": RelaySettings,
    "[[relay.access]]": AccessRule,
    "[journal]": JournalSettings,
    "[log]": LogSettings,
}


def _parse(text: str) -> Config:
    return parse(tomllib.loads(text))


def test_example_is_accepted() -> None:
    """config/gateway.toml is a valid configuration with the documented values."""
    config = load(EXAMPLE)
    assert [m.name for m in config.modem] == ["modem0"]
    assert config.receive.allowed_origins == ("*.bank.example", "shop.example.com")
    assert config.receive.senders == {"shop.example.com": ("+15550000123", "SHOPCO")}
    assert config.receive.allow_list().allows("login.bank.example")
    assert config.send.allowed_countries == ("US", "GB")
    assert config.ratelimit.per_number == (Rate.parse("3/10min"), Rate.parse("10/day"))
    assert config.relay.socket_mode == 0o660
    assert [rule.origins for rule in config.relay.access] == [("shop.example.com",), ("*",)]
    assert config.journal.body_retention == 7 * 86400.0
    assert config.log.debug_secrets is False


def test_example_documents_every_key() -> None:
    """Every section and every key of the schema appears (set or commented) in the example."""
    text = EXAMPLE.read_text(encoding="utf-8")
    for header, cls in SECTIONS.items():
        assert re.search(rf"^#? ?{re.escape(header)}$", text, re.M), header
        section = header.strip("[]")
        for f in dataclasses.fields(cls):
            as_key = rf"^#? ?{f.name} = "
            as_table = rf"^\[+{re.escape(section)}\.{f.name}\]+$"  # [receive.senders]
            assert re.search(f"{as_key}|{as_table}", text, re.M), f"{header} {f.name}"
    sections = {f.name for f in dataclasses.fields(Config)}
    assert sections == {h.strip("[]").split(".")[0] for h in SECTIONS}


def test_defaults_from_minimal_file() -> None:
    """A file with one modem device gets the dataclass defaults everywhere else."""
    config = _parse(MODEM)
    assert config.modem == (ModemSettings(name="modem0", device="/dev/ttyUSB0"),)
    assert config.receive == ReceiveSettings()
    assert config.send == SendSettings()
    assert config.ratelimit == RateLimitSettings()
    assert config.relay == RelaySettings()
    assert config.journal == JournalSettings()
    assert config.log == LogSettings()
    assert config.receive.code_expiry == 600.0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "modem: configure at least one [[modem]]"),
        ('modem = "x"', 'modem: expected an array of tables, got "x"'),
        ("[[modem]]\nname = 'a'", "modem[0].device: required key is missing"),
        (MODEM + 'baudrate = "fast"', 'modem[0].baudrate: expected an integer, got "fast"'),
        (MODEM + "baudrate = true", "modem[0].baudrate: expected an integer, got true"),
        (MODEM + "baudrate = 12", "modem[0].baudrate: must be between 300 and 4000000, got 12"),
        (MODEM + "baudrat = 9600", "modem[0].baudrat: unknown key (did you mean 'baudrate'?)"),
        (MODEM + "[recieve]", "recieve: unknown key (did you mean 'receive'?)"),
        (MODEM + "pin = 1234", 'modem[0].pin: expected a quoted 4-8 digit PIN, like "1234"'),
        (
            MODEM + 'pin = "1234"\npin_file = "/p"',
            "modem[0].pin_file: set pin or pin_file, not both",
        ),
        (MODEM + 'pin_file = "p"', 'modem[0].pin_file: expected an absolute path, got "p"'),
        (
            MODEM + 'storage = ["SIM"]',
            'modem[0].storage: item 0: expected one of SM, ME, MT, SR, got "SIM"',
        ),
        (MODEM + 'send_timeout = "0s"', 'modem[0].send_timeout: must be at least 1 s, got "0s"'),
        (
            MODEM + "[[modem]]\ndevice = '/dev/b'\nname = 'modem0'",
            "modem[1].name: duplicate modem name 'modem0'",
        ),
        ("receive = 3\n" + MODEM, "receive: expected a table, got 3"),
        (
            MODEM + '[receive]\nparse_mode = "loose"',
            'receive.parse_mode: expected one of strict, chromium, got "loose"',
        ),
        (
            MODEM
            + '[receive]\nallowed_origins = ["a.example"]\n[receive.senders]\n"b.example" = []',
            'receive.senders."b.example": origin is not in allowed_origins',
        ),
        (
            MODEM + '[receive]\nsweep_interval = "soon"',
            'receive.sweep_interval: expected a duration like 600 or "10min", got "soon"',
        ),
        (
            MODEM + '[send]\nallowed_countries = ["XX"]',
            'send.allowed_countries: item 0: expected an ISO 3166 country code like "US", got "XX"',
        ),
        (
            MODEM + '[send]\ndefault_region = "UK"',
            'send.default_region: expected an ISO 3166 country code like "US", got "UK"',
        ),
        (
            MODEM + '[send]\nbackoff_initial = "2min"',
            "send.backoff_initial: must not exceed backoff_max",
        ),
        (MODEM + '[send]\nvalidity = "1min"', 'send.validity: must be at least 300 s, got "1min"'),
        (
            MODEM + '[send]\nmulti_segment = "split"',
            'send.multi_segment: expected one of refuse, warn, got "split"',
        ),
        (
            MODEM + '[ratelimit]\nper_number = ["3 per minute"]',
            "ratelimit.per_number: item 0: expected a rate like",
        ),
        (
            MODEM + '[relay]\nsocket = "gw.sock"',
            'relay.socket: expected an absolute path, got "gw.sock"',
        ),
        (
            MODEM + "[relay]\nsocket_mode = 660",
            'relay.socket_mode: expected an octal mode string like "0660", got 660',
        ),
        (
            MODEM + '[[relay.access]]\noperations = ["get"]',
            "relay.access[0].users: a rule needs at least one user or group",
        ),
        (
            MODEM + '[[relay.access]]\nusers = ["a"]\noperations = ["delete"]',
            "relay.access[0].operations: item 0: expected one of get, subscribe, send, status, "
            'got "delete"',
        ),
        (
            MODEM + "[journal]\nbody_retention = -1",
            "journal.body_retention: expected a non-negative finite duration, got -1",
        ),
        (
            MODEM + '[receive]\ncode_expiry = "1min"\ngrace_window = "2min"',
            "receive.grace_window: must not exceed code_expiry",
        ),
        (
            MODEM + '[[modem]]\nname = "m1"\ndevice = "/dev/../dev/ttyUSB0"',
            "modem[1].device: same device as modem[0] (/dev/ttyUSB0)",
        ),
        (
            MODEM + '[journal]\nbody_retention = "7d"\nrecord_retention = "1d"',
            "journal.record_retention: must be at least body_retention and code_retention",
        ),
        (
            MODEM + '[log]\nlevel = "trace"',
            'log.level: expected one of debug, info, warning, error, got "trace"',
        ),
        (
            MODEM + '[log]\ndebug_secrets = "yes"',
            'log.debug_secrets: expected true or false, got "yes"',
        ),
    ],
)
def test_errors_name_the_key(text: str, message: str) -> None:
    """Each invalid file gives one ConfigError naming the dotted key and the problem."""
    with pytest.raises(ConfigError) as info:
        _parse(text)
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)
    assert isinstance(info.value, UsageError)


@pytest.mark.parametrize(
    ("snippet", "key"),
    [
        ('[receive]\nallowed_origins = ["https://a.example/"]', "receive.allowed_origins: "),
        ('[receive]\nallowed_origins = ["*.com"]', "receive.allowed_origins: "),
        ('[receive.senders]\n"bad host" = []', 'receive.senders."bad host": not a host'),
        ('[send]\ntemplate = "code {kode}"', "send.template: "),
        (
            '[send]\ntemplate = "@bank.example #{code}"',
            "send.template: a chromium reader would read another origin",
        ),
        ('[receive.senders]\n"a.example" = ["+12ab"]', 'receive.senders."a.example": item 0'),
        ('[receive.senders]\n"a.example" = ["VERYLONGSHOPNAME"]', "at most 11 characters"),
        ('[receive.senders]\n"a.example" = ["short:+1555"]', 'receive.senders."a.example": item 0'),
        ('[send]\ncode_alphabet = "0"', "send.code_alphabet: "),
        (
            '[[relay.access]]\nusers = ["a"]\noperations = ["get"]\norigins = ["a b"]',
            "relay.access[0].origins: ",
        ),
    ],
)
def test_codec_checks_are_reported_by_key(snippet: str, key: str) -> None:
    """Hosts, templates and alphabets are checked with the WebOTP codec, errors keyed."""
    with pytest.raises(ConfigError, match=re.escape(key)):
        _parse(MODEM + snippet)


def test_sender_allow_lists() -> None:
    """Origins with a sender list accept only those senders; others accept any."""
    receive = load(EXAMPLE).receive
    assert receive.sender_allowed("shop.example.com", "+15550000123")
    assert receive.sender_allowed("shop.example.com", "ShopCo")
    assert not receive.sender_allowed("shop.example.com", "+15550000999")
    assert receive.sender_allowed("login.bank.example", "+15550000999")


def test_sender_allow_lists_check_kind_and_embedded_origin() -> None:
    """Entries match senders of their own kind; an embedded origin's list is checked too."""
    receive = _parse(
        MODEM
        + '[receive]\nallowed_origins = ["a.example", "b.example"]\n'
        + '[receive.senders]\n"a.example" = ["72727", "alphanumeric:BANK"]\n'
        + '"b.example" = ["+15550000123"]'
    ).receive
    assert receive.sender_allowed("a.example", "72727", kind=SenderType.SHORT_CODE)
    assert not receive.sender_allowed("a.example", "72727", kind=SenderType.ALPHANUMERIC)
    assert receive.sender_allowed("a.example", "bank", kind=SenderType.ALPHANUMERIC)
    assert not receive.sender_allowed("a.example", "72727", embedded="b.example")
    assert receive.sender_allowed("b.example", "+15550000123", embedded="b.example")
    assert not receive.sender_allowed("x.example", "+15550000999", embedded="b.example")


def test_pin_is_a_secret(tmp_path: Path) -> None:
    """The PIN never shows in repr; pin_file is read on demand and checked."""
    config = _parse(MODEM + 'pin = "7294"')
    assert config.modem[0].pin == Secret("7294")
    assert "7294" not in repr(config)
    assert "7294" not in str(config)
    pin_file = tmp_path / "pin"
    pin_file.write_text("4321\n", encoding="ascii")
    modem = _parse(MODEM + f'pin_file = "{pin_file}"').modem[0]
    resolved = modem.resolve_pin()
    assert resolved is not None
    assert resolved.reveal() == "4321"
    pin_file.write_text("12", encoding="ascii")
    with pytest.raises(ConfigError, match="4-8 digit"):
        modem.resolve_pin()
    pin_file.unlink()
    with pytest.raises(ConfigError, match="cannot read"):
        modem.resolve_pin()


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"[[modem]\n", "invalid TOML"), (b"\xff\xfe", "not UTF-8")],
)
def test_unreadable_files(tmp_path: Path, content: bytes, message: str) -> None:
    """Invalid TOML, bad encoding and missing files are ConfigErrors naming the file."""
    path = tmp_path / "g.toml"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=message) as info:
        load(path)
    assert info.value.key == str(path)
    with pytest.raises(ConfigError, match="cannot read"):
        load(tmp_path / "missing.toml")


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (600, 600.0),
        (1.5, 1.5),
        ("500ms", 0.5),
        ("90s", 90.0),
        ("10min", 600.0),
        ("2h", 7200.0),
        ("7d", 604800.0),
        ("30", 30.0),
    ],
)
def test_durations(value: object, seconds: float) -> None:
    """Durations are seconds or a number with a unit."""
    assert parse_duration(value) == seconds


@given(st.one_of(st.text(max_size=12), st.floats(), st.integers(), st.booleans(), st.none()))
def test_duration_parser_total(value: object) -> None:
    """Any value gives non-negative finite seconds or a ValueError."""
    try:
        seconds = parse_duration(value)
    except ValueError:
        return
    assert 0 <= seconds < float("inf")


_KEYS = st.sampled_from(
    ["modem", "device", "name", "baudrate", "pin", "pin_file", "storage", "receive",
     "allowed_origins", "senders", "a.example", "send", "template", "code_alphabet",
     "code_length", "allowed_countries", "ratelimit", "per_number", "relay", "socket_mode",
     "access", "users", "operations", "origins", "journal", "state_dir", "log", "level", "x"]
)  # fmt: skip
_VALUES = st.recursive(
    st.one_of(st.booleans(), st.integers(), st.text(max_size=8), st.floats(allow_nan=False)),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(_KEYS, children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=300)
@given(st.dictionaries(_KEYS, _VALUES, max_size=5))
def test_parse_is_total(data: dict[str, object]) -> None:
    """Any TOML-shaped document gives a Config or a one-line ConfigError, nothing else."""
    error: ConfigError | None = None
    try:
        parse(data)
    except ConfigError as exc:
        error = exc
    if error is not None:
        assert "\n" not in str(error)
        assert error.problem


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", "check-config", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )


def test_check_config_cli(tmp_path: Path) -> None:
    """check-config prints ok and a summary, or one error line and exits 2."""
    # the example's socket group (otp-gateway-clients) exists only where the package is installed
    example = tmp_path / "example.toml"
    own_group = grp.getgrgid(os.getgid()).gr_name
    text = EXAMPLE.read_text(encoding="utf-8")
    assert text.count('group = "otp-gateway-clients"') == 1
    example.write_text(text.replace('group = "otp-gateway-clients"', f'group = "{own_group}"'))
    good = _cli(str(example))
    assert good.returncode == 0, good.stderr
    # its example access names (shop, otp-senders) may be unknown here: warnings only
    assert all(line.startswith("otp-gateway: warning: ") for line in good.stderr.splitlines())
    assert good.stdout.splitlines()[0] == "ok"
    assert "modem0" in good.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text(MODEM + 'baudrate = "fast"\npin = "7294"\n', encoding="utf-8")
    result = _cli(str(bad))
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        f'otp-gateway: {bad}: modem[0].baudrate: expected an integer, got "fast"\n'
    )
    missing = _cli(str(tmp_path / "none.toml"))
    assert missing.returncode == 2
    assert missing.stderr.count("\n") == 1
    assert "Traceback" not in missing.stderr


@pytest.mark.parametrize(
    ("factory", "key"),
    [
        (lambda: ModemSettings(name="m", device=""), "device"),
        (lambda: ModemSettings(name="m", device="/d", profile="motorola"), "profile"),
        (lambda: ModemSettings(name="m", device="/d", storage=("XX",)), "storage"),
        (lambda: ReceiveSettings(code_expiry=0.0), "code_expiry"),
        (lambda: ReceiveSettings(allowed_origins=("https://a.example",)), "allowed_origins"),
        (lambda: SendSettings(template="{oops}"), "template"),
        (lambda: SendSettings(allowed_countries=("XX",)), "allowed_countries"),
        (lambda: SendSettings(validity=60.0), "validity"),
        (lambda: RateLimitSettings(global_per_minute=-1), "global_per_minute"),
        (lambda: RelaySettings(socket=Path("rel.sock")), "socket"),
        (lambda: RelaySettings(socket_mode=0o1777), "socket_mode"),
        (lambda: AccessRule(users=("a",), operations=("delete",)), "operations"),
        (lambda: JournalSettings(code_retention=-1.0), "code_retention"),
        (lambda: JournalSettings(record_retention=3600.0), "record_retention"),
        (lambda: ReceiveSettings(code_expiry=60.0, grace_window=61.0), "grace_window"),
        (lambda: LogSettings(level="trace"), "level"),  # type: ignore[arg-type]
        (lambda: Config(modem=()), "modem"),
    ],
)
def test_invalid_settings_cannot_be_built(factory: Callable[[], object], key: str) -> None:
    """The dataclasses validate themselves, also when built in code rather than from TOML."""
    with pytest.raises(ConfigError) as info:
        factory()
    assert info.value.key == key


def test_access_rules_grant_operations_per_origin() -> None:
    """A rule grants its operations for its origins; "*" grants every origin."""
    shop = AccessRule(users=("shop",), operations=("get",), origins=("*.shop.example",))
    assert shop.allows("get", "www.shop.example")
    assert not shop.allows("get", "bank.example")
    assert not shop.allows("send")
    anyone = AccessRule(groups=("otp",), operations=("send", "status"), origins=("*",))
    assert anyone.allows("send", "bank.example")
    assert anyone.allows("status")


def test_two_modems_on_one_device_through_a_symlink_are_refused(tmp_path: Path) -> None:
    """load() resolves links: a by-id style symlink and its target are the same modem."""
    target = tmp_path / "ttyUSB0"
    target.touch()
    link = tmp_path / "usb-Quectel_EC25-if02-port0"
    link.symlink_to(target)
    path = tmp_path / "gateway.toml"
    path.write_text(
        f'[[modem]]\nname = "a"\ndevice = "{link}"\n'
        f'[[modem]]\nname = "b"\ndevice = "{tmp_path / "ttyUSB1"}"\n'
        f'[[modem]]\nname = "c"\ndevice = "{target}"\n'
    )
    with pytest.raises(ConfigError) as info:
        load(path)
    assert str(info.value) == f"modem[2].device: same device as modem[0] ({target})"
    assert len(parse(tomllib.loads(path.read_text())).modem) == 3  # parse does no I/O


def test_grace_window_is_opt_in() -> None:
    """By default a get sees only codes that arrive after it (WebOTP); the window is opt-in."""
    assert ReceiveSettings().grace_window == 0.0
    assert _parse(MODEM).receive.grace_window == 0.0
    assert _parse(MODEM + '[receive]\ngrace_window = "5s"').receive.grace_window == 5.0
