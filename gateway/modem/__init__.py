"""The modem I/O shell: serial link, AT channel, and the asyncio modem session.

Typical use::

    session = ModemSession(SessionConfig(link=LinkConfig(device="/dev/serial/by-id/...")))
    await session.start()          # returns when READY, or raises
    reference = await session.send_pdu(pdu.hex, pdu.tpdu_length)
    async for event in session.events(): ...   # URCs (NewMessage...) and StateChanged
"""

from __future__ import annotations

from gateway.modem.health import HealthConfig
from gateway.modem.init import InitConfig, RegistrationTimeout
from gateway.modem.link import LinkConfig, LinkDown, LinkError, PortBusy
from gateway.modem.session import (
    ModemFailed,
    ModemSession,
    ModemUnavailable,
    SendOutcomeUnknown,
    SessionConfig,
    StateChanged,
)
from gateway.modem.sim import PinRequired, SimError, SimLocked, WrongPin
from gateway.modem.status import ModemIdentity, ModemStatus, SessionState
from gateway.modem.storage import ReplyError, StoredMessage

__all__ = [
    "HealthConfig",
    "InitConfig",
    "LinkConfig",
    "LinkDown",
    "LinkError",
    "ModemFailed",
    "ModemIdentity",
    "ModemSession",
    "ModemStatus",
    "ModemUnavailable",
    "PinRequired",
    "PortBusy",
    "RegistrationTimeout",
    "ReplyError",
    "SendOutcomeUnknown",
    "SessionConfig",
    "SessionState",
    "SimError",
    "SimLocked",
    "StateChanged",
    "StoredMessage",
    "WrongPin",
]
