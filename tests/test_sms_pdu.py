"""Tests for the PDU codec's public API: real vectors, gsmmodem bug fixes, round trips."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from gateway.errors import UsageError
from gateway.sms import (
    Concat,
    Deliver,
    EncodedPdu,
    PduError,
    StatusReport,
    decode_incoming,
    encode_deliver,
    encode_status_report,
)

SCTS = datetime(2026, 11, 27, 2, 30, 15, tzinfo=UTC)
SCA = "07915155000000F0"  # 7 octets: TOA 0x91, +15550000000
OA = "0B915155674523F1"  # 11 digits, TOA 0x91, +15557654321
SCTS_HEX = "62117220035100"  # 26-11-27 02:30:15, zone +00


def deliver_hex(dcs: str, udl: str, ud: str, *, first: str = "04", oa: str = OA) -> str:
    """Return an SMS-DELIVER assembled field by field (TS 23.040 §9.2.2.1)."""
    return SCA + first + oa + "00" + dcs + SCTS_HEX + udl + ud


def _deliver(pdu: str, **kwargs: bool) -> Deliver:
    msg = decode_incoming(pdu, **kwargs)
    assert isinstance(msg, Deliver)
    return msg


def test_classic_deliver_vector() -> None:
    """The textbook 'hellohello' SMS-DELIVER decodes field by field."""
    msg = _deliver("07917283010010F5040BC87238880900F10000993092516195800AE8329BFD4697D9EC37")
    assert msg.smsc == "+27381000015"
    assert (msg.sender, msg.sender_toa) == ("27838890001", 0xC8)
    assert msg.scts == datetime(2099, 3, 29, 15, 16, 59, tzinfo=timezone(timedelta(hours=2)))
    assert (msg.pid, msg.dcs, msg.encoding, msg.text) == (0, 0, "gsm7", "hellohello")
    assert (msg.concat, msg.more_messages, msg.status_report_indication) == (None, False, False)


@pytest.mark.parametrize(
    ("pdu", "encoding", "text", "data"),
    [
        # gsmmodem bug: trailing '@' (septet 0 in the last slot) was dropped.
        (deliver_hex("00", "08", "61F1985C369F01"), "gsm7", "abcdefg@", None),
        # gsmmodem bug: surrogate pairs came back as two lone surrogates.
        (deliver_hex("08", "0A", "D83DDE00002000310032"), "ucs2", "😀 12", None),
        # gsmmodem bugs: DCS outside group 00xx decoded as GSM-7 garbage.
        (deliver_hex("48", "04", "00480069"), "ucs2", "Hi", None),
        (deliver_hex("18", "04", "00480069"), "ucs2", "Hi", None),
        (deliver_hex("E0", "04", "00480069"), "ucs2", "Hi", None),
        (deliver_hex("F4", "04", "DEADBEEF"), "8bit", "Þ\xad¾ï", b"\xde\xad\xbe\xef"),
        (deliver_hex("F5", "02", "0102"), "8bit", "\x01\x02", b"\x01\x02"),
        (deliver_hex("F0", "02", "C834"), "gsm7", "Hi", None),
        (deliver_hex("C0", "02", "C834"), "gsm7", "Hi", None),
        # gsmmodem bugs: trailing ESC raised StopIteration; ESC 0x0A was mapped to 'ÿ'.
        (deliver_hex("00", "02", "C10D"), "gsm7", "A ", None),
        (deliver_hex("00", "02", "1B05"), "gsm7", "\f", None),
        (deliver_hex("00", "09", "9BF206B54929DE6B"), "gsm7", "€{}\nok", None),
    ],
)
def test_deliver_vectors(pdu: str, encoding: str, text: str, data: bytes | None) -> None:
    """Each DELIVER vector decodes to its alphabet and text (fixes the gsmmodem bugs)."""
    msg = _deliver(pdu)
    assert (msg.encoding, msg.text, msg.data) == (encoding, text, data)
    msg.text.encode("utf-8")  # no lone surrogates left behind


def test_deliver_flags_and_udh() -> None:
    """TP-MMS=0 means more messages; TP-SRI and a 16-bit concatenation IE are read."""
    msg = _deliver(deliver_hex("08", "0B", "0608041234020200410042", first="60"))
    assert msg.more_messages is True
    assert msg.status_report_indication is True
    assert msg.concat == Concat(reference=0x1234, total=2, sequence=2)
    assert msg.text == "AB"


def test_alphanumeric_sender_vector() -> None:
    """An alphanumeric OA (TOA 0xD0, semi-octet length) decodes to its text."""
    msg = _deliver(deliver_hex("00", "02", "C834", oa="0BD0C7F7FBCC2E03"))
    assert (msg.sender, msg.sender_toa) == ("Google", 0xD0)


def test_status_report_vector() -> None:
    """An SMS-STATUS-REPORT gives MR, recipient, both times and TP-ST; TP-PI is ignored."""
    pdu = SCA + "06" + "05" + "0B915155214365F7" + SCTS_HEX + "62117220036100" + "00" + "00"
    msg = decode_incoming(pdu)
    assert msg == StatusReport(
        smsc="+15550000000",
        reference=5,
        recipient="+15551234567",
        scts=SCTS,
        discharge=SCTS + timedelta(seconds=1),
        status=0,
    )
    assert isinstance(msg, StatusReport)
    assert msg.delivered
    assert msg.final


@pytest.mark.parametrize(
    "raw_hex",
    [
        "00000000000000",  # all zeros: some SMSCs and femtocells send it
        "62317220035100",  # month 13
        "FFFFFFFFFFFFFF",  # every semi-octet 0xF
        "6211722003A100",  # second with a non-decimal semi-octet
        "621172200351F0",  # zone with a non-decimal semi-octet
    ],
)
def test_deliver_with_impossible_scts(raw_hex: str) -> None:
    """An impossible TP-SCTS decodes as scts None with its raw octets; the text survives."""
    pdu = SCA + "04" + OA + "0000" + raw_hex + "0A" + "E8329BFD4697D9EC37"
    msg = _deliver(pdu)
    assert (msg.scts, msg.scts_raw, msg.timestamp_invalid) == (None, bytes.fromhex(raw_hex), True)
    assert (msg.sender, msg.text) == ("+15557654321", "hellohello")


def test_deliver_valid_scts_keeps_raw() -> None:
    """A valid TP-SCTS comes with the very octets it was read from."""
    msg = _deliver(deliver_hex("00", "02", "C834"))
    assert (msg.scts, msg.scts_raw.hex().upper(), msg.timestamp_invalid) == (SCTS, SCTS_HEX, False)


@pytest.mark.parametrize(
    ("scts_hex", "dt_hex", "scts_ok", "dt_ok"),
    [
        ("00000000000000", SCTS_HEX, False, True),
        (SCTS_HEX, "FFFFFFFFFFFFFF", True, False),
        ("00000000000000", "62317220035100", False, False),
    ],
)
def test_status_report_with_impossible_times(
    scts_hex: str, dt_hex: str, scts_ok: bool, dt_ok: bool
) -> None:
    """Impossible TP-SCTS/TP-DT decode as None: MR, recipient and TP-ST still match a job."""
    pdu = SCA + "06" + "05" + "0B915155214365F7" + scts_hex + dt_hex + "00"
    msg = decode_incoming(pdu)
    assert isinstance(msg, StatusReport)
    assert (msg.reference, msg.recipient, msg.status) == (5, "+15551234567", 0)
    assert (msg.scts is not None, msg.discharge is not None) == (scts_ok, dt_ok)
    assert (msg.scts_raw, msg.discharge_raw) == (bytes.fromhex(scts_hex), bytes.fromhex(dt_hex))
    assert msg.timestamp_invalid


@pytest.mark.parametrize(
    ("status", "delivered", "final"),
    [(0x00, True, True), (0x02, True, True), (0x20, False, False), (0x3F, False, False),
     (0x40, False, True), (0x60, False, True), (0x80, False, True)],
)  # fmt: skip
def test_status_classes(status: int, delivered: bool, final: bool) -> None:
    """TP-ST ranges: 0x00-0x1F done, 0x20-0x3F still trying, the rest failed for good."""
    sr = StatusReport(
        smsc=None, reference=1, recipient="1", scts=SCTS, discharge=SCTS, status=status
    )
    assert (sr.delivered, sr.final) == (delivered, final)


@pytest.mark.parametrize(
    ("pdu", "reason"),
    [
        (SCA + "01000B915155674523F1000005E8329BFD06", "TP-MTI 1"),  # a SUBMIT
        (SCA + "03", "TP-MTI 3"),
        ("not hex at all", "hex"),
        (deliver_hex("24", "02", "C834"), "compressed"),
        (SCA + "04" + OA + "0000" + "623172", "TP-SCTS"),  # SCTS cut short: still strict
        ("00", "missing first octet"),
    ],
)
def test_decode_incoming_rejects(pdu: str, reason: str) -> None:
    """Other message types, non-hex, compressed data and a truncated SCTS raise PduError."""
    with pytest.raises(PduError, match=reason):
        decode_incoming(pdu)


def test_decode_incoming_every_prefix_is_truncated() -> None:
    """Every proper prefix of valid PDUs raises PduError (gsmmodem raised StopIteration)."""
    pdus = [
        *(p.hex for p in encode_deliver("+15557654321", "x" * 170, scts=SCTS)),
        encode_deliver("Google", "😀", scts=SCTS)[0].hex,
        encode_status_report(reference=1, recipient="+1555", scts=SCTS, discharge=SCTS).hex,
    ]
    for pdu in pdus:
        for cut in range(2, len(pdu), 2):
            with pytest.raises(PduError):
                decode_incoming(pdu[:cut])


def test_decode_accepts_whitespace_lowercase_and_no_sca() -> None:
    """Hex with spaces, newlines and lower case decodes; has_smsc=False starts at the TPDU."""
    pdu = deliver_hex("00", "02", "C834")
    spaced = " ".join(pdu[i : i + 4] for i in range(0, len(pdu), 4)).lower() + "\r\n"
    assert _deliver(spaced).text == "Hi"
    bare = _deliver(pdu[len(SCA) :], has_smsc=False)
    assert (bare.smsc, bare.text) == (None, "Hi")


@pytest.mark.parametrize(
    ("text", "first", "dcs", "udl"),
    [
        ("hellohello", "04", "00", "0A"),
        ("Code 123456 @", "04", "00", "0D"),
        ("€", "04", "00", "02"),
        ("ÿ", "04", "08", "02"),  # gsmmodem raised TypeError; not GSM-7, so UCS-2
        ("😀", "04", "08", "04"),  # a surrogate pair: two units
    ],
)
def test_encode_deliver_fields(text: str, first: str, dcs: str, udl: str) -> None:
    """SCA, first octet, OA, PID 0, DCS, SCTS and UDL sit where TS 23.040 puts them."""
    (pdu,) = encode_deliver("+1 555-765-4321", text, scts=SCTS)
    head = SCA + first + OA + "00" + dcs + SCTS_HEX + udl
    assert pdu.hex.startswith(head)
    assert pdu.tpdu_length == len(pdu.hex) // 2 - 8
    assert _deliver(pdu.hex).text == text


def test_encode_deliver_classic_vector() -> None:
    """encode_deliver reproduces the textbook vector byte for byte (given its fields)."""
    (pdu,) = encode_deliver(
        "+27838890001",
        "hellohello",
        scts=datetime(2099, 3, 29, 15, 16, 59, tzinfo=timezone(timedelta(hours=2))),
        smsc="+27381000015",
    )
    assert pdu.hex == "07917283010010F5040B917238880900F10000993092516195800AE8329BFD4697D9EC37"


def test_encode_deliver_three_parts() -> None:
    """Three GSM-7 parts carry UDH 050003<ref>03<seq>, first octet 0x44 and 160/160/n UDL."""
    text = "".join(f"{i:04d} " for i in range(70))[:340] + "@"
    pdus = encode_deliver("+15557654321", text, scts=SCTS, concat_reference=0xC8)
    assert len(pdus) == 3
    for seq, pdu in enumerate(pdus, 1):
        assert pdu.hex[16:18] == "44"
        assert f"050003C803{seq:02X}" in pdu.hex
    msgs = [_deliver(p.hex) for p in pdus]
    expected = [Concat(reference=0xC8, total=3, sequence=s) for s in (1, 2, 3)]
    assert [m.concat for m in msgs] == expected
    assert "".join(m.text for m in msgs) == text


@pytest.mark.parametrize(
    "text",
    ["Your code is 123456\n\n@example.com #123456", "ünï €{}[]~\\|^ @", "😀 Ключ 🔑 " * 20, ""],
)
@pytest.mark.parametrize("sender", ["+15557654321", "5557654321", "Google", "Bank-OTP"])
def test_deliver_round_trip(text: str, sender: str) -> None:
    """encode_deliver then decode_incoming gives back sender, time and the joined text."""
    pdus = encode_deliver(sender, text, scts=SCTS, smsc=None, concat_reference=9)
    msgs = [_deliver(p.hex) for p in pdus]
    assert "".join(m.text for m in msgs) == text
    assert {(m.sender, m.scts, m.smsc) for m in msgs} == {(sender, SCTS, None)}


def test_force_ucs2_and_dcs_override() -> None:
    """force_ucs2 sends GSM-7 text as UCS-2; dcs picks another coding group's alphabet."""
    assert _deliver(encode_deliver("1", "Hi", scts=SCTS, force_ucs2=True)[0].hex).encoding == "ucs2"
    for dcs, encoding in [(0x48, "ucs2"), (0xF4, "8bit"), (0xF0, "gsm7")]:
        msg = _deliver(encode_deliver("1", "Hi", scts=SCTS, dcs=dcs)[0].hex)
        assert (msg.dcs, msg.encoding, msg.text) == (dcs, encoding, "Hi")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"sender": "+1", "text": "x", "scts": datetime(2026, 1, 1)},
        {"sender": "Far too long sender", "text": "x", "scts": SCTS},
        {"sender": "+1", "text": "x", "scts": SCTS, "dcs": 0x24},
        {"sender": "+1", "text": "x", "scts": SCTS, "dcs": 0x100},
        {"sender": "+1", "text": "ж", "scts": SCTS, "dcs": 0x00},
        {"sender": "+1", "text": "x", "scts": SCTS, "concat_reference": 70000},
    ],
)
def test_encode_deliver_rejects(kwargs: dict[str, object]) -> None:
    """Naive times, long senders, compressed or unfitting DCS and bad references: UsageError."""
    with pytest.raises(UsageError):
        encode_deliver(**kwargs)  # type: ignore[arg-type]


def test_encode_status_report_vector() -> None:
    """STATUS-REPORT: first octet 0x06, MR, RA, SCTS, DT, ST."""
    pdu = encode_status_report(
        reference=5,
        recipient="+15551234567",
        scts=SCTS,
        discharge=SCTS + timedelta(seconds=1),
        status=0x40,
    )
    assert pdu.hex == SCA + "0605" + "0B915155214365F7" + SCTS_HEX + "62117220036100" + "40"
    assert pdu.tpdu_length == 25
    with pytest.raises(UsageError):
        encode_status_report(reference=256, recipient="1", scts=SCTS, discharge=SCTS)


def test_encoded_pdu_validation() -> None:
    """EncodedPdu refuses lower-case hex and a length that does not match the SCA."""
    assert EncodedPdu(hex="0001000100", tpdu_length=4).tpdu_length == 4
    with pytest.raises(UsageError):
        EncodedPdu(hex="0001000100", tpdu_length=5)
    with pytest.raises(UsageError):
        EncodedPdu(hex="00ab", tpdu_length=1)
