"""Every command shown in README.md and docs/*.md runs as written, and prints what is shown.

The shell blocks (```sh) are read from the documents; each command runs in bash, as
its own subprocess, against a real gateway on the simulator (``running_gateway``, with
its control socket), the documented placeholders filled in:

- ``$S`` and ``/run/otp-gateway/gateway.sock``: the gateway's socket (also
  ``$OTP_GATEWAY_SOCKET``, for commands that rely on the default);
- ``$C``: the simulator's control socket;
- ``/etc/otp-gateway/gateway.toml``: a configuration for that gateway;
- ``$CODE``, ``to.txt``, ``code.txt``: as docs/cli.md says next to its example;
- ``otp-gateway`` and ``.venv/bin/otp-gateway``: this checkout's program.

A comment ``# → TEXT`` under a command is what it prints (``…`` stands for what varies;
a line of just ``…`` for any number of lines); ``# then type: TEXT`` is what a person
types into it. A command that cannot run here matches a rule of :data:`NOT_RUN`, which
says why and what runs it instead; nothing is skipped silently. The JSON examples of
docs/protocol.md are sent to the gateway by :func:`test_protocol_examples`; the
``otp-gateway …`` invocations in inline code and in each command's --help examples are
checked against the CLI's parser by
:func:`test_commands_in_the_prose_parse`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shlex
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import click
import pytest
from daemon_helpers import write_config

from gateway.cli import COMMANDS, main
from gateway.config import Config
from gateway.testing import GatewayHandle, running_gateway

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)

#: (document, pattern of a command, why it does not run here and what runs it instead)
NOT_RUN: list[tuple[str, str, str]] = [
    (
        "install.md",
        r"^(sudo |sudoedit |systemctl |journalctl |id otp-gateway|getent group |ls -l /dev/)",
        "the install guide needs root, systemd and the accounts it creates: .ci/install-walk"
        " runs each line as written on a fresh Debian 12 root (a stated stand-in where a"
        " chroot cannot: no systemd as PID 1, no modem)",
    ),
    (
        "README.md",
        r"^(sudo (apt|python3|/opt|ln|install|systemd-sysusers|udevadm|-u|systemctl)|"
        r"sudoedit |journalctl )",
        "the server install: each line is one of docs/install.md's"
        " (tests/test_install_docs.py), walked by .ci/install-walk",
    ),
    (
        "README.md",
        r"^python3 -m venv --without-pip ",
        "builds a virtualenv and installs from the network: .ci/run installs the same"
        " checkout into .venv (and `run --simulate` is tests/test_cli_run.py's)",
    ),
    (
        "README.md",
        r"^(sudo \.ci/run|\.ci/systemd-check|\.venv/bin/(pip|python -m pytest|ruff|mypy))",
        "the development checks: .ci/run runs each line (this test is part of its pytest)",
    ),
    (
        "troubleshooting.md",
        r"^(sudo |systemctl |journalctl |picocom |lsusb|ls /dev/|udevadm info)",
        "diagnoses a real USB modem and the installed service: needs the hardware and"
        " systemd as PID 1",
    ),
]

#: commands that wait for a code: run in the background until the gateway holds their
#: get, with the SMS the test delivers for them (None: the document's next command does)
WAITING: dict[str, tuple[str, str] | None] = {
    "receive --socket": None,
    '"op":"get"': ("Your code is 123456.\n\n@shop.example.com #123456", "+15550000123"),
}

#: what docs/cli.md says its send example reads
CODE, CODE_FILE, NUMBER_FILE = "4711", "271828", "+12025550123"


@dataclass(frozen=True, slots=True)
class Example:
    """One command of a document's shell block, with the output and input it shows."""

    where: str
    command: str
    output: tuple[str, ...] = ()
    typed: str | None = None


def shell_examples(path: Path) -> list[Example]:
    """Return the commands of ``path``'s ```sh blocks, in order."""
    text = path.read_text(encoding="utf-8")
    examples: list[Example] = []
    for block in _BLOCK.finditer(text):
        if block.group(1) != "sh":
            continue
        first = text[: block.start()].count("\n") + 2
        lines = block.group(2).splitlines()
        pending = ""
        for number, line in enumerate(lines, first):
            if pending or not line.lstrip().startswith("#"):
                if line.endswith("\\"):
                    pending += line + "\n"
                    continue
                if (pending + line).strip():
                    examples.append(Example(f"{path.name}:{number}", pending + line))
                pending = ""
            elif line.startswith("# → "):
                last = examples[-1]
                examples[-1] = dataclasses.replace(last, output=(*last.output, line[4:]))
            elif line.startswith("# then type: "):
                examples[-1] = dataclasses.replace(examples[-1], typed=line[13:] + "\n")
    return examples


def reason_not_run(example: Example) -> str | None:
    """Return why ``example`` does not run here (its :data:`NOT_RUN` rule), or None."""
    for document, pattern, reason in NOT_RUN:
        if example.where.startswith(f"{document}:") and re.search(pattern, example.command):
            return reason
    return None


def lines_match(expected: tuple[str, ...], actual: list[str]) -> bool:
    """Return whether ``actual`` lines are ``expected``, ``…`` matching what varies."""
    if not expected:
        return not actual
    head, rest = expected[0], expected[1:]
    if head == "…":
        return any(lines_match(rest, actual[i:]) for i in range(len(actual) + 1))
    pattern = ".*".join(re.escape(part) for part in head.split("…"))
    return (
        bool(actual)
        and re.fullmatch(pattern, actual[0]) is not None
        and (lines_match(rest, actual[1:]))
    )


def test_every_command_runs_or_says_why_not() -> None:
    """Each documented command runs here or matches a rule naming why; every rule is used."""
    examples = [e for path in DOCUMENTS for e in shell_examples(path)]
    assert len(examples) > 40
    used = {reason_not_run(e) for e in examples}
    assert used - {None} == {reason for _, _, reason in NOT_RUN}
    runnable = [e.command for e in examples if reason_not_run(e) is None]
    starts = ("otp-gateway ", ".venv/bin/otp-gateway ", "code=$(", "printf ", "socat ")
    assert all(c.startswith(starts) for c in runnable), runnable


def _configure(config: Config) -> Config:
    """The example configuration's countries, with delivery reports (protocol.md shows one)."""
    return dataclasses.replace(
        config,
        send=dataclasses.replace(
            config.send,
            allowed_countries=("US", "GB"),
            valid_numbers_only=False,
            delivery_reports=True,  # the simulated network reports delivery, as shown
        ),
    )


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[GatewayHandle]:
    """A gateway on the simulator, with a control socket, accepting shop.example.com too."""
    directory = tmp_path / "gw"
    directory.mkdir()
    with running_gateway(
        directory, origins=["shop.example.com"], configure=_configure, control=True
    ) as handle:
        yield handle


def _workdir(tmp_path: Path, gateway: GatewayHandle) -> tuple[Path, dict[str, str]]:
    """Return the directory the commands run in and their environment."""
    work = tmp_path / "work"
    (work / ".venv" / "bin").mkdir(parents=True)
    program = work / ".venv" / "bin" / "otp-gateway"
    program.write_text(f'#!/bin/sh\nexec {sys.executable} -m gateway "$@"\n', encoding="utf-8")
    program.chmod(0o755)
    (work / "to.txt").write_text(NUMBER_FILE + "\n", encoding="utf-8")
    (work / "code.txt").write_text(CODE_FILE + "\n", encoding="utf-8")
    environ = {
        **os.environ,
        "PATH": f"{program.parent}:{os.environ['PATH']}",
        "S": str(gateway.socket),
        "C": str(gateway.setup.control),
        "CODE": CODE,
        "OTP_GATEWAY_SOCKET": str(gateway.socket),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    return work, environ


def _filled(command: str, gateway: GatewayHandle, config: Path) -> str:
    return command.replace("/run/otp-gateway/gateway.sock", str(gateway.socket)).replace(
        "/etc/otp-gateway/gateway.toml", str(config)
    )


def _check(example: Example, result: subprocess.CompletedProcess[str] | tuple[int, str]) -> None:
    status, stdout = (result.returncode, result.stdout) if not isinstance(result, tuple) else result
    assert status == 0, f"{example.where}: {example.command!r} exited {status}"
    if example.output:
        actual = stdout.splitlines()
        assert lines_match(example.output, actual), (
            f"{example.where}: {example.command!r} printed {actual}, the doc shows"
            f" {list(example.output)}"
        )


RUNNABLE = [path for path in DOCUMENTS if any(
    reason_not_run(e) is None for e in shell_examples(path)
)]  # fmt: skip


@pytest.mark.parametrize("path", RUNNABLE, ids=lambda p: p.name)
def test_shell_examples_run_as_written(path: Path, gateway: GatewayHandle, tmp_path: Path) -> None:
    """Each runnable command of the document exits 0 and prints what the document shows."""
    work, environ = _workdir(tmp_path, gateway)
    config = write_config(tmp_path, gateway.setup.link)
    waiting: list[tuple[Example, subprocess.Popen[str]]] = []
    for example in shell_examples(path):
        if reason_not_run(example) is not None:
            continue
        command = _filled(example.command, gateway, config)
        waits_for = next((key for key in WAITING if key in command), None)
        if waits_for is not None:
            pending = gateway.thread.call(_pending_gets(gateway))
            process = subprocess.Popen(
                ["bash", "-c", command], cwd=work, env=environ, text=True,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            )  # fmt: skip
            gateway.wait_pending_gets(pending + 1, timeout=30)
            waiting.append((example, process))
            delivered = WAITING[waits_for]
            if delivered is not None:
                text, sender = delivered
                gateway.modem.inject_sms(text, sender=sender)
            continue
        if example.typed is not None:
            _check(example, _typed(command, example, work, environ))
            continue
        result = subprocess.run(
            ["bash", "-c", command], cwd=work, env=environ, text=True,
            capture_output=True, timeout=60, check=False,
        )  # fmt: skip
        _check(example, result)
    for example, process in waiting:
        stdout, _ = process.communicate(timeout=60)
        _check(example, (process.returncode, stdout))


def _pending_gets(gateway: GatewayHandle) -> Callable[[], int]:
    """Return a function giving the relay's waiting gets (call it in the daemon's loop)."""
    relay = gateway.gateway.relay
    assert relay is not None
    return lambda: relay.broker.pending


def _typed(command: str, example: Example, work: Path, environ: dict[str, str]) -> tuple[int, str]:
    """Run an interactive command: type its input, read what the doc shows, then hang up."""
    process = subprocess.Popen(
        ["bash", "-c", command], cwd=work, env=environ, text=True,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert process.stdin is not None
    assert process.stdout is not None
    process.stdin.write(example.typed or "")
    process.stdin.flush()
    lines = [process.stdout.readline() for _ in example.output]  # blocking reads
    process.stdin.close()  # Ctrl-D
    rest = process.stdout.read()
    process.stdout.close()
    assert process.stderr is not None
    process.stderr.close()
    return process.wait(timeout=60), "".join(lines) + rest


# --------------------------------------------------------------------------- protocol.md

#: keys whose values vary from run to run (docs/protocol.md says so above its examples)
VARYING = {"version", "received_at", "at", "job", "code", "cursor"}


def json_examples() -> list[object]:
    """Return the JSON values of docs/protocol.md's ```json blocks, in order."""
    text = (ROOT / "docs" / "protocol.md").read_text(encoding="utf-8")
    decoder = json.JSONDecoder()
    values: list[object] = []
    for block in _BLOCK.finditer(text):
        if block.group(1) != "json":
            continue
        body, at = block.group(2), 0
        while body[at:].strip():
            at += len(body[at:]) - len(body[at:].lstrip())
            value, at = decoder.raw_decode(body, at)
            values.append(value)
    return values


def inline_answer(containing: str) -> dict[str, object]:
    """Return the JSON object in docs/protocol.md's inline code that contains ``containing``."""
    text = (ROOT / "docs" / "protocol.md").read_text(encoding="utf-8")
    for span in _BLOCK.sub("", text).split("`")[1::2]:
        if span.startswith("{") and containing in span:
            value = json.loads(span)
            assert isinstance(value, dict)
            return value
    raise AssertionError(f"docs/protocol.md shows no answer with {containing}")


def same_shape(documented: object, actual: object, key: str = "") -> bool:
    """Return whether ``actual`` is ``documented``, values of :data:`VARYING` keys aside."""
    if key in VARYING and documented is not None:
        return isinstance(actual, type(documented))
    if isinstance(documented, dict):
        return (
            isinstance(actual, dict)
            and set(documented) == set(actual)
            and all(same_shape(documented[k], actual[k], k) for k in documented)
        )
    return documented == actual


class _Line:
    """A raw JSON-lines connection to the gateway (what socat would do)."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(30)
        self.sock.connect(str(path))
        self.reader = self.sock.makefile("r", encoding="utf-8")

    def close(self) -> None:
        self.reader.close()
        self.sock.close()

    def send(self, value: object) -> None:
        self.sock.sendall(json.dumps(value).encode() + b"\n")

    def read(self) -> dict[str, object]:
        value = json.loads(self.reader.readline())
        assert isinstance(value, dict)
        return value


def test_protocol_examples(gateway: GatewayHandle) -> None:
    """Each request of docs/protocol.md, sent as shown, gets the answers shown there."""
    shown = json_examples()
    requests = [v for v in shown if isinstance(v, dict) and "op" in v]
    answers = [v for v in shown if isinstance(v, dict) and "op" not in v]
    by_op = {str(r["op"]): r for r in requests}
    subscribes = [r for r in requests if r["op"] == "subscribe"]
    line = _Line(gateway.socket)
    try:
        _protocol_scenario(gateway, line, by_op, answers, subscribes)
    finally:
        line.close()


def _protocol_scenario(
    gateway: GatewayHandle,
    line: _Line,
    by_op: dict[str, dict[str, object]],
    answers: list[dict[str, object]],
    subscribes: list[dict[str, object]],
) -> None:
    greeting, get_result, code_event, *job_events = answers
    assert same_shape(greeting, line.read())
    # get, answered by the code the doc's reply names
    line.send(by_op["get"])
    gateway.wait_pending_gets(1)
    assert isinstance(get_result, dict)
    assert isinstance(get_result["result"], dict)
    record = get_result["result"]
    gateway.modem.inject_sms(
        f"Your code is {record['code']}.\n\n@{record['origin']} #{record['code']}",
        sender=str(record["sender"]),
    )
    assert same_shape(get_result, line.read())
    # cancel: of a pending get (as the doc's text says), then of nothing
    pending_get = {k: v for k, v in by_op["get"].items() if k not in ("since", "key")}
    line.send({**pending_get, "id": by_op["cancel"]["target"]})
    gateway.wait_pending_gets(1)
    line.send(by_op["cancel"])
    assert line.read()["error"] == {"code": "cancelled", "message": "get cancelled"}
    assert line.read() == inline_answer('"cancelled":1}')
    # each subscribe (every code, then one narrowed to the code's origin), the doc's event
    assert len(subscribes) == 2
    for request in subscribes:
        line.send(request)
        assert same_shape({**inline_answer('"subscribed"'), "id": request["id"]}, line.read())
    gateway.modem.inject_sms(f"@{record['origin']} #{record['code']}", sender=str(record["sender"]))
    for request in subscribes:
        assert same_shape({**code_event, "id": request["id"]}, line.read())
    # a subscribe naming an origin the gateway accepts no codes for: refused as shown
    line.send(inline_answer('"op":"subscribe","origin"'))
    assert line.read() == inline_answer("accepts no codes for the origin")
    # send with watch: queued, then job events up to the end the doc shows
    line.send(by_op["send"])
    accepted = line.read()
    assert same_shape(inline_answer('"status":"queued"'), accepted)
    seen = [line.read()]
    while seen[-1].get("event") != "end":
        seen.append(line.read())
    # the documented events end the watch, in that order (queued/sending come first)
    tail = seen[-len(job_events) :]
    assert all(same_shape(d, a) for d, a in zip(job_events, tail, strict=True)), seen
    # status
    line.send(by_op["status"])
    status = line.read()
    assert status["id"] == by_op["status"]["id"]
    result = status["result"]
    assert isinstance(result, dict)
    assert "modems" in result


# ----------------------------------------------------------------- commands in the prose

_FENCE = re.compile(r"^```.*?^```", re.M | re.S)
_PROGRAM = re.compile(r"(?:^|[\s(])((?:\.venv/bin/)?otp-gateway (?:[^|;)&<>\\\n]*))")


def prose_invocations() -> list[tuple[str, list[str]]]:
    """Return (where, argv) of each ``otp-gateway …`` with arguments in inline code."""
    found: list[tuple[str, list[str]]] = []
    for path in DOCUMENTS:
        spans = _FENCE.sub("", path.read_text(encoding="utf-8")).split("`")[1::2]
        for span in spans:
            for match in _PROGRAM.finditer(span.replace("\n", " ")):
                argv = shlex.split(match.group(1))[1:]
                while argv[:1] == ["otp-gateway"]:  # sudo -u otp-gateway otp-gateway ...
                    argv = argv[1:]
                if argv and "…" not in match.group(1):  # an ellipsis: a shape, not a command
                    found.append((f"{path.name}: {match.group(1).strip()}", argv))
    return found


def _named(argv: list[str]) -> tuple[click.Command, list[str], list[str]]:
    """Return the command ``argv`` names, its path and the arguments after its name."""
    command: click.Command = main
    path: list[str] = []
    context = click.Context(main)
    while isinstance(command, click.Group) and argv and not argv[0].startswith("-"):
        sub = command.get_command(context, argv[0])
        if sub is None:
            break
        command, path, argv = sub, [*path, argv[0]], argv[1:]
        context = click.Context(command, parent=context)
    return command, path, argv


def help_examples() -> list[tuple[str, list[str]]]:
    """Return (where, argv) of the ``otp-gateway …`` examples in every command's --help."""
    found: list[tuple[str, list[str]]] = []
    for name in COMMANDS:
        command = main.get_command(click.Context(main), name)
        assert command is not None
        examples = [ln for ln in (command.epilog or "").splitlines() if ln.startswith("  ")]
        for match in _PROGRAM.finditer("\n".join(examples)):
            text = match.group(1).replace("{{", "{").replace("}}", "}")
            argv = shlex.split(text, comments=True)[1:]
            found.append((f"otp-gateway {name} --help: {text.strip()}", argv))
    return found


def test_commands_in_the_prose_parse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every ``otp-gateway`` invocation in inline code and --help is accepted by the parser."""
    monkeypatch.chdir(tmp_path)  # the files the examples name (click opens them)
    (tmp_path / "to.txt").write_text(NUMBER_FILE + "\n", encoding="utf-8")
    (tmp_path / "code.txt").write_text(CODE_FILE + "\n", encoding="utf-8")
    parsed = 0
    for where, argv in [*prose_invocations(), *help_examples()]:
        command, path, args = _named(argv)
        if not path:  # options of the program itself (--version, --help)
            assert args[0].startswith("-"), f"{where}: no such command"
            path = ["otp-gateway"]
        if not args:
            continue  # the name of a command, as in a heading or a list
        try:
            with command.make_context(" ".join(path), list(args)):
                pass
        except click.exceptions.Exit:
            pass  # --version, --help: done
        except click.UsageError as exc:
            pytest.fail(f"{where}: {exc.format_message()}")
        parsed += 1
    assert parsed >= 5
