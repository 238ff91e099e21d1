"""The modem initialisation sequence (TS 27.007 / TS 27.005), vendor tweaks as data.

Run after every open, reconnect and modem restart: a restart loses ``CNMI``/``CMGF``
settings (field notes). The manufacturer (``AT+CGMI``) is read first, before the SIM, so
the dialect (:mod:`.dialects`) and its quirks are known for every later step. Identity
commands are optional: a modem that refuses one (``ERROR``, ``+CME ERROR``, Huawei's
``COMMAND NOT SUPPORT``) leaves that field empty. A modem without SMS storage over AT
(``AT+CPMS=?`` lists none or is refused: phones such as the Nokia N79) starts send-only,
with the reason in :attr:`InitResult.receive_unavailable`. SIM busy (``+CME ERROR: 14``)
and device busy (515) are retried a bounded number of times with capped backoff; a wrong
PIN is never retried (it would lock the SIM behind its PUK after three attempts, TS 31.102
§9).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import structlog

from gateway.at import CmeError, CmsError, Command, CommandFailed, Kind, action, query
from gateway.at.events import Response
from gateway.at.lines import fields, is_int, tag_of, unquote
from gateway.errors import ModemFault, UsageError
from gateway.modem.dialects import AUTO, GENERIC, Dialect, Quirk, by_name, detect
from gateway.modem.link import LinkError
from gateway.modem.pinguard import PinGuard
from gateway.modem.sim import PinContext, Runner, unlock_sim
from gateway.modem.status import ModemIdentity
from gateway.modem.storage import (
    ReplyError,
    choose_memories,
    parse_cpms_test,
    parse_smsc,
    sweep_memories,
)

log = structlog.get_logger(__name__)

#: AT+CNMI choices, best first: store and notify +CMTI, status reports stored with +CDSI
#: (ds=2) or routed as +CDS (ds=1), buffered URCs flushed (bfr=0) (TS 27.005 §3.4.1).
CNMI_CHOICES = ("2,1,0,2,0", "2,1,0,1,0", "1,1,0,2,0", "1,1,0,1,0", "2,1,0,0,0", "1,1,0,0,0")

#: manufacturer substring (lower case) -> extra commands; failures are tolerated.
VENDOR_TWEAKS: dict[str, tuple[str, ...]] = {
    "huawei": ("AT^CURC=0",),  # silence ^RSSI/^MODE/^BOOT periodic notices
    "simcom": ("AT+CSCLK=0",),  # no slow-clock sleep: it swallows the first command
}

#: codes worth retrying while the module starts: SIM busy, device busy (TS 27.007 §9.2)
BUSY_CME = frozenset({14, 515})
BUSY_CMS = frozenset({314, 500, 512})
_MEMORY = re.compile(r"[A-Z]{2}")


class RegistrationTimeout(ModemFault):
    """The modem did not register on a network in time."""


class NetworkWait(Protocol):
    """Waits up to ``timeout`` seconds for a +CREG/+CGREG/+CEREG URC (returns either way)."""

    async def __call__(self, timeout: float, /) -> None: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class InitConfig:
    """Knobs for the initialisation sequence."""

    pin: str | None = None
    busy_retries: int = 8
    busy_backoff: float = 0.5
    busy_backoff_max: float = 5.0
    registration_timeout: float = 120.0
    registration_poll: float = 1.0  # first re-check when no registration URC comes
    registration_poll_max: float = 15.0  # the re-checks back off up to this
    cnmi_choices: tuple[str, ...] = CNMI_CHOICES
    #: read memories to use, in order of preference (``[[modem]] storage``); () = all offered
    storage: tuple[str, ...] = ()
    vendor_tweaks: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: VENDOR_TWEAKS)
    #: ``[[modem]] profile``: a dialect name of :mod:`.dialects`, or "auto" (from AT+CGMI)
    dialect: str = AUTO

    def __post_init__(self) -> None:
        if self.pin is not None and not (self.pin.isdigit() and 4 <= len(self.pin) <= 8):
            raise UsageError("a SIM PIN is 4 to 8 digits")
        if self.busy_retries < 0 or self.busy_backoff <= 0 or self.busy_backoff_max <= 0:
            raise UsageError("busy retries/backoff must be positive")
        if self.registration_timeout <= 0 or self.registration_poll <= 0:
            raise UsageError("registration timeout/poll must be positive")
        if self.registration_poll_max < self.registration_poll:
            raise UsageError("registration_poll_max must be at least registration_poll")
        if not self.cnmi_choices:
            raise UsageError("at least one AT+CNMI choice is needed")
        if not all(_MEMORY.fullmatch(m) for m in self.storage):
            raise UsageError("storage memories are two capital letters (SM, ME, MT, SR)")
        if self.dialect != AUTO:
            by_name(self.dialect)  # raises UsageError for an unknown name


@dataclass(frozen=True, slots=True, kw_only=True)
class InitResult:
    """What initialisation found and set."""

    identity: ModemIdentity
    read_memories: tuple[str, ...]  # memories to sweep (first CPMS slot)
    cpms: tuple[str, ...]  # the memory per slot we set (1 to 3 entries)
    smsc: str | None
    cnmi: str | None
    registration: int
    operator: str | None = None  # AT+COPS? long alphanumeric name, if the modem says
    dialect: str = "generic"  # the dialect in force (configured or detected)
    #: why this modem cannot receive SMS (it still sends), or None when it can
    receive_unavailable: str | None = None


class Initialiser:
    """Runs the sequence through ``run``; ``report`` receives progress (key, value)."""

    def __init__(
        self,
        run: Runner,
        config: InitConfig,
        report: Callable[[str, object], None],
        network_changed: NetworkWait | None = None,
        pins: PinContext | None = None,
    ) -> None:
        self._run = run
        self.config = config
        self._report = report
        self._network_changed = network_changed
        # without a context: rejections are remembered by this initialiser only
        self._pins = pins or PinContext(guard=PinGuard(None), device="(unnamed port)")
        self._manufacturer: str | None = None
        self.dialect: Dialect = by_name(config.dialect) if config.dialect != AUTO else detect("")

    async def ok(self, command: Command, *, plain_error_busy: bool = False) -> Response:
        """Run ``command``, retrying busy errors; return the OK response.

        ``plain_error_busy`` also retries a bare ERROR: before AT+CMEE=1 a busy modem
        cannot say why. Raises CmeError/CmsError/CommandFailed for other failures or
        when retries run out.
        """
        delay = self.config.busy_backoff
        for attempt in range(self.config.busy_retries + 1):
            response = await self._run(command)
            error = response.error()
            if error is None:
                return response
            busy = (
                (isinstance(error, CmeError) and error.code in BUSY_CME)
                or (isinstance(error, CmsError) and error.code in BUSY_CMS)
                or (plain_error_busy and isinstance(error, CommandFailed))
            )
            if not busy or attempt == self.config.busy_retries:
                raise error
            self._report("busy_retry", command.log_text)
            log.info("modem.busy", command=command.log_text, error=str(error), attempt=attempt)
            # capped backoff before a bounded retry: a busy modem sends nothing to wait on
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.config.busy_backoff_max)
        raise AssertionError("unreachable")  # pragma: no cover

    async def tolerant(self, command: Command) -> Response | None:
        """Run ``command``; return None instead of raising for a failure result.

        Raises LinkError (LinkDown...) when the port is gone: going on with the rest of
        the sequence on a closed port would only wait out the registration timeout.
        """
        try:
            return await self.ok(command)
        except LinkError:
            raise  # the port is gone: nothing optional about that (the session reconnects)
        except (CmeError, CmsError, ModemFault) as exc:
            log.info("modem.optional_failed", command=command.log_text, error=str(exc))
            return None

    async def run(self) -> InitResult:
        """Run the whole sequence; return what was found.

        Raises SimError (fatal), RegistrationTimeout, AtTimeout, LinkDown, or a typed AT error.
        """
        # V.250 §6.2.4 echo off (echo is tolerated anyway); TS 27.007 §9.1 numeric codes
        await self.ok(action("ATE0"), plain_error_busy=True)
        await self.ok(action("AT+CMEE=1"), plain_error_busy=True)
        await self.detect_dialect()
        await self.unlock_sim()
        identity = await self.identity()
        self._report("identity", identity)
        if self.config.dialect == AUTO and self.dialect is GENERIC and identity.manufacturer:
            # AT+CGMI was refused before the SIM was ready: recognise the dialect now
            self.dialect = detect(identity.manufacturer)
            self._report("dialect", self.dialect.name)
        cfun = await self.tolerant(query("AT+CFUN?", "+CFUN", kind=Kind.NETWORK))
        if cfun is None or not any(line.endswith(": 1") for line in cfun.lines):
            await self.ok(action("AT+CFUN=1", kind=Kind.NETWORK))
        await self.ok(action("AT+CMGF=0"))  # TS 27.005 §3.2.3: PDU mode
        csca = await self.tolerant(query("AT+CSCA?", "+CSCA"))
        smsc = parse_smsc(csca.lines) if csca else None
        slots, unavailable = await self.storage_slots()
        read: tuple[str, ...] = ()
        chosen: tuple[str, ...] = ()
        cnmi = None
        if unavailable is None:
            read, chosen = self._memories(slots)
            await self.ok(query(cpms_command(chosen), "+CPMS"))
            for choice in self.config.cnmi_choices:
                if await self.tolerant(action(f"AT+CNMI={choice}")) is not None:
                    cnmi = choice
                    break
            if cnmi is None:
                log.warning("modem.no_cnmi", note="no new-message URCs; relying on sweeps")
        else:
            log.warning("modem.send_only", reason=unavailable)
        for key, commands in self.config.vendor_tweaks.items():
            if key in identity.manufacturer.lower():
                for text in commands:
                    await self.tolerant(action(text))
        registration = await self.wait_registered()
        return InitResult(
            identity=identity,
            read_memories=read,
            cpms=chosen,
            smsc=smsc,
            cnmi=cnmi,
            registration=registration,
            operator=await self.operator(),
            dialect=self.dialect.name,
            receive_unavailable=unavailable,
        )

    async def detect_dialect(self) -> Dialect:
        """Read the manufacturer (``AT+CGMI``, TS 27.007 §5.1); settle the dialect.

        Asked before the SIM: a quirk may concern ``AT+CPIN?`` itself. A refusal (some
        modems answer SIM PIN required before the PIN) leaves the manufacturer to be read
        again with the other identity commands. Returns the dialect in force: the
        configured one, else the one detected from the answer (generic if none matches).
        """
        self._manufacturer = await self._identity_value("CGMI")
        if self.config.dialect == AUTO and self._manufacturer:
            self.dialect = detect(self._manufacturer)
        log.info(
            "modem.dialect",
            dialect=self.dialect.name,
            configured=self.config.dialect,
            quirks=sorted(q.value for q in self.dialect.quirks),
        )
        self._report("dialect", self.dialect.name)
        return self.dialect

    async def storage_slots(self) -> tuple[tuple[tuple[str, ...], ...], str | None]:
        """Ask ``AT+CPMS=?`` (TS 27.005 §3.2.2); return the memories per slot and, when
        the modem gives no readable storage over AT, why (it is then send-only).

        Raises AtTimeout or LinkDown; a refusal or an empty first slot is not an error.
        """
        try:
            response = await self.ok(query("AT+CPMS=?", "+CPMS"))
        except (CmeError, CmsError, CommandFailed) as exc:
            return (), f"the device refuses AT+CPMS=? ({exc}): no SMS storage over AT"
        try:
            slots = parse_cpms_test(response.lines)
        except ReplyError as exc:
            return (), f"the device's AT+CPMS=? reply is unusable ({exc})"
        if not slots[0]:
            return slots, "the device offers no SMS storage over AT (AT+CPMS=? lists none)"
        return slots, None

    def _memories(
        self, slots: tuple[tuple[str, ...], ...]
    ) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Return (memories to sweep, memory per CPMS slot) for the offered ``slots``."""
        wanted = self.config.storage
        read = sweep_memories(slots[0], wanted)
        if not read:
            log.warning(
                "modem.storage_not_offered",
                configured=list(wanted),
                offered=list(slots[0]),
                note="using every memory the modem offers",
            )
            read, wanted = slots[0], ()
        # slot 1 is what +CMTI indexes and AT+CMGR read; slots 2/3 (write, receive) take
        # the configured preference too, but never "SR" (reports only, TS 27.005 §3.1)
        first = (read[0],) if wanted else slots[0]
        keep = tuple(m for m in wanted if m != "SR")
        return read, (*choose_memories((first,), wanted), *choose_memories(slots[1:], keep))

    async def operator(self) -> str | None:
        """Return the network operator's long name (TS 27.007 §7.3), or None.

        ``AT+COPS=3,0`` selects the long alphanumeric format without touching network
        selection; either command may fail (ERROR is tolerated: the name is cosmetic).
        """
        await self.tolerant(action("AT+COPS=3,0", kind=Kind.NETWORK))
        response = await self.tolerant(query("AT+COPS?", "+COPS", kind=Kind.NETWORK))
        return None if response is None else parse_operator(response.lines)

    async def unlock_sim(self) -> None:
        """Get the SIM to READY, entering the configured PIN at most once.

        Raises PinRequired, WrongPin, PinNotSent, SimLocked, or a typed AT error.
        """
        await unlock_sim(
            self.ok,
            self.config,
            self._report,
            tolerant=self.tolerant,
            pins=self._pins,
            cpin_info_final=self.dialect.has(Quirk.CPIN_WITHOUT_OK),
        )

    async def identity(self) -> ModemIdentity:
        """Read manufacturer, model, revision, IMEI and IMSI (TS 27.007 §5).

        Every one is optional: a refused command is logged and its field left empty.
        The manufacturer read by :meth:`detect_dialect` is not asked again.
        """
        values: dict[str, str | None] = {"CGMI": self._manufacturer}
        for name in ("CGMI", "CGMM", "CGMR", "CGSN", "CIMI"):
            if values.get(name) is None:
                values[name] = await self._identity_value(name)
        self._manufacturer = values["CGMI"]
        return ModemIdentity(
            manufacturer=values["CGMI"] or "",
            model=values["CGMM"] or "",
            revision=values["CGMR"] or "",
            imei=values["CGSN"] or "",
            imsi=values["CIMI"],
        )

    async def _identity_value(self, name: str) -> str | None:
        """Return the first line of ``AT+<name>`` (tag and quotes dropped), or None.

        A failure result (``ERROR``, ``+CME ERROR``, ``COMMAND NOT SUPPORT``) is logged
        and gives None; a timeout or a lost link is raised (AtTimeout, LinkDown): a modem
        that stops answering must not be waited on five more times.
        """
        command = Command(text=f"AT+{name}", prefixes=(f"+{name}",), bare=True)
        try:
            response = await self.ok(command)
        except (CmeError, CmsError, CommandFailed) as exc:
            log.info("modem.optional_failed", command=command.log_text, error=str(exc))
            return None
        if not response.lines:
            return None
        line = response.lines[0]
        value = line.partition(":")[2].strip() if tag_of(line) else line
        return value.strip('"').strip() or None

    async def wait_registered(self) -> int:
        """Wait until registered at home (1) or roaming (5); return the stat.

        Asks +CREG?/+CEREG? once; if not registered, turns on registration URCs
        (``AT+CREG=1``, ``AT+CEREG=1``, TS 27.007 §7.2 / §10.1.22, tolerated if refused)
        and asks again as each URC arrives. Not every modem reports every change, so it
        also re-checks after ``registration_poll`` seconds, backing off up to
        ``registration_poll_max``. Raises RegistrationTimeout with the last state seen.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.registration_timeout
        last: dict[str, int | None] = {}
        delay = self.config.registration_poll
        reporting = False
        while True:
            for domain in ("CREG", "CEREG"):
                response = await self.tolerant(query(f"AT+{domain}?", f"+{domain}"))
                stat = registration_stat(response.lines) if response else None
                last[domain] = stat
                self._report("registration", stat)
                if stat in (1, 5):
                    return stat
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise RegistrationTimeout(f"not registered in time (last states: {last})")
            if not reporting:
                reporting = True
                for domain in ("CREG", "CEREG"):
                    await self.tolerant(action(f"AT+{domain}=1"))
            log.info("modem.waiting_for_network", creg=last.get("CREG"), cereg=last.get("CEREG"))
            wait = min(delay, remaining)
            if self._network_changed is None:
                await asyncio.sleep(wait)  # no URC source given: capped-backoff re-check
            else:
                await self._network_changed(wait)
            delay = min(delay * 2, self.config.registration_poll_max)


def cpms_command(memories: tuple[str, ...]) -> str:
    """Return ``AT+CPMS="m1"[,"m2"[,"m3"]]`` for the given memories."""
    return "AT+CPMS=" + ",".join(f'"{m}"' for m in memories)


def parse_operator(lines: tuple[str, ...]) -> str | None:
    """Return <oper> from ``+COPS: <mode>[,<format>,<oper>[,<AcT>]]``, or None when absent."""
    for line in lines:
        if tag_of(line) != "+COPS":
            continue
        parts = fields(line)
        if len(parts) >= 3 and is_int(parts[0]) and is_int(parts[1]):
            name = unquote(parts[2]).strip()
            if name and name.isprintable():
                return name[:64]
    return None


def registration_stat(lines: tuple[str, ...]) -> int | None:
    """Return <stat> from a +CREG?/+CGREG?/+CEREG? reply (``<n>,<stat>[,...]``)."""
    for line in lines:
        parts = fields(line)
        if len(parts) >= 2 and is_int(parts[1]):
            return int(parts[1])
    return None
