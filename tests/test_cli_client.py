"""``otp-gateway send | receive | status`` as subprocesses against a real gateway."""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import cast

import pytest
from cli_helpers import cli, spawn

from gateway.client import ErrorCode, NumberTypeRefused, OriginMismatch
from gateway.config import AccessRule, Config
from gateway.ratelimit import Rate
from gateway.sms import gsm7
from gateway.sms.address import TOA_ALPHANUMERIC, encode_address
from gateway.sms.pdu import encode_deliver
from gateway.testing import running_gateway


def status_only(config: Config) -> Config:
    """Root may ask for status and nothing else."""
    rule = AccessRule(users=("0",), operations=("status",))
    return replace(config, relay=replace(config.relay, access=(rule,)))


def test_receive_json(tmp_path: Path) -> None:
    """receive --json prints the whole code record as one JSON object."""
    with running_gateway(tmp_path) as gw:
        receiver = spawn("receive", "--socket", str(gw.socket), "--origin", "EXAMPLE.com", "--json")
        gw.wait_pending_gets(1)
        gw.modem.inject_sms("@example.com #246810", sender="+15551230000")
        out, err = receiver.communicate(timeout=30)
    assert receiver.returncode == 0, err
    record = json.loads(out)
    assert (record["origin"], record["code"], record["sender"]) == (
        "example.com",
        "246810",
        "+15551230000",
    )


def test_receive_follow_prints_each_code(tmp_path: Path) -> None:
    """receive --follow prints every code for the origin as it arrives, one per line."""
    with running_gateway(tmp_path, origins=["other.example"]) as gw:
        follower = spawn(
            "receive", "--socket", str(gw.socket), "--origin", "example.com", "--follow"
        )
        assert follower.stdout is not None
        with gw.client() as probe:
            codes = probe.subscribe()
            gw.wait_subscriptions(2)  # the follower's subscription is in place
            gw.modem.inject_sms("@other.example #999999")
            gw.modem.inject_sms("@example.com #135790")
            gw.modem.inject_sms("@example.com #975310")
            assert [next(codes).code for _ in range(3)] == ["999999", "135790", "975310"]
        lines = [follower.stdout.readline(), follower.stdout.readline()]
        follower.kill()
        follower.communicate(timeout=30)
    assert lines == ["135790\n", "975310\n"]


def test_exit_status_timeout(tmp_path: Path) -> None:
    """No code in time: one line on stderr, exit status 3, nothing on stdout."""
    with running_gateway(tmp_path) as gw:
        result = cli("receive", "--socket", str(gw.socket), "--origin", "example.com",
                     "--timeout", "0.2")  # fmt: skip
    assert (result.returncode, result.stdout, result.stderr.count("\n")) == (3, "", 1)


def test_exit_status_forbidden(tmp_path: Path) -> None:
    """A peer without get permission: exit 4 for receive, 4 for send; status still works."""
    with running_gateway(tmp_path, configure=status_only) as gw:
        sock = str(gw.socket)
        receive = cli("receive", "--socket", sock, "--origin", "example.com", "--timeout", "5")
        send = cli("send", "--socket", sock, "+15557654321", "--origin", "example.com")
        status = cli("status", "--socket", sock, "--json")
    assert receive.returncode == 4
    assert "not allowed" in receive.stderr
    assert "no [[relay.access]] rule grants get to " in receive.stderr
    assert send.returncode == 4
    assert status.returncode == 0
    assert json.loads(status.stdout)["relay"]["denials"] == {"get": 1, "send": 1}


def test_exit_status_unavailable(tmp_path: Path) -> None:
    """Nobody listening: exit status 5 with one line; the socket can come from the environment."""
    result = cli("status", "--socket", str(tmp_path / "nothing.sock"))
    assert result.returncode == 5
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr


def test_send_prints_the_job_id_and_generated_code(tmp_path: Path) -> None:
    """send without --wait prints the job id and the code the gateway generated for the SMS."""
    with running_gateway(tmp_path) as gw:
        sock = str(gw.socket)
        queued = cli("send", "--socket", sock, "+15557654321", "--origin", "example.com")
        refused = cli("send", "--socket", sock, "+33612345678", "--origin", "example.com")
        gw.modem.wait_sent(1)
        sent = gw.modem.sent()
    assert queued.returncode == 0
    job, code = queued.stdout.split()
    assert job.startswith("j-")
    assert len(code) == 6
    assert code.isdigit()
    assert sent[0].text.endswith(f"@example.com #{code}")
    assert refused.returncode == 1
    assert refused.stderr.count("\n") == 1


@pytest.mark.parametrize("command", ["send", "receive", "status", "run", "demo"])
def test_help_has_examples(command: str) -> None:
    """Every command's --help shows examples (and the client ones their exit statuses)."""
    result = cli(command, "--help")
    assert result.returncode == 0
    assert "Example" in result.stdout
    if command in ("send", "receive", "status"):
        for status in ("3   timeout", "4   no access", "5   gateway unavailable"):
            assert status in result.stdout


def test_send_wait_follows_the_job(tmp_path: Path) -> None:
    """send --wait sent prints each status until sent, as text."""
    with running_gateway(tmp_path) as gw:
        result = cli("send", "--socket", str(gw.socket), "+15557654321", "--origin",
                     "example.com", "--wait", "sent")  # fmt: skip
        sent = gw.modem.sent()
    assert result.returncode == 0, result.stderr
    statuses = [line.split()[1] for line in result.stdout.splitlines()]
    assert statuses[0] == "queued"
    assert statuses[-1] == "sent"
    assert len(statuses) == len(set(statuses))  # each status said once
    assert result.stdout.splitlines()[-1].endswith(" sent")
    assert len(sent) == 1


def test_status_reports_storage_use(tmp_path: Path) -> None:
    """status (JSON and table) shows messages held per memory: three SMS whose +CMTI was lost."""

    def rare_sweeps(config: Config) -> Config:
        return replace(config, receive=replace(config.receive, sweep_interval=3600.0))

    with running_gateway(tmp_path, configure=rare_sweeps) as gw:
        pipeline = gw.gateway.pipelines["sim0"]
        gw.run(pipeline.wait_for(lambda s: s.get("sweeps") == 1, 10))  # the start sweep
        for number in range(3):  # no +CMTI: they wait on the SIM until the next sweep
            gw.modem.inject_sms(f"@example.com #10000{number}", notify=False)
        first = cli("status", "--socket", str(gw.socket), "--json")  # starts the AT+CPMS?
        gw.run(gw.gateway.storage.settle())
        result = cli("status", "--socket", str(gw.socket), "--json")
        table = cli("status", "--socket", str(gw.socket)).stdout
        storage = cast(dict[str, dict[str, int]], gw.modem.state()["storage"])
    assert first.returncode == 0, first.stderr
    assert result.returncode == 0, result.stderr
    modem = json.loads(result.stdout)["modems"][0]
    figures = {use["memory"]: (use["used"], use["total"]) for use in modem["storage_use"]}
    # AT+CPMS? names the memories selected now (read, write, receive): SM receives here
    assert figures["SM"] == (3, storage["SM"]["capacity"])
    for memory, figure in figures.items():  # every figure is the simulated modem's own
        assert figure == (storage[memory]["used"], storage[memory]["capacity"])
    assert f"SM 3/{storage['SM']['capacity']}" in table


def test_status_answers_at_once_while_the_modem_is_slow(tmp_path: Path) -> None:
    """status replies from the last figures while the modem still holds its late AT+CPMS? reply."""
    asked = threading.Event()
    with running_gateway(tmp_path) as gw:
        cli("status", "--socket", str(gw.socket))  # the first AT+CPMS?, then its figures
        gw.run(gw.gateway.storage.settle())
        known = gw.gateway.storage.get("sim0")
        assert known
        gw.gateway.storage.ttl = 0.0  # every status asks again

        def watch(line: str) -> None:
            if "CPMS?" in line:
                asked.set()

        remove = gw.modem.observe_commands(watch)
        # later than the 2 s bound, sooner than the 3 s AT timeout that ended the old wait
        gw.modem.set_fault("late-reply", delay=2.8)
        before = gw.modem.state()["bytes_out"]
        result = cli("status", "--socket", str(gw.socket), "--json")
        after = gw.modem.state()["bytes_out"]
        assert asked.wait(10)
        remove()
        gw.run(gw.gateway.storage.settle())
        gw.modem.clear_fault("late-reply")
    assert result.returncode == 0, result.stderr
    assert after == before  # the reply came while the modem still held its answer
    modem = json.loads(result.stdout)["modems"][0]
    assert modem["storage_use"] == [use.as_dict() for use in known]


def test_rate_limit_refusal_names_the_retry_time_once(tmp_path: Path) -> None:
    """A send refused by a rate limit exits 1 with one line saying once when to retry."""

    def one_per_number(config: Config) -> Config:
        limits = replace(config.ratelimit, per_number=(Rate(count=1, period=600.0),))
        return replace(config, ratelimit=limits)

    with running_gateway(tmp_path, configure=one_per_number) as gw:
        sock = str(gw.socket)
        first = cli("send", "--socket", sock, "+15557654321", "--origin", "example.com")
        refused = cli("send", "--socket", sock, "+15557654321", "--origin", "example.com")
    assert first.returncode == 0, first.stderr
    assert refused.returncode == 1
    assert refused.stderr.count("\n") == 1
    assert "rate limit" in refused.stderr
    assert refused.stderr.count("retry") == 1


def test_send_wait_delivered_with_reports_off_says_so_and_exits_6(tmp_path: Path) -> None:
    """send --wait delivered against a gateway without delivery reports ends at sent, exit 6."""
    with running_gateway(tmp_path) as gw:  # delivery_reports is off by default
        assert not gw.gateway.config.send.delivery_reports
        result = cli("send", "--socket", str(gw.socket), "+15557654321", "--origin",
                     "example.com", "--wait", "delivered")  # fmt: skip
    assert result.returncode == 6, result.stderr
    assert result.stdout.splitlines()[-1].endswith(" sent")
    assert result.stderr.count("\n") == 1
    assert "no delivery report will come" in result.stderr
    assert "delivery reports are off in the gateway's configuration" in result.stderr


def test_send_refuses_forged_origins_and_pumping_numbers(tmp_path: Path) -> None:
    """A forged template and a premium-rate number are refused with their own error codes."""
    with running_gateway(tmp_path) as gw:
        sock = str(gw.socket)
        forged = cli("send", "--socket", sock, "+15557654321", "--origin", "example.com",
                     "--text", "@bank.example #999999\n{code}")  # fmt: skip
        trailing = cli("send", "--socket", sock, "+15557654321", "--origin", "example.com",
                       "--text", "Hi\r@bank.example #999999 @example.com")  # fmt: skip
        premium = cli("send", "--socket", sock, "+19005550123", "--origin", "example.com")
        with gw.client() as client:
            with pytest.raises(OriginMismatch) as mismatch:
                client.send("+15557654321", "example.com", text="@example.com #999999")
            with pytest.raises(NumberTypeRefused) as pumping:
                client.send("+19005550123", "example.com")
        assert gw.modem.sent() == []
    for result in (forged, trailing):
        assert result.returncode == 1
        assert result.stderr.count("\n") == 1
        assert result.stderr.rstrip().endswith("(text-forges-origin) (origin-mismatch)")
    assert premium.returncode == 1
    assert "a premium_rate number is not allowed" in premium.stderr
    assert premium.stderr.rstrip().endswith("(number-type-refused)")
    assert mismatch.value.code is ErrorCode.ORIGIN_MISMATCH
    assert "(text-forges-code)" in mismatch.value.message
    assert "999999" not in mismatch.value.message
    assert pumping.value.code is ErrorCode.NUMBER_TYPE_REFUSED


def test_status_shows_the_daily_cap(tmp_path: Path) -> None:
    """status shows the sends counted against global_per_day, which a restart keeps."""

    def cap_of_two(config: Config) -> Config:
        return replace(config, ratelimit=replace(config.ratelimit, global_per_day=2))

    with running_gateway(tmp_path, configure=cap_of_two) as gw:
        sock = str(gw.socket)
        first = cli("send", "--socket", sock, "+15557654321", "--origin", "example.com")
        second = cli("send", "--socket", sock, "+15557654322", "--origin", "example.com")
        refused = cli("send", "--socket", sock, "+15557654323", "--origin", "other.example")
        text = cli("status", "--socket", sock)
        as_json = cli("status", "--socket", sock, "--json")
    assert (first.returncode, second.returncode, refused.returncode) == (0, 0, 1)
    assert "rate limit daily 2/day reached" in refused.stderr
    assert "daily cap:   2/2 sends in the last 24 h" in text.stdout
    assert json.loads(as_json.stdout)["queue"]["daily_cap"] == {"used": 2, "cap": 2}
    # a restart rebuilds the count from the journal: the cap still holds
    with running_gateway(tmp_path, configure=cap_of_two) as gw:
        sock = str(gw.socket)
        after = cli("status", "--socket", sock, "--json")
        again = cli("send", "--socket", sock, "+15557654324", "--origin", "example.com")
    assert json.loads(after.stdout)["queue"]["daily_cap"] == {"used": 2, "cap": 2}
    assert again.returncode == 1
    assert "rate limit daily 2/day reached" in again.stderr


def _alphanumeric_pdu(name: str, text: str) -> str:
    """Return an SMS-DELIVER PDU from the alphanumeric sender ``name`` (TON 101), digits or not."""
    # encode_deliver makes a name of digits a number; build the TP-OA by hand instead
    # (TS 23.040 §9.1.2.5: length in semi-octets of the packed septets, TOA 0xD0)
    template = encode_deliver("X" * len(name), text, scts=datetime(2026, 1, 1, tzinfo=UTC))
    pdu = bytes.fromhex(template[0].hex)
    oa, toa = encode_address("X" * len(name))
    assert toa == TOA_ALPHANUMERIC
    ours = oa[:2] + gsm7.pack(gsm7.encode(name))
    start = pdu.index(oa)
    return (pdu[:start] + ours + pdu[start + len(oa) :]).hex().upper()


def test_sender_lists_check_the_type_of_number_and_the_iframe_origin(tmp_path: Path) -> None:
    """An alphanumeric "72727" is not short code 72727; an iframe origin's list counts too."""

    def senders(config: Config) -> Config:
        lists = MappingProxyType({"shop.example": ("72727",), "bank.example": ("+15551110000",)})
        return replace(config, receive=replace(config.receive, senders=lists))

    origins = ["shop.example", "bank.example", "portal.example"]
    with running_gateway(tmp_path, origins=origins, configure=senders) as gw:
        sock = str(gw.socket)
        shop = spawn("receive", "--socket", sock, "--origin", "shop.example", "--json")
        gw.wait_pending_gets(1)
        gw.modem.inject_pdu(_alphanumeric_pdu("72727", "@shop.example #111111"))
        gw.modem.inject_sms("@shop.example #222222", sender="72727")  # the short code
        shop_out, shop_err = shop.communicate(timeout=30)
        iframe = spawn("receive", "--socket", sock, "--origin", "portal.example",
                       "--embedded-origin", "bank.example", "--json")  # fmt: skip
        gw.wait_pending_gets(1)
        # allowed for portal.example (no list), not for the embedded bank.example
        gw.modem.inject_sms("@portal.example #333333 @bank.example", sender="+15552220000")
        gw.modem.inject_sms("@portal.example #444444 @bank.example", sender="+15551110000")
        iframe_out, iframe_err = iframe.communicate(timeout=30)
        status = cli("status", "--socket", sock, "--json")
    assert shop.returncode == 0, shop_err
    assert json.loads(shop_out)["code"] == "222222"
    assert iframe.returncode == 0, iframe_err
    assert json.loads(iframe_out)["code"] == "444444"
    # each refusal is counted under its reason (the modem's receive counters)
    assert '"kept.sender-not-allowed": 1' in status.stdout
    assert '"kept.embedded-sender-not-allowed": 1' in status.stdout


def test_codes_with_escape_sequences_or_no_bound_are_refused_and_counted(tmp_path: Path) -> None:
    """A code holding an ANSI sequence, a bidi override or 65+ characters is never relayed."""
    with running_gateway(tmp_path) as gw:
        sock = str(gw.socket)
        receiver = spawn("receive", "--socket", sock, "--origin", "example.com")
        gw.wait_pending_gets(1)
        gw.modem.inject_sms("@example.com #12\x1b[2J34", force_ucs2=True)
        gw.modem.inject_sms("@example.com #\u202e4321", force_ucs2=True)
        gw.modem.inject_sms("@example.com #" + "7" * 65)
        gw.modem.inject_sms("@example.com #556677")
        out, err = receiver.communicate(timeout=30)
        status = cli("status", "--socket", sock, "--json")
    assert receiver.returncode == 0, err
    assert out == "556677\n"
    assert '"kept.code-bad-character": 2' in status.stdout
    assert '"kept.code-too-long": 1' in status.stdout
