"""The journal's assembled messages and the decision on each, stored in one transaction.

A message, the links from its PDUs and what the OTP rules decided (a code record, or
the reason token why not) are written together: a crash or a full disk leaves either
all of it or none, and in the second case the PDUs stay "unassembled" and are joined
again at the next start. Rows from older versions, which stored the message and the
code in two transactions, may hold a message with no decision: :meth:`undecided`
returns them so the receive pipeline can judge them at start.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Unpack

from gateway.journal.base import JournalBase
from gateway.journal.interface import AssembledMessage, MessageArgs
from gateway.journal.records import (
    CODE_DECISION,
    CodeRecord,
    MessageRecord,
    NewCode,
    StoredMessage,
)
from gateway.journal.rows import MESSAGES
from gateway.journal.schema import JournalError, JournalRefused


class MessageJournal(JournalBase):
    """Assembled messages, each with its decision (and code) in the same transaction."""

    def store_message(
        self, *, pdu_ids: Sequence[int] = (), **message: Unpack[AssembledMessage]
    ) -> int:
        """Store an assembled message not judged yet (complete when all parts arrived).

        Links ``pdu_ids`` to it so they are no longer "unassembled"; :meth:`undecided`
        returns it until :meth:`record_decision`. Returns the message id; raises
        :class:`JournalRefused` for impossible part counts, JournalError for a failed write.
        """
        _check_parts(message)
        with self._tx() as conn:
            return self._insert_message(conn, message, pdu_ids=pdu_ids, decision=None)

    def store_decided(
        self, *, decision: str, code: NewCode | None = None, **message: Unpack[MessageArgs]
    ) -> StoredMessage:
        """Store a judged message, its PDU links and its code (if any) in one transaction.

        ``decision`` is :data:`CODE_DECISION` with ``code``, or a log-safe reason token
        without. ``now`` is when its first part was received. Returns the message id and
        the code record; raises :class:`JournalRefused` for inconsistent arguments or a
        refused row, :class:`JournalError` for a failed write; nothing is stored then.
        """
        received_at = message["now"]
        _check_parts(message)
        _check_decision(decision, code, received_at=received_at)
        with self._tx() as conn:
            message_id = self._insert_message(
                conn, message, pdu_ids=message["pdu_ids"], decision=decision
            )
            return self._with_code(
                conn, message_id, code, sender=message["sender"], received_at=received_at
            )

    def record_decision(
        self, message_id: int, *, decision: str, code: NewCode | None = None
    ) -> StoredMessage | None:
        """Record the decision on a stored, undecided message (and its code) atomically.

        Returns the outcome, or None when the message is unknown or already decided
        (nothing is written then). Raises :class:`JournalError` when the write fails.
        """
        with self._tx() as conn:
            row = conn.execute(
                "SELECT sender, received_at FROM messages WHERE id = ? AND decision IS NULL",
                (message_id,),
            ).fetchone()
            if row is None:
                return None
            sender, received_at = str(row[0]), float(row[1])
            _check_decision(decision, code, received_at=received_at)
            conn.execute("UPDATE messages SET decision = ? WHERE id = ?", (decision, message_id))
            return self._with_code(conn, message_id, code, sender=sender, received_at=received_at)

    def undecided(self, modem: str) -> list[MessageRecord]:
        """Return ``modem``'s stored messages the OTP rules never judged, oldest first."""
        rows = self._read(
            f"SELECT {MESSAGES.columns} FROM messages WHERE decision IS NULL AND modem = ? "  # noqa: S608 - fixed columns
            "ORDER BY id",
            (modem,),
        )
        return [MESSAGES(r) for r in rows]

    def message_text(self, message_id: int) -> str | None:
        """Return a stored message's text (None when purged or unknown)."""
        rows = self._read("SELECT text FROM messages WHERE id = ?", (message_id,))
        return rows[0][0] if rows else None

    def message_decision(self, message_id: int) -> str | None:
        """Return a stored message's decision (None when not judged yet or unknown)."""
        rows = self._read("SELECT decision FROM messages WHERE id = ?", (message_id,))
        return rows[0][0] if rows else None

    def _insert_message(
        self,
        conn: sqlite3.Connection,
        message: AssembledMessage,
        *,
        pdu_ids: Sequence[int],
        decision: str | None,
    ) -> int:
        complete = int(message["parts"] == message["expected_parts"])
        cursor = conn.execute(
            "INSERT INTO messages(modem, sender, scts, text, parts, expected_parts, "
            "complete, received_at, decision, sender_type) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                message["modem"],
                message["sender"],
                message["scts"].isoformat(),
                message["text"],
                message["parts"],
                message["expected_parts"],
                complete,
                message["now"],
                decision,
                message.get("sender_type"),
            ),
        )
        message_id = rowid(cursor)
        conn.executemany(
            "UPDATE pdus SET message_id = ? WHERE id = ?",
            [(message_id, pdu_id) for pdu_id in pdu_ids],
        )
        self._bump(conn, "messages.complete" if complete else "messages.incomplete")
        return message_id

    def _with_code(
        self,
        conn: sqlite3.Connection,
        message_id: int,
        code: NewCode | None,
        *,
        sender: str,
        received_at: float,
    ) -> StoredMessage:
        """Store the decided message ``message_id``'s code, if it has one; return both."""
        if code is None:
            return StoredMessage(message_id=message_id, code=None)
        stored = self._insert_code(
            conn, code, sender=sender, received_at=received_at, message_id=message_id
        )
        return StoredMessage(message_id=message_id, code=stored)

    def _insert_code(
        self,
        conn: sqlite3.Connection,
        code: NewCode,
        *,
        sender: str,
        received_at: float,
        message_id: int | None,
    ) -> CodeRecord:
        if code.expires_at <= received_at:
            raise JournalRefused("code: expires_at must be after received_at")
        cursor = conn.execute(
            "INSERT INTO codes(origin, embedded, code, sender, received_at, expires_at, "
            "message_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                code.origin,
                code.embedded,
                code.code,
                sender,
                received_at,
                code.expires_at,
                message_id,
            ),
        )
        self._bump(conn, "codes.received")
        # the record of what was just written, from the values: reading it back through
        # rows.CODES (INSERT ... RETURNING) costs SQLite about 14 µs more per received code
        return CodeRecord(
            id=rowid(cursor),
            origin=code.origin,
            embedded=code.embedded,
            code=code.code,
            sender=sender,
            received_at=received_at,
            expires_at=code.expires_at,
            message_id=message_id,
            claimed_by=None,
            claimed_at=None,
        )


def _check_parts(message: AssembledMessage) -> None:
    if not 1 <= message["parts"] <= message["expected_parts"]:
        raise JournalRefused("message: need 1 <= parts <= expected_parts")


def _check_decision(decision: str, code: NewCode | None, *, received_at: float) -> None:
    if not decision or (decision == CODE_DECISION) != (code is not None):
        raise JournalRefused(f"message: decision {CODE_DECISION!r} goes with a code, only")
    if code is not None and code.expires_at <= received_at:
        raise JournalRefused("code: expires_at must be after received_at")


def rowid(cursor: sqlite3.Cursor) -> int:
    """Return the row id an INSERT produced; raises :class:`JournalError` if it has none."""
    if cursor.lastrowid is None:  # pragma: no cover - INSERT always sets it
        raise JournalError("insert returned no row id")
    return cursor.lastrowid
