"""``otp-gateway demo``: the whole round trip on a simulated modem, narrated.

Daemon and simulator run in this process (files in a temporary directory, removed at
the end). A consumer waits for a code, an OTP SMS arrives at the simulated modem, the
consumer gets the code; then an OTP is sent and the simulated network shows what it
received. What the demo prints is shown on purpose (it is a demo); its logs, on stderr,
stay redacted like the daemon's.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
from pathlib import Path

import click

from gateway.cli.exits import EXIT
from gateway.cli.run import invocation
from gateway.errors import GatewayError
from gateway.log import configure as configure_logging

ORIGIN = "example.com"
CODE = "482913"


def _say(text: str = "") -> None:
    click.echo(text)
    sys.stdout.flush()


async def _demo(base: Path) -> None:
    from gateway.client import AsyncClient, JobStatus  # noqa: PLC0415 - lazy CLI imports
    from gateway.daemon import Gateway  # noqa: PLC0415
    from gateway.daemon.simulate import PEER_NUMBER, SimulatedSetup  # noqa: PLC0415
    from gateway.simulator import Simulator  # noqa: PLC0415

    setup = SimulatedSetup.in_directory(base)
    program = invocation(sys.argv[0], executable=sys.executable)
    async with Simulator([setup.modem()]) as simulator:
        modem = simulator.modems[0]
        gateway = Gateway(setup.config())
        await gateway.start()
        try:
            _say(f"1. The gateway runs on a simulated modem ({modem.number}).")
            _say(f"   socket: {setup.socket}")
            async with AsyncClient(setup.socket) as client:
                waiting = asyncio.create_task(client.get(ORIGIN, timeout=30))
                await client.status()  # answered after the get: the get is now pending
                _say(f"2. A consumer waits for a code for {ORIGIN}:")
                _say(f"     {program} receive --origin {ORIGIN}")
                text = f"Your code is {CODE}.\n\n@{ORIGIN} #{CODE}"
                modem.inject_sms(text, sender=PEER_NUMBER)
                _say(f"3. An SMS arrives from {PEER_NUMBER}:")
                for line in text.splitlines():
                    _say(f"     | {line}")
                record = await waiting
                _say(f"4. The consumer receives the code: {record.code} (for {record.origin})")
                _say(f"5. A program asks the gateway to send an OTP to {PEER_NUMBER}:")
                _say(f"     {program} send {PEER_NUMBER} --origin {ORIGIN} --wait sent")
                watch = await client.send_watch(PEER_NUMBER, ORIGIN)
                async for event in watch:
                    _say(f"     job {event.status.value}")
                    if event.status in (JobStatus.SENT, JobStatus.DELIVERED):
                        break
                    if event.status.final or event.status is JobStatus.UNKNOWN:
                        raise click.ClickException(f"the send ended {event.status.value}")
            sent = modem.sent()[-1]
            _say(f"6. The simulated network received, for {sent.number}:")
            for line in sent.text.splitlines():
                _say(f"     | {line}")
            _say(f"Done. Try it yourself with:  {program} run --simulate")
        finally:
            await gateway.stop()


@click.command(
    epilog="""\b
Example:
  otp-gateway demo

Exit status: 0 when the round trip worked, 1 otherwise."""
)
def demo() -> None:
    """Show a code received and a code sent, on a simulated modem (takes a second)."""
    configure_logging("warning", "console", stream=sys.stderr)
    base = Path(tempfile.mkdtemp(prefix="otp-gateway-demo-"))
    try:
        asyncio.run(_demo(base))
    except (GatewayError, OSError) as exc:
        click.echo(f"otp-gateway: demo failed: {exc}", err=True)
        sys.exit(EXIT["error"])
    finally:
        shutil.rmtree(base, ignore_errors=True)
