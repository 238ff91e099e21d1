"""The real daemon's security properties: PIN credential, no core dumps, socket under the
unit's seccomp filter, group changes seen at reload, per-uid attribution of sends."""

from __future__ import annotations

import grp
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from daemon_helpers import PIN, ROOT, Daemon, NotifySocket, journal_at, leaked, write_config
from seccomp_helpers import under_unit_filter

from gateway.client import Client
from gateway.simulator import ThreadModemHandle

NOBODY = 65534  # nobody / nogroup on Debian


@pytest.fixture
def modem(pin_modem: ThreadModemHandle) -> ThreadModemHandle:
    """This module's modem asks for the SIM PIN (conftest's ``pin_modem``)."""
    return pin_modem


def _relay_setting(config: Path, key: str, value: str) -> None:
    """Replace one ``[relay]`` line that write_config wrote (socket_mode) or add one."""
    text = config.read_text(encoding="utf-8")
    line = f'{key} = "{value}"'
    if f"\n{key} = " in text:
        start = text.index(f"\n{key} = ") + 1
        end = text.index("\n", start)
        text = text[:start] + line + text[end:]
    else:
        text = text.replace("[relay]\n", f"[relay]\n{line}\n", 1)
    config.write_text(text, encoding="utf-8")


def test_daemon_reads_the_pin_from_its_systemd_credential(
    tmp_path: Path, modem: ThreadModemHandle, notify: NotifySocket
) -> None:
    """With pin_credential and $CREDENTIALS_DIRECTORY, the daemon unlocks the SIM; no PIN logged."""
    credentials = tmp_path / "credentials"
    credentials.mkdir(mode=0o700)
    (credentials / "modem0.pin").write_text(PIN + "\n", encoding="ascii")
    (credentials / "modem0.pin").chmod(0o400)
    config = write_config(tmp_path, tmp_path / "modem")
    text = config.read_text(encoding="utf-8")
    config.write_text(
        text.replace(
            'send_timeout = "5s"\n', 'send_timeout = "5s"\npin_credential = "modem0.pin"\n'
        )
    )
    assert PIN not in config.read_text(encoding="utf-8")
    with Daemon(tmp_path, config, notify, CREDENTIALS_DIRECTORY=str(credentials)) as daemon:
        daemon.wait_ready()
        with Client(tmp_path / "gw.sock") as client:
            assert client.status()["ready"] is True
        assert daemon.terminate() == 0
    assert leaked(daemon.log_events(), [PIN]) == []


def _proc_gid(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Gid:"):
            return int(line.split()[2])  # effective
    raise AssertionError("no Gid line")


def _core_limit(pid: int) -> list[str]:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max core file size"):
            return line.split()[4:6]
    raise AssertionError("no core line")


def test_daemon_is_not_dumpable_and_writes_no_core(
    tmp_path: Path, modem: ThreadModemHandle, notify: NotifySocket
) -> None:
    """The running daemon is non-dumpable (its /proc entries belong to root, not to its group)
    and its core size limit is 0, so a crash or abort writes no PIN or code anywhere."""
    config = write_config(tmp_path, tmp_path / "modem", pin=PIN)
    as_nogroup = ["setpriv", f"--regid={NOBODY}", "--clear-groups", sys.executable]
    with Daemon(tmp_path, config, notify, launcher=as_nogroup) as daemon:
        daemon.wait_ready()
        pid = daemon.process.pid
        assert _proc_gid(pid) == NOBODY
        # proc(5): a process that is not dumpable has its /proc/PID files owned by root:root
        assert os.stat(f"/proc/{pid}/status").st_gid == 0
        assert _core_limit(pid) == ["0", "0"]
        assert daemon.terminate() == 0


def test_daemon_under_the_units_seccomp_filter_binds_its_socket_and_serves(
    tmp_path: Path, modem: ThreadModemHandle, notify: NotifySocket
) -> None:
    """Without socket activation and under the unit's system call filter (allow-list and
    deny-list, EPERM), the daemon creates its socket 0660 with its group (relay.group)
    and a client is served."""
    config = write_config(tmp_path, tmp_path / "modem", pin=PIN)
    _relay_setting(config, "socket_mode", "0660")
    _relay_setting(config, "group", "nogroup")
    launcher = ["setpriv", f"--regid={NOBODY}", "--clear-groups"]
    launcher += under_unit_filter()
    with Daemon(tmp_path, config, notify, launcher=launcher) as daemon:
        daemon.wait_ready()
        info = os.lstat(tmp_path / "gw.sock")
        assert stat.S_ISSOCK(info.st_mode)
        assert (stat.S_IMODE(info.st_mode), info.st_gid) == (0o660, NOBODY)
        with Client(tmp_path / "gw.sock") as client:
            assert client.status()["ready"] is True
        assert daemon.terminate() == 0
    assert not (tmp_path / "gw.sock").exists()


# A consumer running as nobody: subscribes and waits for a code, says "ready", prints the
# two replies the reload brings, then on a line from stdin asks again and prints that.
GROUP_CONSUMER = """
import json, socket, sys
conn = socket.socket(socket.AF_UNIX)
conn.connect(sys.argv[1])
lines = conn.makefile("rb")
def send(message):
    conn.sendall(json.dumps(message).encode() + b"\\n")
def reply(wanted):
    while True:
        message = json.loads(lines.readline())
        if message.get("id") == wanted:
            return message
json.loads(lines.readline())  # greeting
send({"id": "sub", "op": "subscribe"})
assert reply("sub")["result"]["subscribed"] is True
send({"id": "get", "op": "get", "origin": "example.com", "timeout": 120})
send({"id": "st", "op": "status"})
assert "result" in reply("st")  # the get is pending (requests are served in order)
print("ready", flush=True)
print(json.dumps([reply("get")["error"]["code"], reply("sub")["error"]["code"]]), flush=True)
sys.stdin.readline()
send({"id": "again", "op": "get", "origin": "example.com", "timeout": 1})
print(reply("again")["error"]["code"], flush=True)
"""


def _free_gid() -> int:
    taken = {g.gr_gid for g in grp.getgrall()}
    return next(gid for gid in range(42420, 43000) if gid not in taken)


def test_group_membership_removed_is_seen_by_open_connections_at_sighup(
    notify: NotifySocket, modem: ThreadModemHandle, tmp_path: Path
) -> None:
    """A consumer allowed through a group keeps nothing after it leaves the group and the
    daemon is reloaded: its pending get and subscription end 'forbidden', and a new get
    on the same open connection is refused."""
    public = Path(tempfile.mkdtemp(prefix="relay-groups-"))  # nobody must reach the socket
    public.chmod(0o711)
    try:
        # the daemon runs in its own mount namespace with a copy of /etc/group bound over
        # the real one: the test edits the copy in place, as `gpasswd -d` would edit the file
        group_file = public / "group"
        base = Path("/etc/group").read_text(encoding="utf-8")
        gid = _free_gid()
        group_file.write_text(base + f"otpt-consumers:x:{gid}:nobody\n", encoding="utf-8")
        group_file.chmod(0o644)
        rule = 'groups = ["otpt-consumers"]\noperations = ["get", "subscribe", "status"]\n'
        rule += 'origins = ["*"]'
        config = write_config(public, tmp_path / "modem", pin=PIN, rules=[rule])
        _relay_setting(config, "socket_mode", "0666")
        launcher = ["unshare", "--mount", "--propagation", "private", "sh", "-c"]
        launcher += ['mount --bind "$0" /etc/group && exec "$@"', str(group_file)]
        launcher += [sys.executable]
        with Daemon(public, config, notify, launcher=launcher) as daemon:
            daemon.wait_ready()
            as_nobody = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
            consumer = subprocess.Popen(
                [*as_nobody, sys.executable, "-c", GROUP_CONSUMER, str(public / "gw.sock")],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                cwd=ROOT,
                env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
            )
            try:
                assert consumer.stdout is not None
                assert consumer.stdin is not None
                assert consumer.stdout.readline() == "ready\n"  # the group granted it
                with group_file.open("r+", encoding="utf-8") as edit:  # same inode: bound
                    edit.write(base + f"otpt-consumers:x:{gid}:\n")
                    edit.truncate()
                notify.seen.clear()
                daemon.process.send_signal(signal.SIGHUP)
                notify.wait_for("READY=1")
                assert json.loads(consumer.stdout.readline()) == ["forbidden", "forbidden"]
                consumer.stdin.write("again\n")
                consumer.stdin.flush()
                assert consumer.stdout.readline() == "forbidden\n"
                assert consumer.wait(timeout=30) == 0
            finally:
                if consumer.poll() is None:
                    consumer.kill()
                consumer.communicate()
            assert daemon.terminate() == 0
        events = daemon.log_events()
        revoked = [e for e in events if e["event"] == "relay.revoked"]
        assert [(e["uid"], e["requests"]) for e in revoked] == [(NOBODY, 2)]
    finally:
        shutil.rmtree(public)


def _send_cli(
    socket_path: Path, stdin: str, *args: str, as_user: int | None = None
) -> subprocess.CompletedProcess[str]:
    prefix = [] if as_user is None else ["setpriv", f"--reuid={as_user}", f"--regid={as_user}"]
    prefix += ["--clear-groups"] if as_user is not None else []
    command = [*prefix, sys.executable, "-m", "gateway", "send", "--socket", str(socket_path)]
    return subprocess.run(
        [*command, *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )


def test_send_takes_code_and_number_from_files_and_records_who_asked(
    modem: ThreadModemHandle, notify: NotifySocket, tmp_path: Path
) -> None:
    """`send --code-file -`/`--number-file` keep both out of argv; the job and the log
    name the uid that asked (root, and nobody through its own rule)."""
    public = Path(tempfile.mkdtemp(prefix="relay-send-"))  # nobody must reach the socket
    public.chmod(0o711)
    try:
        root_rule = 'users = ["0"]\noperations = ["send", "status"]\norigins = ["*"]'
        nobody_rule = 'users = ["nobody"]\noperations = ["send"]\norigins = ["example.com"]'
        config = write_config(public, tmp_path / "modem", pin=PIN, rules=[root_rule, nobody_rule])
        _relay_setting(config, "socket_mode", "0666")
        number_file = public / "to.txt"
        number_file.write_text("+15557654321\n", encoding="utf-8")
        number_file.chmod(0o644)
        sock = public / "gw.sock"
        with Daemon(public, config, notify) as daemon:
            daemon.wait_ready()
            as_root = _send_cli(
                sock, "  583920 \n", "+15557654321", "--origin", "example.com", "--code-file", "-"
            )
            assert as_root.returncode == 0, as_root.stderr
            root_job, code = as_root.stdout.split()
            assert code == "583920"
            args = ["--number-file", str(number_file), "--origin", "example.com"]
            as_nobody = _send_cli(sock, "771204\n", *args, "--code-file", "-", as_user=NOBODY)
            assert as_nobody.returncode == 0, as_nobody.stderr
            nobody_job, code = as_nobody.stdout.split()
            assert code == "771204"
            modem.wait_sent(2)
            assert daemon.terminate() == 0
        texts = [sent.text for sent in modem.sent()]
        assert any("#583920" in t for t in texts)
        assert any("#771204" in t for t in texts)
        with journal_at(public) as journal:
            assert journal.job(root_job).requested_by == 0
            assert journal.job(nobody_job).requested_by == NOBODY
        # every log line of a job names the uid that asked for it (queued, sending, sent)
        jobs = [(e["job"], e["uid"]) for e in daemon.log_events() if e["event"] == "send.job"]
        assert len(jobs) >= 6
        assert set(jobs) == {(root_job, 0), (nobody_job, NOBODY)}
        assert leaked(daemon.log_events(), ["583920", "771204", PIN]) == []
    finally:
        shutil.rmtree(public)


def test_forbid_core_dumps_clears_dumpable_and_the_core_limit() -> None:
    """After forbid_core_dumps, prctl(PR_GET_DUMPABLE) is 0 and RLIMIT_CORE is 0 (a subprocess)."""
    code = (
        "import resource\n"
        "from gateway.hardening import dumpable, forbid_core_dumps\n"
        "before = dumpable()\n"
        "forbid_core_dumps()\n"
        "print(before, dumpable(), resource.getrlimit(resource.RLIMIT_CORE))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert result.stdout.split() == ["True", "False", "(0,", "0)"]


def test_daemon_warns_at_start_about_a_pin_others_can_read(
    tmp_path: Path, modem: ThreadModemHandle, notify: NotifySocket
) -> None:
    """An inline PIN in a world-readable file is logged as a warning at start (never the PIN)."""
    config = write_config(tmp_path, tmp_path / "modem", pin=PIN)
    config.chmod(0o644)
    with Daemon(tmp_path, config, notify) as daemon:
        daemon.wait_ready()
        assert daemon.terminate() == 0
    [warning] = [e for e in daemon.log_events() if e["event"] == "config.pin_readable"]
    assert warning["key"] == "modem[0].pin"
    assert "every user" in str(warning["problem"])
    assert leaked(daemon.log_events(), [PIN]) == []
