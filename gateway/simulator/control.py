"""The control socket: JSON lines on a Unix socket driving a running simulator.

Request: ``{"op": "inject", "modem": 0, "text": "..."}``; reply ``{"ok": true, "result": ...}``
or ``{"ok": false, "error": "..."}``. A bad request gets an error reply, never a crash.
The simulator that starts the socket is seen through :class:`ControlledSimulator`, so
this module does not import the runner that owns it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Protocol, Unpack

import structlog

from gateway.errors import RequestError
from gateway.simulator.config import SentMessage, SimulatorError
from gateway.simulator.inject import SmsOptions

log = structlog.get_logger(__name__)

MAX_REQUEST = 1 << 16


class ControlledModem(Protocol):
    """One simulated modem as the control socket drives it (``runner.ModemHandle``)."""

    def inject_sms(self, text: str, **options: Unpack[SmsOptions]) -> list[int]:
        """Deliver ``text`` as one or more SMS-DELIVER; return the storage indexes."""

    def inject_pdu(self, pdu_hex: str, *, memory: str | None = None, notify: bool = True) -> int:
        """Deliver a raw PDU; return its index (-1 if routed or rejected)."""

    def stored(self, memory: str = "SM") -> dict[int, str]:
        """Return the PDUs stored in ``memory`` by index."""

    def sent(self) -> list[SentMessage]:
        """Return the messages the modem sent, oldest first."""

    def set_fault(self, name: str, **params: object) -> None:
        """Arm the fault ``name`` with ``params``."""

    def clear_fault(self, name: str | None = None) -> None:
        """Clear the fault ``name`` (all of them for None)."""

    def unplug(self) -> None:
        """Pull the cable: the pty goes away."""

    def replug(self) -> None:
        """Plug the cable back in."""

    def reboot(self) -> None:
        """Power-cycle the modem."""

    def state(self) -> dict[str, object]:
        """Return the modem's state for ``modems`` and ``state`` replies."""


class ControlledSimulator(Protocol):
    """The running simulator the control socket serves (``runner.Simulator``)."""

    @property
    def modems(self) -> Sequence[ControlledModem]:
        """The simulated modems, indexed as requests name them."""


class ControlError(RequestError):
    """A control request was malformed or could not be served."""


def _get(
    request: dict[str, object], key: str, kind: type | tuple[type, ...], default: object
) -> object:
    value = request.get(key, default)
    if value is default:
        return value
    if isinstance(value, bool) and kind is not bool:
        raise ControlError(f"{key!r} has the wrong type")
    if not isinstance(value, kind):
        raise ControlError(f"{key!r} has the wrong type")
    return value


def _ints(value: object, key: str) -> list[int] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        raise ControlError(f"{key!r} must be a list of integers")
    return list(value)


def _inject(h: ControlledModem, r: dict[str, object]) -> object:
    text = _get(r, "text", str, None)
    if not isinstance(text, str):
        raise ControlError("inject needs 'text'")
    scts_raw = _get(r, "scts", str, None)
    try:
        scts = datetime.fromisoformat(scts_raw) if isinstance(scts_raw, str) else None
    except ValueError as exc:
        raise ControlError("'scts' must be an ISO 8601 time with zone") from exc
    if scts is not None and scts.tzinfo is None:
        raise ControlError("'scts' needs a time zone")
    memory = _get(r, "memory", str, None)
    return h.inject_sms(
        text,
        sender=str(_get(r, "sender", str, "+15557654321")),
        memory=memory if isinstance(memory, str) else None,
        scts=scts,
        order=_ints(r.get("order"), "order"),
        drop=_ints(r.get("drop"), "drop") or (),
        notify=bool(_get(r, "notify", bool, True)),
        force_ucs2=bool(_get(r, "force_ucs2", bool, False)),
    )


def _inject_pdu(h: ControlledModem, r: dict[str, object]) -> object:
    pdu = _get(r, "pdu", str, None)
    if not isinstance(pdu, str):
        raise ControlError("inject_pdu needs 'pdu'")
    memory = _get(r, "memory", str, None)
    return h.inject_pdu(
        pdu,
        memory=memory if isinstance(memory, str) else None,
        notify=bool(_get(r, "notify", bool, True)),
    )


def _sent(h: ControlledModem, r: dict[str, object]) -> object:
    return [asdict(m) | {"time": m.time.isoformat()} for m in h.sent()]


def _stored(h: ControlledModem, r: dict[str, object]) -> object:
    return {str(i): pdu for i, pdu in h.stored(str(_get(r, "memory", str, "SM"))).items()}


def _fault(h: ControlledModem, r: dict[str, object]) -> object:
    name = _get(r, "name", str, None)
    params = _get(r, "params", dict, {})
    if not isinstance(name, str) or not isinstance(params, dict):
        raise ControlError("fault needs 'name' and optional 'params' object")
    h.set_fault(name, **{str(k): v for k, v in params.items()})
    return None


def _clear(h: ControlledModem, r: dict[str, object]) -> object:
    name = _get(r, "name", str, None)
    h.clear_fault(name if isinstance(name, str) else None)
    return None


OPS: dict[str, Callable[[ControlledModem, dict[str, object]], object]] = {
    "inject": _inject,
    "inject_pdu": _inject_pdu,
    "sent": _sent,
    "stored": _stored,
    "fault": _fault,
    "clear": _clear,
    "unplug": lambda h, r: h.unplug(),
    "replug": lambda h, r: h.replug(),
    "reboot": lambda h, r: h.reboot(),
    "state": lambda h, r: h.state(),
}


def handle_request(simulator: ControlledSimulator, line: bytes) -> dict[str, object]:
    """Serve one JSON request line; return the reply object (never raises)."""
    try:
        request = json.loads(line.decode("utf-8"))
        if not isinstance(request, dict):
            raise ControlError("request must be a JSON object")
        op = request.get("op")
        if op == "modems":
            return {"ok": True, "result": [m.state() for m in simulator.modems]}
        if not isinstance(op, str) or op not in OPS:
            raise ControlError(f"unknown op {op!r}; one of {sorted([*OPS, 'modems'])}")
        index = request.get("modem", 0)
        if not isinstance(index, int) or isinstance(index, bool):
            raise ControlError("'modem' must be an integer")
        if not 0 <= index < len(simulator.modems):
            raise ControlError(f"no modem {index}")
        return {"ok": True, "result": OPS[op](simulator.modems[index], request)}
    except (ValueError, ControlError, SimulatorError, TypeError) as exc:
        # the reason only: requests carry message texts that must not reach the log
        log.info("simulator.control.refused", reason=type(exc).__name__)
        return {"ok": False, "error": str(exc) or type(exc).__name__}


async def start_control(simulator: ControlledSimulator, path: Path) -> asyncio.AbstractServer:
    """Listen on ``path`` (a stale socket file is replaced); return the server.

    Raises SimulatorError if another simulator is listening there.
    """

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    line = await reader.readuntil(b"\n")
                except asyncio.IncompleteReadError as exc:
                    line = exc.partial
                    if not line.strip():
                        break
                except asyncio.LimitOverrunError:
                    writer.write(b'{"ok": false, "error": "request too long"}\n')
                    break
                reply = handle_request(simulator, line)
                writer.write(json.dumps(reply).encode() + b"\n")
                await writer.drain()
        except ConnectionError:
            pass  # the client went away: nobody is left to answer
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    if _alive(path):
        raise SimulatorError(f"control socket {path} is in use by a running simulator")
    path.unlink(missing_ok=True)
    return await asyncio.start_unix_server(serve, path=str(path), limit=MAX_REQUEST)


def _alive(path: Path) -> bool:
    """Return True if something accepts connections on the socket file ``path``."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(str(path))
        except OSError:
            return False
    return True


def request(
    path: Path, op: str, fields: Mapping[str, object] | None = None, *, timeout: float = 10.0
) -> object:
    """Send one request to a running simulator and return its result.

    Raises ControlError with the simulator's message, or if it cannot be reached.
    """
    message = json.dumps({"op": op, **(fields or {})}).encode() + b"\n"
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(str(path))
            sock.sendall(message)
            data = b""
            while not data.endswith(b"\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
    except OSError as exc:
        raise ControlError(f"cannot reach the simulator at {path}: {exc}") from exc
    try:
        reply = json.loads(data)
    except ValueError as exc:
        raise ControlError("malformed reply from the simulator") from exc
    if not isinstance(reply, dict) or not reply.get("ok"):
        error = reply.get("error") if isinstance(reply, dict) else None
        raise ControlError(str(error or "request failed"))
    return reply.get("result")
