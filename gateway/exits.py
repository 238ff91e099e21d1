"""The exit statuses of every ``otp-gateway`` process, in one table.

The meaning of a status is the same for every command: a script can tell a timeout from a
refusal from a missing gateway without knowing which command it ran. 6 and 7 are per
command (``send --wait delivered``, ``status``); 69 and 78 are ``run``'s, for systemd
(sysexits.h EX_UNAVAILABLE and EX_CONFIG). The table stands on the ground floor so that
the daemon (69, :data:`gateway.daemon.lifecycle.EXIT_MODEM_STUCK`) and the command line
(:mod:`gateway.cli.exits`: ``--help`` epilogs, :func:`~gateway.cli.exits.fail`) read the
same rows; docs/cli.md shows :data:`TABLE` (a test compares them).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class ExitStatus:
    """One row of the table: the status, its name in code, what it means, and who uses it."""

    status: int
    name: str
    short: str
    meaning: str
    commands: tuple[str, ...] = ("all",)


#: the commands that talk to a running gateway
CLIENTS = ("send", "receive", "status")

TABLE: tuple[ExitStatus, ...] = (
    ExitStatus(
        status=0, name="ok", short="success", meaning="done (for `run`: stopped by SIGTERM/SIGINT)"
    ),
    ExitStatus(
        status=1,
        name="error",
        short="refused or failed",
        meaning="refused or failed: the request was understood and the answer is no (a"
        " number or country refused, rate limited, a job failed, not an origin-bound"
        " message, the daemon could not start or failed, the simulator refused)",
    ),
    ExitStatus(
        status=2,
        name="usage",
        short="usage or configuration error",
        meaning="what you wrote is wrong: an unknown option, a missing argument, a bad"
        " value, options that do not go together, an invalid configuration file"
        " (one line naming the key; the unit's `RestartPreventExitStatus=78 2` keeps"
        " systemd from restarting `run` on it)",
    ),
    ExitStatus(
        status=3,
        name="timeout",
        short="timeout",
        meaning="no answer or no code within `--timeout`",
        commands=CLIENTS,
    ),
    ExitStatus(
        status=4,
        name="forbidden",
        short="no access (the message says what to do)",
        meaning="no access: no `[[relay.access]]` rule grants this operation for this origin"
        " (or the gateway does not accept codes for it), or your user may not open the"
        " socket (not in its group: the message names the group and how to join it)",
        commands=CLIENTS,
    ),
    ExitStatus(
        status=5,
        name="unavailable",
        short="gateway unavailable",
        meaning="nothing to talk to: the gateway (or the simulator) is not running, has no"
        " usable modem, or is shutting down",
        commands=(*CLIENTS, "simulator"),
    ),
    ExitStatus(
        status=6,
        name="no_reports",
        short="sent, no delivery report will come",
        meaning="`send --wait delivered`: the job was sent, but the gateway has delivery"
        " reports off, so no delivery will be confirmed",
        commands=("send",),
    ),
    ExitStatus(
        status=6,
        name="degraded",
        short="shown, degraded",
        meaning="`status`: shown, and something needs attention (the conditions are listed)",
        commands=("status",),
    ),
    ExitStatus(
        status=7,
        name="down",
        short="shown, no modem ready",
        meaning="`status`: shown, and no modem is ready",
        commands=("status",),
    ),
    ExitStatus(
        status=69,
        name="not_ready",
        short="a modem stayed not ready (systemd restarts)",
        meaning="`run`: a modem stayed present but not ready through every recovery step;"
        " systemd restarts the daemon",
        commands=("run",),
    ),
    ExitStatus(
        status=78,
        name="sim",
        short="the SIM needs a person (systemd does not restart)",
        meaning="`run`: the SIM needs a person (wrong or missing PIN, PUK, no SIM); the"
        " unit's `RestartPreventExitStatus=78 2` keeps systemd from trying the PIN again",
        commands=("run",),
    ),
)

#: exit status by name ("ok", "error", "usage", ...)
EXIT: dict[str, int] = {row.name: row.status for row in TABLE}
