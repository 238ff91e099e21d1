"""The gateway's configuration: one TOML file read into frozen, self-validating dataclasses.

- :mod:`~gateway.config.loading`: :func:`load` (the file) and :func:`parse` (a parsed
  document) into a :class:`Config`;
- :mod:`~gateway.config.schema`: one frozen dataclass per TOML table, validated in
  ``__post_init__``;
- :mod:`~gateway.config.tables`: the TOML reader whose errors name the dotted key, and
  the value converters;
- :mod:`~gateway.config.accounts`: ``check-config``'s checks against this machine's
  users, groups and file modes;
- :mod:`~gateway.config.errors`: :class:`ConfigError`, naming the dotted key and the
  problem.

The names below are the configuration's public face; the modules import each other one
way (errors, tables, schema, loading, accounts), never through this package.
"""

from __future__ import annotations

from gateway.config.errors import ConfigError
from gateway.config.loading import DEFAULT_PATH, check_devices, load, parse
from gateway.config.schema import (
    AccessRule,
    Config,
    JournalSettings,
    LogSettings,
    ModemSettings,
    RateLimitSettings,
    ReceiveSettings,
    RelaySettings,
    SendSettings,
)
from gateway.config.tables import MEMORIES, OPERATIONS

__all__ = [
    "DEFAULT_PATH",
    "MEMORIES",
    "OPERATIONS",
    "AccessRule",
    "Config",
    "ConfigError",
    "JournalSettings",
    "LogSettings",
    "ModemSettings",
    "RateLimitSettings",
    "ReceiveSettings",
    "RelaySettings",
    "SendSettings",
    "check_devices",
    "load",
    "parse",
]
