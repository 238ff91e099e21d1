"""The relay socket is born with its final mode and group, also under the unit's seccomp filter."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from seccomp_helpers import ROOT, under_unit_filter, unit_denied_syscalls

from gateway.errors import UsageError
from gateway.relay.listener import bind_unix

NOBODY = 65534  # nobody / nogroup on Debian

# Bind as the daemon does (umask as in the unit: UMask=0077), print the socket's mode and
# group, serve one client a line, then remove the file.
LISTENER = """
import os, stat, sys
from pathlib import Path
from gateway.errors import UsageError
from gateway.relay.listener import bind_unix
os.umask(0o077)
path, group = Path(sys.argv[1]), sys.argv[2]
try:
    listener = bind_unix(path, mode=0o660, group=group)
except UsageError as exc:
    print("refused", exc, flush=True)
    raise SystemExit(3)
listener.sock.listen(1)
info = os.lstat(path)
print("ready", oct(stat.S_IMODE(info.st_mode)), info.st_gid, flush=True)
conn, _ = listener.sock.accept()
conn.sendall(b"served\\n")
conn.close()
listener.unlink()
"""


@pytest.fixture
def public_dir() -> Iterator[Path]:
    """A directory outside pytest's 0700 tmp dirs, owned by nobody (mode 0755)."""
    base = Path(tempfile.mkdtemp(prefix="relay-seccomp-"))
    base.chmod(0o755)
    os.chown(base, NOBODY, NOBODY)
    yield base
    shutil.rmtree(base)


def _listener(command: list[str], path: Path, group: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*command, "-c", LISTENER, os.fspath(path), group],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )


def _served(path: Path) -> bytes:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.connect(os.fspath(path))
        return client.makefile("rb").readline()


def test_listener_as_the_unit_runs_it_needs_no_chown(public_dir: Path) -> None:
    """As a non-root user whose group is the socket group, under the unit's system call
    filter (only @system-service, never ~@privileged @resources: no chown family), the
    socket is created 0660 with that group and serves a client."""
    assert {"chown", "fchown", "fchownat", "lchown"} <= unit_denied_syscalls()
    path = public_dir / "gw.sock"
    as_nobody = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    proc = _listener([*as_nobody, *under_unit_filter()], path, "nogroup")
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().split() == ["ready", "0o660", str(NOBODY)]
        info = os.lstat(path)
        assert (stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid) == (0o660, NOBODY, NOBODY)
        assert _served(path) == b"served\n"
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    assert list(public_dir.iterdir()) == []


def test_set_group_id_directory_gives_the_group_under_the_filter(public_dir: Path) -> None:
    """In a set-group-ID directory of the socket group, the socket gets it with chown denied."""
    shared = public_dir / "shared"
    shared.mkdir()
    os.chown(shared, 0, NOBODY)
    shared.chmod(0o2755)
    proc = _listener(under_unit_filter(), shared / "gw.sock", "nogroup")
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().split() == ["ready", "0o660", str(NOBODY)]
        assert _served(shared / "gw.sock") == b"served\n"
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def test_group_that_needs_chown_under_the_filter_is_a_clear_error(public_dir: Path) -> None:
    """A socket group other than the process's needs chown: denied, one clear error, no debris."""
    path = public_dir / "gw.sock"
    # root, but with group nogroup and chown denied: the group "root" cannot be given
    as_nogroup = ["setpriv", f"--regid={NOBODY}", "--clear-groups"]
    proc = _listener([*as_nogroup, *under_unit_filter()], path, "root")
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 3, err
    assert out.startswith(f"refused cannot create socket {path}: Operation not permitted")
    assert "Group=" in out
    assert list(public_dir.iterdir()) == []  # neither the socket nor a private directory


def test_socket_is_born_with_its_mode_under_a_strict_umask(tmp_path: Path) -> None:
    """Under umask 0077 the file is still created 0660, and the umask is restored."""
    old = os.umask(0o077)
    try:
        listener = bind_unix(tmp_path / "g.sock", mode=0o660, group=os.getegid())
        assert os.umask(0o077) == 0o077
    finally:
        os.umask(old)
    try:
        info = os.lstat(tmp_path / "g.sock")
        assert stat.S_IMODE(info.st_mode) == 0o660
        assert info.st_gid == os.getegid()
    finally:
        listener.sock.close()
        listener.unlink()


def test_old_predictable_temporary_name_is_never_followed(tmp_path: Path) -> None:
    """A symlink planted at the former temporary name is not chmod-ed or chown-ed through."""
    victim = tmp_path / "victim"
    victim.write_text("secret")
    victim.chmod(0o600)
    planted = tmp_path / f".g.sock.{os.getpid()}.tmp"
    planted.symlink_to(victim)
    listener = bind_unix(tmp_path / "g.sock", mode=0o660, group=NOBODY)  # needs the chown path
    try:
        info = os.stat(victim)
        assert (stat.S_IMODE(info.st_mode), info.st_gid) == (0o600, os.getegid())
        assert planted.is_symlink()
        assert os.lstat(tmp_path / "g.sock").st_gid == NOBODY
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
            ["victim", planted.name, "g.sock"]
        )
    finally:
        listener.sock.close()
        listener.unlink()


def test_missing_group_is_refused(tmp_path: Path) -> None:
    """A socket group unknown here is refused before anything is created."""
    with pytest.raises(UsageError, match="does not exist"):
        bind_unix(tmp_path / "g.sock", group="no-such-group-here")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("swap", ["symlink", "foreign-directory"])
def test_private_directory_swapped_before_bind_touches_nothing(
    tmp_path: Path, public_dir: Path, monkeypatch: pytest.MonkeyPatch, swap: str
) -> None:
    """A directory owner who swaps our private directory for a link or a directory of
    theirs gets a refusal: nothing of theirs is chowned, no socket appears."""
    attacker = public_dir / "attacker"  # nobody's directory, where a chown would land
    attacker.mkdir(mode=0o700)
    os.chown(attacker, NOBODY, NOBODY)
    real_mkdtemp = tempfile.mkdtemp

    def swapped(prefix: str, dir: Path) -> str:
        private = Path(real_mkdtemp(prefix=prefix, dir=dir))
        private.rmdir()
        if swap == "symlink":
            private.symlink_to(attacker)
        else:
            private.mkdir(mode=0o700)
            os.chown(private, NOBODY, NOBODY)
        return os.fspath(private)

    monkeypatch.setattr("gateway.relay.listener.tempfile.mkdtemp", swapped)
    with pytest.raises(UsageError, match="changed while the socket was being created"):
        bind_unix(tmp_path / "g.sock", mode=0o660, group=NOBODY)  # needs the chown path
    assert not (tmp_path / "g.sock").exists()
    assert list(attacker.iterdir()) == []
    if swap == "foreign-directory":  # not ours: left alone, not even removed
        [left] = [p for p in tmp_path.iterdir() if p.name.startswith(".")]
        assert left.stat().st_uid == NOBODY
