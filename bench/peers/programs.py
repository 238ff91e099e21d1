"""The programs under test, each behind the same small interface the measurements use.

``start`` returns once the program is ready (our daemon: ``READY=1`` on a notify socket
of the bench's own; a peer: its first receive poll seen by the simulator's command
observer); ``arm_inbound`` returns a future that resolves with the monotonic time the
code of an SMS became usable by a consumer; ``submit`` hands an OTP to the program and
returns the monotonic time of the hand-off. Every process runs in its own session and is
stopped by its process id (SIGTERM, then SIGKILL of its group).
"""

from __future__ import annotations

import asyncio
import re
import socket
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path

from bench.peers.inotify import FileWatch
from gateway.simulator import ModemHandle
from gateway.testing import peers

ORIGIN = "example.com"
#: the simulated correspondent: sender of injected SMS, recipient of sent OTPs
NUMBER = "+15557654321"
CODE = re.compile(r"#(\d{6,})")
#: spawn -> ready is bounded; gammu-smsd with defaults needs ~20 s (15 s receive period)
READY_TIMEOUT = 60.0


class BenchError(Exception):
    """A program under test did not start, answer or deliver as expected."""


def otp_text(code: str) -> str:
    """Return the OTP SMS text for ``code`` (what our daemon composes with its default template)."""
    return f"Your code is {code}.\n\n@{ORIGIN} #{code}"


def code_in(text: str) -> str | None:
    """Return the OTP code in ``text`` (its last ``#digits``), or None."""
    found = CODE.findall(text)
    return found[-1] if found else None


class Ledger:
    """Futures of codes awaited, resolved with the time they were seen."""

    def __init__(self) -> None:
        self.waiting: dict[str, asyncio.Future[float]] = {}

    def expect(self, code: str) -> asyncio.Future[float]:
        """Return the future for ``code`` (created on first use)."""
        future = self.waiting.get(code)
        if future is None:
            future = self.waiting[code] = asyncio.get_running_loop().create_future()
        return future

    def seen(self, code: str, when: float) -> None:
        """Resolve ``code``'s future with ``when`` (a code seen twice keeps its first time)."""
        future = self.expect(code)
        if not future.done():
            future.set_result(when)


class Program(ABC):
    """What every program under test offers the measurements."""

    name = ""
    #: how often the program looks for new SMS / outgoing files (paces random arrivals)
    period = 0.1
    #: latency is measured one message at a time (closed loop) or with arrivals spread
    #: over a window regardless of completions (open loop, for multi-second pollers)
    open_loop = False
    #: the program runs a receive hook whose time is recorded too
    has_hook = False

    def __init__(self, variant: str, template: str | None = None) -> None:
        self.variant = variant
        self.template = template
        self.config_text = ""
        self.pgid = 0
        #: peers: when the receive hook (RunOnReceive / eventhandler) ran, per code
        self.hooks = Ledger()
        #: our daemon: request written -> acknowledged, per outbound message
        self.ack_latencies: list[float] = []

    @property
    def label(self) -> str:
        """Return ``name (variant)`` as tables show it."""
        return f"{self.name} ({self.variant})"

    @abstractmethod
    async def start(self, modem: ModemHandle, root: Path) -> None:
        """Start on ``modem`` with files under ``root``; return when ready; raise BenchError."""

    @abstractmethod
    async def arm_inbound(self, code: str) -> asyncio.Future[float]:
        """Return a future of the time ``code`` becomes usable; call before the SMS arrives."""

    @abstractmethod
    async def submit(self, code: str) -> float:
        """Hand one OTP with ``code`` to the program; return the hand-off time."""

    async def submit_many(self, codes: Sequence[str]) -> None:
        """Queue every OTP of ``codes`` as fast as the program takes them."""
        for code in codes:
            await self.submit(code)

    @abstractmethod
    async def stop(self) -> None:
        """Stop every process of the program (idempotent)."""

    def diagnostics(self) -> str:
        """Return log tails for an error message."""
        return ""


class SpoolPeer(Program):
    """gammu-smsd (files backend) or smsd (spool directories): files in, files out."""

    #: command the program sends when it polls for new SMS: the first one marks "ready"
    poll_command = ""
    has_hook = True

    def __init__(self, variant: str, template: str, period: float, open_loop: bool) -> None:
        super().__init__(variant, template)
        self.period = period
        self.open_loop = open_loop
        self._process: peers.PeerProcess | None = None
        self._watches: list[FileWatch] = []
        self._ledger = Ledger()
        self._hooked: set[str] = set()
        self._file_codes: dict[str, str] = {}
        self._serial = 0

    @abstractmethod
    def _make(self, device: str, root: Path) -> peers.PeerProcess:
        """Return the peer's process (not started yet) on ``device`` with files under ``root``."""

    @abstractmethod
    def _outgoing_file(self, serial: int, code: str) -> tuple[str, str]:
        """Return (file name, content) of the outbox file carrying OTP ``code``."""

    async def start(self, modem: ModemHandle, root: Path) -> None:
        """Start the peer; ready at its first receive poll (command observer); raise BenchError."""
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()

        def observe(line: str) -> None:
            if line.upper().startswith(self.poll_command) and not ready.done():
                ready.set_result(None)

        remove = modem.observe_commands(observe)
        process = self._make(modem.device, root)
        self.config_text = process.spool.config.read_text(encoding="utf-8")
        spool = process.spool
        self._watches = [
            FileWatch(loop, spool.incoming, self._on_incoming),
            FileWatch(loop, spool.root, self._on_root),
        ]
        for watch in self._watches:
            watch.start()
        self._process = process
        process.start()
        self.pgid = process.pid
        try:
            await asyncio.wait_for(ready, READY_TIMEOUT)
        except TimeoutError:
            raise BenchError(f"{self.label} not ready in {READY_TIMEOUT} s") from None
        finally:
            remove()

    def _on_incoming(self, name: str, when: float) -> None:
        assert self._process is not None
        path = self._process.spool.incoming / name
        try:
            code = code_in(path.read_text(encoding="utf-8", errors="replace"))
        except OSError:
            return  # moved away already
        if code is not None:
            self._file_codes[name] = code
            self._ledger.seen(code, when)

    def _on_root(self, name: str, when: float) -> None:
        """The event script appended a line: the RunOnReceive/eventhandler hook fired."""
        if name != "events.log" or self._process is None:
            return
        for line in self._process.spool.logged_events():
            for word in line.split():
                base = Path(word).name
                if base in self._hooked:
                    continue
                code = self._file_codes.get(base)
                if code is None:
                    self._on_incoming(base, when)  # the hook's event came first
                    code = self._file_codes.get(base)
                if code is not None:
                    self._hooked.add(base)
                    self.hooks.seen(code, when)

    async def arm_inbound(self, code: str) -> asyncio.Future[float]:
        """Return the future of the time the file with ``code`` lands in the incoming directory."""
        return self._ledger.expect(code)

    async def submit(self, code: str) -> float:
        """Rename an outgoing file into the outbox; return the time right after the rename."""
        assert self._process is not None
        self._serial += 1
        name, text = self._outgoing_file(self._serial, code)
        peers.drop_file(self._process.spool.outgoing, name, text)
        return time.monotonic()

    async def stop(self) -> None:
        """Stop the watches and the peer's process group."""
        for watch in self._watches:
            watch.close()
        self._watches = []
        if self._process is not None:
            process, self._process = self._process, None
            await asyncio.to_thread(process.stop)

    def diagnostics(self) -> str:
        """Return the tail of the peer's output and log."""
        return self._process.diagnostics() if self._process is not None else ""


class GammuSmsd(SpoolPeer):
    """gammu-smsd 1.42, files backend."""

    name = "gammu-smsd"
    poll_command = 'AT+CPMS="SM"'

    def _make(self, device: str, root: Path) -> peers.PeerProcess:
        assert self.template is not None
        return peers.gammu_smsd(device, root, template=self.template)

    def _outgoing_file(self, serial: int, code: str) -> tuple[str, str]:
        # gammu-smsd-files(7): OUT<priority>_<recipient>_<serial>.<ext>
        return f"OUTA_{NUMBER}_{serial:05d}.txt", otp_text(code)


class Smstools(SpoolPeer):
    """smstools3 smsd, spool directories, in the foreground."""

    name = "smsd"
    poll_command = "AT+CPMS?"

    def _make(self, device: str, root: Path) -> peers.PeerProcess:
        assert self.template is not None
        return peers.smstools(device, root, template=self.template)

    def _outgoing_file(self, serial: int, code: str) -> tuple[str, str]:
        # smsd: header lines, a blank line, the text; the number without "+"
        return f"bench{serial:05d}", f"To: {NUMBER.lstrip('+')}\n\n{otp_text(code)}"


async def receive_datagram(sock: socket.socket, what: bytes, timeout: float) -> None:
    """Return once a datagram containing ``what`` arrives on ``sock``; raise TimeoutError."""
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(timeout):
        while what not in await loop.sock_recv(sock, 4096):
            continue
