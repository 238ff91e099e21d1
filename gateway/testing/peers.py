"""Run programs we did not write (gammu, gammu-smsd, smstools' smsd) against a modem device.

Shared by tests/interop and the benchmark: render the measured peer configs
(at-conformance.md, copies in ``peer_configs/``) for a device and a spool directory, start
a peer in its own process group and stop it with nothing left behind, drop outgoing
message files atomically.

Everything waits on readiness: process exits through pidfds here, spool directories
through inotify in :mod:`gateway.testing.watch`. Nothing sleeps and nothing polls.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType, TracebackType
from typing import Literal

from gateway.errors import UsageError

#: copies of ../shared/peer-configs: smsdrc.* for gammu-smsd, smstools.* for smsd
CONFIG_DIR = Path(__file__).with_name("peer_configs")
TEMPLATES = ("smsdrc.fast1s", "smsdrc.default", "smstools.fast.conf", "smstools.default.conf")
#: program -> Debian package that ships it
PACKAGES = {"gammu": "gammu", "gammu-smsd": "gammu-smsd", "smsd": "smstools"}
#: the RunOnReceive (gammu-smsd) / eventhandler (smsd) script named in the configs; it
#: records every call, one line of arguments each, in events.log next to itself
EVENT_SCRIPT = '#!/bin/sh\nprintf "%s\\n" "$*" >> "$(dirname "$0")/events.log"\n'
#: spool subdirectories per program: incoming, outgoing, sent, failed (+ extra)
LAYOUT: dict[str, tuple[str, ...]] = {
    "gammu-smsd": ("inbox", "outbox", "sent", "error"),
    "smsd": ("incoming", "outgoing", "sent", "failed", "checked"),
}

Peer = Literal["gammu-smsd", "smsd"]


class PeerError(UsageError):
    """A peer program is missing, would not start or stop, or did not deliver in time."""


def require_program(name: str) -> str:
    """Return the path of program ``name``; raise PeerError naming its package if absent."""
    # smsd lives in /usr/sbin, which a non-root PATH may lack
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if path is None:
        package = PACKAGES.get(name, name)
        raise PeerError(f"{name} not found: install the Debian package {package} (.ci/run does)")
    return path


def _environment() -> dict[str, str]:
    """Return our environment with a UTF-8 locale: peers print and store text in its charset."""
    return {**os.environ, "LC_ALL": "C.UTF-8"}


def render_config(
    template: str, *, device: str, spool: Path, settings: Mapping[str, str] = MappingProxyType({})
) -> str:
    """Return peer config ``template`` with @DEVICE@ and @SPOOL@ filled in; raise PeerError.

    ``settings`` are appended as ``key = value`` lines, so they land in the template's
    last section: ``[smsd]`` for gammu-smsd, the modem's ``[GSM1]`` for smstools.
    """
    if template not in TEMPLATES:
        raise PeerError(f"unknown peer config {template!r}; one of {TEMPLATES}")
    for value in (device, str(spool)):
        if not value or any(c in value for c in "\r\n"):
            raise PeerError(f"device and spool must be one-line paths, got {value!r}")
    for key, value in settings.items():
        if not key.isidentifier() or any(c in value for c in "\r\n"):
            raise PeerError(f"bad peer setting {key!r} = {value!r}")
    text = (CONFIG_DIR / template).read_text(encoding="utf-8")
    text = text.replace("@DEVICE@", device).replace("@SPOOL@", str(spool))
    return text + "".join(f"{key} = {value}\n" for key, value in settings.items())


@dataclass(frozen=True, slots=True, kw_only=True)
class Spool:
    """The files of one spool-directory peer (gammu-smsd files backend or smsd)."""

    root: Path
    incoming: Path
    outgoing: Path
    sent: Path
    failed: Path
    config: Path
    log: Path
    events: Path

    def __post_init__(self) -> None:
        if not self.root.is_absolute():
            raise PeerError("spool root must be an absolute path")

    def logged_events(self) -> list[str]:
        """Return the event script's calls so far, one line of arguments each."""
        try:
            return self.events.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []


def prepare_spool(
    peer: Peer,
    root: Path,
    *,
    device: str,
    template: str,
    settings: Mapping[str, str] = MappingProxyType({}),
) -> Spool:
    """Create the spool directories, event script and config under ``root``; return them.

    Raises PeerError for an unknown template or a bad setting.
    """
    root = root.absolute()
    names = LAYOUT[peer]
    for name in names:
        (root / name).mkdir(parents=True, exist_ok=True)
    script = root / "onreceive.sh"
    script.write_text(EVENT_SCRIPT, encoding="utf-8")
    script.chmod(0o755)
    config = root / ("smsdrc" if peer == "gammu-smsd" else "smsd.conf")
    config.write_text(
        render_config(template, device=device, spool=root, settings=settings), encoding="utf-8"
    )
    incoming, outgoing, sent, failed = (root / n for n in names[:4])
    return Spool(
        root=root,
        incoming=incoming,
        outgoing=outgoing,
        sent=sent,
        failed=failed,
        config=config,
        log=root / "smsd.log",
        events=root / "events.log",
    )


def drop_file(directory: Path, name: str, text: str) -> Path:
    """Place ``text`` in ``directory/name`` by rename, so no peer reads it half-written."""
    if not name or "/" in name or name.startswith("."):
        raise PeerError(f"bad spool file name {name!r}")
    temporary = directory.parent / f".{name}.{os.getpid()}.tmp"
    temporary.write_text(text, encoding="utf-8")
    target = directory / name
    os.rename(temporary, target)
    return target


def live_group_members(pgid: int) -> set[int]:
    """Return the pids of live (non-zombie) processes in process group ``pgid``."""
    members = set()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_bytes()
        except OSError:
            continue  # exited while we looked
        fields = stat[stat.rindex(b")") + 2 :].split()  # state ppid pgrp ...
        if int(fields[2]) == pgid and fields[0] != b"Z":
            members.add(int(entry.name))
    return members


def _wait_exit(pids: set[int], deadline: float) -> set[int]:
    """Wait on pidfds until every pid in ``pids`` exited or ``deadline``; return the rest."""
    fds: dict[int, int] = {}
    try:
        for pid in pids:
            try:
                fds[os.pidfd_open(pid)] = pid
            except ProcessLookupError:
                continue
        while fds and (remaining := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select(list(fds), [], [], remaining)
            for fd in ready:
                del fds[fd]
                os.close(fd)
        return set(fds.values())
    finally:
        for fd in fds:
            os.close(fd)


class PeerProcess:
    """A peer program in its own process group; ``stop()`` ends the whole group."""

    def __init__(self, argv: Sequence[str], *, spool: Spool) -> None:
        self.argv = list(argv)
        self.spool = spool
        self.output = spool.root / "output.txt"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        """Return the peer's process id (also its process group id); raise PeerError if idle."""
        if self._proc is None:
            raise PeerError("peer not started")
        return self._proc.pid

    def start(self) -> None:
        """Start the program with stdout and stderr in ``output.txt``; raise PeerError."""
        if self._proc is not None:
            raise PeerError("peer already started")
        program = require_program(self.argv[0])  # absolute: smsd is in /usr/sbin
        with self.output.open("wb") as sink:
            self._proc = subprocess.Popen(
                [program, *self.argv[1:]],
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                cwd=self.spool.root,
                env=_environment(),
                start_new_session=True,  # its own group: stop() finds every child it forks
            )

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM the group, SIGKILL it after ``timeout`` s; return the exit status.

        Returns once no process of the group is alive; raises PeerError if one survives
        SIGKILL. Returns None if the peer was never started.
        """
        proc = self._proc
        if proc is None:
            return None
        pgid = proc.pid
        deadline = time.monotonic() + timeout
        killed = False
        self._signal(pgid, signal.SIGTERM)
        while members := live_group_members(pgid) | ({pgid} if proc.poll() is None else set()):
            alive = _wait_exit(members, deadline)
            if alive and time.monotonic() >= deadline:
                if killed:
                    raise PeerError(f"{self.argv[0]}: {sorted(alive)} survived SIGKILL")
                killed = True
                self._signal(pgid, signal.SIGKILL)
                deadline = time.monotonic() + 5.0
        return proc.wait()

    @staticmethod
    def _signal(pgid: int, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):  # the group is already gone
            os.killpg(pgid, signum)

    def diagnostics(self, limit: int = 4000) -> str:
        """Return the tail of the peer's output and log, for failure messages."""
        parts = []
        for path in (self.output, self.spool.log):
            try:
                text = path.read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            parts.append(f"--- {path.name}\n{text[-limit:]}")
        return "\n".join(parts)

    def __enter__(self) -> PeerProcess:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def gammu_smsd(
    device: str,
    root: Path,
    *,
    template: str = "smsdrc.fast1s",
    settings: Mapping[str, str] = MappingProxyType({}),
) -> PeerProcess:
    """Return (not started) gammu-smsd on ``device``, files backend, spool under ``root``.

    ``settings`` extend the ``[smsd]`` section; raises PeerError for bad ones.
    """
    spool = prepare_spool("gammu-smsd", root, device=device, template=template, settings=settings)
    return PeerProcess(["gammu-smsd", "-c", str(spool.config)], spool=spool)


def smstools(
    device: str,
    root: Path,
    *,
    template: str = "smstools.fast.conf",
    settings: Mapping[str, str] = MappingProxyType({}),
) -> PeerProcess:
    """Return (not started) smstools' smsd in the foreground on ``device``, spool in ``root``.

    ``settings`` extend the modem's ``[GSM1]`` section; raises PeerError for bad ones.
    """
    spool = prepare_spool("smsd", root, device=device, template=template, settings=settings)
    return PeerProcess(["smsd", "-t", "-c", str(spool.config)], spool=spool)


def write_gammurc(path: Path, *, device: str, log: Path | None = None) -> Path:
    """Write a gammu CLI config for ``device`` (AT connection, optional debug log); return it."""
    lines = ["[gammu]", f"device = {device}", "connection = at"]
    if log is not None:
        lines += ["logformat = textalldate", f"logfile = {log}"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run_gammu(
    config: Path, *args: str, stdin: str | None = None, timeout: float = 60.0
) -> subprocess.CompletedProcess[str]:
    """Run ``gammu -c CONFIG ARGS``; return it whatever its exit status.

    Raises PeerError if gammu is not installed or does not finish within ``timeout`` s.
    """
    program = require_program("gammu")
    try:
        return subprocess.run(
            [program, "-c", str(config), *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env=_environment(),
        )
    except subprocess.TimeoutExpired as exc:
        raise PeerError(f"gammu {' '.join(args)} did not finish in {timeout} s") from exc
