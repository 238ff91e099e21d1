"""check-config checks what run needs, and run refuses with the very same line."""

from __future__ import annotations

import json
import signal
import tomllib
from pathlib import Path

import pytest
from cli_helpers import cli, spawn, wait_log_event
from daemon_helpers import write_config

from gateway.config import Config, ConfigError, parse
from gateway.config.preflight import SHORTEST_ORIGIN, preflight
from gateway.simulator import ModemConfig, SimulatorThread

MODEM = '[[modem]]\ndevice = "/dev/ttyUSB0"\n'
LONG_TEMPLATE = '[send]\ntemplate = "' + "Please type this code into the page. " * 4 + '{code}"\n'


def _parse(text: str) -> Config:
    return parse(tomllib.loads(text))


#: (file text, key the error names, words of the problem); {tmp} is tmp_path
BROKEN = [
    (MODEM + 'pin_file = "{tmp}/absent.pin"\n', "modem[0].pin_file", "cannot read"),
    (MODEM + 'pin_file = "{tmp}/short.pin"\n', "modem[0].pin_file", "4-8 digit PIN"),
    ('[[modem]]\ndevice = "ttyUSB0"\n', "modem[0].device", "not an absolute path"),
    (MODEM + LONG_TEMPLATE, "send.template", "every send would be refused"),
]


@pytest.mark.parametrize(("text", "key", "problem"), BROKEN)
def test_preflight_errors_name_the_key(tmp_path: Path, text: str, key: str, problem: str) -> None:
    """A missing pin_file, a relative device and a two-SMS template are keyed errors."""
    (tmp_path / "short.pin").write_text("12\n", encoding="ascii")
    config = _parse(text.replace("{tmp}", str(tmp_path)))
    with pytest.raises(ConfigError) as caught:
        preflight(config, tmp_path / "gateway.toml", credentials=False)
    assert caught.value.key == key
    assert problem in caught.value.problem


def test_two_segment_template_under_warn_is_a_warning_with_the_cost() -> None:
    """With multi_segment = "warn" the long template is allowed, and the cost is said."""
    config = _parse(MODEM + LONG_TEMPLATE + 'multi_segment = "warn"\n')
    [warning] = preflight(config, Path("/nonexistent"), credentials=False)
    assert warning.key == "send.template"
    assert "every send costs 2 SMS" in warning.problem
    assert SHORTEST_ORIGIN in warning.problem


def test_template_that_fits_one_sms_passes() -> None:
    """The default template and a valid pin_file give no finding."""
    assert preflight(_parse(MODEM), Path("/nonexistent"), credentials=False) == ()


def test_pin_credential_is_checked_only_where_it_can_be_seen(tmp_path: Path) -> None:
    """check-config outside the unit skips pin_credential; run (credentials=True) reads it."""
    config = _parse(MODEM + 'pin_credential = "modem0.pin"\n')
    assert preflight(config, tmp_path / "g.toml", credentials=False, environ={}) == ()
    with pytest.raises(ConfigError) as caught:
        preflight(config, tmp_path / "g.toml", credentials=True, environ={})
    assert caught.value.key == "modem[0].pin_credential"
    (tmp_path / "modem0.pin").write_text("2468\n", encoding="ascii")
    environ = {"CREDENTIALS_DIRECTORY": str(tmp_path)}
    assert preflight(config, tmp_path / "g.toml", credentials=False, environ=environ) == ()


@pytest.mark.parametrize(("text", "key", "problem"), BROKEN)
def test_check_config_and_run_refuse_with_the_same_line(
    tmp_path: Path, text: str, key: str, problem: str
) -> None:
    """check-config exits 2 naming the key; run exits 2 with the same problem, never starting."""
    (tmp_path / "short.pin").write_text("12\n", encoding="ascii")
    path = tmp_path / "gateway.toml"
    path.write_text(
        text.replace("{tmp}", str(tmp_path))
        + f'[relay]\nsocket = "{tmp_path}/gw.sock"\n[journal]\nstate_dir = "{tmp_path}/state"\n',
        encoding="utf-8",
    )
    checked = cli("check-config", str(path))
    assert checked.returncode == 2
    assert checked.stdout == ""
    [line] = checked.stderr.splitlines()
    assert line.startswith(f"otp-gateway: {path}: {key}: ")
    assert problem in line
    run = cli("run", "--config", str(path), "--log-format", "json")
    assert run.returncode == 2
    assert f"otp-gateway: {key}: " + line.partition(f"{key}: ")[2] in run.stderr
    assert not (tmp_path / "gw.sock").exists()
    assert "12" not in checked.stderr.replace(str(tmp_path), "")


def test_run_logs_the_warnings_check_config_prints(tmp_path: Path) -> None:
    """run starts with a two-SMS template under "warn" and logs check-config's warning."""
    config = write_config(tmp_path, tmp_path / "modem")
    text = config.read_text(encoding="utf-8").replace(
        "valid_numbers_only = false\n",
        "valid_numbers_only = false\n"
        + LONG_TEMPLATE.removeprefix("[send]\n")
        + 'multi_segment = "warn"\n',
    )
    config.write_text(text, encoding="utf-8")
    checked = cli("check-config", str(config))
    assert checked.returncode == 0
    assert f"otp-gateway: warning: {config}: send.template: " in checked.stderr
    with SimulatorThread([ModemConfig(link=tmp_path / "modem")]):
        daemon = spawn("run", "--config", str(config), "--log-format", "json")
        assert daemon.stdout is not None
        try:
            seen = wait_log_event(daemon.stdout, "config.template_segments")
            event = json.loads(seen[-1])
            assert event["key"] == "send.template"
            assert "every send costs 2 SMS" in event["problem"]
            wait_log_event(daemon.stdout, "daemon.ready")
        finally:
            daemon.send_signal(signal.SIGTERM)
            daemon.communicate(timeout=30)
    assert daemon.returncode == 0


def test_check_config_summary_names_the_default_region(tmp_path: Path) -> None:
    """The summary says which country national numbers are read in."""
    path = tmp_path / "gateway.toml"
    path.write_text(
        MODEM + '[send]\nallowed_countries = ["GB"]\ndefault_region = "gb"\n', encoding="utf-8"
    )
    checked = cli("check-config", str(path))
    assert checked.returncode == 0, checked.stderr
    assert "  send: countries GB, national numbers read as GB, delivery reports off" in (
        checked.stdout.splitlines()
    )
