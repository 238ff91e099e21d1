"""Final result codes and their verbose texts (TS 27.007 §9.2, TS 27.005 §3.2.5, V.250 §5.7)."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.errors import ModemFault

#: +CME ERROR texts for AT+CMEE=2 (TS 27.007 §9.2.1); 515 is a vendor "busy" code
CME_TEXT: dict[int, str] = {
    0: "phone failure",
    3: "operation not allowed",
    4: "operation not supported",
    10: "SIM not inserted",
    11: "SIM PIN required",
    12: "SIM PUK required",
    13: "SIM failure",
    14: "SIM busy",
    15: "SIM wrong",
    16: "incorrect password",
    20: "memory full",
    21: "invalid index",
    22: "not found",
    23: "memory failure",
    24: "text string too long",
    25: "invalid characters in text string",
    30: "no network service",
    31: "network timeout",
    50: "Incorrect parameters",
    100: "unknown",
    515: "Please wait, init or command processing in progress",
}

#: +CMS ERROR texts for AT+CMEE=2 (TS 27.005 §3.2.5); >= 512 are manufacturer specific
CMS_TEXT: dict[int, str] = {
    300: "ME failure",
    301: "SMS service of ME reserved",
    302: "operation not allowed",
    303: "operation not supported",
    304: "invalid PDU mode parameter",
    305: "invalid text mode parameter",
    310: "SIM not inserted",
    311: "SIM PIN required",
    313: "SIM failure",
    314: "SIM busy",
    315: "SIM wrong",
    316: "SIM PUK required",
    320: "memory failure",
    321: "invalid memory index",
    322: "memory full",
    330: "SMSC address unknown",
    331: "no network service",
    332: "network timeout",
    340: "no +CNMA acknowledgement expected",
    350: "network rejected",
    500: "unknown error",
    512: "SMS send/receive collision",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Failure:
    """A command failed: plain ``ERROR`` (kind ``""``) or ``+CME``/``+CMS ERROR: <code>``."""

    kind: str = ""
    code: int = 0

    def __post_init__(self) -> None:
        if self.kind not in ("", "CME", "CMS"):
            raise ValueError("kind must be '', 'CME' or 'CMS'")

    def render(self, cmee: int) -> str:
        """Return the final result line for the current ``AT+CMEE`` setting."""
        if not self.kind or cmee == 0:
            return "ERROR"
        if cmee == 2:
            table = CME_TEXT if self.kind == "CME" else CMS_TEXT
            text = table.get(self.code)
            if text is not None:
                return f"+{self.kind} ERROR: {text}"
        return f"+{self.kind} ERROR: {self.code}"


ERROR = Failure()


def cme(code: int) -> Failure:
    """Return a ``+CME ERROR`` failure."""
    return Failure(kind="CME", code=code)


def cms(code: int) -> Failure:
    """Return a ``+CMS ERROR`` failure."""
    return Failure(kind="CMS", code=code)


class CommandFailed(ModemFault):
    """Raised by a command handler to end the line with ``failure``."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure)
        self.failure = failure
