"""The relay's listening socket: bind safely, or take the one systemd passed us.

Socket activation follows sd_listen_fds(3): when ``LISTEN_PID`` is our pid and
``LISTEN_FDS`` >= 1, the socket is fd 3 (``SD_LISTEN_FDS_START``); the variables are then
unset so children do not inherit them. Otherwise we bind the path ourselves: a stale
socket file (connect gives ``ECONNREFUSED``) is replaced, a live one is never stolen.

The file is born with its final mode and group, so there is no window with other
permissions and no chmod/chown by path that a directory owner could redirect:

- mode: ``fchmod`` on the socket's fd before ``bind``, and the umask relaxed for the
  ``bind`` call only by the bits of the wanted mode. Linux creates the file with the
  socket inode's mode minus the umask (``unix_bind`` in net/unix/af_unix.c).
- group: a new file takes the group of a set-group-ID directory, else the process's
  group. When that is already the wanted group (the shipped unit runs with
  ``Group=`` the socket group) there is no chown at all, which is what the unit's
  ``SystemCallFilter=~@privileged`` (no chown family) needs. Only otherwise (run by
  hand, as root or as a member of the group) the socket is bound in a fresh private
  directory (mode 0700, random name) next to the final path, given its group by that
  directory's fd (``fchownat``, not following links) and renamed into place from there
  (``renameat``). Nobody else can swap names inside our 0700 directory; if the
  directory itself is swapped before ``bind``, the socket is not found by the fd and we
  give up instead of touching anything else.
"""

from __future__ import annotations

import contextlib
import errno
import grp
import os
import socket
import stat
import tempfile
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
    path is too long, occupied by a live socket or a non-socket, or cannot be bound with
    that mode and group (e.g. chown denied).
    """
    if len(os.fsencode(path)) > _SUN_PATH_MAX:
        raise UsageError(f"socket path {path} is longer than {_SUN_PATH_MAX} bytes")
    gid = _group_id(group)
    _clear_stale(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        if gid is None or gid == _born_group(path.parent):
            _bind_with_mode(sock, path, mode)
            info = os.lstat(path)
            if gid is not None and info.st_gid != gid:  # the directory changed under us
                raise UsageError(f"{path} was created with group {info.st_gid}, not {gid}")
        else:
            _bind_elsewhere_and_move(sock, path, mode, gid)
            info = os.lstat(path)
    except OSError as exc:
        sock.close()
        hint = ""
        if exc.errno == errno.EPERM and gid is not None:
            hint = (
                f" (giving it group {gid} needs chown: run the daemon with that group as its"
                " own (Group=), in a set-group-ID directory of that group, or use the socket"
                " unit)"
            )
        raise UsageError(f"cannot create socket {path}: {exc.strerror or exc}{hint}") from exc
    except UsageError:
        sock.close()
        raise
    return Listener(sock=sock, activated=False, path=path, inode=info.st_ino)


def _born_group(directory: Path) -> int:
    """Return the group a file created in ``directory`` by this process gets (no chown)."""
    info = os.stat(directory)
    return info.st_gid if info.st_mode & stat.S_ISGID else os.getegid()


def _bind_with_mode(sock: socket.socket, target: Path, mode: int) -> None:
    """Bind ``sock`` at ``target`` so that the file is created with exactly ``mode``."""
    os.fchmod(sock.fileno(), mode)
    # The umask is per process; the daemon binds from its event loop before any worker
    # thread creates files, and only the bits of ``mode`` are let through meanwhile.
    old = os.umask(0o077)
    os.umask(old & ~mode)
    try:
        sock.bind(os.fspath(target))
    finally:
        os.umask(old)


def _bind_elsewhere_and_move(sock: socket.socket, path: Path, mode: int, gid: int) -> None:
    """Bind in a private directory beside ``path``, set the group by fd, rename into place."""
    parent = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        private = tempfile.mkdtemp(prefix=".", dir=path.parent)  # mode 0700, random name
        name = os.path.basename(private)
        try:
            inside = os.open(
                name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent
            )
        except OSError:
            raise UsageError(f"{private} changed while the socket was being created") from None
        ours = False
        try:
            info = os.fstat(inside)
            if info.st_uid != os.geteuid() or stat.S_IMODE(info.st_mode) != 0o700:
                raise UsageError(f"{private} changed while the socket was being created")
            ours = True
            temporary = Path(private) / "s"
            if len(os.fsencode(temporary)) > _SUN_PATH_MAX:
                raise UsageError(
                    f"socket path {path} is too long to be created with group {gid}; "
                    "use a shorter path"
                )
            _bind_with_mode(sock, temporary, mode)
            try:
                os.chown("s", -1, gid, dir_fd=inside, follow_symlinks=False)
                os.rename("s", path.name, src_dir_fd=inside, dst_dir_fd=parent)
            finally:
                with contextlib.suppress(OSError):
                    os.unlink("s", dir_fd=inside)
        finally:
            os.close(inside)
            if ours:
                with contextlib.suppress(OSError):
                    os.rmdir(name, dir_fd=parent)
    finally:
        os.close(parent)


def open_listener(path: Path, *, mode: int = 0o660, group: str | int | None = None) -> Listener:
    """Return the socket-activated listener if systemd passed one, else bind ``path``.

    Raises :class:`UsageError` as :func:`bind_unix` and :func:`activated_socket` do.
    """
    sock = activated_socket()
    if sock is not None:
        return Listener(sock=sock, activated=True, path=None)
    return bind_unix(path, mode=mode, group=group)
