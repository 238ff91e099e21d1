"""Whether this user may open the gateway's socket, and if not, what to do about it.

A consumer outside the socket's group fails at connect(2) with EACCES; the CLI checks
first and says which group to join and how (exit "no access", docs/cli.md), naming
the group the socket (or the directory in the way) really has. Only reads metadata
(``stat``, ``access``, the account database): never connects.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from gateway.config.accounts import group_name, user_name

#: the socket's group in the shipped units (systemd/otp-gateway.socket, docs/install.md)
CLIENTS_GROUP = "otp-gateway-clients"


def access_problem(socket_path: Path) -> str | None:
    """Return why this user may not open ``socket_path``, naming the group to join; or None.

    connect(2) on a Unix socket needs search access to its directories and write
    access to the socket file. A missing socket is not an access problem (the gateway
    is not running: connecting says so).
    """
    user = user_name(os.getuid())
    try:
        info = os.stat(socket_path)
    except PermissionError:
        blocked = _closed_directory(socket_path)
        group = CLIENTS_GROUP if blocked is None else group_name(os.stat(blocked).st_gid)
        return _join_hint(f"{user} may not enter {blocked or socket_path.parent}", group, user)
    except OSError:
        return None
    if os.access(socket_path, os.W_OK):
        return None
    return _join_hint(
        f"{user} may not open {socket_path} (mode {stat.filemode(info.st_mode)}, group"
        f" {group_name(info.st_gid)})",
        group_name(info.st_gid),
        user,
    )


def _closed_directory(path: Path) -> Path | None:
    """Return the first directory above ``path`` this user may not search, if one is seen."""
    for directory in reversed(path.absolute().parents):
        try:
            os.stat(directory)
        except OSError:
            return None
        if not os.access(directory, os.X_OK):
            return directory
    return None


def _join_hint(problem: str, group: str, user: str) -> str:
    return (
        f"no access to the gateway's socket: {problem}; consumers need the group {group}:"
        f" sudo usermod -aG {group} {user}, then log in again (or run: newgrp {group})"
    )
