"""Report: each recorded real device's result with our modem session (init / read / send).

Every simulator profile named after a recorded device answers the command lines the
python-gsmmodem project recorded from it with the recorded bytes, verbatim, and the rest
as TS 27.005/27.007 says (``gateway.simulator.profiles.RECORDED``). This starts our
``ModemSession`` on each over a real pty, reads one injected SMS (``AT+CMGR``) and sends
one (``AT+CMGS``), and prints one line per device: ``pass`` or what happened. The
replay tests (tests/test_dialect_replay.py) assert the same through the whole daemon.
Run:

    .venv/bin/python bench/dialects.py
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from pathlib import Path

import structlog

from gateway.at import Timeouts
from gateway.modem.health import HealthConfig
from gateway.modem.init import InitConfig
from gateway.modem.link import LinkConfig
from gateway.modem.session import ModemSession, SessionConfig
from gateway.simulator import ModemConfig, Simulator
from gateway.simulator.profiles import RECORDED
from gateway.sms import encode_submit

TIMEOUTS = Timeouts(quick=2.0, sim=2.0, list=5.0, network=5.0, prompt=2.0, body=5.0)


def _failed(step: str, exc: BaseException) -> str:
    return f"{step}: {type(exc).__name__}: {exc}"


async def device(profile: str, directory: Path) -> list[str]:
    """Return the init, read and send results of ``profile`` (``pass`` or the error)."""
    async with Simulator([ModemConfig(profile=profile, link=directory / profile)]) as sim:
        handle = sim.modems[0]
        session = ModemSession(
            SessionConfig(
                link=LinkConfig(device=handle.device),
                timeouts=TIMEOUTS,
                init=InitConfig(busy_backoff=0.05, registration_timeout=5.0),
                health=HealthConfig(interval=3600.0),
            )
        )
        try:
            await session.start()
        except Exception as exc:  # a report: every failure is a result to print
            return [_failed("init", exc), "read: not reached", "send: not reached"]
        results = ["init: pass" + (" (send-only)" if session.status.receive_unavailable else "")]
        try:
            index = handle.inject_sms("@example.com #123456")[0]
            read = await session.read_message("SM", index)
            results.append("read: pass" if read is not None else "read: empty slot")
        except Exception as exc:  # a report: every failure is a result to print
            results.append(_failed("read", exc))
        try:
            (pdu,) = encode_submit("+15557654321", "@example.com #654321")
            await session.send_pdu(pdu.hex, pdu.tpdu_length)
            results.append("send: pass")
        except Exception as exc:  # a report: every failure is a result to print
            results.append(_failed("send", exc))
        await session.stop()
        return results


async def main() -> None:
    """Print one line per recorded device."""
    with tempfile.TemporaryDirectory() as directory:
        for profile in RECORDED:
            results = await device(profile, Path(directory))
            print(f"{profile:16} " + "; ".join(results), flush=True)


if __name__ == "__main__":
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL))
    asyncio.run(main())
