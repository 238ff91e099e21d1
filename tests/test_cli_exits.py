"""Exit statuses and messages that lead somewhere: no access, refused options, no simulator."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from cli_helpers import ROOT, cli

from gateway.cli.exits import EXIT
from gateway.config import AccessRule, Config
from gateway.testing import GatewayHandle, running_gateway

NOBODY = 65534  # nobody / nogroup on Debian
AS_NOBODY = ("setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups")


def _as_nobody(*args: str) -> subprocess.CompletedProcess[str]:
    """Run ``otp-gateway ARGS`` as nobody with no supplementary groups."""
    return subprocess.run(
        [*AS_NOBODY, sys.executable, "-m", "gateway", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )


@pytest.fixture
def public_gateway() -> Iterator[GatewayHandle]:
    """A gateway whose directory nobody may enter, but whose socket (0660, root) it may not open."""
    public = Path(tempfile.mkdtemp(prefix="otp-exits-"))
    public.chmod(0o711)
    try:
        with running_gateway(public, origins=["shop.example"]) as gateway:
            yield gateway
    finally:
        shutil.rmtree(public, ignore_errors=True)


@pytest.mark.parametrize(
    "command",
    [
        ("receive", "--origin", "example.com", "--timeout", "30"),
        ("status",),
        ("send", "+12025550123", "--origin", "example.com"),
    ],
    ids=lambda c: c[0],
)
def test_consumer_outside_the_socket_group_gets_no_access_and_how_to_join(
    public_gateway: GatewayHandle, command: tuple[str, ...]
) -> None:
    """A user who may not open the socket gets exit 4 naming the group and the usermod line."""
    socket = str(public_gateway.socket)
    result = _as_nobody(command[0], "--socket", socket, *command[1:])
    assert result.returncode == EXIT["forbidden"] == 4
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("otp-gateway: no access to the gateway's socket: nobody may not open")
    assert "group root" in line
    assert "sudo usermod -aG root nobody" in line
    assert "is not readable" not in line


def test_a_closed_directory_is_no_access_naming_it(tmp_path: Path) -> None:
    """A socket inside a directory the user may not enter: exit 4 naming that directory."""
    closed = Path(tempfile.mkdtemp(prefix="otp-closed-"))
    try:
        closed.chmod(0o700)
        result = _as_nobody("status", "--socket", str(closed / "gateway.sock"))
    finally:
        shutil.rmtree(closed, ignore_errors=True)
    assert result.returncode == 4
    assert f"nobody may not enter {closed}" in result.stderr
    assert "usermod -aG" in result.stderr


def test_missing_socket_is_unavailable(tmp_path: Path) -> None:
    """No socket at the path: the gateway is not running, exit 5 (not an access problem)."""
    result = cli("status", "--socket", str(tmp_path / "absent.sock"))
    assert result.returncode == EXIT["unavailable"] == 5
    assert result.stderr.startswith("otp-gateway: cannot reach the gateway at")


def test_receive_for_an_origin_the_gateway_does_not_accept_fails_at_once(
    tmp_path: Path,
) -> None:
    """receive --origin X, X not in the allow-list: exit 4 at once with the reason, no wait."""
    with running_gateway(tmp_path) as gateway:
        started = time.monotonic()
        result = cli(
            "receive", "--socket", str(gateway.socket), "--origin", "other.example",
            "--timeout", "600",
        )  # fmt: skip
        took = time.monotonic() - started
    assert result.returncode == 4
    assert result.stderr == (
        "otp-gateway: the gateway accepts no codes for the origin other.example: it is not"
        " in [receive] allowed_origins\n"
    )
    assert took < 60  # far from the 600 s it would have waited; the bound is pytest's


def test_receive_for_an_embedded_origin_not_accepted_fails_at_once(tmp_path: Path) -> None:
    """The embedded origin is checked as well, and named."""
    with running_gateway(tmp_path) as gateway:
        result = cli(
            "receive", "--socket", str(gateway.socket), "--origin", "example.com",
            "--embedded-origin", "bank.example", "--timeout", "600",
        )  # fmt: skip
    assert result.returncode == 4
    assert "for the embedded origin bank.example" in result.stderr


def test_receive_follow_for_an_origin_the_gateway_does_not_accept_fails_at_once(
    tmp_path: Path,
) -> None:
    """receive --follow for an origin (or embedded origin) outside the allow-list: exit 4 at
    once with the one-line reason, as without --follow, instead of following forever."""
    with running_gateway(tmp_path) as gateway:
        sock = str(gateway.socket)
        started = time.monotonic()
        origin = cli("receive", "--socket", sock, "--origin", "refused.example", "--follow",
                     "--timeout", "600")  # fmt: skip
        embedded = cli("receive", "--socket", sock, "--origin", "example.com",
                       "--embedded-origin", "refused.example", "--follow")  # fmt: skip
        took = time.monotonic() - started
    assert (origin.returncode, origin.stdout) == (EXIT["forbidden"], "")
    assert origin.stderr == (
        "otp-gateway: the gateway accepts no codes for the origin refused.example: it is not"
        " in [receive] allowed_origins\n"
    )
    assert (embedded.returncode, embedded.stdout) == (EXIT["forbidden"], "")
    assert embedded.stderr == (
        "otp-gateway: the gateway accepts no codes for the embedded origin refused.example:"
        " it is not in [receive] allowed_origins\n"
    )
    assert took < 60  # far from the 600 s (or forever) it would have waited; pytest bounds it


def test_receive_follow_for_an_origin_the_consumers_rule_does_not_list_fails_at_once(
    tmp_path: Path,
) -> None:
    """receive --follow for an origin the gateway accepts but no subscribe rule of the
    consumer lists: exit 4 at once, in the words a get is refused with."""

    def example_only(config: Config) -> Config:
        rule = AccessRule(
            users=(str(os.getuid()),),
            operations=("get", "subscribe", "status"),
            origins=("example.com",),
        )
        return replace(config, relay=replace(config.relay, access=(rule,)))

    with running_gateway(tmp_path, origins=["other.example"], configure=example_only) as gateway:
        sock = str(gateway.socket)
        args = ("receive", "--socket", sock, "--origin", "other.example", "--timeout", "600")
        follow = cli(*args, "--follow")
        once = cli(*args)
    assert (follow.returncode, follow.stdout, once.returncode) == (EXIT["forbidden"], "", 4)
    [line] = follow.stderr.splitlines()
    assert line.startswith(
        "otp-gateway: subscribe is not allowed for this peer for this origin: no"
        " [[relay.access]] rule grants subscribe to "
    )
    assert line.endswith(" for other.example")
    assert line == once.stderr.rstrip("\n").replace("get", "subscribe")


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        (("--origin", "shop.example"), "--origin: apply only with --simulate"),
        (("--profile", "e3372"), "[[modem]] profile"),
        (("--socket", "x.sock", "--origin", "a.example"), "--origin, --socket: apply only"),
    ],
)
def test_run_refuses_simulate_options_with_a_config(
    tmp_path: Path, extra: tuple[str, ...], named: str
) -> None:
    """run --config F with --origin/--profile/--socket is a usage error naming the keys."""
    result = cli("run", "--config", str(tmp_path / "gateway.toml"), *extra)
    assert result.returncode == EXIT["usage"] == 2
    assert named in result.stderr
    assert "set " in result.stderr


def test_run_refuses_config_with_simulate(tmp_path: Path) -> None:
    """run --simulate --config F is refused rather than ignoring F."""
    result = cli("run", "--simulate", "--config", str(tmp_path / "gateway.toml"))
    assert result.returncode == 2
    assert "--config and --simulate do not go together" in result.stderr


def test_simulator_command_without_a_simulator_is_unavailable(tmp_path: Path) -> None:
    """A simulator subcommand whose control socket has no simulator exits 5, otp-gateway: line."""
    result = cli("simulator", "sent", "--control", str(tmp_path / "control.sock"))
    assert result.returncode == EXIT["unavailable"]
    assert result.stderr.startswith("otp-gateway: cannot reach the simulator at")
