"""The configuration's one error: :class:`ConfigError` names the dotted key and the problem.

Whoever finds the problem raises it (the TOML reader, a settings dataclass's
``__post_init__``, a check against this machine's accounts); ``run`` and ``check-config``
print its message and exit non-zero.
"""

from __future__ import annotations

from gateway.errors import UsageError


class ConfigError(UsageError):
    """The configuration is invalid; the message names the dotted key and the problem."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}" if key else problem)
        self.key = key
        self.problem = problem
