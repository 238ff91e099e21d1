"""The relay's listening socket: bind safely, or take the one systemd passed us.

Socket activation follows sd_listen_fds(3): when ``LISTEN_PID`` is our pid and
``LISTEN_FDS`` >= 1, the socket is fd 3 (``SD_LISTEN_FDS_START``); the variables are then
unset so children do not inherit them. Otherwise we bind the path ourselves: a stale
socket file (connect gives ``ECONNREFUSED``) is replaced, a live one is never stolen, and
the file gets its mode and group *before* it appears under its name (bind to a temporary
name, chmod/chown, rename), so there is no window with the umask's permissions.
"""

from __future__ import annotations

import contextlib
import grp
import os
import socket
import stat
from collections.abc import MutableMapping
from dataclasses import dataclass
from pathlib import Path

from gateway.errors import UsageError

SD_LISTEN_FDS_START = 3
# sun_path is 108 bytes on Linux, including the terminating NUL (unix(7)).
_SUN_PATH_MAX = 107


@dataclass(frozen=True, slots=True, kw_only=True)
class Listener:
    """A listening Unix stream socket and whether (and where) we created its file."""

    sock: socket.socket
    activated: bool
    path: Path | None  # the file we created and must unlink, None when systemd owns it
    inode: int | None = None

    def unlink(self) -> None:
        """Remove the socket file if it is still the one we created."""
        if self.path is None:
            return
        with contextlib.suppress(FileNotFoundError):
            if os.lstat(self.path).st_ino == self.inode:
                self.path.unlink()


def activated_socket(environ: MutableMapping[str, str] | None = None) -> socket.socket | None:
    """Take the first socket passed by systemd, if the environment names this process.

    Returns the socket (or ``None`` when not socket-activated); raises
    :class:`UsageError` when the passed fd is not a Unix stream socket.
    """
    env = os.environ if environ is None else environ
    try:
        pid, count = int(env.get("LISTEN_PID", "")), int(env.get("LISTEN_FDS", ""))
    except ValueError:
        return None
    if pid != os.getpid() or count < 1:
        return None
    for name in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
        env.pop(name, None)
    try:
        sock = socket.socket(fileno=SD_LISTEN_FDS_START)
    except OSError as exc:
        raise UsageError(f"LISTEN_FDS is set but fd 3 is not a socket: {exc}") from exc
    if sock.family != socket.AF_UNIX or sock.type != socket.SOCK_STREAM:
        sock.detach()
        raise UsageError("the socket passed by systemd is not a Unix stream socket")
    sock.set_inheritable(False)
    return sock


def _group_id(group: str | int | None) -> int | None:
    if group is None or isinstance(group, int):
        return group
    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        raise UsageError(f"socket group {group!r} does not exist") from None


def _clear_stale(path: Path) -> None:
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise UsageError(f"{path} exists and is not a socket; refusing to replace it")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(os.fspath(path))
    except ConnectionRefusedError:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # stale: nobody listens on it any more
        return
    except OSError as exc:
        raise UsageError(f"cannot check existing socket {path}: {exc.strerror}") from exc
    finally:
        probe.close()
    raise UsageError(f"{path} is in use by a running process; not taking it over")


def bind_unix(path: Path, *, mode: int = 0o660, group: str | int | None = None) -> Listener:
    """Bind a Unix stream socket at ``path`` with ``mode`` and ``group``.

    Returns the :class:`Listener` (not yet listening); raises :class:`UsageError` when the
    path is too long, occupied by a live socket or a non-socket, or cannot be bound.
    """
    if len(os.fsencode(path)) > _SUN_PATH_MAX:
        raise UsageError(f"socket path {path} is longer than {_SUN_PATH_MAX} bytes")
    gid = _group_id(group)
    _clear_stale(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        sock.bind(os.fspath(temporary))
        os.chmod(temporary, mode)
        if gid is not None:
            os.chown(temporary, -1, gid)
        os.replace(temporary, path)
        inode = os.lstat(path).st_ino
    except OSError as exc:
        sock.close()
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise UsageError(f"cannot create socket {path}: {exc.strerror or exc}") from exc
    return Listener(sock=sock, activated=False, path=path, inode=inode)


def open_listener(path: Path, *, mode: int = 0o660, group: str | int | None = None) -> Listener:
    """Return the socket-activated listener if systemd passed one, else bind ``path``.

    Raises :class:`UsageError` as :func:`bind_unix` and :func:`activated_socket` do.
    """
    sock = activated_socket()
    if sock is not None:
        return Listener(sock=sock, activated=True, path=None)
    return bind_unix(path, mode=mode, group=group)
