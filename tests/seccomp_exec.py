"""Run Python code with some system calls failing with EPERM (a seccomp filter).

Usage: ``python seccomp_exec.py ALLOWED DENIED -- -m MODULE ARGS...`` (or ``-c CODE
ARGS...``), where ALLOWED is ``*`` (every call) or ``CALL,CALL,...`` (only those: the
others fail with EPERM too), and DENIED the calls that fail with EPERM even so, as a
unit's ``SystemCallFilter=@set`` and ``SystemCallFilter=~@set`` lines combine. The
filter is loaded through libseccomp (ctypes on ``libseccomp.so.2``; it sets
no_new_privs), then the module or code runs in this same process, as ``python -m`` or
``python -c`` would run it: like a service under systemd's ``SystemCallFilter=``,
every system call it makes from its first line on goes through the filter. (In-process
rather than exec: an exec after ``setpriv`` would need the interpreter to be reachable
by the new user.) Names unknown on this architecture are skipped. Before running it,
the filter is checked: ``fchown`` on a file of our own must fail with EPERM when it is
denied.
"""

from __future__ import annotations

import ctypes
import errno
import os
import runpy
import sys
import tempfile

SCMP_ACT_ALLOW = 0x7FFF0000
SCMP_ACT_ERRNO = 0x00050000  # | errno, seccomp(2) SECCOMP_RET_ERRNO as libseccomp spells it


def load_filter(allowed: set[str] | None, denied: set[str]) -> None:
    """Install a filter: ``allowed`` (None: every call) minus ``denied``; others get EPERM."""
    lib = ctypes.CDLL("libseccomp.so.2", use_errno=True)
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint]
    lib.seccomp_load.argtypes = [ctypes.c_void_p]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    eperm = SCMP_ACT_ERRNO | errno.EPERM
    if allowed is None:
        default, action, names = SCMP_ACT_ALLOW, eperm, denied
    else:
        default, action, names = eperm, SCMP_ACT_ALLOW, allowed - denied
    ctx = lib.seccomp_init(default)
    if not ctx:
        raise OSError("seccomp_init failed")
    try:
        for name in sorted(names):
            number = lib.seccomp_syscall_resolve_name(name.encode())
            if number < 0:
                continue  # not a system call of this architecture (chown32 on x86-64)
            result = lib.seccomp_rule_add(ctx, action, number, 0)
            if result < 0:
                raise OSError(-result, f"seccomp_rule_add({name})")
        result = lib.seccomp_load(ctx)
        if result < 0:
            raise OSError(-result, "seccomp_load")
    finally:
        lib.seccomp_release(ctx)


def main() -> None:
    """Parse the command line, load the filter, prove it, run the module or code."""
    allow, deny, separator, *program = sys.argv[1:]
    if separator != "--" or len(program) < 2 or program[0] not in ("-m", "-c"):
        raise SystemExit("usage: seccomp_exec.py ALLOWED DENIED -- -m MODULE|-c CODE ARGS...")
    denied = {n for n in deny.split(",") if n}
    load_filter(None if allow == "*" else {n for n in allow.split(",") if n}, denied)
    if "fchown" in denied:
        with tempfile.TemporaryFile() as probe:
            try:
                os.fchown(probe.fileno(), -1, os.getegid())
            except PermissionError:
                pass  # the filter refused it (EPERM): what the probe wants to see
            else:
                raise SystemExit("seccomp filter not in force: fchown succeeded")
    kind, target, *args = program
    if kind == "-m":
        sys.argv = [target, *args]
        runpy.run_module(target, run_name="__main__", alter_sys=True)
    else:
        sys.argv = ["-c", *args]
        exec(compile(target, "<string>", "exec"), {"__name__": "__main__"})  # noqa: S102


if __name__ == "__main__":
    main()
