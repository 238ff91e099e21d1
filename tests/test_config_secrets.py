"""The SIM PIN stays with the daemon: credentials, pin files, and check-config's warnings."""

from __future__ import annotations

import configparser
import grp
import os
import pwd
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from gateway.config import Config, ConfigError, load, parse
from gateway.config.accounts import check_secrets
from gateway.log import Secret

ROOT = Path(__file__).resolve().parent.parent
MODEM = '[[modem]]\ndevice = "/dev/ttyUSB0"\n'
NOBODY = 65534  # nobody, whose primary group is nogroup (65534) on Debian


def _parse(text: str) -> Config:
    return parse(tomllib.loads(text))


def test_pin_credential_is_read_from_the_credentials_directory(tmp_path: Path) -> None:
    """pin_credential reads $CREDENTIALS_DIRECTORY/NAME, as systemd's LoadCredential= fills it."""
    (tmp_path / "modem0.pin").write_text("2468\n", encoding="ascii")
    modem = _parse(MODEM + 'pin_credential = "modem0.pin"').modem[0]
    assert modem.resolve_pin({"CREDENTIALS_DIRECTORY": str(tmp_path)}) == Secret("2468")
    with pytest.raises(ConfigError, match=r"pin_credential: \$CREDENTIALS_DIRECTORY is not set"):
        modem.resolve_pin({})
    (tmp_path / "modem0.pin").write_text("12", encoding="ascii")
    with pytest.raises(ConfigError, match="must hold a 4-8 digit PIN") as caught:
        modem.resolve_pin({"CREDENTIALS_DIRECTORY": str(tmp_path)})
    assert "12" not in str(caught.value).replace("4-8", "")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            'pin = "1234"\npin_credential = "p"',
            "modem[0].pin_credential: set one of pin, pin_file and pin_credential",
        ),
        (
            'pin_file = "/p"\npin_credential = "p"',
            "modem[0].pin_credential: set one of pin, pin_file and pin_credential",
        ),
        (
            'pin_credential = "../etc/p"',
            "modem[0].pin_credential: expected a credential name (as in"
            " LoadCredential=NAME:PATH), not a path",
        ),
    ],
)
def test_pin_credential_errors_name_the_key(extra: str, message: str) -> None:
    """A credential with another PIN source, or a path for a name, is one clear error."""
    with pytest.raises(ConfigError) as caught:
        _parse(MODEM + extra)
    assert str(caught.value) == message


def _config_file(tmp_path: Path, body: str, mode: int, gid: int = 0) -> tuple[Config, Path]:
    path = tmp_path / "gateway.toml"
    path.write_text(MODEM + body, encoding="utf-8")
    path.chmod(mode)
    os.chown(path, 0, gid)
    return load(path), path


def test_inline_pin_in_a_world_readable_file_is_warned_about(tmp_path: Path) -> None:
    """An inline PIN in a file every user can read gets a warning naming the key; 0600 none."""
    config, path = _config_file(tmp_path, 'pin = "7294"\n', 0o644)
    [warning] = check_secrets(config, path, daemon_uid=NOBODY)
    assert warning.startswith(f"modem[0].pin: the SIM PIN in {path} is readable by every user")
    assert "pin_credential" in warning
    assert "7294" not in warning
    path.chmod(0o600)
    assert check_secrets(config, path, daemon_uid=NOBODY) == ()


def _group_with_members() -> tuple[int, str, set[str]]:
    """Return a group with members other than root here (nogroup on Debian: nobody...)."""
    for group in sorted(grp.getgrall(), key=lambda g: g.gr_gid):
        members = set(group.gr_mem) | {
            u.pw_name for u in pwd.getpwall() if u.pw_gid == group.gr_gid
        }
        members.discard("root")
        if members:
            return group.gr_gid, group.gr_name, members
    raise AssertionError("no group with members on this machine")


def test_inline_pin_readable_by_a_group_with_other_members_is_warned_about(
    tmp_path: Path,
) -> None:
    """Group-readable is fine for a group of root alone, not when others are in it."""
    config, path = _config_file(tmp_path, 'pin = "7294"\n', 0o640, gid=0)
    assert check_secrets(config, path, daemon_uid=NOBODY) == ()
    gid, name, members = _group_with_members()
    os.chown(path, 0, gid)
    [warning] = check_secrets(config, path, daemon_uid=0)
    assert f"readable by group {name} ({', '.join(sorted(members))})" in warning
    if len(members) == 1:  # the daemon's user alone in the group reads nothing it should not
        assert check_secrets(config, path, daemon_uid=pwd.getpwnam(members.pop()).pw_uid) == ()


def test_pin_file_readable_by_others_is_warned_about(tmp_path: Path) -> None:
    """A pin_file readable by every user, or owned by another user, is warned about."""
    pin_file = tmp_path / "modem0.pin"
    pin_file.write_text("7294\n", encoding="ascii")
    pin_file.chmod(0o644)
    config, path = _config_file(tmp_path, f'pin_file = "{pin_file}"\n', 0o644)
    [warning] = check_secrets(config, path, daemon_uid=0)
    assert warning.startswith(f"modem[0].pin_file: the SIM PIN in {pin_file} is readable by")
    assert "every user" in warning
    pin_file.chmod(0o600)
    assert check_secrets(config, path, daemon_uid=0) == ()
    os.chown(pin_file, NOBODY, NOBODY)
    [warning] = check_secrets(config, path, daemon_uid=0)
    assert "its owner nobody" in warning


def test_pin_credential_is_not_judged_by_file_modes(tmp_path: Path) -> None:
    """A PIN in a credential gives no warning, even with the configuration file world-readable."""
    config, path = _config_file(tmp_path, 'pin_credential = "modem0.pin"\n', 0o644)
    assert check_secrets(config, path, daemon_uid=0) == ()


def test_check_config_warns_about_a_readable_pin_and_never_prints_it(tmp_path: Path) -> None:
    """check-config exits 0 with one warning on stderr; the PIN appears in neither stream."""
    _, path = _config_file(tmp_path, 'pin = "7294"\n', 0o644)
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "check-config", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "modem[0].pin" in line]
    assert len(warnings) == 1
    assert warnings[0].startswith(f"otp-gateway: warning: {path}: modem[0].pin: the SIM PIN")
    assert "7294" not in (result.stdout + result.stderr).replace(str(tmp_path), "")


def test_shipped_units_separate_the_socket_group_from_the_config_readers() -> None:
    """Consumers' group (socket) is not the group that reads gateway.toml, in every file."""
    service = configparser.ConfigParser(strict=False, interpolation=None)
    service.optionxform = str  # type: ignore[assignment,method-assign]
    service.read(ROOT / "systemd" / "otp-gateway.service")
    socket_unit = configparser.ConfigParser(strict=False, interpolation=None)
    socket_unit.optionxform = str  # type: ignore[assignment,method-assign]
    socket_unit.read(ROOT / "systemd" / "otp-gateway.socket")
    sysusers = (ROOT / "systemd" / "otp-gateway.sysusers").read_text(encoding="utf-8")
    example = tomllib.loads((ROOT / "config" / "gateway.toml").read_text(encoding="utf-8"))
    clients = example["relay"]["group"]
    assert clients == "otp-gateway-clients"
    assert socket_unit["Socket"]["SocketGroup"] == clients
    # the daemon binds with its own group (no chown under SystemCallFilter=~@privileged)
    assert service["Service"]["Group"] == clients
    assert "otp-gateway" in service["Service"]["SupplementaryGroups"].split()
    assert re.search(rf"^g {clients} ", sysusers, re.MULTILINE)
    assert service["Service"]["LimitCORE"] == "0"
    install = (ROOT / "docs" / "install.md").read_text(encoding="utf-8")
    assert "usermod -aG otp-gateway shop" not in install
    assert "usermod -aG\n  otp-gateway-clients shop" in install
