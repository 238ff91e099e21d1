"""``otp-gateway simulator``: run simulated modems on ptys, or drive a running simulator.

The bare form (``otp-gateway simulator --link /tmp/modem``) runs until SIGTERM/SIGINT and
prints one JSON ready line; the subcommands talk to its control socket.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

import click

from gateway.cli.exits import fail
from gateway.errors import GatewayError
from gateway.log import configure as configure_logging
from gateway.simulator.atcommand import is_number
from gateway.simulator.config import PROFILE_NAMES, ModemConfig
from gateway.simulator.control import request
from gateway.simulator.faults import FAULT_PARAMS
from gateway.simulator.runner import Simulator

CONTROL = click.option(
    "--control",
    "control",
    type=click.Path(path_type=Path),
    required=True,
    help="Control socket of the running simulator.",
)
MODEM = click.option("--modem", type=int, default=0, show_default=True, help="Modem index.")


def _links(link: Path | None, count: int) -> list[Path | None]:
    if link is None:
        return [None] * count
    if count == 1:
        return [link]
    return [link.with_name(f"{link.name}{i}") for i in range(count)]


def _numbers(number: str, count: int) -> list[str]:
    digits = number.removeprefix("+")
    if not is_number(digits):
        raise click.BadParameter("must be digits with an optional leading +", param_hint="--number")
    width = len(digits)
    return ["+" + str(int(digits) + i).zfill(width) for i in range(count)]


async def _run(simulator: Simulator) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with simulator:
        ready = {
            "ready": True,
            "modems": [
                {"device": m.device, "number": m.number, "profile": m.model.profile.name}
                for m in simulator.modems
            ],
            "control": str(simulator.control_path) if simulator.control_path else None,
        }
        sys.stdout.write(json.dumps(ready) + "\n")
        sys.stdout.flush()
        await stop.wait()


@click.group(invoke_without_command=True)
@click.option("--link", type=click.Path(path_type=Path), help="Stable symlink to the pty.")
@click.option("--control", type=click.Path(path_type=Path), help="Control socket path.")
@click.option("--profile", type=click.Choice(PROFILE_NAMES), default="generic", show_default=True)
@click.option("--number", default="+15550000001", show_default=True, help="Own number (E.164).")
@click.option(
    "--timing", type=click.Choice(["instant", "realistic"]), default="instant", show_default=True
)
@click.option("--modems", "count", type=click.IntRange(1, 32), default=1, show_default=True)
@click.option("--pin", default=None, help="SIM PIN the modem asks for.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for realistic delays.")
@click.option("--log-level", default="warning", show_default=True, help="Log level (stderr).")
@click.pass_context
def simulator(
    ctx: click.Context,
    *,
    link: Path | None,
    control: Path | None,
    profile: str,
    number: str,
    timing: str,
    count: int,
    pin: str | None,
    seed: int,
    log_level: str,
) -> None:
    """Run simulated GSM modems on ptys until SIGTERM/SIGINT (or drive one: see commands)."""
    if ctx.invoked_subcommand is not None:
        return
    # stdout carries only the ready line; logs go to stderr
    configure_logging(log_level, "json", stream=sys.stderr)
    try:
        configs = [
            ModemConfig(number=n, profile=profile, link=lk, pin=pin)
            for n, lk in zip(_numbers(number, count), _links(link, count), strict=True)
        ]
        sim = Simulator(
            configs,
            control_path=control,
            timing="realistic" if timing == "realistic" else "instant",
            seed=seed,
        )
        asyncio.run(_run(sim))
    except GatewayError as exc:
        fail(str(exc), "error")


def _call(control: Path, op: str, **fields: object) -> None:
    try:
        result = request(control, op, fields)
    except GatewayError as exc:
        # not reachable (nothing listening, no such socket) vs the simulator said no
        fail(str(exc), "unavailable" if isinstance(exc.__cause__, OSError) else "error")
    click.echo(json.dumps(result, indent=None))


@simulator.command()
@CONTROL
@MODEM
@click.argument("text")
@click.option("--sender", default="+15557654321", show_default=True)
@click.option("--memory", default=None, help="SM, ME or SR (default: the receive memory).")
@click.option("--scts", default=None, help="Service-centre time, ISO 8601 with zone.")
@click.option("--order", default=None, help="Delivery order of parts, e.g. 2,1,3.")
@click.option("--drop", default=None, help="Parts never delivered, e.g. 2.")
@click.option("--no-notify", is_flag=True, help="Store without +CMTI.")
@click.option("--ucs2", is_flag=True, help="Force UCS-2 encoding.")
def inject(
    *,
    control: Path,
    modem: int,
    text: str,
    sender: str,
    memory: str | None,
    scts: str | None,
    order: str | None,
    drop: str | None,
    no_notify: bool,
    ucs2: bool,
) -> None:
    """Deliver an incoming SMS to the modem; print the storage indexes."""

    def parts(value: str | None, name: str) -> list[int] | None:
        if value is None:
            return None
        try:
            return [int(p) for p in value.split(",") if p.strip()]
        except ValueError:
            raise click.BadParameter("comma-separated part numbers", param_hint=name) from None

    _call(
        control,
        "inject",
        modem=modem,
        text=text,
        sender=sender,
        memory=memory,
        scts=scts,
        order=parts(order, "--order"),
        drop=parts(drop, "--drop") or [],
        notify=not no_notify,
        force_ucs2=ucs2,
    )


@simulator.command(name="inject-pdu")
@CONTROL
@MODEM
@click.argument("pdu")
@click.option("--memory", default=None)
def inject_pdu(control: Path, modem: int, pdu: str, memory: str | None) -> None:
    """Deliver a raw PDU (hex with SCA); print its storage index."""
    _call(control, "inject_pdu", modem=modem, pdu=pdu, memory=memory)


@simulator.command()
@CONTROL
@MODEM
def sent(control: Path, modem: int) -> None:
    """Print what the network accepted from the modem (JSON list)."""
    _call(control, "sent", modem=modem)


@simulator.command()
@CONTROL
@MODEM
@click.option("--memory", default="SM", show_default=True)
def stored(control: Path, modem: int, memory: str) -> None:
    """Print the stored PDUs of one memory (JSON object index -> hex)."""
    _call(control, "stored", modem=modem, memory=memory)


@simulator.command()
@CONTROL
@MODEM
@click.argument("name", type=click.Choice(sorted(FAULT_PARAMS)))
@click.option("--param", "params", multiple=True, help="KEY=JSON value, e.g. delay=2.5")
def fault(control: Path, modem: int, name: str, params: tuple[str, ...]) -> None:
    """Activate a fault, e.g. ``fault late-reply --param delay=3``."""
    values: dict[str, object] = {}
    for item in params:
        key, sep, raw = item.partition("=")
        if not sep:
            raise click.BadParameter("KEY=VALUE", param_hint="--param")
        try:
            values[key] = json.loads(raw)
        except ValueError:
            values[key] = raw  # bare strings need no quotes
    _call(control, "fault", modem=modem, name=name, params=values)


@simulator.command()
@CONTROL
@MODEM
@click.argument("name", required=False)
def clear(control: Path, modem: int, name: str | None) -> None:
    """Clear one fault, or all."""
    _call(control, "clear", modem=modem, name=name)


def _action(op: str, summary: str) -> None:
    @simulator.command(name=op, help=summary)
    @CONTROL
    @MODEM
    def command(control: Path, modem: int) -> None:
        _call(control, op, modem=modem)


_action("unplug", "Pull the modem: pty closed, link removed.")
_action("replug", "Plug the modem back behind the same link; it boots again.")
_action("reboot", "Restart the modem: settings lost, boot URCs again.")
_action("state", "Print the modem's state (JSON).")
