"""The sans-I/O modem model: bytes in, bytes out, time passed in (house style §1).

:meth:`ModemModel.receive_data` takes what the client wrote; :meth:`ModemModel.take_output`
returns what the modem writes now. Replies that a real modem gives later (network delays,
``late-reply`` faults, boot URCs) are scheduled on the shared
:class:`~gateway.simulator.clock.Scheduler`; the I/O shell runs it with ``loop.call_at``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from gateway.simulator.atcommand import Command, CommandSyntaxError, split_line
from gateway.simulator.atparse import (
    AtParser,
    CommandLine,
    Echo,
    EntryDone,
    LineTooLong,
    Mode,
    Repeat,
    TextPrompt,
)
from gateway.simulator.clock import Scheduler
from gateway.simulator.config import ModemConfig, SentMessage, SimulatorError
from gateway.simulator.device import Entry, Settings, Spec
from gateway.simulator.faults import FAULT_PARAMS, Fault, make_fault
from gateway.simulator.network import Network
from gateway.simulator.profiles import Profile, get_profile
from gateway.simulator.registration import registration_urcs
from gateway.simulator.results import ERROR, CommandFailed, Failure, cme, cms
from gateway.simulator.routing import Router
from gateway.simulator.sim import Sim
from gateway.simulator.storage import Memory, make_memories
from gateway.sms import pdu as pducodec

#: The command table every modem runs: the ``commands_*`` tables add their rows with
#: :func:`register` (the simulator package does, on import); the model imports none of them.
HANDLERS: dict[str, Spec] = {}
ALIASES: dict[str, str] = {"+GMI": "+CGMI", "+GMM": "+CGMM", "+GMR": "+CGMR", "+GSN": "+CGSN"}


def register(table: Mapping[str, Spec]) -> None:
    """Add a command table's rows to :data:`HANDLERS`.

    Raises :class:`SimulatorError` when a command is already there (two tables must not
    claim one command); nothing is added then.
    """
    taken = sorted(HANDLERS.keys() & table.keys())
    if taken:
        raise SimulatorError(f"commands registered twice: {', '.join(taken)}")
    HANDLERS.update(table)


class ModemModel:
    """One simulated modem; never raises on client input."""

    def __init__(
        self,
        config: ModemConfig = ModemConfig(),  # noqa: B008 - frozen value
        *,
        network: Network | None = None,
        now: float = 0.0,
    ) -> None:
        self.config = config
        self.profile: Profile = get_profile(config.profile)
        self.number = pducodec.normalise_number(config.number)
        self.network = network if network is not None else Network(Scheduler())
        self.scheduler = self.network.scheduler
        self.sim = Sim(config.pin)
        self.iccid = config.iccid or self.profile.iccid
        self.memories: dict[str, Memory] = make_memories(
            {"SM", "ME", "SR"}, config.storage_capacity, self.profile.first_index
        )
        self.parser = AtParser()
        self.settings = Settings()
        self.faults: dict[str, Fault] = {}
        self.fault_uses: dict[str, int] = {}
        self.entry: Entry | None = None
        self.router = Router(self)
        self.powered_at = now
        self.busy_until = now
        self.commands_run = 0
        #: bytes the client wrote / the modem handed out, so tests can prove a silence
        self.bytes_in = 0
        self.bytes_out = 0
        self._out = bytearray()
        self._reply_at = float("-inf")
        self._generation = 0
        self._last_line = ""
        self._garbage_next = b""
        self._garbage_inside = b""
        self._concat_ref = 0
        self._busy_left = 0  # profile.busy_commands answers still to refuse (SIM busy)
        #: called with each command line before it runs (tests observe the modem's side)
        self.command_observers: list[Callable[[str], None]] = []
        #: a fired ``unplug`` fault for the shell to carry out (see take_unplug)
        self.unplug_request: tuple[float, ...] | None = None
        #: called with every chunk of bytes the client writes (ESC, Ctrl-Z, bodies)
        self.byte_observers: list[Callable[[bytes], None]] = []
        self.network.attach(self)
        self.power_on(now)

    @property
    def commands(self) -> Mapping[str, Spec]:
        """The command table this modem runs (AT+CLAC lists it)."""
        return HANDLERS

    # -- the three verbs -------------------------------------------------------------
    @property
    def silenced(self) -> bool:
        """True while the modem answers nothing (a ``silent`` fault that is not armed)."""
        fault = self.faults.get("silent")
        return fault is not None and fault.params.get("on") is None

    def _silence_on(self, command: str, phase: str) -> bool:
        """Fire an armed ``silent`` fault whose ``on`` matches ``command`` in ``phase``."""
        fault = self.faults.get("silent")
        on = fault.params.get("on") if fault is not None else None
        if not isinstance(on, str) or fault is None or fault.params.get("phase") != phase:
            return False
        if not command.upper().startswith(on.upper()):
            return False
        self.faults["silent"] = make_fault("silent", {})
        return True

    def _unplug_on(self, command: str) -> bool:
        """Fire an ``unplug`` fault whose ``on`` matches ``command`` for the ``nth`` time."""
        fault = self.faults.get("unplug")
        if fault is None or not command.upper().startswith(str(fault.params["on"]).upper()):
            return False
        seen = self.fault_uses.get("unplug", 0) + 1
        self.fault_uses["unplug"] = seen
        nth = fault.params["nth"]
        if isinstance(nth, int) and seen < nth:
            return False
        self.clear_fault("unplug")
        after = fault.params["replug_after"]
        self.unplug_request = (float(after),) if isinstance(after, int | float) else ()
        return True

    def take_unplug(self) -> tuple[float, ...] | None:
        """Return (and forget) a fired ``unplug``: () to stay out, (s,) to replug after s."""
        request, self.unplug_request = self.unplug_request, None
        return request

    def receive_data(self, data: bytes, now: float) -> None:
        """Interpret bytes written by the client at time ``now``."""
        self.bytes_in += len(data)
        for watcher in list(self.byte_observers):
            watcher(data)
        if self.silenced:
            return
        self.parser.feed(data)
        while (event := self.parser.next_event()) is not None:
            if isinstance(event, Echo):
                self._out += event.data
            elif isinstance(event, CommandLine):
                self._last_line = event.text
                self._run_line(event.text, now)
            elif isinstance(event, Repeat):
                if self._last_line:
                    self._run_line(self._last_line, now)
            elif isinstance(event, LineTooLong):
                self.reply([], ERROR, now)
            elif isinstance(event, TextPrompt):
                self._out += b"\r\n> "
            elif isinstance(event, EntryDone):
                self._finish_entry(event, now)

    def take_output(self) -> bytes:
        """Return (and forget) the bytes the modem writes now."""
        data = bytes(self._out)
        self._out.clear()
        self.bytes_out += len(data)
        return data

    def sent(self) -> list[SentMessage]:
        """Return what the network accepted from this modem."""
        return self.network.sent(self.number)

    # -- power and settings ------------------------------------------------------------
    def power_on(self, now: float) -> None:
        """Power cycle: settings lost, SIM asks its PIN again, boot URCs once it is ready."""
        self._generation += 1
        self.settings = Settings(cnmi=self.profile.default_cnmi)
        self.parser = AtParser(echo=True)
        self.entry = None
        self.sim.power_on()
        self.powered_at = now
        self.busy_until = now + self.config.sim_busy_seconds
        self._reply_at = float("-inf")
        self._garbage_next = b""
        self._garbage_inside = b""
        self.router.pending_ack = False
        self._busy_left = self.profile.busy_answers
        storm = self.faults.get("cme-storm")
        if storm is not None and storm.params["when"] == "power-on":
            # an armed storm starts now: the first commands after power-on meet it
            self.faults["cme-storm"] = make_fault("cme-storm", {**storm.params, "when": "now"})
            self.fault_uses.pop("cme-storm", None)
        if self.profile.boot_urcs:
            self.scheduler.call_at(self.busy_until, self._boot_urcs(self._generation))

    def _boot_urcs(self, generation: int) -> Callable[[float], None]:
        def boot(now: float) -> None:
            if generation == self._generation:
                for line in self.profile.boot_urcs:
                    self.urc(line, now)

        return boot

    def reset_settings(self) -> None:
        """ATZ / AT&F: back to power-on settings (TS 27.007 §4.1, V.250 §6.1.1)."""
        self.settings = Settings(cnmi=self.profile.default_cnmi)
        self.parser.echo = True

    def sim_busy(self, now: float) -> bool:
        """Return True while the SIM is still initialising after power-on."""
        return now < self.busy_until

    def registered(self, now: float) -> bool:
        """Return True when the modem is registered on the home network."""
        return (
            self.settings.cfun == 1
            and not self.sim_busy(now)
            and self.sim.state.value == "READY"
            and "no-network" not in self.faults
        )

    def registration_stat(self, now: float) -> int:
        """Return +CREG <stat> (TS 27.007 §7.2): 1 registered, else 0 or the fault's stat."""
        if self.registered(now):
            return 1
        fault = self.faults.get("no-network")
        stat = fault.params["stat"] if fault is not None and self.settings.cfun == 1 else 0
        return stat if isinstance(stat, int) else 0

    def wall(self, now: float) -> datetime:
        """Return the wall-clock time (UTC) of ``now``."""
        return self.network.wall(now)

    # -- output ------------------------------------------------------------------------
    def frame(self, lines: Sequence[str], final: str) -> bytes:
        """Return info lines and a final result framed per ATV (V.250 §5.7.1)."""
        if self.settings.verbose:
            info = "\r\n" + "\r\n".join(lines) + "\r\n" if lines else ""
            return (info + "\r\n" + final + "\r\n").encode("latin-1", "replace")
        numeric = {"OK": "0", "ERROR": "4"}.get(final)
        body = "".join(f"{line}\r\n" for line in lines)
        tail = f"{numeric}\r" if numeric is not None else f"{final}\r\n"
        return (body + tail).encode("latin-1", "replace")

    def reply(self, lines: Sequence[str], failure: Failure | None, now: float) -> None:
        """Queue a command's response, after any reply still scheduled (order is kept)."""
        final = "OK" if failure is None else failure.render(self.settings.cmee)
        if final == "ERROR":
            final = self.profile.error_text  # e.g. Huawei E1752's COMMAND NOT SUPPORT
        self.commands_run += 1
        noise = self._noise()
        inside = None
        urc_fault = self.faults.pop("urc-in-response", None)
        if urc_fault is not None:
            inside = str(urc_fault.params["urc"])
        elif noise is not None and self.profile.noise_in_replies:
            inside, noise = noise, None
        data = self.frame(lines, final)
        if inside is not None and self.settings.verbose:
            # the URC lands between the information text and the final result code
            info = "\r\n" + "\r\n".join(lines) + "\r\n" if lines else ""
            data = f"{info}\r\n{inside}\r\n\r\n{final}\r\n".encode("latin-1", "replace")
        if self._garbage_inside and lines and self.settings.verbose:
            head, rest = f"\r\n{lines[0]}\r\n", data[len(lines[0]) + 4 :]
            data = head.encode("latin-1", "replace") + self._garbage_inside + rest
            self._garbage_inside = b""
        self.emit(data, now, self._reply_delay())
        if noise is not None:
            self.emit(f"\r\n{noise}\r\n".encode(), now, 0.0)

    def _noise(self) -> str | None:
        """Return the profile's noise line due after this command, if any (deterministic)."""
        profile = self.profile
        if not (
            profile.noise_every
            and self.settings.curc
            and self.commands_run % profile.noise_every == 0
        ):
            return None
        return profile.noise_lines[
            (self.commands_run // profile.noise_every - 1) % len(profile.noise_lines)
        ]

    def _reply_delay(self) -> float:
        fault = self.faults.get("late-reply")
        delay = fault.params["delay"] if fault is not None else 0.0
        return float(delay) if isinstance(delay, int | float) else 0.0

    def emit(self, data: bytes, now: float, delay: float = 0.0) -> None:
        """Write ``data`` after ``delay`` s, never before output already scheduled."""
        if self._garbage_next:
            data, self._garbage_next = self._garbage_next + data, b""
        at = max(now + delay, self._reply_at)
        if at <= now:
            self._out += data
            return
        self._reply_at = at
        generation = self._generation

        def later(t: float) -> None:
            if generation == self._generation and not self.silenced:
                self._out += data

        self.scheduler.call_at(at, later)

    def urc(self, text: str, now: float) -> None:
        """Write an unsolicited result code (possibly several lines) as one unit."""
        if self.silenced:
            return
        self._out += f"\r\n{text}\r\n".encode("latin-1", "replace")

    # -- command execution -------------------------------------------------------------
    def _run_line(self, text: str, now: float) -> None:
        for observer in list(self.command_observers):
            observer(text)
        if self._unplug_on(text):
            return  # the cable is pulled as the line arrives: never answered
        if self._silence_on(text, "command"):
            return  # swallowed unexecuted: e.g. AT+CMGD never deletes
        storm = self.faults.get("cme-storm")
        if storm is not None and storm.params["when"] == "now":
            codes, count = storm.params["codes"], storm.params["count"]
            assert isinstance(codes, tuple)
            assert isinstance(count, int)
            used = self.fault_uses.get("cme-storm", 0)
            self.fault_uses["cme-storm"] = used + 1
            if used + 1 >= count:
                self.clear_fault("cme-storm")
            self.reply([], cme(int(codes[used % len(codes)])), now)
            return
        refused = self._refusal(text)
        if refused is not None:
            self.reply([], refused, now)
            return
        if self._busy_left > 0 and text in self.profile.busy_commands:
            self._busy_left -= 1
            self.reply([], cme(14), now)
            return
        recorded = self.profile.recorded.get(text)
        if recorded is not None:
            self._replay(text, recorded, now)
            return
        try:
            commands = split_line(text)
        except CommandSyntaxError:
            self.reply([], ERROR, now)
            return
        lines: list[str] = []
        for command in commands:
            try:
                lines += self._dispatch(command, now)
            except CommandFailed as failed:
                self.reply(lines, failed.failure, now)
                return
            if self.entry is not None:
                self._prompt(now)
                return
        self.reply(lines, None, now)

    def _replay(self, text: str, recorded: bytes, now: float) -> None:
        """Answer ``text`` with a real device's recorded reply, byte for byte.

        A reply ending in ``OK`` also takes the standard effect of the command (a storage
        or CNMI setting the recording accepted must hold for the commands after it); its
        standard answer is dropped. A recorded failure changes nothing.
        """
        if recorded.rstrip().endswith(b"OK"):
            with contextlib.suppress(CommandSyntaxError, CommandFailed):
                for command in split_line(text):
                    self._dispatch(command, now)
            self.entry = None  # no recorded line starts a message entry
        self.commands_run += 1
        self.emit(recorded, now, self._reply_delay())

    def _refusal(self, text: str) -> Failure | None:
        """Return the failure a ``refuse`` fault gives ``text``, None if it does not apply."""
        fault = self.faults.get("refuse")
        on = fault.params["on"] if fault is not None else ()
        assert isinstance(on, tuple)
        if fault is None or not any(text.upper().startswith(p.upper()) for p in on):
            return None
        code_cme, code_cms = fault.params["cme"], fault.params["cms"]
        if isinstance(code_cme, int):
            return cme(code_cme)
        return cms(code_cms) if isinstance(code_cms, int) else ERROR

    def _dispatch(self, command: Command, now: float) -> list[str]:
        name = ALIASES.get(command.name, command.name)
        key = name + {"read": "?", "test": "=?"}.get(command.form.value, "")
        static = self.profile.extra_commands.get(key)
        if static is not None:
            return list(static)
        spec = HANDLERS.get(name)
        if spec is None or (spec.vendor and name not in self.profile.vendor_commands):
            raise CommandFailed(ERROR)  # V.250 §5.4: unrecognised command
        if name in self.profile.unsupported:
            raise CommandFailed(ERROR)
        if spec.sim and command.form.value != "test":
            self.require_sim(now)
        return spec.handler(self, command, now)

    def require_sim(self, now: float) -> None:
        """Raise CommandFailed while the SIM is busy (+CME ERROR: 14) or locked."""
        if self.sim_busy(now):
            raise CommandFailed(cme(14))
        self.sim.require_ready()

    def begin_entry(self, entry: Entry) -> None:
        """Have the line end with the ``> `` prompt and read a message next."""
        self.entry = entry

    def _prompt(self, now: float) -> None:
        fault = self.faults.get("late-prompt")
        delay = fault.params["delay"] if fault is not None else 0.0
        assert isinstance(delay, int | float)
        self.parser.start_entry(Mode.PDU if self.settings.cmgf == 0 else Mode.TEXT)
        self.emit(b"\r\n> ", now, float(delay))

    def _finish_entry(self, event: EntryDone, now: float) -> None:
        entry, self.entry = self.entry, None
        if entry is None or event.cancelled:
            # TS 27.005 §3.5.1: ESC quits without sending
            self.reply([], None, now)
            return
        spec = HANDLERS.get(entry.command)
        if spec is None or spec.finish is None:
            raise SimulatorError(f"{entry.command} took a message but has no finish step")
        try:
            lines, delay = spec.finish(self, entry, event, now)
        except CommandFailed as failed:
            self.reply([], failed.failure, now)
            return
        if self._silence_on("AT" + entry.command, "body"):
            return  # the network has the SMS; the result never comes (TS 27.005 §3.5.1)
        self.emit(b"", now, delay)  # a send occupies the modem for the network's delay
        self.reply(lines, None, now)

    # -- faults and injection ------------------------------------------------------------
    def set_fault(self, name: str, params: Mapping[str, object], now: float) -> None:
        """Activate fault ``name``; raise SimulatorError for a bad name or parameter."""
        fault = make_fault(name, params)
        was = self.registration_stat(now)
        if name == "garbage":
            data = fault.params["bytes"]
            assert isinstance(data, bytes)
            if fault.params["when"] == "now":
                self._out += data
            elif fault.params["when"] == "inside":
                self._garbage_inside += data
            else:
                self._garbage_next += data
            return
        self.faults[name] = fault
        self.fault_uses.pop(name, None)
        self._registration_changed(was, now)

    def clear_fault(self, name: str | None = None, now: float | None = None) -> None:
        """Clear one fault (or all); raise SimulatorError for an unknown name.

        With ``now``, a registration the clearing changes is announced by +CREG URCs.
        """
        was = None if now is None else self.registration_stat(now)
        if name is None:
            self.faults.clear()
            self.fault_uses.clear()
            self._garbage_next = b""
            self._garbage_inside = b""
        else:
            if name not in FAULT_PARAMS:
                Fault(name=name)  # raises SimulatorError naming the known faults
            self.faults.pop(name, None)
            self.fault_uses.pop(name, None)
        if was is not None and now is not None:
            self._registration_changed(was, now)

    def _registration_changed(self, was: int, now: float) -> None:
        if self.registration_stat(now) != was:
            # TS 27.007 §7.2: +CREG: <stat> when the registration status changes
            self.scheduler.call_at(now, lambda t: registration_urcs(self, t))

    def next_concat_reference(self) -> int:
        """Return a fresh concatenation reference for injected multipart SMS."""
        self._concat_ref = (self._concat_ref + 1) % 256
        return self._concat_ref

    def memory(self, name: str) -> Memory:
        """Return the memory called ``name``; raise SimulatorError for an unknown one."""
        try:
            return self.memories[name]
        except KeyError:
            raise SimulatorError(
                f"unknown memory {name!r}; one of {sorted(self.memories)}"
            ) from None

    # -- network side (gateway.simulator.network.Subscriber) -------------------------------
    def receive_deliver(self, pdu_hex: str, now: float) -> None:
        """Store or route an SMS-DELIVER from the network per CNMI."""
        self.router.deliver(pdu_hex, now, memory=None, notify=True)

    def receive_report(self, pdu_hex: str, now: float) -> None:
        """Store or route an SMS-STATUS-REPORT per CNMI <ds>."""
        self.router.report(pdu_hex, now)
