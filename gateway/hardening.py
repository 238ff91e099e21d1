"""Keep a crashing daemon from writing its memory (the SIM PIN, codes) anywhere.

:func:`forbid_core_dumps` sets ``RLIMIT_CORE`` to 0 and marks the process not dumpable
(``prctl(PR_SET_DUMPABLE, 0)``, prctl(2), through ctypes on the C library): no core
file, no core handed to a ``core_pattern`` pipe such as systemd-coredump (it honours
the limit, and a non-dumpable process is dumped only when ``fs.suid_dumpable`` is 2),
and no ``ptrace`` attach or ``/proc/PID/mem`` read by other processes of the same user.
The unit's ``LimitCORE=0`` says the same from outside.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import resource

#: <linux/prctl.h>
PR_SET_DUMPABLE = 4
PR_GET_DUMPABLE = 3


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def forbid_core_dumps() -> None:
    """Set the core size limit to 0 and make this process non-dumpable.

    Raises :class:`OSError` when the kernel refuses ``prctl`` (it does not on Linux).
    """
    # denied under a seccomp filter without prlimit: the unit sets LimitCORE=0 itself
    with contextlib.suppress(OSError, ValueError):
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    libc = _libc()
    if libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        code = ctypes.get_errno()
        raise OSError(code, "prctl(PR_SET_DUMPABLE, 0) failed")


def dumpable() -> bool:
    """Return whether this process may dump core (``prctl(PR_GET_DUMPABLE)``)."""
    return bool(_libc().prctl(PR_GET_DUMPABLE, 0, 0, 0, 0))
