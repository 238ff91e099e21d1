"""Settings to component configurations: pure functions the daemon composes with.

Each function turns one part of :class:`gateway.config.Config` into the value the
component takes, so the mapping is tested without starting anything.
"""

from __future__ import annotations

from pathlib import Path

from gateway.at import Timeouts
from gateway.config import AccessRule, Config, ModemSettings, RateLimitSettings
from gateway.modem.health import HealthConfig
from gateway.modem.init import InitConfig
from gateway.modem.link import LinkConfig
from gateway.modem.pinguard import FILENAME as PIN_RECORD
from gateway.modem.session import SessionConfig
from gateway.ratelimit import DAY, RateLimiter
from gateway.relay.access import AccessControl, Rule, build_rule
from gateway.relay.server import RelayConfig


def session_config(modem: ModemSettings, *, state_dir: Path | None = None) -> SessionConfig:
    """Return the modem session's settings for one ``[[modem]]``.

    ``command_timeout`` bounds ordinary commands and the ``>`` prompt; listing and
    network commands get proportionally longer (AT+CMGL on a full SIM, AT+COPS);
    ``send_timeout`` bounds the wait for ``+CMGS`` after Ctrl-Z (TS 27.005 §3.5.1).
    Rejected SIM PINs are remembered in ``state_dir`` (never re-entered after a
    restart). Reads ``pin_file`` if set; raises :class:`gateway.config.ConfigError` when
    unreadable.
    """
    pin = modem.resolve_pin()
    timeout = modem.command_timeout
    return SessionConfig(
        link=LinkConfig(
            device=modem.device,
            baudrate=modem.baudrate,
            rtscts=modem.flow_control == "rtscts",
            xonxoff=modem.flow_control == "xonxoff",
        ),
        timeouts=Timeouts(
            quick=timeout,
            sim=timeout,
            list=3 * timeout,
            network=18 * timeout,
            prompt=timeout,
            body=modem.send_timeout,
        ),
        init=InitConfig(
            pin=None if pin is None else pin.reveal(),
            storage=modem.storage,
            dialect=modem.profile,
        ),
        health=HealthConfig(interval=modem.health_interval),
        not_ready_limit=modem.not_ready_limit,
        pin_record=None if state_dir is None else state_dir / PIN_RECORD,
    )


def access_rules(rules: tuple[AccessRule, ...]) -> list[Rule]:
    """Return the relay's rules for the ``[[relay.access]]`` tables (in order).

    Raises :class:`gateway.errors.UsageError` for a rule the relay cannot use.
    """
    return [
        build_rule(
            users=rule.users, groups=rule.groups, operations=rule.operations, origins=rule.origins
        )
        for rule in rules
    ]


def access_control(config: Config) -> AccessControl:
    """Return a deny-by-default :class:`AccessControl` over the configured rules."""
    return AccessControl(access_rules(config.relay.access))


def relay_config(config: Config) -> RelayConfig:
    """Return the relay server's settings: socket, group, limits and the grace window."""
    relay = config.relay
    return RelayConfig(
        path=relay.socket,
        group=relay.group,
        mode=relay.socket_mode,
        max_line=relay.max_line,
        max_pending_gets=relay.max_pending_gets,
        max_connections=relay.max_connections,
        max_connections_per_uid=relay.max_connections_per_uid,
        idle_timeout=relay.idle_timeout,
        grace=config.receive.grace_window,
        # a kept code must still be valid when a resuming get takes it
        resume_window=min(relay.resume_window, config.receive.code_expiry),
    )


def rate_limiter(settings: RateLimitSettings) -> RateLimiter:
    """Return an empty rate limiter with the configured limits."""
    return RateLimiter(
        per_number=settings.per_number,
        per_origin=settings.per_origin,
        global_per_minute=settings.global_per_minute or None,
        global_per_day=settings.global_per_day or None,
    )


def history_horizon(settings: RateLimitSettings) -> float:
    """Return how many seconds of send history the limiter must replay at start."""
    periods = [rate.period for rate in (*settings.per_number, *settings.per_origin)]
    if settings.global_per_day:
        periods.append(DAY)
    return max([60.0, *periods])
