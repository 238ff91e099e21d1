"""The SMS operations of a READY session: send (AT+CMGS), list, read, delete, acknowledge.

A mixin of :class:`~gateway.modem.session.ModemSession`: each operation waits for READY,
runs its commands through the session (one AT command at a time) and turns the replies
into values or typed errors (TS 27.005 §3.5). Storage operations hold the session's
storage lock, since AT+CPMS selects the memory for the commands that follow it.
"""

from __future__ import annotations

import asyncio
import re
from typing import Protocol

import structlog

from gateway.at import AtTimeout, CmsError, Command, Kind, action, query
from gateway.at.events import Phase, Response
from gateway.errors import UsageError
from gateway.modem.channel import LinkLost
from gateway.modem.init import InitResult, cpms_command
from gateway.modem.sessiontypes import ReceiveUnavailable, SendOutcomeUnknown
from gateway.modem.storage import StoredMessage, parse_listing, parse_read, parse_reference

log = structlog.get_logger("gateway.modem.session")

_MEMORY = re.compile(r"[A-Z]{2}")
_HEX = re.compile(r"(?:[0-9A-Fa-f]{2})+")


class OperationsHost(Protocol):
    """What the operations need from the session."""

    _storage: asyncio.Lock
    _result: InitResult | None
    _selected: str | None

    async def run(self, command: Command) -> Response: ...

    async def _until_ready(self) -> None: ...


class SmsOperations:
    """send_pdu, list/read/delete stored messages and ack_routed, for a session."""

    async def send_pdu(self: OperationsHost, pdu_hex: str, tpdu_length: int) -> int:
        """Send one SMS-SUBMIT with AT+CMGS; return the message reference (TP-MR).

        Raises SendOutcomeUnknown if the body was written but no result came, CmsError
        for a refused send, AtTimeout if the prompt never came (not sent), ModemUnavailable.
        """
        if not _HEX.fullmatch(pdu_hex) or not 1 <= tpdu_length <= len(pdu_hex) // 2:
            raise UsageError("send_pdu needs PDU hex and its TPDU length (AT+CMGS <length>)")
        command = Command(
            text=f"AT+CMGS={tpdu_length}", prefixes=("+CMGS",), kind=Kind.SEND, body=pdu_hex
        )
        await self._until_ready()
        try:
            response = await self.run(command)
        except AtTimeout as exc:
            if exc.phase == Phase.BODY.value:
                raise SendOutcomeUnknown("no result after the message body") from exc
            raise
        except LinkLost as exc:
            if exc.after_body:
                raise SendOutcomeUnknown("link lost after the message body") from exc
            raise
        response.raise_for_error()
        return parse_reference(response.lines)

    async def list_messages(self: OperationsHost, memory: str) -> list[StoredMessage]:
        """List every stored message in ``memory`` (AT+CMGL=4, PDU mode).

        Raises UsageError for a bad memory name, typed AT errors, ModemUnavailable,
        ReceiveUnavailable on a send-only modem (also read and delete).
        """
        async with self._storage:
            await _select(self, memory)
            list_all = Command(text="AT+CMGL=4", prefixes=("+CMGL",), pdu=True, kind=Kind.LIST)
            response = (await self.run(list_all)).raise_for_error()
        messages, bad = parse_listing(memory, response.lines)
        if bad:
            log.warning("modem.malformed_listing", memory=memory, entries=bad)
        return messages

    async def read_message(self: OperationsHost, memory: str, index: int) -> StoredMessage | None:
        """Read one stored message; return None for an empty slot.

        Raises UsageError, typed AT errors, ReplyError, ModemUnavailable.
        """
        async with self._storage:
            await _select(self, memory)
            cmgr = Command(text=f"AT+CMGR={_index(index)}", prefixes=("+CMGR",), pdu=True)
            response = await self.run(cmgr)
        error = response.error()
        if isinstance(error, CmsError) and error.code == 321:
            return None  # TS 27.005 §3.2.5: invalid memory index = empty slot
        if error is not None:
            raise error
        return parse_read(memory, index, response.lines)

    async def delete_message(self: OperationsHost, memory: str, index: int) -> None:
        """Delete one stored message (AT+CMGD). Raises typed AT errors, ModemUnavailable."""
        async with self._storage:
            await _select(self, memory)
            (await self.run(action(f"AT+CMGD={_index(index)}"))).raise_for_error()

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
