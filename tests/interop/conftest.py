"""Fixtures for interop tests: a simulated modem on a real pty, peer programs around it.

Every peer runs from configs rendered into ``tmp_path`` and is stopped by its process
group id; the autouse ``no_leaks`` fixture fails a test that leaves a thread or a child
process behind. A missing peer program fails the test (``PeerError`` naming its Debian
package), never skips it: .ci/run installs them.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from gateway.simulator import ModemConfig, SimulatorThread, ThreadModemHandle


def _children() -> set[int]:
    """Return the pids of this process's live children."""
    me = str(os.getpid())
    children = set()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[1] == me and fields[0] != "Z":
            children.add(int(entry.name))
    return children


@pytest.fixture(autouse=True)
def no_leaks() -> Iterator[None]:
    """Fail the test if it leaves threads or child processes running."""
    threads = set(threading.enumerate())
    children = _children()
    yield
    extra = [t for t in threading.enumerate() if t not in threads]
    for thread in extra:
        thread.join(timeout=5.0)  # e.g. python-gsmmodem's notification threads finishing
    assert [t.name for t in extra if t.is_alive()] == [], "threads left running"
    assert _children() - children == set(), "child processes left running"


@pytest.fixture
def make_modem(tmp_path: Path) -> Iterator[Callable[..., ThreadModemHandle]]:
    """Return a factory: start a simulated modem of a profile behind a link in tmp_path."""
    numbers = itertools.count()
    with ExitStack() as stack:

        def make(profile: str = "generic") -> ThreadModemHandle:
            config = ModemConfig(link=tmp_path / f"modem{next(numbers)}", profile=profile)
            simulator = stack.enter_context(SimulatorThread([config]))
            return simulator.modems[0]

        yield make


@pytest.fixture
def modem(make_modem: Callable[..., ThreadModemHandle]) -> ThreadModemHandle:
    """Return a generic simulated modem on a pty."""
    return make_modem()
