"""Checks of the configuration against this machine's accounts (``check-config``).

``[[relay.access]]`` rules name users and groups; a name this machine does not know
(``pwd``/``grp``: the same name service the relay asks at connect time) matches nobody,
silently. Numeric ids are matched as numbers and need no account. ``relay.group`` is
stricter: ``run`` must chown the socket to it and refuses to start when it is missing.
"""

from __future__ import annotations

import grp
import pwd
from collections.abc import Callable

from gateway.config_schema import Config
from gateway.config_toml import ConfigError


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
