"""``otp-gateway run``: the daemon, on a configured modem or on a built-in simulator."""

from __future__ import annotations

import asyncio
import os
import shlex
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from gateway.cli.exits import EXIT, epilog
from gateway.config import DEFAULT_PATH, ConfigError, LogSettings, load
from gateway.errors import GatewayError
from gateway.hardening import forbid_core_dumps
from gateway.log import configure as configure_logging
from gateway.modem.sim import SimError
from gateway.simulator.config import PROFILE_NAMES

if TYPE_CHECKING:
    from gateway.daemon.simulate import SimulatedSetup

EPILOG = f"""\b
Examples:
  otp-gateway run --config /etc/otp-gateway/gateway.toml
  otp-gateway run --simulate
  otp-gateway run --simulate --origin shop.example --profile e3372

--origin, --profile and --socket belong to --simulate: with a configuration file
they are refused (set [receive] allowed_origins, [[modem]] profile and [relay]
socket in the file), and so is --config with --simulate.

{epilog("run")}

1: the daemon could not start (port busy, socket in use) or failed; 2: an invalid
configuration (what check-config reports); 78: the SIM needs a person. The unit's
RestartPreventExitStatus=78 2 keeps systemd from restarting on either: it would not
mend a configuration, and would enter a rejected PIN again and lock the SIM.
"""

#: sysexits.h EX_CONFIG: the SIM cannot be used without a person (see the unit file)
EXIT_SIM = EXIT["sim"]

#: the options that only --simulate uses, with the configuration key that replaces each
SIMULATE_ONLY = {
    "origins": ("--origin", "[receive] allowed_origins"),
    "profile": ("--profile", "[[modem]] profile"),
    "socket_path": ("--socket", "[relay] socket"),
}


def invocation(
    argv0: str,
    *,
    executable: str,
    which: Callable[[str], str | None] = shutil.which,
) -> str:
    """Return the command line prefix a person can type to run otp-gateway again.

    ``otp-gateway`` when that name on ``$PATH`` is the program running now; for
    ``python -m gateway`` the interpreter and ``-m gateway``; else ``argv0`` made
    absolute when it is a relative path (``.venv/bin/otp-gateway`` would fail from
    another directory), or as given. Shell-quoted.
    """
    if Path(argv0).name == "__main__.py":
        return f"{shlex.quote(executable)} -m gateway"
    found = which("otp-gateway")
    if found is not None and os.path.realpath(found) == os.path.realpath(argv0):
        return "otp-gateway"
    if "/" in argv0 and not os.path.isabs(argv0):
        return shlex.quote(os.path.abspath(argv0))
    return shlex.quote(argv0)


def _fail(message: str, status: int) -> None:
    click.echo(f"otp-gateway: {message}", err=True)
    sys.exit(status)


def _refuse_mixed(ctx: click.Context, simulate: bool) -> None:
    """Refuse options that the chosen mode would ignore (a usage error naming them)."""
    given = {
        name
        for name in (*SIMULATE_ONLY, "config_path")
        if ctx.get_parameter_source(name) not in (None, click.core.ParameterSource.DEFAULT)
    }
    if simulate and "config_path" in given:
        raise click.UsageError(
            "--config and --simulate do not go together (--simulate reads no file)"
        )
    ignored = [SIMULATE_ONLY[name] for name in SIMULATE_ONLY if name in given]
    if not simulate and ignored:
        options = ", ".join(option for option, _ in ignored)
        keys = ", ".join(key for _, key in ignored)
        raise click.UsageError(
            f"{options}: apply only with --simulate; with a configuration file, set {keys}"
            " in the file instead"
        )


@click.command(epilog=EPILOG)
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=DEFAULT_PATH,
    show_default=True,
    help="Configuration file (TOML).",
)
@click.option("--simulate", is_flag=True, help="Run on a built-in simulated modem (no hardware).")
@click.option(
    "--origin",
    "origins",
    multiple=True,
    help="With --simulate: another origin to accept codes for (example.com always is).",
)
@click.option(
    "--profile",
    type=click.Choice(PROFILE_NAMES),
    default="generic",
    show_default=True,
    help="With --simulate: the simulated modem's vendor profile.",
)
@click.option(
    "--socket",
    "socket_path",
    type=click.Path(path_type=Path),
    default=None,
    help="With --simulate: where to put the relay socket (default: in a fresh directory).",
)
@click.option(
    "--log-format",
    type=click.Choice(["json", "console"]),
    default=None,
    help="Log format (default: from the config; console on stderr with --simulate).",
)
def run(
    *,
    config_path: Path,
    simulate: bool,
    origins: tuple[str, ...],
    profile: str,
    socket_path: Path | None,
    log_format: str | None,
) -> None:
    """Run the gateway daemon until SIGTERM/SIGINT.

    --origin, --profile and --socket apply to --simulate only: given with a
    configuration file they are refused, not ignored.

    Once ready, SIGHUP re-reads the configuration file and applies its allow-lists and
    access rules (other sections need a restart). SIGHUP during start-up, and under
    --simulate (no file to re-read), is ignored with a logged warning.
    """
    _refuse_mixed(click.get_current_context(), simulate)
    # before anything secret is read: a crash must not dump the PIN or codes
    forbid_core_dumps()
    if simulate:
        _run_simulated(origins, profile, socket_path, log_format)
        return
    try:
        config = load(config_path)
    except ConfigError as exc:
        _fail(str(exc), EXIT["usage"])
        return
    settings = config.log
    configure_logging(
        settings.level,
        "console" if log_format == "console" else settings.format,
        settings.debug_secrets,
    )
    from gateway.daemon.lifecycle import run_config  # noqa: PLC0415 - lazy: daemon imports

    try:
        status = run_config(config_path, config=config)
    except ConfigError as exc:
        _fail(str(exc), EXIT["usage"])
        return
    except SimError as exc:
        _fail(str(exc), EXIT_SIM)
        return
    except (GatewayError, OSError) as exc:
        _fail(str(exc), EXIT["error"])
        return
    sys.exit(status)


def _run_simulated(
    origins: tuple[str, ...], profile: str, socket_path: Path | None, log_format: str | None
) -> None:
    from gateway.daemon.simulate import SimulatedSetup, runtime_base  # noqa: PLC0415

    configure_logging("info", "json" if log_format == "json" else "console", stream=sys.stderr)
    try:
        base = runtime_base()
    except GatewayError as exc:
        _fail(str(exc), EXIT["error"])
        return
    try:
        setup = SimulatedSetup.in_directory(
            base, origins=origins, profile=profile, socket=socket_path
        )
        status = asyncio.run(_serve_simulated(setup))
    except (GatewayError, OSError) as exc:
        _fail(str(exc), EXIT["error"])
        return
    finally:
        shutil.rmtree(base, ignore_errors=True)
    sys.exit(status)


async def _serve_simulated(setup: SimulatedSetup) -> int:
    from gateway.daemon.app import Gateway  # noqa: PLC0415
    from gateway.daemon.lifecycle import serve  # noqa: PLC0415
    from gateway.sdnotify import Notifier  # noqa: PLC0415
    from gateway.simulator import Simulator  # noqa: PLC0415

    simulator = Simulator([setup.modem()], control_path=setup.control)

    def ready(_gateway: Gateway) -> None:
        click.echo(setup.banner(invocation(sys.argv[0], executable=sys.executable)))
        sys.stdout.flush()

    async with simulator:
        gateway = Gateway(setup.config(log=LogSettings(format="console")), notifier=Notifier())
        return await serve(gateway, on_ready=ready)
