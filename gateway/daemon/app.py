"""The daemon's composition: modems, pipelines, send queue, journal and relay in one loop.

``Gateway.start()`` returns only when the journal is open, the modems are initialised and
the socket is bound (house style §7), or raises. With several modems every one is
started; a modem that fails to initialise is logged and shows as ``failed`` in
``status`` as long as at least one is up; if none is, ``start()`` raises the first
modem's error. Then ``READY=1``. A failed modem (at start or later) is started again
with capped exponential backoff (:mod:`gateway.daemon.restart`), except after a wrong
PIN or a locked SIM; its pipeline and send worker wait for it to be ready. The state
directory is locked for the process's life (a second daemon on it refuses to start), and
the journal's health is watched (:mod:`gateway.daemon.journalwatch`): while it cannot
record durably, SMS stay on the modem and ``status`` says ``degraded``. ``stop()``
is the SIGTERM path: ``STOPPING=1``, stop accepting, let the send queue finish or
record in-flight jobs within a bound, cancel the pipelines, close the modems and the
journal, unlink the socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import structlog

from gateway import __version__
from gateway.at import query
from gateway.config import Config
from gateway.daemon import modemmanager, wiring
from gateway.daemon import status as health
from gateway.daemon.backoff import Backoff
from gateway.daemon.journalwatch import JournalWatch
from gateway.daemon.modems import start_sessions
from gateway.daemon.reload import reloaded
from gateway.daemon.restart import Restarter
from gateway.daemon.sendgate import GatedSend
from gateway.daemon.statelock import StateLock
from gateway.daemon.storage import StorageUse
from gateway.daemon.tasks import DaemonFailed, ModemStuck, TaskSet
from gateway.daemon.timers import Timers
from gateway.jobs import JobState
from gateway.journal import (
    Journal,
    JournalError,
    JournalHealth,
    JournalUnavailable,
    open_journal,
)
from gateway.modem.session import ModemSession
from gateway.modem.status import ModemStatus, SessionState
from gateway.pipeline.receive import ReceivePipeline
from gateway.pipeline.send import Dispatcher, SendService
from gateway.ratelimit import RateLimiter
from gateway.relay.access import AccessControl
from gateway.relay.ports import CodeRecord
from gateway.relay.server import RelayServer
from gateway.sdnotify import Notifier
from gateway.sms import StatusReport

__all__ = ["DaemonFailed", "Gateway", "ModemStuck"]

log = structlog.get_logger("gateway.daemon")


class Gateway:
    """One running otp-gateway: compose with a :class:`Config`, then start/serve/stop."""

    def __init__(
        self,
        config: Config,
        *,
        notifier: Notifier | None = None,
        clock: Callable[[], float] = time.time,
        restart: Backoff | None = None,
        proc_root: Path = Path("/proc"),
        udev_root: Path = Path("/run/udev"),
    ) -> None:
        self.config = config
        self.restart = restart if restart is not None else Backoff()
        self._roots = (proc_root, udev_root)  # where to look for ModemManager and udev
        self.notifier = notifier if notifier is not None else Notifier({})
        self.clock = clock
        self.journal: Journal | None = None
        self.state_lock: StateLock | None = None
        self.journal_watch: JournalWatch | None = None
        # (code id, when, claimant) to mark
        self._unrecorded_claims: list[tuple[int, float, str]] = []
        self.sessions: dict[str, ModemSession] = {}
        self.active: dict[str, ModemSession] = {}  # the sessions that initialised at start
        self.restarters: dict[str, Restarter] = {}
        self.pipelines: dict[str, ReceivePipeline] = {}
        self.dispatcher: Dispatcher | None = None
        self.service: SendService | None = None
        self.limiter: RateLimiter | None = None
        self.relay: RelayServer | None = None
        self._stop_requested = asyncio.Event()
        self._tasks = TaskSet(on_failure=self._stop_requested.set)
        self._timers = Timers()
        self.storage = StorageUse()
        self._stopped = False
        self._stuck: ModemStuck | None = None
        self._started_at = time.monotonic()

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Open the journal, bind the socket, initialise the modems, start serving.

        The socket is bound before the modems start, so a bad socket path fails at once,
        and it answers from then on (issue 13.3): while the modems wait for the SIM or the
        network, ``status`` shows each one's start-up step, a ``get`` waits and a ``send``
        is queued. ``STATUS=`` follows the start-up; ``READY=1`` is sent when this returns,
        once a modem is up (house style §7: systemd's "started" means a gateway that can
        receive and send), and the journal's recent codes are handed to the relay before
        it accepts, so a consumer reconnecting with ``since`` or a resume cursor finds them.

        Returns once the gateway serves; raises the modem's error (``PortBusy``,
        ``WrongPin``…), ``StateDirBusy`` (another daemon holds the state directory),
        ``JournalError`` or the relay's ``UsageError`` (socket in use), after undoing
        whatever was started.
        """
        self._started_at = time.monotonic()
        try:
            config = self.config
            state_dir = config.journal.state_dir
            # created at start only: a state directory deleted later is never replaced
            state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            self.state_lock = StateLock.acquire(state_dir)
            self.journal = open_journal(config.journal)
            self.journal_watch = JournalWatch(
                self.journal, on_change=self._journal_changed, on_recovered=self._journal_back
            )
            self.journal_watch.start()
            modemmanager.warn_if_exposed(
                {modem.name: modem.device for modem in config.modem},
                proc_root=self._roots[0],
                udev_root=self._roots[1],
            )
            for modem in config.modem:
                self.sessions[modem.name] = ModemSession(
                    wiring.session_config(modem, state_dir=state_dir),
                    on_stuck=functools.partial(self._modem_stuck, modem.name),
                )
            self._compose(self.journal)
            assert self.relay is not None
            # claim the socket first: a missing directory or a socket in use must fail the
            # start at once, not after the PIN and up to minutes of registration wait
            await self.relay.bind()
            # codes of the previous run that a reconnecting consumer may still want, then
            # answer at once: status shows the start-up steps, gets wait, sends queue
            self._preload(self.journal)
            await self.relay.start()
            self.notifier.status(self.status_line())
            for name, session in self.sessions.items():  # STATUS= follows the start-up too
                self._tasks.spawn(self._watch_state(name, session), f"state-{name}")
            self.active = await start_sessions(self.sessions)
            self._spawn()  # the start-up sweep runs now, with the socket already answering
        except BaseException:
            await self._teardown(drain=0.0)
            raise
        log.info("daemon.ready", modems=list(self.active), socket=str(config.relay.socket))
        self.notifier.ready(self.status_line())
        self._timers.start(self.notifier, self.healthy, self._purge)

    async def serve_forever(self) -> None:
        """Wait until :meth:`request_stop` (a signal) or a failure.

        Returns normally on a requested stop; raises :class:`ModemStuck` when a modem
        stayed not ready through every escalation step, :class:`DaemonFailed` when a part
        of the daemon died (call :meth:`stop` either way).
        """
        await self._stop_requested.wait()
        if self._stuck is not None:
            raise self._stuck
        failure = self._tasks.failure
        if failure is not None:
            raise DaemonFailed(f"{type(failure).__name__}: {failure}")

    def request_stop(self) -> None:
        """Ask :meth:`serve_forever` to return (SIGTERM/SIGINT handler)."""
        self._stop_requested.set()

    async def stop(self, timeout: float = 10.0) -> None:
        """Shut down within about ``timeout`` seconds (idempotent).

        ``STOPPING=1``; stop accepting and end pending requests; the send queue finishes
        or records its in-flight job; pipelines cancelled; modems and journal closed;
        socket file unlinked.
        """
        if self._stopped:
            return
        self.notifier.stopping()
        log.info("daemon.stopping")
        await self._teardown(drain=timeout)
        log.info("daemon.stopped")

    async def __aenter__(self) -> Gateway:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def reload(self, config: Config) -> None:
        """Apply a re-read configuration without dropping the modem (SIGHUP).

        Swaps the receive allow-list (and sender lists) and the relay's access rules;
        pending gets and subscriptions the new rules forbid end with ``forbidden``.
        Settings that need a restart (modems, socket, journal, send) are kept as they
        were and a warning names them. Raises :class:`gateway.errors.UsageError` for rules
        the relay cannot use (nothing is changed then).
        """
        rules = wiring.access_rules(config.relay.access)
        revoked = 0
        if self.relay is not None:
            revoked = self.relay.replace_access(AccessControl(rules))
        for pipeline in self.pipelines.values():
            pipeline.reload(config.receive)
        self.config, kept = reloaded(self.config, config)
        if kept:
            log.warning("daemon.reload_needs_restart", sections=kept)
        log.info(
            "daemon.reloaded",
            origins=len(config.receive.allowed_origins),
            rules=len(rules),
            revoked=revoked,
        )

    def healthy(self) -> bool:
        """True while no daemon task failed and every modem session makes progress.

        Gates ``WATCHDOG=1``: a session that is neither ready nor at rest and has not
        answered, timed out, changed state or looked for its port within its stall
        limit holds the watchdog back, so systemd restarts a daemon whose loop still
        runs but whose modem supervision is stuck.
        """
        if not self._tasks.healthy() or self._stuck is not None:
            return False
        stalled = [name for name, s in self.sessions.items() if not s.progressing()]
        if stalled:
            log.error("daemon.modem_stalled", modems=stalled)
            return False
        return True

    def _modem_stuck(self, name: str, reason: str) -> None:
        """A session's not-ready ladder gave up: stop, and exit 69 (systemd restarts us)."""
        if self._stopped or self._stuck is not None:
            return
        log.error("daemon.modem_stuck", modem=name, reason=reason)
        self._stuck = ModemStuck(f"modem {name} {reason}")
        self._stop_requested.set()

    def _refuses_origin(self, origin: str, embedded_origin: str | None) -> str | None:
        """Return why no code for this pair is ever relayed (the allow-list now), or None."""
        allowed = self.config.receive.allow_list()
        for role, host in (("origin", origin), ("embedded origin", embedded_origin)):
            if host is not None and not allowed.allows(host):
                return (
                    f"the gateway accepts no codes for the {role} {host}: it is not in"
                    " [receive] allowed_origins"
                )
        return None

    # ------------------------------------------------------------------ observation
    def snapshot(self) -> dict[str, object]:
        """Return the ``status`` snapshot (the relay's StatusPort)."""
        journal = self.journal
        counters: dict[str, int] = {}
        if journal is not None:
            with contextlib.suppress(JournalError):  # status must answer on a failing disk
                counters = journal.counters()
        return health.snapshot(
            modems=self.modem_statuses(),
            retry_at={name: r.retry_at for name, r in self.restarters.items()},
            storage_use={name: self.storage.get(name) for name in self.sessions},
            unreadable={name: self._unreadable(name) for name in self.sessions},
            receive={name: p.snapshot() for name, p in self.pipelines.items()},
            send={
                **(self.dispatcher.snapshot() if self.dispatcher is not None else {}),
                "daily_cap": self._daily_cap(),
            },
            queue=self.queue_depth(),
            counters=counters,
            uptime=time.monotonic() - self._started_at,
            version=__version__,
            journal=self.journal_status(),
        )

    def journal_status(self) -> dict[str, object] | None:
        """Return the journal's health for ``status``, checked now (None before start).

        The check (two ``stat`` calls) notices a deleted state directory at once.
        """
        if self.journal is None:
            return None
        watch = self.journal_watch
        return {
            "path": str(self.journal.path),
            **self.journal.verify().as_dict(),
            "retry_at": None if watch is None else watch.retry_at,
        }

    def _unreadable(self, name: str) -> dict[str, str]:
        """Memories of modem ``name`` that could not be read lately, and why."""
        pipeline = self.pipelines.get(name)
        found = pipeline.unreadable if pipeline is not None else {}
        error = self.storage.error(name)
        if error is not None and self.sessions[name].status.ready:
            found["*"] = error
        return found

    async def refresh(self) -> None:
        """Start re-reading storage use (``AT+CPMS?``) of the ready modems, at most every 30 s.

        The relay calls it before each ``status`` snapshot (StatusPort). Returns at once:
        the queries run in the background (one per modem, bounded by 2 s) and the snapshot
        shows the last known figures, so a hung modem never stalls ``status``. Never raises.
        """
        if self._stopped:
            return
        ready = {
            name: s
            for name, s in self.sessions.items()
            if s.status.ready and s.status.receive_unavailable is None  # send-only: no storage
        }
        queries = {name: functools.partial(_cpms_lines, s) for name, s in ready.items()}
        self.storage.refresh(queries, time.monotonic)

    def _daily_cap(self) -> dict[str, int] | None:
        """Return ``{"used": n, "cap": c}`` for ``[ratelimit] global_per_day``, None if off."""
        usage = None if self.limiter is None else self.limiter.daily(self.clock())
        return None if usage is None else {"used": usage.used, "cap": usage.cap}

    def modem_statuses(self) -> dict[str, ModemStatus]:
        """Return each configured modem's current status, by name."""
        return {name: session.status for name, session in self.sessions.items()}

    def queue_depth(self) -> int:
        """Return how many send jobs are queued or being sent (0 when unreadable)."""
        if self.journal is None:
            return 0
        try:
            return len(self.journal.jobs({JobState.QUEUED, JobState.SENDING}))
        except JournalError:
            return 0

    def status_line(self) -> str:
        """Return the sd_notify ``STATUS=`` text."""
        line = health.status_line(self.modem_statuses(), self.queue_depth())
        if self.journal is not None and not self.journal.health().healthy:
            line += "; journal degraded (SMS kept on the modem)"
        return line

    # ------------------------------------------------------------------ composition
    def _compose(self, journal: Journal) -> None:
        config = self.config
        limiter = wiring.rate_limiter(config.ratelimit)
        now = self.clock()
        horizon = wiring.history_horizon(config.ratelimit)
        limiter.rebuild(journal.send_history(since=now - horizon), now)
        self.limiter = limiter
        # every session, also those down at start: workers and pipelines wait for READY
        self.dispatcher = Dispatcher(
            journal=journal, sessions=self.sessions, settings=config.send, clock=self.clock
        )
        self.service = SendService(
            journal=journal,
            settings=config.send,
            limiter=limiter,
            dispatcher=self.dispatcher,
            clock=self.clock,
        )
        self.relay = RelayServer(
            wiring.relay_config(config),
            access=wiring.access_control(config),
            # queued while modems start; refused only when none can ever send in this run
            send=GatedSend(self.service, self.modem_statuses),
            status=self,
            on_claim=self._claimed,
            on_release=self._released,
            clock=self.clock,
            refuses_origin=self._refuses_origin,
        )
        for name, session in self.sessions.items():
            self.pipelines[name] = ReceivePipeline(
                modem=name,
                session=session,
                journal=journal,
                settings=config.receive,
                on_code=self._offer,
                on_report=self._report,
                clock=self.clock,
            )

    def _preload(self, journal: Journal) -> None:
        """Hand the relay the codes of the resume window from the journal (a restart)."""
        assert self.relay is not None
        window = self.relay.config.resume_window
        now = self.clock()
        recent = journal.recent_codes(since=now - max(window, self.relay.config.grace), now=now)
        for stored in recent:
            self.relay.preload(
                CodeRecord(
                    origin=stored.origin,
                    embedded_origin=stored.embedded,
                    code=stored.code or "",
                    sender=stored.sender,
                    received_at=datetime.fromtimestamp(stored.received_at, tz=UTC),
                    record_id=stored.id,
                    claimed_by=None
                    if stored.claimed_at is None
                    else (stored.claimed_by or "relay"),
                ),
                cursor=stored.id,
            )
        self.relay.broker.cursor = max(self.relay.broker.cursor, journal.last_code_id())
        if recent:
            log.info("relay.preloaded", codes=len(recent))

    def _spawn(self) -> None:
        assert self.dispatcher is not None
        self._tasks.spawn(self.dispatcher.run(), "send-dispatcher")
        for name, pipeline in self.pipelines.items():
            self._tasks.spawn(pipeline.run(), f"receive-{name}")
        for name, session in self.sessions.items():
            restarter = Restarter(name, session, self.restart, clock=self.clock)
            self.restarters[name] = restarter
            self._tasks.spawn(restarter.run(), f"restart-{name}")

    # ------------------------------------------------------------------ callbacks
    def _offer(self, record: CodeRecord) -> None:
        if self.relay is not None:
            self.relay.offer(record)

    def _report(self, modem: str, report: StatusReport) -> None:
        if self.dispatcher is not None:
            self.dispatcher.on_status_report(modem, report)

    def _claimed(self, record: CodeRecord) -> bool:
        """Journal a hand-out before its answer is written: a restart never hands it again.

        Returns whether this made the claim (False: already claimed, as when a get's key
        takes its own code again after a restart). While the journal is degraded the mark
        waits here and is written at recovery.
        """
        if self.journal is None or not isinstance(record.record_id, int):
            return False
        now = self.clock()
        # "relay uid=… key=…" for a get that named a key: that key asking again after a
        # restart may take it again (its answer may have been lost), nobody else
        claimant = record.claimed_by or "relay"
        try:
            return self.journal.mark_claimed(record.record_id, now=now, claimant=claimant)
        except JournalUnavailable:
            self._unrecorded_claims.append((record.record_id, now, claimant))
            return True

    def _released(self, record: CodeRecord) -> None:
        """Undo the claim of a code whose answer never reached its consumer (the next get's)."""
        if self.journal is None or not isinstance(record.record_id, int):
            return
        claimant = record.claimed_by or "relay"
        waiting = [c for c in self._unrecorded_claims if c[0] != record.record_id]
        if len(waiting) != len(self._unrecorded_claims):
            self._unrecorded_claims = waiting  # never written: nothing to undo in the file
            return
        try:
            self.journal.release_claim(record.record_id, claimant=claimant)
        except JournalUnavailable:
            # kept claimed in the file; the relay has already given it to the next get
            log.warning("relay.release_not_recorded", code_id=record.record_id)

    def _record_claims(self) -> None:
        """Write the claim marks a degraded journal could not take (at its recovery)."""
        waiting, self._unrecorded_claims = self._unrecorded_claims, []
        for done, (code_id, at, claimant) in enumerate(waiting):
            if self.journal is None:
                return
            try:
                self.journal.mark_claimed(code_id, now=at, claimant=claimant)
            except JournalUnavailable:
                self._unrecorded_claims = waiting[done:]  # degraded again: next recovery
                return
            except JournalError as exc:
                log.error("relay.claim_record_failed", code_id=code_id, error=str(exc))

    def _purge(self) -> None:
        if self.journal is None:
            return
        try:
            counts = self.journal.purge(self.clock())
        except JournalUnavailable:
            return  # the degraded journal is logged once by its watch; next run retries
        log.info(
            "journal.purged",
            codes_expired=counts.codes_expired,
            codes_deleted=counts.codes_deleted,
            bodies_purged=counts.bodies_purged,
            records_deleted=counts.records_deleted,
        )

    def _journal_changed(self, _health: JournalHealth) -> None:
        if not self._stopped:
            self.notifier.status(self.status_line())

    def _journal_back(self) -> None:
        """The journal records durably again: take what stayed on the modems, wake sends."""
        if self._stopped:
            return
        self._record_claims()
        for pipeline in self.pipelines.values():
            pipeline.sweep_soon()
        if self.dispatcher is not None:
            with contextlib.suppress(JournalError):  # it failed again: the next episode
                self.dispatcher.wake()

    async def _watch_state(self, name: str, session: ModemSession) -> None:
        last = session.status.state
        step = health.startup_step(session.status)
        while True:
            current = await session.wait_for(_other_than(last, step))
            step = health.startup_step(current)
            if current.state is not last:
                last = current.state
                log.info("modem.state", modem=name, state=last.value, reason=current.error)
            self.notifier.status(self.status_line())
            if not self._stopped and all(
                s.status.state is SessionState.FAILED for s in self.sessions.values()
            ):
                log.error("daemon.no_modem_left")

    # ------------------------------------------------------------------ teardown
    async def _teardown(self, *, drain: float) -> None:
        self._stopped = True
        self._tasks.quiet()
        self._timers.cancel()
        if self.journal_watch is not None:
            self.journal_watch.cancel()
        if self.relay is not None:
            await self.relay.close()
        if self.dispatcher is not None and drain > 0:
            try:
                async with asyncio.timeout(drain + 1.0):
                    await self.dispatcher.drain(drain)
            except TimeoutError:
                log.warning("daemon.drain_timeout", seconds=drain)
        await self._tasks.cancel()
        await self.storage.close()
        for session in self.sessions.values():
            await session.stop()
        if self.journal is not None:
            self.journal.close()
        if self.state_lock is not None:
            self.state_lock.release()  # only now: nothing writes into the state dir any more
        self.notifier.close()


async def _cpms_lines(session: ModemSession) -> tuple[str, ...]:
    """Return the reply lines of ``AT+CPMS?`` (TS 27.005 §3.2.2); raises ModemFault."""
    return (await session.command(query("AT+CPMS?", "+CPMS"))).raise_for_error().lines


def _other_than(state: SessionState, step: str | None) -> Callable[[ModemStatus], bool]:
    return lambda status: status.state is not state or health.startup_step(status) != step
