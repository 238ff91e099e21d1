"""Cross-checks of our PDU codec against two independent decoders/encoders.

smspdudecoder (a test-only dependency) decodes our SMS-DELIVER and SMS-SUBMIT output;
python-gsmmodem decodes our STATUS-REPORTs and encodes SUBMITs our decoder must read.
gammu has no command that decodes a bare PDU without a phone, so it is not used here.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import gsmmodem.pdu
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from smspdudecoder.easy import read_incoming_sms, read_outgoing_sms  # type: ignore[import-untyped]

from gateway.sms import (
    Deliver,
    decode_incoming,
    decode_submit,
    encode_deliver,
    encode_status_report,
    encode_submit,
    gsm7,
)

SCTS = datetime(2026, 11, 27, 2, 30, 15, tzinfo=timezone(timedelta(hours=-5, minutes=-45)))
GSM7_TEXT = "".join(c for c in gsm7.BASIC if c is not None) + "".join(gsm7.EXTENSION.values())


def _oracle_deliver(sender: str, text: str, **kwargs: Any) -> list[dict[str, Any]]:
    """Return smspdudecoder's reading of each part encode_deliver makes.

    smspdudecoder decodes every septet of the GSM-7 user data to characters and then
    slices TP-UDL *characters*; after an escape pair (two septets, one character) the
    slice reaches past TP-UDL, so 7 zero fill bits in the last octet (TS 23.038
    §6.1.2.1.1) show as a phantom '@'. Compliant receivers (and ours) stop at TP-UDL;
    that one quirk is undone here, only when our decoder says the part has 8n-1 septets
    and an escape.
    """
    seen: list[dict[str, Any]] = []
    for pdu in encode_deliver(sender, text, scts=SCTS, **kwargs):
        reading = read_incoming_sms(pdu.hex)
        ours = decode_incoming(pdu.hex)
        assert isinstance(ours, Deliver)
        header = 0 if ours.concat is None else 7 if ours.concat.reference <= 0xFF else 8
        septets = gsm7.septet_length(ours.text)
        quirk = septets is not None and septets > len(ours.text) and (header + septets) % 8 == 7
        if ours.encoding == "gsm7" and quirk:
            assert reading["content"] == ours.text + "@"
            reading["content"] = ours.text
        seen.append(reading)
    return seen


@pytest.mark.parametrize(
    ("sender", "text"),
    [
        ("+15557654321", "Your code is 123456\n\n@example.com #123456"),
        ("+15557654321", "ends with @"),
        ("5557654321", "€{}[]~\\|^ ÄÖÜ"),
        ("Google", "G-123456 is your code"),
        ("Twilio", "😀 Ключ 🔑"),  # 7-letter names hit smspdudecoder's phantom '@' too
    ],
)
def test_single_deliver_matches_smspdudecoder(sender: str, text: str) -> None:
    """smspdudecoder reads the same sender, text and timestamp from our SMS-DELIVER."""
    (seen,) = _oracle_deliver(sender, text)
    assert (seen["sender"], seen["content"], seen["date"], seen["partial"]) == (
        sender,
        text,
        SCTS,
        False,
    )


@pytest.mark.parametrize(
    ("text", "reference", "parts"),
    [("0123456789 " * 40, 0x2A, 3), ("😀ж" * 80, 0x1234, 4), ("€" * 200, 0, 3)],
)
def test_concatenated_deliver_matches_smspdudecoder(text: str, reference: int, parts: int) -> None:
    """smspdudecoder sees our concatenation IEs (8- and 16-bit) and the same joined text."""
    seen = _oracle_deliver("+15557654321", text, concat_reference=reference)
    assert [s["partial"]["part_number"] for s in seen] == list(range(1, parts + 1))
    assert {(s["partial"]["reference"], s["partial"]["parts_count"]) for s in seen} == {
        (f"{reference}-{parts}", parts)
    }
    assert "".join(s["content"] for s in seen) == text


def test_submit_matches_smspdudecoder() -> None:
    """smspdudecoder reads the recipient and text of our multipart SMS-SUBMIT."""
    text = "Code 123456 🔑 " * 12
    seen = [read_outgoing_sms(p.hex) for p in encode_submit("+1 555 765 4321", text)]
    assert {s["recipient"] for s in seen} == {"+15557654321"}
    assert "".join(s["content"] for s in seen) == text


@pytest.mark.parametrize("status", [0x00, 0x30, 0x41])
def test_status_report_matches_gsmmodem(status: int) -> None:
    """python-gsmmodem reads MR, recipient, both times and TP-ST from our STATUS-REPORT."""
    pdu = encode_status_report(
        reference=200,
        recipient="+15551234567",
        scts=SCTS,
        discharge=SCTS + timedelta(minutes=1),
        status=status,
    )
    seen = gsmmodem.pdu.decodeSmsPdu(pdu.hex)
    assert seen["type"] == "SMS-STATUS-REPORT"
    assert (seen["reference"], seen["number"], seen["status"]) == (200, "+15551234567", status)
    assert seen["time"] == SCTS
    assert seen["discharge"] == SCTS + timedelta(minutes=1)
    assert seen["tpdu_length"] == pdu.tpdu_length


@pytest.mark.parametrize(
    ("text", "kwargs"),
    [
        ("Your code is 123456", {"requestStatusReport": True}),
        ("x" * 200, {"reference": 7, "requestStatusReport": False}),
        ("Привет, код 123456", {"validity": timedelta(hours=1), "requestStatusReport": False}),
        ("Ключ " * 30, {"reference": 3, "smsc": "+15550000000", "requestStatusReport": True}),
    ],
)
def test_decode_submit_reads_gsmmodem_output(text: str, kwargs: dict[str, Any]) -> None:
    """Our decode_submit reads python-gsmmodem's SMS-SUBMIT PDUs, multipart included."""
    pdus = gsmmodem.pdu.encodeSmsSubmitPdu("+15557654321", text, **kwargs)
    msgs = [decode_submit(str(p)) for p in pdus]
    assert "".join(m.text for m in msgs) == text
    assert {m.number for m in msgs} == {"+15557654321"}
    assert {m.status_report_requested for m in msgs} == {kwargs["requestStatusReport"]}
    assert [m.concat.sequence if m.concat else 1 for m in msgs] == list(range(1, len(pdus) + 1))


@settings(max_examples=60, deadline=None)
@given(
    st.one_of(st.text(alphabet=GSM7_TEXT, max_size=400), st.text(max_size=200)),
    st.sampled_from(["+15557654321", "5557654321", "Alerts"]),
)
def test_random_text_matches_smspdudecoder(text: str, sender: str) -> None:
    """For random text, smspdudecoder joins our parts into the same text and sender."""
    seen = _oracle_deliver(sender, text, concat_reference=77)
    assert {s["sender"] for s in seen} == {sender}
    assert "".join(s["content"] for s in seen) == text


@pytest.mark.parametrize(
    ("text", "ours", "theirs"),
    [
        ("Your code is 123456", {"request_status_report": True}, {"requestStatusReport": True}),
        ("x" * 200, {"reference": 7, "concat_reference": 7}, {"reference": 7}),
        ("Привет", {"reference": 3, "validity": timedelta(hours=1)},
         {"reference": 3, "validity": timedelta(hours=1)}),
        ("hello", {"smsc": "+15550000000"}, {"smsc": "+15550000000"}),
    ],
)  # fmt: skip
def test_encode_submit_equals_gsmmodem_where_it_is_right(
    text: str, ours: dict[str, Any], theirs: dict[str, Any]
) -> None:
    """Where python-gsmmodem's encoder is sound (BMP text, MR = concat ref), ours matches it."""
    theirs = {"requestStatusReport": False, **theirs}
    expected = gsmmodem.pdu.encodeSmsSubmitPdu("+15557654321", text, **theirs)
    got = encode_submit("+15557654321", text, **ours)
    assert [p.hex for p in got] == [str(p) for p in expected]
    # gsmmodem counts every octet but the first as TPDU, wrong when an SCA is given; the
    # AT+CMGS <length> excludes the whole SCA field (TS 27.005 §3.5.1).
    sca_octets = 1 + int(got[0].hex[:2], 16)
    assert [p.tpdu_length for p in got] == [p.tpduLength + 1 - sca_octets for p in expected]
