"""The SMS operations of a READY session: send (AT+CMGS), list, read, delete, acknowledge.

A mixin of :class:`~gateway.modem.session.ModemSession`: each operation waits for READY,
runs its commands through the session (one AT command at a time) and turns the replies
into values or typed errors (TS 27.005 §3.5). Storage operations hold the session's
storage lock, since AT+CPMS selects the memory for the commands that follow it.

A late reply never belongs to the wrong command: the engine resynchronises with a nonce
after any timeout and refuses a bare ``OK`` to ``AT+CMGR``/``AT+CMGS``. What it cannot
see is the index: a ``+CMGR`` reply does not carry it (TS 27.005 §3.5.3). So each read is
stamped with the *epoch* it was matched in (initialisations, engine generation), and a
delete goes ahead only in that same epoch; after any resync, reopen or re-initialisation
in between, the slot is read again and deleted only if it still holds the same PDU.

Line noise can also change a PDU line without breaking its shape (hex glued to it). The
header's ``<length>`` counts the TPDU octets (TS 27.005 §3.1, SMSC address excluded): a
PDU that does not match it is read again, and accepted only if the second read gives
the same bytes (a firmware that miscounts does so every time; noise does not repeat).
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace
from typing import Protocol

import structlog

from gateway.at import AtError, AtTimeout, CmsError, Command, Kind, action, query
from gateway.at.events import Phase, Response
from gateway.errors import UsageError
from gateway.modem.channel import LinkLost
from gateway.modem.init import InitResult, cpms_command
from gateway.modem.sessiontypes import ReceiveUnavailable, SendOutcomeUnknown
from gateway.modem.storage import (
    ReplyError,
    StoredMessage,
    parse_listing,
    parse_read,
    parse_reference,
)

log = structlog.get_logger("gateway.modem.session")

_MEMORY = re.compile(r"[A-Z]{2}")
_HEX = re.compile(r"(?:[0-9A-Fa-f]{2})+")


class OperationsHost(Protocol):
    """What the operations need from the session."""

    _storage: asyncio.Lock
    _result: InitResult | None
    _selected: str | None

    @property
    def epoch(self) -> tuple[int, int]: ...

    async def run(self, command: Command) -> Response: ...

    async def _until_ready(self) -> None: ...


class SmsOperations:
    """send_pdu, list/read/delete stored messages and ack_routed, for a session."""

    async def send_pdu(self: OperationsHost, pdu_hex: str, tpdu_length: int) -> int:
        """Send one SMS-SUBMIT with AT+CMGS; return the message reference (TP-MR).

        Raises SendOutcomeUnknown if the body was written but no ``+CMGS: <mr>`` was
        seen (no result, a bare OK, a link loss), CmsError for a refused send, AtTimeout
        if the prompt never came (not sent), ModemUnavailable.
        """
        if not _HEX.fullmatch(pdu_hex) or not 1 <= tpdu_length <= len(pdu_hex) // 2:
            raise UsageError("send_pdu needs PDU hex and its TPDU length (AT+CMGS <length>)")
        command = Command(
            text=f"AT+CMGS={tpdu_length}",
            prefixes=("+CMGS",),
            kind=Kind.SEND,
            body=pdu_hex,
            needs="+CMGS",  # an OK without "+CMGS: <mr>" is not the send's answer
        )
        await self._until_ready()
        try:
            response = await self.run(command)
        except AtTimeout as exc:
            if exc.phase == Phase.BODY.value:
                raise SendOutcomeUnknown("no +CMGS result after the message body") from exc
            raise
        except LinkLost as exc:
            if exc.after_body:
                raise SendOutcomeUnknown("link lost after the message body") from exc
            raise
        response.raise_for_error()
        try:
            return parse_reference(response.lines)
        except ReplyError as exc:
            # the body went out and an OK came, but no usable <mr>: maybe sent
            raise SendOutcomeUnknown("no message reference after the message body") from exc

    async def list_messages(self: OperationsHost, memory: str) -> list[StoredMessage]:
        """List every stored message in ``memory`` (AT+CMGL=4, PDU mode).

        Raises UsageError for a bad memory name, typed AT errors, ModemUnavailable,
        ReceiveUnavailable on a send-only modem (also read and delete).
        """
        async with self._storage:
            await _select(self, memory)
            list_all = Command(text="AT+CMGL=4", prefixes=("+CMGL",), pdu=True, kind=Kind.LIST)
            response = (await self.run(list_all)).raise_for_error()
            epoch = _epoch_of(self, response)
            messages, bad = parse_listing(memory, response.lines)
            checked: list[StoredMessage] = []
            for message in messages:
                if _length_fits(message):
                    checked.append(replace(message, epoch=epoch))
                    continue
                # noise inside the listing, or a firmware that miscounts: the slot's own
                # read decides (same bytes twice, see _read)
                try:
                    again = await _read(self, memory, message.index)
                except (AtError, ReplyError):
                    again = None
                if again is not None and again.pdu == message.pdu:
                    checked.append(again)
                else:
                    bad += 1
        if bad:
            log.warning("modem.malformed_listing", memory=memory, entries=bad)
        return checked

    async def read_message(self: OperationsHost, memory: str, index: int) -> StoredMessage | None:
        """Read one stored message; return None for an empty slot (``+CMS ERROR: 321``).

        The message is stamped with the epoch its reply was matched in. A bare ``OK``
        (some modems' empty slot, or a late answer to something else) is not accepted:
        it raises UnexpectedReply (an AtTimeout) and the engine resynchronises.
        Raises UsageError, typed AT errors, AtTimeout, ReplyError, ModemUnavailable.
        """
        async with self._storage:
            await _select(self, memory)
            return await _read(self, memory, index)

    async def delete_message(
        self: OperationsHost, memory: str, index: int, *, read: StoredMessage | None = None
    ) -> bool:
        """Delete one stored message (AT+CMGD) that ``read`` recorded; return True if deleted.

        With ``read`` (what the pipeline always passes), the delete goes ahead only in the
        epoch the read was matched in; otherwise the slot is read again and deleted only
        if it still holds ``read``'s PDU (False when it does not: left for the sweep).
        Without ``read`` the slot is deleted unconditionally (tools and tests).
        Raises typed AT errors, AtTimeout, ReplyError, ModemUnavailable.
        """
        async with self._storage:
            await _select(self, memory)
            if read is not None and read.epoch != self.epoch:
                fresh = await _read(self, memory, index)
                if fresh is None or fresh.pdu.upper() != read.pdu.upper():
                    log.warning("modem.delete_revalidation_failed", memory=memory)
                    return False
            (await self.run(action(f"AT+CMGD={_index(index)}"))).raise_for_error()
            return True

    async def ack_routed(self: OperationsHost) -> bool:
        """Acknowledge a routed +CMT/+CDS (AT+CNMA, TS 27.005 §3.4.4).

        Returns False when the modem expected no acknowledgement (+CMS ERROR: 340, the
        usual case with AT+CSMS=0). Raises other typed AT errors, ModemUnavailable.
        """
        await self._until_ready()
        response = await self.run(action("AT+CNMA"))
        error = response.error()
        if isinstance(error, CmsError) and error.code == 340:
            return False
        response.raise_for_error()
        return True


async def _read(host: OperationsHost, memory: str, index: int) -> StoredMessage | None:
    """AT+CMGR=<index> with the storage lock held; the message stamped with its epoch."""
    cmgr = Command(
        text=f"AT+CMGR={_index(index)}",
        prefixes=("+CMGR",),
        pdu=True,
        needs="+CMGR",  # a bare OK is never a read's answer: +CMGR header and PDU line
    )
    response = await host.run(cmgr)
    error = response.error()
    if isinstance(error, CmsError) and error.code == 321:
        return None  # TS 27.005 §3.2.5: invalid memory index = empty slot
    if error is not None:
        raise error
    message = parse_read(memory, index, response.lines)
    if message is not None and not _length_fits(message):
        again_response = (await host.run(cmgr)).raise_for_error()
        again = parse_read(memory, index, again_response.lines)
        if again is None or again.pdu != message.pdu:
            raise ReplyError("+CMGR: the PDU does not match its <length> (noise?)")
        log.info("modem.length_mismatch", memory=memory)  # the same twice: the firmware
    return None if message is None else replace(message, epoch=_epoch_of(host, response))


def _length_fits(message: StoredMessage) -> bool:
    """True when the PDU holds <length> TPDU octets after its SMSC address (TS 27.005 §3.1)."""
    octets = len(message.pdu) // 2
    sca = int(message.pdu[:2], 16)
    return octets - 1 - sca == message.length


def _epoch_of(host: OperationsHost, response: Response) -> tuple[int, int]:
    """The epoch a reply was matched in: (initialisations, engine generation)."""
    return (host.epoch[0], response.generation)


async def _select(host: OperationsHost, memory: str) -> None:
    if not _MEMORY.fullmatch(memory):
        raise UsageError(f"bad storage memory {memory!r}")
    await host._until_ready()
    result = host._result
    if result is not None and result.receive_unavailable is not None:
        raise ReceiveUnavailable(f"receiving is unavailable: {result.receive_unavailable}")
    if host._selected == memory or result is None:
        return
    memories = (memory, *result.cpms[1:])  # same slot count as AT+CPMS=? offered
    (await host.run(query(cpms_command(memories), "+CPMS"))).raise_for_error()
    host._selected = memory


def _index(index: int) -> int:
    if isinstance(index, bool) or not 0 <= index <= 65535:
        raise UsageError(f"bad storage index {index!r}")
    return index
