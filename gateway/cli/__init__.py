"""The ``otp-gateway`` command line.

Subcommands live in their own modules and are imported only when invoked, so
``otp-gateway parse`` does not pay for the daemon's imports. Register a subcommand by
adding ``"name": "module:attribute"`` to :data:`COMMANDS`.
"""

from __future__ import annotations

import importlib

import click

from gateway import __version__

#: subcommand name -> "module:attribute" of a click command
COMMANDS: dict[str, str] = {
    "check-config": "gateway.cli.config:check_config",
    "format": "gateway.cli.codec:format_command",
    "parse": "gateway.cli.codec:parse_command",
    "simulator": "gateway.cli.simulator:simulator",
    "run": "gateway.cli.run:run",
    "send": "gateway.cli.client_cmds:send",
    "receive": "gateway.cli.client_cmds:receive",
    "status": "gateway.cli.client_cmds:status",
    "demo": "gateway.cli.demo:demo",
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *COMMANDS])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module_name, _, attribute = target.partition(":")
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):  # pragma: no cover - programming error
            raise TypeError(f"{target} is not a click command")
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="otp-gateway")
def main() -> None:
    """SMS one-time-code gateway: send, receive and relay WebOTP codes over a GSM modem."""
