"""Remembering rejected SIM PINs across restarts, so a PIN is never entered twice.

Three wrong PIN entries lock a SIM behind its PUK (TS 31.102 §9; TS 27.007 §8.3). The
daemon may be restarted by systemd, by an operator or after a crash, so a rejection is
kept in the state directory, keyed by the SIM's ICCID (or, when the modem cannot read it,
by the configured device), together with a salted, slow hash of each PIN that SIM
rejected since its last successful entry; never the PIN itself.

:func:`decide` is the pure rule: a PIN this SIM already rejected is never sent again
(an operator who corrects the PIN gets one attempt per new PIN); with one attempt left
(AT+CPINR) nothing is sent, and when the modem cannot count, two recorded rejections
mean at most one attempt is left. :class:`PinGuard` is the file shell around it.

A PIN is recorded as *pending* before AT+CPIN is sent, and the entry becomes a
rejection on +CME ERROR: 16 or is dropped on OK. A pending entry still there at the
next start is an attempt whose reply was lost (timeout, unplug, crash): the SIM may
have counted it, so it counts as a used attempt; see :func:`decide`.
"""

from __future__ import annotations

import asyncio
import enum
import hashlib
import json
import os
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from gateway.errors import ModemFault

T = TypeVar("T")
FILENAME = "sim-pin-rejections.json"
#: PBKDF2 rounds: a PIN has at most 10^8 values, so the hash must be slow (NIST SP 800-132)
ROUNDS = 200_000
#: a SIM allows three PIN attempts (TS 31.102 §9)
PIN_ATTEMPTS = 3


class PinRecordError(ModemFault):
    """The rejection record cannot be read or written."""


class Decision(enum.Enum):
    """Whether the configured PIN may be sent to this SIM."""

    SEND = "send"
    REJECTED_BEFORE = "rejected-before"  # this SIM rejected this very PIN
    LAST_ATTEMPT = "last-attempt"  # one attempt left: a person must decide
    UNCONFIRMED = "unconfirmed"  # sent before, reply lost, and the modem cannot count


@dataclass(frozen=True, slots=True, kw_only=True)
class SimKey:
    """Names a SIM: by ICCID, or by the modem device when no ICCID can be read."""

    kind: str  # "iccid" or "device"
    value: str

    def __post_init__(self) -> None:
        if self.kind not in ("iccid", "device") or not self.value:
            raise ValueError("a SIM key is an ICCID or a device path")

    @property
    def text(self) -> str:
        """The key as stored: ``iccid:<digits>`` or ``device:<path>``."""
        return f"{self.kind}:{self.value}"

    @property
    def label(self) -> str:
        """A short name for messages: the ICCID's last four digits, or the device."""
        return f"SIM …{self.value[-4:]}" if self.kind == "iccid" else f"the SIM in {self.value}"


def decide(
    rejected: tuple[str, ...],
    pin_hash: str,
    attempts_left: int | None,
    pending: tuple[str, ...] = (),
) -> Decision:
    """Return whether to send the PIN whose hash is ``pin_hash``.

    ``rejected`` holds the hashes this SIM rejected since its last successful entry,
    ``pending`` one hash per entry whose reply never came (unknown outcome);
    ``attempts_left`` is the SIM's counter when the modem can read it.

    The rule for a lost reply: the SIM may have counted that attempt, so a pending
    entry counts as a used attempt, like a rejection, when the modem cannot count. The
    same PIN may be sent again only when the modem's counter is readable and shows at
    least two attempts left: it was perhaps wrong, and resending it must never be able
    to spend the last attempt. Without a counter it is not resent (a restart loop would
    otherwise burn one attempt per lost reply and lock the SIM behind its PUK).
    """
    if pin_hash in rejected:
        return Decision.REJECTED_BEFORE
    if attempts_left is not None:
        return Decision.SEND if attempts_left > 1 else Decision.LAST_ATTEMPT
    if pin_hash in pending:
        return Decision.UNCONFIRMED
    if len(rejected) + len(pending) >= PIN_ATTEMPTS - 1:
        return Decision.LAST_ATTEMPT
    return Decision.SEND


@dataclass(slots=True, kw_only=True)
class _Records:
    salt: str = field(default_factory=lambda: secrets.token_hex(16))
    sims: dict[str, list[str]] = field(default_factory=dict)
    pending: dict[str, list[str]] = field(default_factory=dict)


class PinGuard:
    """Rejected-PIN records in ``path`` (JSON, 0600, replaced atomically); None: memory only.

    Each operation reads the file once and runs in a worker thread (PBKDF2 takes tens of
    milliseconds and the file is fsynced), serialised per path, so the event loop never
    waits on it. With ``device`` given, an ICCID-keyed operation also folds in the
    entries written under ``device:<device>`` while the ICCID could not be read.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._memory = _Records()

    def pin_hash(self, key: SimKey, pin: str) -> str:
        """Return the salted hash of ``pin`` for this SIM (blocks); raises PinRecordError."""
        with _lock(self.path):
            return _hash(self._load().salt, key, pin)

    async def decide(
        self, key: SimKey, pin: str, attempts_left: int | None, *, device: str | None = None
    ) -> Decision:
        """Return whether ``pin`` may be sent to the SIM ``key``; raises PinRecordError."""

        def work(records: _Records) -> tuple[Decision, bool]:
            own, merged = _merge(records, key, pin, device)
            rejected = tuple(records.sims.get(key.text, ()))
            pending = tuple(records.pending.get(key.text, ()))
            return decide(rejected, own, attempts_left, pending), merged

        return await self._apply(work)

    async def attempting(self, key: SimKey, pin: str, *, device: str | None = None) -> None:
        """Record ``pin`` as sent, outcome unknown (before AT+CPIN); raises PinRecordError."""

        def work(records: _Records) -> tuple[None, bool]:
            own, _ = _merge(records, key, pin, device)
            records.pending.setdefault(key.text, []).append(own)
            return None, True

        await self._apply(work)

    async def rejected(self, key: SimKey, pin: str, *, device: str | None = None) -> None:
        """Record that ``key`` rejected ``pin`` (no longer pending); raises PinRecordError."""

        def work(records: _Records) -> tuple[None, bool]:
            own, _ = _merge(records, key, pin, device)
            hashes = records.sims.setdefault(key.text, [])
            if own not in hashes:
                hashes.append(own)
            waiting = records.pending.get(key.text, [])
            if own in waiting:
                waiting.remove(own)
            if not waiting:
                records.pending.pop(key.text, None)
            return None, True

        await self._apply(work)

    async def accepted(
        self, key: SimKey, *, device: str | None = None, pending_only: bool = False
    ) -> None:
        """Forget the SIM's entries: a correct PIN resets its counter. Raises PinRecordError.

        ``pending_only``: the SIM was found READY, so its counter was reset, but whether
        by our lost entry is unknown; rejections stay, pending entries go.
        """

        def work(records: _Records) -> tuple[None, bool]:
            _, merged = _merge(records, key, None, device)
            sims = None if pending_only else records.sims.pop(key.text, None)
            dropped = sims, records.pending.pop(key.text, None)
            return None, merged or dropped != (None, None)

        await self._apply(work)

    async def has_pending(self) -> bool:
        """Return whether any SIM has an entry whose reply never came; raises PinRecordError."""
        return await self._apply(lambda records: (bool(records.pending), False))

    async def _apply(self, work: Callable[[_Records], tuple[T, bool]]) -> T:
        """Run ``work`` on the loaded records in a thread; save them when it says so."""

        def run() -> T:
            with _lock(self.path):
                records = self._load()
                result, changed = work(records)
                if changed:
                    self._save(records)
                return result

        return await asyncio.get_running_loop().run_in_executor(None, run)

    def _load(self) -> _Records:
        if self.path is None:
            return self._memory
        try:
            raw = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            # never written, or removed by an operator: no rejections (the salt is kept)
            self._memory = _Records(salt=self._memory.salt)
            return self._memory
        except OSError as exc:
            raise PinRecordError(f"cannot read the PIN record {self.path}: {exc}") from exc
        try:
            data = json.loads(raw)
            salt, sims = data["salt"], data["sims"]
            pending = data.get("pending", {})  # absent in records written before it existed
            bytes.fromhex(salt)
            ok = _hash_lists(sims) and _hash_lists(pending)
        except (ValueError, KeyError, TypeError, RecursionError) as exc:
            # RecursionError: deeply nested JSON ('[' * 100000) is damaged like the rest
            raise PinRecordError(
                f"the PIN record {self.path} is damaged ({exc}); remove it once the "
                "configured PIN is known to be right"
            ) from exc
        if not ok:
            raise PinRecordError(
                f"the PIN record {self.path} is damaged; remove it once the PIN is right"
            )
        self._memory = _Records(
            salt=salt,
            sims={k: list(v) for k, v in sims.items()},
            pending={k: list(v) for k, v in pending.items()},
        )
        return self._memory

    def _save(self, records: _Records) -> None:
        self._memory = records
        if self.path is None:
            return
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        data = {"salt": records.salt, "sims": records.sims, "pending": records.pending}
        text = json.dumps(data, indent=1, sort_keys=True)
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, self.path)
            # the rename lives in the directory: sync it too, or a power cut may lose it
            directory = os.open(self.path.parent, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
        except OSError as exc:
            temporary.unlink(missing_ok=True)
            raise PinRecordError(f"cannot write the PIN record {self.path}: {exc}") from exc


def _hash_lists(value: object) -> bool:
    """True when ``value`` maps SIM keys to lists of hash strings."""
    return isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, list) and all(isinstance(h, str) for h in v)
        for k, v in value.items()
    )


def _hash(salt: str, key: SimKey, pin: str) -> str:
    """PBKDF2-HMAC-SHA256 of ``pin``, salted with the record's salt and the SIM key."""
    material = bytes.fromhex(salt) + key.text.encode()
    return hashlib.pbkdf2_hmac("sha256", pin.encode(), material, ROUNDS).hex()


def _merge(records: _Records, key: SimKey, pin: str | None, device: str | None) -> tuple[str, bool]:
    """Move ``device:<device>`` entries (this SIM, ICCID unread then) under the ICCID ``key``.

    The PIN's device-salted hash becomes its ICCID hash (it still matches); others stay
    as entries that count. Returns the PIN's hash ("" without one) and whether any moved.
    """
    own = _hash(records.salt, key, pin) if pin is not None else ""
    if key.kind != "iccid" or not device:
        return own, False
    old = SimKey(kind="device", value=device)
    if old.text not in records.sims and old.text not in records.pending:
        return own, False
    theirs = _hash(records.salt, old, pin) if pin is not None else None
    for table in (records.sims, records.pending):
        moved = [own if value == theirs else value for value in table.pop(old.text, [])]
        if moved:
            table.setdefault(key.text, []).extend(moved)
    if key.text in records.sims:
        records.sims[key.text] = list(dict.fromkeys(records.sims[key.text]))
    return own, True


_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def _lock(path: Path | None) -> threading.Lock:
    """The lock serialising read-modify-write of one record file in this process."""
    name = os.path.abspath(path) if path is not None else ""
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(name, threading.Lock())
