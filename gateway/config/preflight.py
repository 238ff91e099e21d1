"""What ``run`` needs beyond a well-formed file: the checks ``check-config`` and ``run`` share.

:func:`gateway.config.load` refuses a file that is malformed. A well-formed file can
still keep ``run`` from working: a ``pin_file`` that is missing (``run`` exits 2 and
systemd restarts it in a loop), a relative device path (resolved against the daemon's
working directory, ``/`` under systemd), a template too long for one SMS with
``multi_segment = "refuse"`` (every send refused). :func:`preflight` finds these, plus
the account and PIN-readability checks of :mod:`gateway.config.accounts`, so that
``check-config`` prints what ``run`` would refuse with, word for word.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from gateway.config.accounts import check_accounts, check_secrets
from gateway.config.errors import ConfigError
from gateway.config.schema import Config
from gateway.webotp import InputError, compose

#: the shortest origin a send can name ("a.io"): a template too long with it is too long
#: with every origin
SHORTEST_ORIGIN = "a.io"


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """A finding that does not stop ``run``: the dotted key, the problem, its log event."""

    key: str
    problem: str
    event: str

    def __str__(self) -> str:
        return f"{self.key}: {self.problem}"


def preflight(
    config: Config,
    path: Path,
    *,
    credentials: bool,
    environ: Mapping[str, str] | None = None,
) -> tuple[Finding, ...]:
    """Check what ``run`` will need of ``config`` (read from ``path``) on this machine.

    Errors raise :class:`ConfigError` naming the dotted key (the first one found, in
    file order): a device path that is not absolute, a ``pin_file`` that cannot be read
    or holds no 4-8 digit PIN, a ``relay.group`` missing here, a template that needs two
    SMS for every send while ``multi_segment = "refuse"``. With ``credentials``
    (``run``, and ``check-config`` under a ``$CREDENTIALS_DIRECTORY``) a
    ``pin_credential`` is read too. Returns the warnings: unknown users and groups in
    access rules, a PIN others can read, a template that makes every send two SMS
    under ``multi_segment = "warn"``.
    """
    env = os.environ if environ is None else environ
    for index, modem in enumerate(config.modem):
        if not os.path.isabs(modem.device):
            raise ConfigError(
                f"modem[{index}].device",
                f"{modem.device!r} is not an absolute path (run would look for it relative"
                " to its working directory, / under systemd); write /dev/...",
            )
        if modem.pin_file is not None or (
            modem.pin_credential is not None and (credentials or env.get("CREDENTIALS_DIRECTORY"))
        ):
            which = "pin_file" if modem.pin_file is not None else "pin_credential"
            try:
                modem.resolve_pin(env)
            except ConfigError as exc:
                raise ConfigError(f"modem[{index}].{which}", exc.problem) from None
    warnings = [
        Finding(key=key, problem=problem, event="config.unknown_account")
        for key, _, problem in (w.partition(": ") for w in check_accounts(config))
    ]
    warnings += [
        Finding(key=key, problem=problem, event="config.pin_readable")
        for key, _, problem in (w.partition(": ") for w in check_secrets(config, path))
    ]
    template = _template_segments(config)
    if template is not None:
        warnings.append(template)
    return tuple(warnings)


def _template_segments(config: Config) -> Finding | None:
    """Return a warning (or raise) when ``send.template`` makes every SMS two segments."""
    send = config.send
    try:
        message = compose(origin=SHORTEST_ORIGIN, code="0" * send.code_length, text=send.template)
    except InputError:
        return None  # the schema checked the template; a code-specific problem is per send
    if message.segments == 1:
        return None
    unit = "septets" if message.encoding == "gsm7" else "UCS-2 units"
    needs = (
        f"with a {send.code_length}-character code and an origin as short as"
        f" {SHORTEST_ORIGIN}, the message needs {message.segments} SMS"
        f" ({message.length} {unit}; one SMS holds 160 GSM-7 or 70 UCS-2)"
    )
    if send.multi_segment == "refuse":
        raise ConfigError(
            "send.template",
            f'{needs}, and send.multi_segment = "refuse": every send would be refused;'
            " shorten the template",
        )
    return Finding(
        key="send.template",
        problem=f'{needs}: every send costs {message.segments} SMS (multi_segment = "warn")',
        event="config.template_segments",
    )
