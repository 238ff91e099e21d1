"""``otp-gateway send | receive | status``: talk to a running gateway over its socket.

Errors are one line on stderr; the exit status says what went wrong (see ``EXIT``), so
scripts can tell a timeout from a refusal: ``code=$(otp-gateway receive --origin
example.com) || echo "no code ($?)"``.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO, TypeVar

import click

from gateway.cli.exits import EXIT, epilog, fail
from gateway.cli.printable import printable
from gateway.cli.socket_access import access_problem
from gateway.cli.status_text import render_status
from gateway.client import (
    DEFAULT_SOCKET,
    Client,
    CodeRecord,
    Forbidden,
    JobEvent,
    JobStatus,
    RateLimited,
    RelayError,
    Timeout,
    Unavailable,
)

T = TypeVar("T")

#: ``status``: exit status per overall health in the snapshot (docs/cli.md): 6 while
#: anything needs attention (conditions listed), 7 while no modem is ready (0 while the
#: daemon is still starting: no modem ready yet, none failed)
STATUS_EXIT = {
    "ok": EXIT["ok"],
    "starting": EXIT["ok"],
    "degraded": EXIT["degraded"],
    "down": EXIT["down"],
}

SOCKET = click.option(
    "--socket",
    "socket_path",
    # not readable=True: a socket is opened by connect(2), which needs write access;
    # click's own check would be a usage error that hides who may use the socket
    type=click.Path(path_type=Path, readable=False),
    envvar="OTP_GATEWAY_SOCKET",
    default=DEFAULT_SOCKET,
    show_default=True,
    help="The gateway's socket (env OTP_GATEWAY_SOCKET).",
)
JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")


def _timeout_option(default: float, what: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
    return click.option(
        "--timeout",
        type=click.FloatRange(min=0, min_open=True, max=3600),
        default=default,
        show_default=True,
        help=what,
    )


#: seconds granted after a get's own timeout for the gateway's "timeout" answer to come
REPLY_SLACK = 2.0


def _fail(message: str, status: str) -> None:
    fail(message, status)


@contextmanager
def _errors(socket_path: Path | None = None) -> Iterator[None]:
    """Turn relay errors into one line on stderr and the documented exit status.

    With ``socket_path``, first refuse with "no access" (and the group to join) when
    this user may not open the socket, rather than waiting to fail at connect.
    """
    if socket_path is not None:
        problem = access_problem(socket_path)
        if problem is not None:
            _fail(problem, "forbidden")
    try:
        yield
    except Timeout as exc:
        _fail(str(exc), "timeout")
    except Forbidden as exc:
        _fail(str(exc), "forbidden")
    except Unavailable as exc:
        _fail(str(exc), "unavailable")
    except RateLimited as exc:
        # the gateway's message already says when to retry; add it only when it does not
        message = str(exc)
        if exc.retry_after is not None and "retry" not in message:
            message += f"; retry in {exc.retry_after:.0f} s"
        _fail(message, "error")
    except RelayError as exc:
        # the wire code names the refusal for scripts (origin-mismatch, number-type-refused)
        _fail(f"{exc} ({exc.code.value})", "error")
    except KeyboardInterrupt:
        _fail("interrupted", "error")


class _Deadline:
    """The command's overall ``--timeout``: each wait gets what is left of it."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds

    def left(self) -> float:
        """Return the seconds left; raises ``Timeout`` once none are."""
        left = self.at - time.monotonic()
        if left <= 0:
            raise Timeout(f"no answer within the timeout of {self.seconds:g} s")
        return left

    def client(self, socket_path: Path) -> Client:
        """Connect, with what is left of the timeout for each reply."""
        client = Client(socket_path, timeout=self.left(), reconnect=False)
        client.timeout = self.left()
        return client


def _code_json(record: CodeRecord) -> str:
    return json.dumps(
        {
            "origin": record.origin,
            "embedded_origin": record.embedded_origin,
            "code": record.code,
            "sender": record.sender,
            "received_at": record.received_at.isoformat(),
        }
    )


@click.command(
    epilog=f"""\b
Examples:
  code=$(otp-gateway receive --origin example.com)
  otp-gateway receive --origin shop.example.com --timeout 300 --json
  otp-gateway receive --origin example.com --follow

{epilog("receive")}"""
)
@SOCKET
@click.option("--origin", required=True, help="The origin (host) the code is for.")
@click.option("--embedded-origin", default=None, help="The embedded (iframe) origin, if any.")
@_timeout_option(
    120.0,
    "Seconds to wait for a code (reconnecting to a restarting gateway included); with"
    " --follow, how long to try to get a lost connection back.",
)
@click.option("--follow", is_flag=True, help="Keep printing codes as they arrive (subscribe).")
@JSON
def receive(
    *,
    socket_path: Path,
    origin: str,
    embedded_origin: str | None,
    timeout: float,
    follow: bool,
    as_json: bool,
) -> None:
    """Wait for the next code for ORIGIN that arrives after this call and print it.

    A gateway that restarts meanwhile is reconnected to, and the code that arrived
    while it was away still counts as arriving after this call.
    """
    asked = time.time()
    started = time.monotonic()

    def show(record: CodeRecord) -> None:
        # the code came in an SMS: never raw to a terminal (JSON escapes by itself)
        click.echo(_code_json(record) if as_json else printable(record.code))
        sys.stdout.flush()

    with _errors(socket_path):
        client = Client(
            socket_path,
            timeout=min(timeout, REPLY_SLACK),
            reconnect_for=timeout,
            connect_wait=timeout,  # the gateway may be restarting right now
        )
        with client:
            if not follow:
                left = timeout - (time.monotonic() - started)
                if left <= 0:
                    raise Timeout(f"no code arrived within the timeout of {timeout:g} s")
                show(client.get(origin, embedded_origin=embedded_origin, timeout=left, since=asked))
                return
            client.timeout = timeout  # a subscription's confirmation
            # the gateway narrows the stream to the pair and refuses, at once, one this
            # consumer may not see or that it never relays codes for, as it does a get
            for record in client.subscribe(origin=origin, embedded_origin=embedded_origin):
                show(record)


@click.command(
    epilog=f"""\b
Examples:
  otp-gateway send +15557654321 --origin example.com
  printf '%s\\n' "$CODE" | otp-gateway send +12025550123 --origin shop.example.com --code-file -
  otp-gateway send --number-file to.txt --origin shop.example.com --code-file code.txt --wait sent
  otp-gateway send +447400123456 --origin shop.example.com --text 'Shop code: {{code}}'
  otp-gateway send '07400 123456' --origin shop.example.com  # [send] default_region = "GB"

\b
Arguments are visible to every local user (ps, /proc/PID/cmdline): pass a
code you chose with --code-file (- for stdin) rather than --code, and the
number with --number-file if it must stay private too.

{epilog("send")}"""
)
@SOCKET
@click.argument("number", required=False)
@click.option(
    "--number-file",
    type=click.File("r", encoding="utf-8"),
    default=None,
    help="Read NUMBER from this file's first line instead (- for stdin): keeps it out of"
    " the process list.",
)
@click.option("--origin", required=True, help="The origin (host) the code is bound to.")
@click.option("--embedded-origin", default=None, help="The embedded (iframe) origin, if any.")
@click.option(
    "--code",
    default=None,
    help="The code to send (default: generated). Visible to every local user in the"
    " process list: prefer --code-file.",
)
@click.option(
    "--code-file",
    type=click.File("r", encoding="utf-8"),
    default=None,
    help="Read the code from this file's first line (- for stdin), out of the process list.",
)
@click.option("--text", default=None, help="Template for the human part; {code} is replaced.")
@click.option(
    "--wait",
    type=click.Choice(["sent", "delivered"]),
    default=None,
    help="Wait until the job is sent (or delivered: needs delivery reports on in the"
    " gateway, else exit 6 at sent) and print each status.",
)
@_timeout_option(60.0, "Seconds the whole command may take (--wait included).")
@JSON
def send(
    *,
    socket_path: Path,
    number: str | None,
    number_file: TextIO | None,
    origin: str,
    embedded_origin: str | None,
    code: str | None,
    code_file: TextIO | None,
    text: str | None,
    wait: str | None,
    timeout: float,
    as_json: bool,
) -> None:
    """Send an origin-bound OTP SMS to NUMBER; print the job id and the code it carries.

    The code is the one given with --code or --code-file, else the one the gateway
    generated: the caller needs it to check what the user types. With --wait, each
    status follows. The gateway records which user (uid) asked for the send.
    """
    if _stdin(number_file) and _stdin(code_file):
        raise click.UsageError("--number-file and --code-file cannot both read stdin")
    number = _one_of(number, number_file, "NUMBER", "--number-file")
    if number is None:
        raise click.UsageError("give NUMBER or --number-file")
    code = _one_of(code, code_file, "--code", "--code-file")
    deadline = _Deadline(timeout)
    with _errors(socket_path), deadline.client(socket_path) as client:
        if wait is None:
            accepted = client.send(
                number, origin, embedded_origin=embedded_origin, code=code, text=text
            )
            if as_json:
                click.echo(json.dumps(_accepted_json(accepted.job_id, accepted.code)))
            else:
                click.echo(" ".join(filter(None, (accepted.job_id, accepted.code))))
            return
        watch = client.send_watch(
            number, origin, embedded_origin=embedded_origin, code=code, text=text
        )
        if as_json:
            click.echo(json.dumps(_accepted_json(watch.job_id, watch.code)))
        else:
            click.echo(f"{watch.job_id} queued" + (f" (code {watch.code})" if watch.code else ""))
        last: JobEvent | None = None
        watch.wait = deadline.left
        for event in watch:
            # the watch starts with the current state: "queued" was just said, in text
            if as_json or event.status is not JobStatus.QUEUED or last is not None:
                click.echo(_event_text(event, as_json))
                sys.stdout.flush()
            last = event
            if _reached(event.status, wait):
                return
            if event.status in _GIVE_UP:
                break
        if last is not None and last.status is JobStatus.SENT:
            # the gateway ends a watch at "sent" only when it asks for no delivery reports
            _fail(
                f"job {watch.job_id} sent; no delivery report will come (delivery reports"
                " are off in the gateway's configuration)",
                "no_reports",
            )
        outcome = "ended without a status" if last is None else last.status.value
        _fail(f"job {watch.job_id} {outcome}", "error")


def _stdin(source: TextIO | None) -> bool:
    return source is not None and getattr(source, "name", None) == "<stdin>"


def _one_of(value: str | None, source: TextIO | None, name: str, file_name: str) -> str | None:
    """Return ``value``, or the first line of ``source``; both given is a usage error."""
    if source is None:
        return value
    if value is not None:
        raise click.UsageError(f"give {name} or {file_name}, not both")
    line = source.readline().strip()
    if not line:
        raise click.UsageError(f"{file_name}: the first line is empty")
    return line


def _accepted_json(job_id: str, code: str | None) -> dict[str, object]:
    return {"job": job_id, "status": "queued", "code": code}


#: statuses after which waiting makes no sense (unknown: maybe sent, never resent)
_GIVE_UP = frozenset({JobStatus.FAILED, JobStatus.EXPIRED, JobStatus.UNKNOWN})


def _reached(status: JobStatus, wanted: str) -> bool:
    if wanted == "sent":
        return status in (JobStatus.SENT, JobStatus.DELIVERED)
    return status is JobStatus.DELIVERED


def _event_text(event: JobEvent, as_json: bool) -> str:
    if as_json:
        return json.dumps(
            {
                "job": event.job_id,
                "status": event.status.value,
                "at": event.at.isoformat(),
                "detail": event.detail,
            }
        )
    detail = f" ({event.detail})" if event.detail else ""
    return printable(f"{event.job_id} {event.status.value}{detail}")


@click.command(
    epilog=f"""\b
Examples:
  otp-gateway status
  otp-gateway status --json | jq .modems
  otp-gateway status >/dev/null || echo "gateway needs attention ($?)"

{epilog("status")}"""
)
@SOCKET
@_timeout_option(10.0, "Seconds to wait for the gateway's answer.")
@JSON
def status(*, socket_path: Path, timeout: float, as_json: bool) -> None:
    """Show the gateway's modems, queue, counters, uptime and what needs attention.

    It answers while the modems are still starting: each one's start-up step is shown.
    """
    deadline = _Deadline(timeout)
    with _errors(socket_path), deadline.client(socket_path) as client:
        snapshot = client.status()
    if as_json:
        click.echo(json.dumps(snapshot, indent=2, sort_keys=True))
    else:
        click.echo(render_status(snapshot))
    sys.exit(STATUS_EXIT.get(str(snapshot.get("health", "ok")), 0))
