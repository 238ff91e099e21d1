"""Tests for SMS-SUBMIT encoding and decoding (TS 23.040 §9.2.2.2) as hosts send it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gateway.errors import UsageError
from gateway.sms import Concat, PduError, Submit, decode_submit, encode_submit

DA = "0B915155674523F1"  # +15557654321
HELLO = "05E8329BFD06"  # UDL 5 + packed 'hello'


@pytest.mark.parametrize(
    ("pdu", "smsc", "srr", "validity"),
    [
        # SCA given in full, as gammu sends it when the SMSC is configured; VP relative.
        ("07915155000000F0" "1100" + DA + "0000AA" + HELLO, "+15550000000", False,
         timedelta(days=4)),
        # SCA '00' (use the SIM's SMSC) with SRR and the maximum relative VP, smstools style.
        ("00" "3100" + DA + "0000FF" + HELLO, None, True, timedelta(weeks=63)),
        ("00" "0100" + DA + "0000" + HELLO, None, False, None),
        ("00" "1900" + DA + "0000" + "62117220035100" + HELLO, None, False,
         datetime(2026, 11, 27, 2, 30, 15, tzinfo=UTC)),
        ("00" "0900" + DA + "0000" + "01AA0000000000" + HELLO, None, False, timedelta(days=4)),
    ],
)  # fmt: skip
def test_decode_submit_validity_formats(
    pdu: str, smsc: str | None, srr: bool, validity: timedelta | datetime | None
) -> None:
    """Every TP-VPF and both SCA styles decode; TP-SRR is reported."""
    msg = decode_submit(pdu)
    assert (msg.smsc, msg.status_report_requested, msg.validity) == (smsc, srr, validity)
    assert (msg.number, msg.number_toa, msg.text, msg.reference) == (
        "+15557654321",
        0x91,
        "hello",
        0,
    )


def test_decode_submit_from_python_gsmmodem() -> None:
    """PDUs python-gsmmodem 0.13 produced (GSM-7 with SRR; UCS-2 with MR 3 and 1 h VP)."""
    first = decode_submit("0021000B915155674523F1000013D9775D0E1ABFC965507A0E8AC966B49A0D")
    assert (first.text, first.status_report_requested, first.validity) == (
        "Your code is 123456",
        True,
        None,
    )
    second = decode_submit("0011030B915155674523F100080B0C041F04400438043204350442")
    assert (second.text, second.reference, second.encoding) == ("Привет", 3, "ucs2")
    assert second.validity == timedelta(hours=1)


def test_decode_submit_udh_and_rd() -> None:
    """TP-UDHI with a 16-bit concatenation IE and TP-RD decode."""
    msg = decode_submit("004507" + DA + "0008" + "0B0608041234020200410042")
    assert msg == Submit(
        smsc=None,
        reference=7,
        number="+15557654321",
        number_toa=0x91,
        status_report_requested=False,
        validity=None,
        pid=0,
        dcs=8,
        encoding="ucs2",
        text="AB",
        concat=Concat(reference=0x1234, total=2, sequence=2),
        reject_duplicates=True,
    )


@pytest.mark.parametrize(
    ("pdu", "reason"),
    [
        ("0004" + DA, "not an SMS-SUBMIT"),
        ("000900" + DA + "0000" + "01AA", "TP-VP"),
        ("000900" + DA + "0000" + "07000000000000" + HELLO, "reserved"),
        ("001100" + DA + "0000", "TP-VP"),
        ("0001000B9151", "truncated"),
        ("0001", "TP-MR"),
    ],
)
def test_decode_submit_rejects(pdu: str, reason: str) -> None:
    """A DELIVER, truncation anywhere and reserved VP formats raise PduError."""
    with pytest.raises(PduError, match=reason):
        decode_submit(pdu)


def test_encode_submit_single_vector() -> None:
    """Without SMSC the PDU starts with '00' and tpdu_length counts the octets after it."""
    (pdu,) = encode_submit("+1 555 765-4321", "hello")
    assert pdu.hex == "0001000B915155674523F1000005E8329BFD06"
    assert pdu.tpdu_length == 18


def test_encode_submit_flags() -> None:
    """SRR sets 0x20, a validity sets VPF relative (0x10) plus TP-VP, TP-MR goes in octet 2."""
    (pdu,) = encode_submit(
        "5557654321",
        "hello",
        reference=255,
        request_status_report=True,
        validity=timedelta(minutes=10),
        smsc="+15550000000",
    )
    assert pdu.hex == "07915155000000F031FF0A815575563412000001" + HELLO
    assert pdu.tpdu_length == 18


def test_encode_submit_multipart() -> None:
    """Long text gets 8-bit concatenation IEs with the given reference; TP-MR stays put."""
    pdus = encode_submit("+15557654321", "€" * 100, reference=4, concat_reference=0x77)
    assert len(pdus) == 2
    msgs = [decode_submit(p.hex) for p in pdus]
    assert [m.concat for m in msgs] == [Concat(reference=0x77, total=2, sequence=s) for s in (1, 2)]
    assert {m.reference for m in msgs} == {4}
    assert "".join(m.text for m in msgs) == "€" * 100
    assert all(p.hex[2:4] == "41" for p in pdus)
    assert [len(m.text) for m in msgs] == [76, 24]  # 153 septets hold 76 ESC pairs


def test_encode_submit_default_concat_reference_is_zero() -> None:
    """Without concat_reference the IE carries reference 0."""
    assert "0500030002" in encode_submit("+1555", "x" * 161)[0].hex


@pytest.mark.parametrize(
    "text",
    ["😀", "Code: 123456 🔑\n@login.example.com #123456", "ÿ", "a" * 161, "ж" * 71, "@"],
)
def test_submit_round_trip(text: str) -> None:
    """encode_submit then decode_submit gives the joined text back (emoji included)."""
    pdus = encode_submit("+15557654321", text, reference=9, request_status_report=True)
    msgs = [decode_submit(p.hex) for p in pdus]
    assert "".join(m.text for m in msgs) == text
    assert all(m.status_report_requested and m.reference == 9 for m in msgs)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"number": "Google", "text": "x"},
        {"number": "+1", "text": "x", "reference": 256},
        {"number": "+1", "text": "x", "reference": -1},
        {"number": "+1", "text": "x", "validity": timedelta(0)},
        {"number": "+1", "text": "x", "smsc": "Operator"},
        {"number": "+1", "text": "x" * 161, "concat_reference": -1},
    ],
)
def test_encode_submit_rejects(kwargs: dict[str, object]) -> None:
    """Alphanumeric destinations, MR outside 0..255 and bad validity raise UsageError."""
    with pytest.raises(UsageError):
        encode_submit(**kwargs)  # type: ignore[arg-type]
