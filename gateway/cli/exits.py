"""The command line's side of the exit statuses: ``--help`` epilogs and :func:`fail`.

The table itself is :mod:`gateway.exits` (re-exported here: :data:`TABLE`, :data:`EXIT`),
where the daemon reads it too. docs/cli.md shows :data:`TABLE` (a test compares them),
each command's ``--help`` lists its rows (:func:`epilog`), and the commands exit through
:func:`fail` or :data:`EXIT`, never with a bare number.
"""

from __future__ import annotations

import sys
from typing import NoReturn

import click

from gateway.exits import CLIENTS, EXIT, TABLE, ExitStatus

__all__ = ["CLIENTS", "EXIT", "TABLE", "ExitStatus", "epilog", "fail"]


def epilog(command: str) -> str:
    """Return the "Exit status" paragraph of ``command``'s ``--help`` (its rows only)."""
    rows = [row for row in TABLE if "all" in row.commands or command in row.commands]
    lines = [f"  {row.status:<3} {row.short}" for row in rows]
    return "\b\nExit status (the table in docs/cli.md):\n" + "\n".join(lines)


def fail(message: str, name: str) -> NoReturn:
    """Print ``otp-gateway: message`` on stderr and exit with the status named ``name``."""
    click.echo(f"otp-gateway: {message}", err=True)
    sys.exit(EXIT[name])
