"""``otp-gateway check-config``: validate a configuration file without starting anything."""

from __future__ import annotations

from pathlib import Path

import click

from gateway.cli.exits import EXIT
from gateway.config import DEFAULT_PATH, Config, ConfigError, load
from gateway.config.preflight import preflight


def summary(config: Config) -> str:
    """Return a short human summary of a valid configuration (no secrets)."""
    modems = ", ".join(f"{m.name} ({m.device})" for m in config.modem)
    origins = len(config.receive.allowed_origins)
    countries = ", ".join(config.send.allowed_countries) or "none (sending refused)"
    region = config.send.default_region
    national = f", national numbers read as {region}" if region else ""
    return "\n".join(
        [
            "ok",
            f"  modems: {modems}",
            f"  receive: {origins} allowed origin(s), parse mode {config.receive.parse_mode}",
            f"  send: countries {countries}{national}, delivery reports "
            f"{'on' if config.send.delivery_reports else 'off'}",
            f"  relay: {config.relay.socket} ({len(config.relay.access)} access rule(s))",
            f"  journal: {config.journal.state_dir}",
            f"  log: {config.log.level} {config.log.format}"
            + (" WITH SECRETS (debug_secrets = true)" if config.log.debug_secrets else ""),
        ]
    )


@click.command("check-config")
@click.argument(
    "path",
    required=False,
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEFAULT_PATH,
)
def check_config(path: Path) -> None:
    """Check the configuration file PATH (default /etc/otp-gateway/gateway.toml).

    Prints "ok" and a summary, or one line naming the key and the problem (exit 2).
    The checks are the ones run makes before it starts (it refuses with the same
    line): besides the file's syntax and values, device paths must be absolute, a
    pin_file must hold a 4-8 digit PIN, and send.template must leave room for one
    SMS when multi_segment = "refuse" (with "warn": a warning, every send costs two).
    Users and groups of [[relay.access]] unknown on this machine are warned about on
    stderr (exit 0: the rule matches nobody by that name); a relay.group that does not
    exist is an error (exit 2), as run would refuse to start. A SIM PIN (inline in
    PATH, or its pin_file) that anyone besides the daemon's user can read is warned
    about too: run the check as the daemon's user (sudo -u otp-gateway ...), whose
    user it takes for the daemon's. Prefer pin_credential with the unit's
    LoadCredential=.

    \b
    Example:
      otp-gateway check-config /etc/otp-gateway/gateway.toml
    """
    try:
        config = load(path)
        warnings = preflight(config, path, credentials=False)
    except ConfigError as exc:
        where = "" if exc.key == str(path) else f"{path}: "
        click.echo(f"otp-gateway: {where}{exc}", err=True)
        raise SystemExit(EXIT["usage"]) from None
    for warning in warnings:
        click.echo(f"otp-gateway: warning: {path}: {warning}", err=True)
    click.echo(summary(config))
