"""The receive side of the journal: PDUs and OTP codes (messages: :mod:`.messages`)."""

from __future__ import annotations

from typing import Unpack

from gateway.journal.interface import PduArgs
from gateway.journal.messages import MessageJournal, rowid
from gateway.journal.records import (
    CodeRecord,
    NewCode,
    PduRecord,
    PduStatus,
    RecordedPdu,
    dedupe_key,
)
from gateway.journal.rows import CODES, PDUS


class ReceiveJournal(MessageJournal):
    """Durable records of everything that came in, so the modem copy can be deleted."""

    def record_pdu(self, **pdu: Unpack[PduArgs]) -> RecordedPdu:
        """Store a PDU read from the modem, unless the same SMS was stored before.

        ``key`` is from :func:`dedupe_key` (defaults to the raw-hex hash). The commit is
        on disk (WAL, synchronous=FULL) when this returns: only then may the caller delete
        the SMS from the modem. Returns the row id and whether it was new; raises
        :class:`JournalError` when the write fails.
        """
        pdu_hex, key, status = pdu["pdu_hex"], pdu.get("key"), pdu.get("status", PduStatus.OK)
        if key is None:
            key = dedupe_key(pdu_hex)
        with self._tx() as conn:
            row = conn.execute("SELECT id FROM pdus WHERE dedupe_key = ?", (key,)).fetchone()
            if row is not None:
                self._bump(conn, "pdus.duplicate")
                return RecordedPdu(id=int(row[0]), new=False)
            cursor = conn.execute(
                "INSERT INTO pdus(modem, memory, idx, raw, dedupe_key, received_at, status, "
                "reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    pdu["modem"],
                    pdu["memory"],
                    pdu["index"],
                    pdu_hex.upper(),
                    key,
                    pdu["now"],
                    status.value,
                    pdu.get("reason"),
                ),
            )
            self._bump(conn, f"pdus.{status.value}")
            return RecordedPdu(id=rowid(cursor), new=True)

    def pdus(self, *, unassembled: bool = False) -> list[PduRecord]:
        """Return stored PDUs, oldest first; ``unassembled``: decoded, not yet acted on.

        Unassembled means no message links the PDU and it was not marked handled
        (:meth:`mark_handled`). After a restart the receive pipeline reloads multipart
        parts and replays status reports that were never handed on from here.
        """
        where = (
            "WHERE status = 'ok' AND message_id IS NULL AND handled_at IS NULL"
            if unassembled
            else ""
        )
        rows = self._read(f"SELECT {PDUS.columns} FROM pdus {where} ORDER BY id")  # noqa: S608 - fixed fragments
        return [PDUS(r) for r in rows]

    def mark_handled(self, pdu_id: int, *, now: float) -> bool:
        """Record that the PDU ``pdu_id`` (a status report) was handed on.

        It then leaves ``pdus(unassembled=True)``: a restart neither replays nor re-reads
        it. Returns False when it is unknown or already handled; raises
        :class:`JournalError` when the write fails.
        """
        with self._tx() as conn:
            changed = conn.execute(
                "UPDATE pdus SET handled_at = ? WHERE id = ? AND handled_at IS NULL",
                (now, pdu_id),
            ).rowcount
        return bool(changed)

    def store_code(
        self,
        *,
        origin: str,
        embedded: str | None,
        code: str,
        sender: str,
        received_at: float,
        expires_at: float,
        message_id: int | None = None,
    ) -> CodeRecord:
        """Store an origin-bound code that passed the allow-list, on its own.

        The receive pipeline stores codes with their message (:meth:`store_decided`).
        Returns the record; raises :class:`JournalError` when it expires before it was
        received or the write fails.
        """
        new = NewCode(origin=origin, embedded=embedded, code=code, expires_at=expires_at)
        with self._tx() as conn:
            return self._insert_code(
                conn, new, sender=sender, received_at=received_at, message_id=message_id
            )

    def claim_code(
        self, origin: str, embedded: str | None, since: float, *, now: float, claimant: str
    ) -> CodeRecord | None:
        """Hand out the oldest unclaimed, unexpired code for (origin, embedded) since ``since``.

        One UPDATE ... RETURNING under the write lock: two claimants (even in two
        processes) never get the same code. Returns the claimed record or None.
        """
        with self._tx() as conn:
            row = conn.execute(
                "UPDATE codes SET claimed_by = ?, claimed_at = ? WHERE id = ("  # noqa: S608 - fixed columns
                " SELECT id FROM codes WHERE origin = ? AND embedded IS ? AND received_at >= ?"
                " AND expires_at > ? AND claimed_at IS NULL AND code IS NOT NULL"
                " ORDER BY received_at, id LIMIT 1"
                f") RETURNING {CODES.columns}",
                (claimant, now, origin, embedded, since, now),
            ).fetchone()
            if row is not None:
                self._bump(conn, "codes.claimed")
        return CODES(row) if row is not None else None

    def mark_claimed(self, code_id: int, *, now: float, claimant: str) -> bool:
        """Record that the code ``code_id`` was handed to a consumer (by the relay).

        Returns False when it was already claimed or is unknown, True otherwise.
        """
        with self._tx() as conn:
            changed = conn.execute(
                "UPDATE codes SET claimed_by = ?, claimed_at = ? WHERE id = ? "
                "AND claimed_at IS NULL",
                (claimant, now, code_id),
            ).rowcount
            if changed:
                self._bump(conn, "codes.claimed")
        return bool(changed)

    def release_claim(self, code_id: int, *, claimant: str) -> bool:
        """Undo ``claimant``'s claim of ``code_id`` (its answer never reached the consumer).

        Returns whether a claim by ``claimant`` was there to undo.
        """
        with self._tx() as conn:
            changed = conn.execute(
                "UPDATE codes SET claimed_by = NULL, claimed_at = NULL WHERE id = ? "
                "AND claimed_by = ?",
                (code_id, claimant),
            ).rowcount
            if changed:
                self._bump(conn, "codes.claim_released")
        return bool(changed)

    def recent_codes(self, *, since: float, now: float) -> list[CodeRecord]:
        """Return the unexpired codes received at or after ``since``, in id order.

        Claimed ones too (a resuming subscriber replays them; ``claimed_at`` says who may
        still take one). For the relay's start after a restart.
        """
        rows = self._read(
            f"SELECT {CODES.columns} FROM codes WHERE received_at >= ? AND expires_at > ?"  # noqa: S608 - fixed columns
            " AND code IS NOT NULL ORDER BY id",
            (since, now),
        )
        return [CODES(r) for r in rows]

    def last_code_id(self) -> int:
        """Return the highest code id stored (0 when there is none): the resume cursor."""
        rows = self._read("SELECT COALESCE(MAX(id), 0) FROM codes")
        return int(rows[0][0])

    def codes(self, *, origin: str | None = None) -> list[CodeRecord]:
        """Return stored codes (optionally for one origin), oldest first."""
        if origin is None:
            rows = self._read(f"SELECT {CODES.columns} FROM codes ORDER BY id")  # noqa: S608
        else:
            rows = self._read(
                f"SELECT {CODES.columns} FROM codes WHERE origin = ? ORDER BY id",  # noqa: S608
                (origin,),
            )
        return [CODES(r) for r in rows]
