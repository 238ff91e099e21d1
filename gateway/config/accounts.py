"""Checks of the configuration against this machine's accounts (``check-config``).

``[[relay.access]]`` rules name users and groups; a name this machine does not know
(``pwd``/``grp``: the same name service the relay asks at connect time) matches nobody,
silently. Numeric ids are matched as numbers and need no account. ``relay.group`` is
stricter: ``run`` must give the socket that group and refuses to start when it is missing.
:func:`check_secrets` warns when someone besides the daemon's user can read a SIM PIN.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import stat
from collections.abc import Callable
from pathlib import Path

from gateway.config.errors import ConfigError
from gateway.config.schema import Config


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
    except KeyError:
        return False
    return True


def check_accounts(
    config: Config,
    *,
    user_exists: Callable[[str], bool] = _user_exists,
    group_exists: Callable[[str], bool] = _group_exists,
) -> tuple[str, ...]:
    """Return one warning per access-rule user or group name unknown on this machine.

    ``*`` and numeric ids are never warned about. Returns the warnings (``key: text``,
    in file order); raises :class:`ConfigError` naming ``relay.group`` when the socket
    group does not exist, since ``run`` would then refuse to start.
    """
    group = config.relay.group
    if group is not None and not group_exists(group):
        raise ConfigError(
            "relay.group",
            f"group {group!r} does not exist on this machine (run would refuse to start)",
        )
    warnings: list[str] = []
    for index, rule in enumerate(config.relay.access):
        key = f"relay.access[{index}]"
        for user in rule.users:
            if user != "*" and not user.isdigit() and not user_exists(user):
                warnings.append(
                    f"{key}.users: no user {user!r} on this machine; this name matches nobody"
                )
        for name in rule.groups:
            if not name.isdigit() and not group_exists(name):
                warnings.append(
                    f"{key}.groups: no group {name!r} on this machine; this name matches nobody"
                )
    return tuple(warnings)


def _stat_readers(info: os.stat_result, daemon_uid: int) -> list[str]:
    """Return who, besides root and ``daemon_uid``, may read a file with ``info``.

    Judged from the mode bits, the owner and the group's members (``gr_mem`` and the
    users whose primary group it is); access control lists are not looked at.
    """
    readers: list[str] = []
    if info.st_mode & stat.S_IROTH:
        readers.append("every user (mode o+r)")
    if info.st_mode & stat.S_IRGRP:
        members = _group_members(info.st_gid) - {user_name(daemon_uid), "root"}
        if members:
            readers.append(f"group {group_name(info.st_gid)} ({', '.join(sorted(members))})")
    if info.st_mode & stat.S_IRUSR and info.st_uid not in (0, daemon_uid):
        readers.append(f"its owner {user_name(info.st_uid)}")
    return readers


def _group_members(gid: int) -> set[str]:
    members: set[str] = set()
    with contextlib.suppress(KeyError):
        members.update(grp.getgrgid(gid).gr_mem)
    members.update(entry.pw_name for entry in pwd.getpwall() if entry.pw_gid == gid)
    return members


def user_name(uid: int) -> str:
    """Return the name of user ``uid``, or the number when the system knows no such user."""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def group_name(gid: int) -> str:
    """Return the name of group ``gid``, or the number when the system knows no such group."""
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def check_secrets(config: Config, path: Path, *, daemon_uid: int | None = None) -> tuple[str, ...]:
    """Return one warning per SIM PIN that someone besides the daemon's user can read.

    ``path`` is the configuration file (it holds an inline ``pin``); ``daemon_uid`` is
    the daemon's user (default: the user running the check, as the install guide runs
    ``check-config`` as the service user). Root is never counted. A ``pin_credential``
    is not checked: systemd copies it into a directory only the service can read.
    Returns the warnings (``key: text``, in file order); never raises.
    """
    uid = os.geteuid() if daemon_uid is None else daemon_uid
    warnings: list[str] = []
    for index, modem in enumerate(config.modem):
        if modem.pin is not None:
            source, key = path, f"modem[{index}].pin"
            advice = "move it to pin_credential (LoadCredential=) or a pin_file only it can read"
        elif modem.pin_file is not None:
            source, key = modem.pin_file, f"modem[{index}].pin_file"
            advice = "make the file mode 0600, owned by the daemon's user"
        else:
            continue
        try:
            readers = _stat_readers(os.stat(source), uid)
        except OSError:
            continue  # an unreadable pin_file is reported when the daemon reads it
        if readers:
            warnings.append(
                f"{key}: the SIM PIN in {source} is readable by {'; '.join(readers)}; {advice}"
            )
    return tuple(warnings)
