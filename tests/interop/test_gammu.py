"""The gammu command line (unmodified, AT connection) against the simulator over a real pty."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from gateway.simulator import SentMessage, ThreadModemHandle
from gateway.simulator.profiles import get_profile
from gateway.sms import pdu as pducodec
from gateway.testing import peers

pytestmark = pytest.mark.interop

NUMBER = "+15551234567"
#: 400 GSM-7 characters: three concatenated parts of at most 153
LONG_TEXT = "".join(f"part of a long message {i:03d}; " for i in range(15))[:400]
UNICODE_TEXT = "Привет, мир 😀 код 123456"


def gammu(modem: ThreadModemHandle, tmp_path: Path, *args: str, stdin: str | None = None) -> str:
    """Run gammu on ``modem``; return its stdout; fail with its output and debug log if it fails."""
    log = tmp_path / "gammu.log"
    config = peers.write_gammurc(tmp_path / "gammurc", device=modem.device, log=log)
    done = peers.run_gammu(config, *args, stdin=stdin)
    if done.returncode != 0:
        debug = log.read_text(errors="replace")[-3000:] if log.exists() else ""
        pytest.fail(
            f"gammu {' '.join(args)} exited {done.returncode}\n{done.stdout}\n{done.stderr}\n"
            f"--- gammu.log (tail)\n{debug}",
            pytrace=False,
        )
    return done.stdout


def field(output: str, name: str) -> list[str]:
    """Return every value of ``Name : value`` lines in gammu output."""
    return re.findall(rf"^{re.escape(name)}\s*: (.*?)\s*$", output, re.MULTILINE)


def messages(sent: list[SentMessage]) -> list[tuple[str, str, int]]:
    """Join sent parts by concatenation reference: (number, text, parts) per message."""
    joined: dict[object, list[SentMessage]] = {}
    for part in sent:
        key = (part.number, part.concat_reference) if part.concat_reference else id(part)
        joined.setdefault(key, []).append(part)
    return [
        (group[0].number, "".join(p.text for p in sorted(group, key=lambda p: p.part)), len(group))
        for group in joined.values()
    ]


def test_identify_reports_the_profile_identity(modem: ThreadModemHandle, tmp_path: Path) -> None:
    """gammu identify shows the manufacturer, model, firmware, IMEI and IMSI of the profile."""
    out = gammu(modem, tmp_path, "identify")
    profile = get_profile("generic")
    assert field(out, "Manufacturer") == [profile.manufacturer]
    assert profile.model in field(out, "Model")[0]
    assert field(out, "Firmware") == [profile.revision]
    assert field(out, "IMEI") == [profile.imei]
    assert field(out, "SIM IMSI") == [profile.imsi]


def test_sendsms_text(modem: ThreadModemHandle, tmp_path: Path) -> None:
    """gammu sendsms TEXT delivers one GSM-7 part with the number and text decoded."""
    out = gammu(modem, tmp_path, "sendsms", "TEXT", NUMBER, "-text", "hello @ gammu {€}")
    assert "message reference=0" in out
    assert messages(modem.sent()) == [(NUMBER, "hello @ gammu {€}", 1)]


def test_sendsms_long_text_in_three_parts(modem: ThreadModemHandle, tmp_path: Path) -> None:
    """400 characters from stdin (-len 400) go as 3 concatenated parts that join to the text."""
    out = gammu(modem, tmp_path, "sendsms", "TEXT", NUMBER, "-len", "400", stdin=LONG_TEXT)
    assert out.count("OK, message reference=") == 3
    sent = modem.sent()
    assert [(p.part, p.parts) for p in sent] == [(1, 3), (2, 3), (3, 3)]
    assert len({p.concat_reference for p in sent}) == 1
    assert messages(sent) == [(NUMBER, LONG_TEXT, 3)]


def test_sendsms_unicode(modem: ThreadModemHandle, tmp_path: Path) -> None:
    """gammu sendsms -unicode sends UCS-2 (DCS 0x08), surrogate pairs included."""
    gammu(modem, tmp_path, "sendsms", "TEXT", NUMBER, "-unicode", "-text", UNICODE_TEXT)
    [sent] = modem.sent()
    assert (sent.number, sent.text) == (NUMBER, UNICODE_TEXT)
    assert pducodec.decode_submit(sent.pdu).encoding == "ucs2"


def inject_three(modem: ThreadModemHandle) -> None:
    """Store a GSM-7 SMS, a 2-part one and a UCS-2 one from an alphanumeric sender."""
    assert modem.inject_sms("code 123456 @ € {x}", sender="+15557654321") == [1]
    assert modem.inject_sms(LONG_TEXT[:300], sender="+15557654322") == [2, 3]
    assert modem.inject_sms("Grüße 😀", sender="OTPBank") == [4]


def test_getallsms_and_geteachsms_show_injected_messages(
    modem: ThreadModemHandle, tmp_path: Path
) -> None:
    """getallsms lists every stored part; geteachsms joins the 2-part message (one session)."""
    inject_three(modem)
    out = gammu(modem, tmp_path, "batch", stdin="getallsms\ngeteachsms\n")
    listing, each = re.split(r"command 2: geteachsms", out)
    assert field(listing, "Remote number") == [
        '"+15557654321"',
        '"+15557654322"',
        '"+15557654322"',
        '"OTPBank"',
    ]
    assert "code 123456 @ € {x}" in listing
    assert "part 1 of 2" in listing
    assert "part 2 of 2" in listing
    assert "4 SMS parts in 4 SMS sequences" in listing
    assert field(listing, "Coding")[-1] == "Unicode (no compression)"
    assert "Grüße 😀" in listing
    assert LONG_TEXT[:300] in each  # joined in one piece
    assert re.search(r"Concatenated \(linked\) message, ID \(8 bit\) \d+, 2 parts", each)
    assert "4 SMS parts in 3 SMS sequences" in each


def test_deleteallsms_empties_the_inbox(modem: ThreadModemHandle, tmp_path: Path) -> None:
    """gammu deleteallsms 1 (Inbox, SIM memory) deletes every SMS; a new session sees none.

    The second run reopens the pty gammu closed (with TIOCEXCL set by the first run).
    """
    inject_three(modem)
    assert len(modem.stored("SM")) == 4
    gammu(modem, tmp_path, "deleteallsms", "1")
    assert modem.stored("SM") == {}
    assert "0 SMS parts in 0 SMS sequences" in gammu(modem, tmp_path, "getallsms")


def test_vendor_profiles(make_modem: Callable[..., ThreadModemHandle], tmp_path: Path) -> None:
    """gammu picks each vendor's dialect: identify, send and list work in one session each.

    The three sessions run at once (gammu mostly sleeps in its init). The E3372-325
    refuses AT+CPMS with fewer than three memories (field notes) and gammu sends one, so
    there gammu cannot open the SMS folders: that is shown too.
    """
    profiles = ("sim800", "e3372", "ec25")
    modems = {p: make_modem(p) for p in profiles}

    def session(profile: str) -> subprocess.CompletedProcess[str]:
        modem = modems[profile]
        modem.inject_sms("vendor check", sender="+15557654321")
        log = tmp_path / f"gammu-{profile}.log"
        config = peers.write_gammurc(tmp_path / f"gammurc-{profile}", device=modem.device, log=log)
        script = f'identify\nsendsms TEXT {NUMBER} -text "via {profile}"\ngetallsms\n'
        return peers.run_gammu(config, "batch", stdin=script)

    with ThreadPoolExecutor(max_workers=len(profiles)) as pool:
        results = dict(zip(profiles, pool.map(session, profiles), strict=True))
    for profile, done in results.items():
        expected = get_profile(profile)
        assert field(done.stdout, "IMEI") == [expected.imei], profile
        assert expected.model in field(done.stdout, "Model")[0]
        assert messages(modems[profile].sent()) == [(NUMBER, f"via {profile}", 1)]
        if profile == "e3372":
            assert done.returncode != 0
            assert "vendor check" not in done.stdout
            debug = (tmp_path / "gammu-e3372.log").read_text(errors="replace")
            assert re.search(r'1 "AT\+CPMS="ME""\n[^\n]* 2 "\+CMS ERROR: 302"', debug)
        else:
            assert done.returncode == 0, done.stdout + done.stderr
            assert "vendor check" in done.stdout
