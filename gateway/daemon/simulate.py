"""``run --simulate``: the daemon on a built-in simulated modem, ready to try.

Everything lives in one fresh directory (under ``$XDG_RUNTIME_DIR`` when set, else the
system temp dir): the modem's pty link, the simulator's control socket, the relay socket
and the journal. The configuration admits ``example.com`` (plus any ``--origin``), sends
to the simulator's +1 555 numbers, and lets the invoking user do everything.
"""

from __future__ import annotations

import os
import shlex
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from gateway.config import (
    OPERATIONS,
    AccessRule,
    Config,
    JournalSettings,
    LogSettings,
    ModemSettings,
    ReceiveSettings,
    RelaySettings,
    SendSettings,
)
from gateway.config.schema import PROFILES
from gateway.errors import UsageError
from gateway.simulator import ModemConfig
from gateway.webotp import AllowList, InputError

#: The simulated modem's own number and the sender of injected SMS (+1 555: fiction).
MODEM_NUMBER = "+15550000001"
PEER_NUMBER = "+15557654321"
DEFAULT_ORIGIN = "example.com"


@dataclass(frozen=True, slots=True, kw_only=True)
class SimulatedSetup:
    """Where a simulated gateway keeps its files, and what it admits."""

    base: Path
    socket: Path
    control: Path
    link: Path
    state_dir: Path
    origins: tuple[str, ...]
    profile: str = "generic"

    def __post_init__(self) -> None:
        if not self.origins:
            raise UsageError("a simulated gateway needs at least one origin")

    @classmethod
    def in_directory(
        cls,
        base: Path,
        *,
        origins: Sequence[str] = (),
        profile: str = "generic",
        socket: Path | None = None,
    ) -> SimulatedSetup:
        """Lay out the files under ``base`` (``socket`` may live elsewhere).

        Raises :class:`UsageError` for an origin that is not a valid host or pattern.
        """
        admitted = tuple(dict.fromkeys([DEFAULT_ORIGIN, *origins]))
        try:
            AllowList.from_entries(admitted)
        except InputError as exc:
            raise UsageError(f"--origin: {exc.key}: {exc.problem}") from None
        base = base.absolute()
        return cls(
            base=base,
            socket=(socket or base / "gateway.sock").absolute(),
            control=base / "simulator.sock",
            link=base / "modem",
            state_dir=base / "state",
            origins=admitted,
            profile=profile,
        )

    def modem(self) -> ModemConfig:
        """Return the simulated modem's configuration (on the pty link)."""
        return ModemConfig(number=MODEM_NUMBER, profile=self.profile, link=self.link)

    @property
    def dialect(self) -> str:
        """The daemon's ``profile`` for this modem: the simulator profile's name where the
        daemon knows it as a dialect, else "auto" (a recorded device is recognised from
        its AT+CGMI answer, as a real one would be)."""
        return self.profile if self.profile in PROFILES else "auto"

    def config(self, *, uid: int | None = None, log: LogSettings | None = None) -> Config:
        """Return the daemon configuration for this setup; ``uid`` (default: ours) may do all."""
        user = str(os.getuid() if uid is None else uid)
        return Config(
            modem=(ModemSettings(name="sim0", device=str(self.link), profile=self.dialect),),
            receive=ReceiveSettings(allowed_origins=self.origins),
            # +1 555 numbers are fictional: not "valid" in the numbering plan.
            send=SendSettings(allowed_countries=("US",), valid_numbers_only=False),
            relay=RelaySettings(
                socket=self.socket,
                socket_mode=0o600,
                # every client of a simulated gateway is one user (benchmarks run 100 at once)
                max_connections_per_uid=RelaySettings().max_connections,
                access=(AccessRule(users=(user,), operations=OPERATIONS, origins=("*",)),),
            ),
            journal=JournalSettings(state_dir=self.state_dir),
            log=log or LogSettings(),
        )

    def banner(self, program: str = "otp-gateway") -> str:
        """Return the text telling a person how to talk to this gateway."""
        sock, ctl = shlex.quote(str(self.socket)), shlex.quote(str(self.control))
        origin = self.origins[0]
        message = f"$'Your code is 123456.\\n\\n@{origin} #123456'"
        return "\n".join(
            [
                f"otp-gateway is running on a simulated modem ({MODEM_NUMBER}).",
                f"  socket:    {self.socket}",
                f"  simulator: {self.control}",
                f"  state:     {self.state_dir}",
                f"  origins:   {', '.join(self.origins)}",
                "",
                "Try it from a second terminal:",
                f"  {program} receive --socket {sock} --origin {origin}",
                f"  {program} simulator inject --control {ctl} {message}",
                f"  {program} send --socket {sock} {PEER_NUMBER} --origin {origin} --wait sent",
                f"  {program} simulator sent --control {ctl}",
                f"  {program} status --socket {sock}",
                "",
                "Stop with Ctrl-C.",
            ]
        )


def runtime_base() -> Path:
    """Create and return a fresh private directory for a simulated gateway.

    Under ``$XDG_RUNTIME_DIR`` when it is set and writable, else the system temp dir.
    Raises :class:`UsageError` when no directory can be created.
    """
    parent = os.environ.get("XDG_RUNTIME_DIR") or None
    if parent is not None and not os.access(parent, os.W_OK | os.X_OK):
        parent = None
    try:
        return Path(tempfile.mkdtemp(prefix="otp-gateway-", dir=parent))
    except OSError as exc:
        raise UsageError(f"cannot create a runtime directory: {exc}") from exc
