"""Property tests for the PDU codec: fuzzed input never escapes PduError; text round-trips."""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.sms import (
    Deliver,
    PduError,
    StatusReport,
    Submit,
    decode_incoming,
    decode_submit,
    encode_deliver,
    encode_status_report,
    encode_submit,
    gsm7,
)

GSM7_TEXT = "".join(c for c in gsm7.BASIC if c is not None) + "".join(gsm7.EXTENSION.values())
SCTS = datetime(2026, 11, 27, 2, 30, 15, tzinfo=timezone(timedelta(hours=1)))
SEED_PDUS = [
    *(p.hex for p in encode_deliver("+15557654321", "x€" * 60, scts=SCTS)),
    *(p.hex for p in encode_deliver("Google", "😀 " * 40, scts=SCTS, concat_reference=300)),
    *(p.hex for p in encode_submit("+15557654321", "hi", validity=timedelta(hours=1))),
    encode_status_report(reference=3, recipient="+1555", scts=SCTS, discharge=SCTS).hex,
    "0009000B915155674523F1000001AA000000000005E8329BFD06",
]


def _decode_all(pdu: str) -> None:
    """Run every decoder on ``pdu``; each must return its value type or raise PduError."""
    for has_smsc in (True, False):
        with contextlib.suppress(PduError):
            assert isinstance(decode_incoming(pdu, has_smsc=has_smsc), Deliver | StatusReport)
        with contextlib.suppress(PduError):
            assert isinstance(decode_submit(pdu, has_smsc=has_smsc), Submit)


@given(st.binary(max_size=200))
def test_random_bytes(data: bytes) -> None:
    """Random octets decode to a value or PduError, never another exception."""
    _decode_all(data.hex())


@given(st.text(alphabet="0123456789abcdefABCDEF \r\nxZ", max_size=120))
def test_random_hex_text(text: str) -> None:
    """Random hex-ish text decodes to a value or PduError."""
    _decode_all(text)


@given(
    st.sampled_from(SEED_PDUS),
    st.lists(st.tuples(st.integers(min_value=0), st.integers(0, 255)), max_size=4),
    st.integers(min_value=0, max_value=400),
)
def test_mutated_pdus(seed: str, edits: list[tuple[int, int]], cut: int) -> None:
    """Valid PDUs with octets overwritten and tails cut decode to a value or PduError."""
    octets = bytearray.fromhex(seed)
    for pos, value in edits:
        octets[pos % len(octets)] = value
    _decode_all(bytes(octets[: max(cut, 1)]).hex())


def _joined(pdus: list[str]) -> str:
    parts: list[str] = []
    for pdu in pdus:
        msg = decode_incoming(pdu)
        assert isinstance(msg, Deliver)
        parts.append(msg.text)
    return "".join(parts)


@given(st.text(alphabet=GSM7_TEXT, max_size=500), st.integers(0, 0xFFFF))
def test_gsm7_text_round_trip(text: str, reference: int) -> None:
    """Any GSM-7 text (extension characters, final '@', newlines) survives encode/decode."""
    pdus = encode_deliver("+15557654321", text, scts=SCTS, concat_reference=reference)
    assert all(p.hex[36:38] == "00" for p in pdus)  # TP-DCS after SCA, first octet, OA, PID
    assert _joined([p.hex for p in pdus]) == text


@settings(max_examples=200)
@given(st.text(max_size=300), st.booleans())
def test_unicode_text_round_trip(text: str, force_ucs2: bool) -> None:
    """Any Unicode text (non-BMP included) survives encode_deliver and encode_submit."""
    pdus = encode_deliver("Sender", text, scts=SCTS, force_ucs2=force_ucs2, concat_reference=5)
    assert _joined([p.hex for p in pdus]) == text
    sent = [decode_submit(p.hex) for p in encode_submit("+1555", text, concat_reference=5)]
    assert "".join(m.text for m in sent) == text
    totals = {m.concat.total if m.concat else 1 for m in sent}
    assert totals == {len(sent)}


@given(
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)),
    st.integers(-79, 79),
    st.from_regex(r"\+?[1-9][0-9]{0,14}", fullmatch=True),
)
def test_deliver_header_round_trip(naive: datetime, quarters: int, sender: str) -> None:
    """Sender and SCTS (any quarter-hour zone) come back unchanged."""
    scts = naive.replace(microsecond=0, tzinfo=timezone(timedelta(minutes=15 * quarters)))
    msg = decode_incoming(encode_deliver(sender, "x", scts=scts)[0].hex)
    assert isinstance(msg, Deliver)
    assert msg.scts is not None
    assert (msg.sender, msg.scts, msg.scts.utcoffset()) == (sender, scts, scts.utcoffset())


@given(st.binary(min_size=7, max_size=7), st.binary(min_size=7, max_size=7))
def test_any_timestamp_octets_decode(scts: bytes, discharge: bytes) -> None:
    """Whatever 7 octets fill TP-SCTS/TP-DT, the PDU decodes and keeps them exactly."""
    deliver = decode_incoming("07915155000000F0040B915155674523F10000" + scts.hex() + "02C834")
    assert isinstance(deliver, Deliver)
    assert (deliver.scts_raw, deliver.text, deliver.timestamp_invalid) == (
        scts,
        "Hi",
        deliver.scts is None,
    )
    report = decode_incoming("0006050B915155214365F7" + scts.hex() + discharge.hex() + "00")
    assert isinstance(report, StatusReport)
    assert (report.reference, report.scts_raw, report.discharge_raw) == (5, scts, discharge)
