"""Tests for check-config's checks of user and group names against this machine's accounts."""

from __future__ import annotations

import grp
import os
import pwd
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.config import load
from gateway.config.accounts import check_accounts
from gateway.config.errors import ConfigError

MISSING_USER = "no-such-user-q9z"
MISSING_GROUP = "no-such-group-q9z"
OWN_GROUP = grp.getgrgid(os.getgid()).gr_name


def _absent() -> None:
    for lookup, name in ((pwd.getpwnam, MISSING_USER), (grp.getgrnam, MISSING_GROUP)):
        with pytest.raises(KeyError):
            lookup(name)


def write(tmp_path: Path, *, group: str, users: str, groups: str) -> Path:
    """Write a minimal configuration with one access rule; return its path."""
    path = tmp_path / "gateway.toml"
    path.write_text(
        f"""[[modem]]
device = "/dev/ttyUSB0"

[relay]
group = "{group}"

[[relay.access]]
users = {users}
groups = {groups}
operations = ["get"]
origins = ["example.com"]
""",
        encoding="utf-8",
    )
    return path


def check_config(path: Path) -> subprocess.CompletedProcess[str]:
    """Run ``otp-gateway check-config PATH`` to completion."""
    return subprocess.run(
        [sys.executable, "-m", "gateway", "check-config", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )


def test_unknown_access_names_are_warned_about_and_exit_zero(tmp_path: Path) -> None:
    """One warning per unknown user or group name; '*', ids and known names pass; exit 0."""
    _absent()
    users = f'["root", "{MISSING_USER}", "1234", "*"]'
    path = write(tmp_path, group=OWN_GROUP, users=users, groups=f'["{MISSING_GROUP}", "0"]')
    result = check_config(path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "ok"
    assert result.stderr.splitlines() == [
        f"otp-gateway: warning: {path}: relay.access[0].users: no user '{MISSING_USER}' on"
        " this machine; this name matches nobody",
        f"otp-gateway: warning: {path}: relay.access[0].groups: no group '{MISSING_GROUP}' on"
        " this machine; this name matches nobody",
    ]


def test_known_names_give_no_warning(tmp_path: Path) -> None:
    """A rule naming only accounts that exist here passes silently."""
    path = write(tmp_path, group=OWN_GROUP, users='["root"]', groups=f'["{OWN_GROUP}"]')
    result = check_config(path)
    assert (result.returncode, result.stderr) == (0, "")
    assert check_accounts(load(path)) == ()


def test_missing_socket_group_is_an_error(tmp_path: Path) -> None:
    """relay.group unknown here: one error line and exit 2, as run would refuse to start."""
    _absent()
    path = write(tmp_path, group=MISSING_GROUP, users='["root"]', groups="[]")
    result = check_config(path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        f"otp-gateway: {path}: relay.group: group '{MISSING_GROUP}' does not exist on this"
        " machine (run would refuse to start)\n"
    )
    with pytest.raises(ConfigError, match=r"relay\.group"):
        check_accounts(load(path))
