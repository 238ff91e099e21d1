"""Typed AT errors: ``+CME ERROR`` / ``+CMS ERROR`` codes, their names and retry class.

Names follow 3GPP TS 27.007 §9.2 (mobile termination errors) and TS 27.005 §3.2.5
(message service failure results; 0-127 are RP causes of TS 24.011 Annex E-2, 128-255 are
TP-FCS values of TS 23.040 §9.2.3.22). Each code is classified *transient* (the same
command may succeed if retried later, with a bound) or *permanent* (retrying cannot help).
Codes not in the tables are permanent: retry storms are worse than a dead letter.
"""

from __future__ import annotations

import re
from enum import Enum
from typing import ClassVar

from gateway.errors import ModemFault, UsageError


class Retry(Enum):
    """Whether repeating the failed operation later can help."""

    TRANSIENT = "transient"
    PERMANENT = "permanent"


T, P = Retry.TRANSIENT, Retry.PERMANENT

#: TS 27.007 §9.2.1 / §9.2.2 codes -> (name, retry class). 515 is not in the spec: SIMCom,
#: Quectel and Huawei firmwares use it for "device busy / initialisation in progress".
CME_CODES: dict[int, tuple[str, Retry]] = {
    0: ("phone failure", P),
    1: ("no connection to phone", P),
    2: ("phone-adaptor link reserved", T),
    3: ("operation not allowed", P),
    4: ("operation not supported", P),
    5: ("PH-SIM PIN required", P),
    6: ("PH-FSIM PIN required", P),
    7: ("PH-FSIM PUK required", P),
    10: ("SIM not inserted", P),
    11: ("SIM PIN required", P),
    12: ("SIM PUK required", P),
    13: ("SIM failure", P),
    14: ("SIM busy", T),
    15: ("SIM wrong", P),
    16: ("incorrect password", P),
    17: ("SIM PIN2 required", P),
    18: ("SIM PUK2 required", P),
    20: ("memory full", P),
    21: ("invalid index", P),
    22: ("not found", P),
    23: ("memory failure", P),
    24: ("text string too long", P),
    25: ("invalid characters in text string", P),
    26: ("dial string too long", P),
    27: ("invalid characters in dial string", P),
    30: ("no network service", T),
    31: ("network timeout", T),
    32: ("network not allowed - emergency calls only", T),
    40: ("network personalization PIN required", P),
    41: ("network personalization PUK required", P),
    50: ("incorrect parameters", P),
    100: ("unknown", T),
    103: ("illegal MS", P),
    106: ("illegal ME", P),
    107: ("GPRS services not allowed", P),
    111: ("PLMN not allowed", P),
    112: ("location area not allowed", T),
    113: ("roaming not allowed in this location area", T),
    148: ("unspecified GPRS error", T),
    515: ("device busy (vendor: initialisation or command in progress)", T),
}

#: TS 27.005 §3.2.5 codes -> (name, retry class).
CMS_CODES: dict[int, tuple[str, Retry]] = {
    # TS 24.011 Annex E-2 RP causes (network side of the relay protocol)
    1: ("unassigned (unallocated) number", P),
    8: ("operator determined barring", P),
    10: ("call barred", P),
    21: ("short message transfer rejected", P),
    27: ("destination out of service", T),
    28: ("unidentified subscriber", P),
    29: ("facility rejected", P),
    30: ("unknown subscriber", P),
    38: ("network out of order", T),
    41: ("temporary failure", T),
    42: ("congestion", T),
    47: ("resources unavailable, unspecified", T),
    50: ("requested facility not subscribed", P),
    69: ("requested facility not implemented", P),
    81: ("invalid short message transfer reference value", P),
    95: ("invalid message, unspecified", P),
    96: ("invalid mandatory information", P),
    97: ("message type non-existent or not implemented", P),
    98: ("message not compatible with short message protocol state", P),
    99: ("information element non-existent or not implemented", P),
    111: ("protocol error, unspecified", P),
    127: ("interworking, unspecified", P),
    # TS 23.040 §9.2.3.22 TP-Failure-Cause values
    128: ("telematic interworking not supported", P),
    143: ("unspecified TP-PID error", P),
    144: ("data coding scheme (alphabet) not supported", P),
    159: ("unspecified TP-DCS error", P),
    176: ("TPDU not supported", P),
    192: ("SC busy", T),
    193: ("no SC subscription", P),
    194: ("SC system failure", T),
    195: ("invalid SME address", P),
    196: ("destination SME barred", P),
    197: ("SM rejected - duplicate SM", P),
    208: ("(U)SIM SMS storage full", P),
    210: ("error in MS", P),
    211: ("memory capacity exceeded", P),
    212: ("(U)SIM application toolkit busy", T),
    255: ("unspecified error cause", P),
    # TS 27.005 §3.2.5 ME/TA failures
    300: ("ME failure", T),
    301: ("SMS service of ME reserved", T),
    302: ("operation not allowed", P),
    303: ("operation not supported", P),
    304: ("invalid PDU mode parameter", P),
    305: ("invalid text mode parameter", P),
    310: ("(U)SIM not inserted", P),
    311: ("(U)SIM PIN required", P),
    312: ("PH-(U)SIM PIN required", P),
    313: ("(U)SIM failure", P),
    314: ("(U)SIM busy", T),
    315: ("(U)SIM wrong", P),
    316: ("(U)SIM PUK required", P),
    317: ("(U)SIM PIN2 required", P),
    318: ("(U)SIM PUK2 required", P),
    320: ("memory failure", P),
    321: ("invalid memory index", P),
    322: ("memory full", T),
    330: ("SMSC address unknown", P),
    331: ("no network service", T),
    332: ("network timeout", T),
    340: ("no +CNMA acknowledgement expected", P),
    500: ("unknown error", T),
    # 512.. are manufacturer specific; 512 is what modems report for a collision between
    # sending and receiving (field notes §8), which clears by itself.
    512: ("manufacturer specific (send/receive collision)", T),
}

_NORMALISE = re.compile(r"[^a-z0-9]+")


def _key(text: str) -> str:
    return _NORMALISE.sub(" ", text.lower()).strip()


def _reverse(table: dict[int, tuple[str, Retry]], extra: dict[str, int]) -> dict[str, int]:
    reverse = {_key(name): code for code, (name, _) in table.items()}
    reverse.update({_key(name): code for name, code in extra.items()})
    return reverse


#: verbose texts (AT+CMEE=2) seen from firmwares whose wording differs from the spec
_CME_ALIASES = {
    "SIM not inserted": 10,
    "SIM PIN required": 11,
    "SIM PUK required": 12,
    "incorrect password": 16,
    "wrong password": 16,
    "operation not allowed": 3,
    "operation not supported": 4,
    "SIM busy": 14,
    "unknown error": 100,
}
_CMS_ALIASES = {
    "SIM busy": 314,
    "SIM not inserted": 310,
    "SIM PIN required": 311,
    "SIM failure": 313,
    "invalid memory index": 321,
    "unknown error": 500,
    "memory full": 322,
}
_CME_BY_TEXT = _reverse(CME_CODES, _CME_ALIASES)
_CMS_BY_TEXT = _reverse(CMS_CODES, _CMS_ALIASES)


def cme_code_from_text(text: str) -> int | None:
    """Map a verbose ``+CME ERROR`` text back to its code; ``None`` if unknown."""
    return _CME_BY_TEXT.get(_key(text))


def cms_code_from_text(text: str) -> int | None:
    """Map a verbose ``+CMS ERROR`` text back to its code; ``None`` if unknown."""
    return _CMS_BY_TEXT.get(_key(text))


class AtError(ModemFault):
    """The modem answered a command with a failure final result."""

    retry: Retry = Retry.PERMANENT

    @property
    def transient(self) -> bool:
        """True when the same command may succeed if repeated later."""
        return self.retry is Retry.TRANSIENT


class CommandFailed(AtError):
    """Plain ``ERROR`` (or a call result such as ``NO CARRIER``) for a command."""

    def __init__(self, command: str, result: str) -> None:
        super().__init__(f"{command} failed: {result}")
        self.command = command
        self.result = result


class _CodedError(AtError):
    table: ClassVar[dict[int, tuple[str, Retry]]] = {}
    label: ClassVar[str] = ""

    def __init__(self, code: int | None, *, text: str | None = None, command: str = "") -> None:
        entry = self.table.get(code) if code is not None else None
        self.code = code
        self.name = entry[0] if entry else (text or "unknown")
        self.retry = entry[1] if entry else Retry.PERMANENT
        self.command = command
        shown = code if code is not None else "?"
        where = f" ({command})" if command else ""
        super().__init__(f"{self.label} {shown}: {self.name}{where}")


class CmeError(_CodedError):
    """``+CME ERROR: <n>``: a mobile termination error (TS 27.007 §9.2)."""

    table: ClassVar[dict[int, tuple[str, Retry]]] = CME_CODES
    label: ClassVar[str] = "+CME ERROR"


class CmsError(_CodedError):
    """``+CMS ERROR: <n>``: a message service failure (TS 27.005 §3.2.5)."""

    table: ClassVar[dict[int, tuple[str, Retry]]] = CMS_CODES
    label: ClassVar[str] = "+CMS ERROR"


class AtTimeout(ModemFault):
    """The modem did not complete a command in time (the engine then resynchronises)."""

    def __init__(self, command: str, phase: str) -> None:
        super().__init__(f"{command}: no {phase} in time")
        self.command = command
        self.phase = phase


class UnexpectedReply(AtTimeout):
    """A reply that does not fit its command (a bare ``OK`` to a read or a send).

    Handled like a timeout: the engine resynchronises and the command's own answer, if it
    still comes, is discarded; ``phase`` says how far the command got (``body``: an
    ``AT+CMGS`` whose outcome is unknown).
    """

    def __init__(self, command: str, phase: str) -> None:
        ModemFault.__init__(self, f"{command}: reply did not fit the command ({phase})")
        self.command = command
        self.phase = phase


class ModemNotAnswering(AtTimeout):
    """Resynchronisation failed: no probe's nonce came back within the bounded attempts.

    The signal for escalation (reopen, radio reset, restart): the modem answers nothing
    we can match, late or not at all.
    """

    def __init__(self, command: str, detail: str) -> None:
        ModemFault.__init__(self, f"{command}: modem not answering ({detail})")
        self.command = command
        self.phase = "answer to resynchronisation probes"
        self.detail = detail


class AtUsageError(UsageError):
    """The engine was asked for something illegal (bad command text, command while busy)."""
