"""Tests of SMS handling in the model: PDU/text send, storage, listing, CNMI routing, reports."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gateway.simulator import inject
from gateway.simulator.clock import Scheduler
from gateway.simulator.config import ModemConfig, SimulatorError
from gateway.simulator.model import ModemModel
from gateway.simulator.network import Network
from gateway.sms import pdu as pducodec

OK = b"\r\nOK\r\n"


def talk(model: ModemModel, data: bytes, now: float = 1.0) -> bytes:
    """Feed ``data`` at ``now``, run due timers and return what the modem wrote."""
    model.receive_data(data, now)
    model.scheduler.run_due(now)
    return model.take_output()


def quiet(config: ModemConfig | None = None, network: Network | None = None) -> ModemModel:
    """Return a modem with echo off and +CME/+CMS codes on."""
    model = ModemModel(config or ModemConfig(), network=network)
    talk(model, b"ATE0;+CMEE=1\r")
    return model


def send_pdu(model: ModemModel, part: pducodec.EncodedPdu, now: float = 1.0) -> bytes:
    """Run AT+CMGS for one part and return everything the modem wrote after the prompt."""
    assert talk(model, f"AT+CMGS={part.tpdu_length}\r".encode(), now) == b"\r\n> "
    return talk(model, part.hex.encode() + b"\x1a", now)


def test_cmgs_pdu_accepted_with_incrementing_reference() -> None:
    """AT+CMGS answers +CMGS: <mr> with MR 0, 1, 2 ... and the network logs the message."""
    model = quiet()
    for expected in range(3):
        part = pducodec.encode_submit("+15550009999", f"code {expected}")[0]
        assert send_pdu(model, part) == f"\r\n+CMGS: {expected}\r\n".encode() + OK
    sent = model.sent()
    assert [(m.number, m.text, m.reference) for m in sent] == [
        ("+15550009999", f"code {i}", i) for i in range(3)
    ]
    assert sent[0].pdu == pducodec.encode_submit("+15550009999", "code 0")[0].hex


def test_reference_wraps_after_255() -> None:
    """TP-MR is one octet: after 255 the next reference is 0."""
    model = quiet()
    part = pducodec.encode_submit("+15550009999", "x")[0]
    for _ in range(256):
        send_pdu(model, part)
    assert send_pdu(model, part) == b"\r\n+CMGS: 0\r\n" + OK


def test_gammu_style_pdu_with_sca_and_pause_before_ctrl_z() -> None:
    """gammu's SCA-prefixed PDU typed byte by byte, Ctrl-Z 0.5 s later, is accepted."""
    model = quiet()
    part = pducodec.encode_submit("+15550009999", "hello", smsc="+15550000000")[0]
    assert talk(model, f"AT+CMGS={part.tpdu_length}\r".encode()) == b"\r\n> "
    for i, byte in enumerate(part.hex.encode()):
        assert talk(model, bytes([byte]), 1.0 + i * 0.001) == b""
    assert talk(model, b"\x1a", 2.0) == b"\r\n+CMGS: 0\r\n" + OK


def test_pdu_entry_strips_cr_lf_and_echoes_when_e1() -> None:
    """With echo on, the PDU is echoed byte for byte; CR/LF inside it are ignored."""
    model = ModemModel()
    part = pducodec.encode_submit("+15550009999", "hello")[0]
    talk(model, f"AT+CMGS={part.tpdu_length}\r".encode())
    middle = len(part.hex) // 2
    typed = part.hex[:middle].encode() + b"\r\n" + part.hex[middle:].encode()
    assert talk(model, typed) == typed
    assert talk(model, b"\x1a") == b"\r\n+CMGS: 0\r\n" + OK


def test_escape_cancels_send() -> None:
    """ESC after the prompt cancels: OK and nothing reaches the network."""
    model = quiet()
    talk(model, b"AT+CMGS=20\r")
    assert talk(model, b"0011\x1b") == OK
    assert model.sent() == []
    assert talk(model, b"AT\r") == OK


@pytest.mark.parametrize(
    ("length", "typed"),
    [
        (5, pducodec.encode_submit("+15550009999", "hello")[0].hex),  # wrong <length>
        (3, "00010203"),  # not an SMS-SUBMIT
        (4, "0011ZZ"),  # not hex
        (10, "0" * 1100),  # longer than any PDU
        (1, ""),
    ],
)
def test_bad_pdu_gives_cms_304(length: int, typed: str) -> None:
    """Wrong length, undecodable or over-long PDUs answer +CMS ERROR: 304, never crash."""
    model = quiet()
    talk(model, f"AT+CMGS={length}\r".encode())
    assert talk(model, typed.encode() + b"\x1a") == b"\r\n+CMS ERROR: 304\r\n"
    assert model.sent() == []


def test_two_modems_exchange_an_sms() -> None:
    """A submit to another simulated modem's number arrives there as SMS-DELIVER + CMTI."""
    network = Network(Scheduler())
    alice = quiet(ModemConfig(number="+15550000001"), network)
    bob = quiet(ModemConfig(number="+15550000002"), network)
    talk(bob, b"AT+CNMI=2,1,0,0,0\r")
    part = pducodec.encode_submit("+15550000002", "@example.com #123456")[0]
    assert send_pdu(alice, part) == b"\r\n+CMGS: 0\r\n" + OK
    assert bob.take_output() == b'\r\n+CMTI: "SM",1\r\n'
    reply = talk(bob, b"AT+CMGR=1\r").decode()
    pdu_line = reply.split("\r\n")[2]
    message = pducodec.decode_incoming(pdu_line)
    assert isinstance(message, pducodec.Deliver)
    assert (message.sender, message.text) == ("+15550000001", "@example.com #123456")


def test_multipart_exchange_keeps_concatenation() -> None:
    """Each part of a concatenated submit arrives with its concatenation header intact."""
    network = Network(Scheduler())
    alice = quiet(ModemConfig(number="+15550000001"), network)
    bob = quiet(ModemConfig(number="+15550000002"), network)
    text = "€ long message " * 20
    for part in pducodec.encode_submit("+15550000002", text, concat_reference=7):
        send_pdu(alice, part)
    delivered = [pducodec.decode_incoming(p) for p in inject.stored(bob, "SM").values()]
    assert all(isinstance(d, pducodec.Deliver) for d in delivered)
    joined = "".join(d.text for d in delivered if isinstance(d, pducodec.Deliver))
    assert joined == text
    assert [m.part for m in alice.sent()] == [1, 2, 3]
    assert {m.parts for m in alice.sent()} == {3}


@pytest.mark.parametrize(
    ("profile", "cnmi", "urc_prefix", "stored_reports"),
    [
        ("generic", b"2,1,0,2,0", b'\r\n+CDSI: "SR",1\r\n', 1),
        ("generic", b"2,1,0,1,0", b"\r\n+CDS: ", 0),
        ("generic", b"2,1,0,0,0", b"", 1),
        ("ec25", b"2,1,0,2,0", b'\r\n+CDSI: "SM",0\r\n', 1),
        ("sim800", b"2,1,0,2,0", b"\r\n+CDS: ", 0),
    ],
)
def test_status_report_routing(
    profile: str, cnmi: bytes, urc_prefix: bytes, stored_reports: int
) -> None:
    """A requested status report is routed (+CDS) or stored in SR (+CDSI) per CNMI and profile."""
    model = quiet(ModemConfig(profile=profile))
    talk(model, b"AT+CNMI=" + cnmi + b"\r")
    part = pducodec.encode_submit("+15550009999", "hi", request_status_report=True)[0]
    out = send_pdu(model, part)
    assert out.startswith(b"\r\n+CMGS: 0\r\n" + OK)
    urc = out[len(b"\r\n+CMGS: 0\r\n" + OK) :]
    assert urc.startswith(urc_prefix)
    assert len(inject.stored(model, "SR")) == stored_reports
    if urc_prefix == b"\r\n+CDS: ":
        length, pdu_hex = urc[len(urc_prefix) :].decode().split("\r\n")[:2]
        report = pducodec.decode_incoming(pdu_hex)
        assert isinstance(report, pducodec.StatusReport)
        assert (report.reference, report.recipient, int(length)) == (
            0,
            "+15550009999",
            len(pdu_hex) // 2 - 8,
        )


def test_stored_report_readable_from_sr() -> None:
    """A stored status report is read from SR with AT+CPMS="SR" and AT+CMGR."""
    model = quiet()
    talk(model, b"AT+CNMI=2,1,0,2,0\r")
    send_pdu(model, pducodec.encode_submit("+15550009999", "hi", request_status_report=True)[0])
    assert talk(model, b'AT+CPMS="SR"\r') == b"\r\n+CPMS: 1,30,0,30,0,30\r\n" + OK
    lines = talk(model, b"AT+CMGR=1\r").decode().split("\r\n")
    assert lines[1].startswith("+CMGR: 0,,")
    assert isinstance(pducodec.decode_incoming(lines[2]), pducodec.StatusReport)


def test_routed_cmt_needs_cnma() -> None:
    """With <mt>=2 an SMS is routed as +CMT: ,<len> + PDU in one unit and acked with CNMA."""
    model = quiet()
    talk(model, b"AT+CNMI=2,2,0,0,0\r")
    assert inject.inject_sms(model, "routed", 1.0) == []
    urc = model.take_output().decode()
    header, pdu_hex = urc.strip("\r\n").split("\r\n")
    assert header == f"+CMT: ,{len(pdu_hex) // 2 - 8}"
    assert talk(model, b"AT+CNMA\r") == OK
    assert talk(model, b"AT+CNMA\r") == b"\r\n+CMS ERROR: 340\r\n"
    assert inject.stored(model) == {}


def test_store_without_notification_when_mt_0() -> None:
    """With CNMI <mt>=0 (power-on default) SMS are stored silently."""
    model = quiet()
    assert inject.inject_sms(model, "silent", 1.0) == [1]
    assert model.take_output() == b""


def test_list_flips_unread_to_read() -> None:
    """AT+CMGL=4 lists everything; afterwards AT+CMGL=0 (unread) is empty."""
    model = quiet()
    inject.inject_sms(model, "one", 1.0)
    inject.inject_sms(model, "two", 1.0)
    listing = talk(model, b"AT+CMGL=4\r").decode().split("\r\n")
    assert listing[1].startswith("+CMGL: 1,0,,")
    assert listing[3].startswith("+CMGL: 2,0,,")
    assert talk(model, b"AT+CMGL=0\r") == OK
    assert talk(model, b"AT+CMGL=1\r").count(b"+CMGL:") == 2


def test_cmgr_shows_tpdu_length_and_marks_read() -> None:
    """+CMGR: <stat>,,<length> with the TPDU length, stat 0 then 1."""
    model = quiet()
    inject.inject_sms(model, "read me", 1.0)
    pdu_hex = inject.stored(model)[1]
    length = len(pdu_hex) // 2 - 8
    assert talk(model, b"AT+CMGR=1\r") == f"\r\n+CMGR: 0,,{length}\r\n{pdu_hex}\r\n".encode() + OK
    assert talk(model, b"AT+CMGR=1\r").startswith(b"\r\n+CMGR: 1,,")


def test_delete_flags() -> None:
    """AT+CMGD=<i>,1 deletes read messages only; ,4 deletes everything."""
    model = quiet()
    for text in ("a", "b", "c"):
        inject.inject_sms(model, text, 1.0)
    talk(model, b"AT+CMGR=1\r")
    assert talk(model, b"AT+CMGD=0,1\r") == OK
    assert sorted(inject.stored(model)) == [2, 3]
    assert talk(model, b"AT+CMGD=2\r") == OK
    assert sorted(inject.stored(model)) == [3]
    assert talk(model, b"AT+CMGD=?\r") == b"\r\n+CMGD: (3),(0-4)\r\n" + OK
    assert talk(model, b"AT+CMGD=1,4\r") == OK
    assert inject.stored(model) == {}


def test_cmgd_out_of_range() -> None:
    """Deleting an index outside the memory answers +CMS ERROR: 321."""
    assert talk(quiet(), b"AT+CMGD=31\r") == b"\r\n+CMS ERROR: 321\r\n"


def test_text_mode_send_read_and_list() -> None:
    """Text mode: CMGS with "> " per line, CMGR/CMGL with the quoted header forms."""
    model = quiet()
    talk(model, b"AT+CMGF=1\r")
    assert talk(model, b'AT+CMGS="+15550009999"\r') == b"\r\n> "
    assert talk(model, b"line one\r") == b"\r\n> "
    assert talk(model, b"line two\x1a") == b"\r\n+CMGS: 0\r\n" + OK
    assert model.sent()[0].text == "line one\nline two"
    scts = datetime(2026, 11, 27, 1, 2, 3, tzinfo=UTC)
    inject.inject_sms(model, "hello", 1.0, scts=scts)
    assert talk(model, b"AT+CMGR=1\r") == (
        b'\r\n+CMGR: "REC UNREAD","+15557654321",,"26/11/27,01:02:03+00"\r\nhello\r\n' + OK
    )
    assert talk(model, b'AT+CMGL="ALL"\r') == (
        b'\r\n+CMGL: 1,"REC READ","+15557654321",,"26/11/27,01:02:03+00"\r\nhello\r\n' + OK
    )
    assert talk(model, b"AT+CMGL=4\r") == b"\r\n+CMS ERROR: 305\r\n"


def test_text_mode_csdh_and_ucs2_charset() -> None:
    """CSDH=1 adds <tooa>,<fo>,<pid>,<dcs>,<sca>,<tosca>,<length>; CSCS UCS2 shows hex."""
    model = quiet()
    talk(model, b'AT+CMGF=1;+CSDH=1;+CSCS="UCS2"\r')
    inject.inject_sms(model, "hé", 1.0, scts=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    assert talk(model, b"AT+CMGR=1\r") == (
        b'\r\n+CMGR: "REC UNREAD","+15557654321",,"26/01/02,03:04:05+00",145,4,0,0,'
        b'"+15550000000",145,2\r\n006800E9\r\n' + OK
    )
    assert talk(model, b'AT+CMGL="ALL"\r') == (
        b'\r\n+CMGL: 1,"REC READ","+15557654321",,"26/01/02,03:04:05+00",145,2\r\n006800E9\r\n' + OK
    )
    assert talk(model, b'AT+CMGS="+15550009999"\r') == b"\r\n> "
    assert talk(model, b"041F04400438043204350442\x1a") == b"\r\n+CMGS: 0\r\n" + OK
    assert model.sent()[0].text == "Привет"


def test_write_and_send_from_storage() -> None:
    """AT+CMGW stores a submit (+CMGW: <i>); AT+CMSS sends it (+CMSS: <mr>)."""
    model = quiet()
    part = pducodec.encode_submit("+15550009999", "stored")[0]
    assert talk(model, f"AT+CMGW={part.tpdu_length}\r".encode()) == b"\r\n> "
    assert talk(model, part.hex.encode() + b"\x1a") == b"\r\n+CMGW: 1\r\n" + OK
    assert talk(model, b"AT+CMSS=1\r") == b"\r\n+CMSS: 0\r\n" + OK
    assert talk(model, b"AT+CMSS=2\r") == b"\r\n+CMS ERROR: 321\r\n"
    assert model.sent()[0].text == "stored"
    assert talk(model, b"AT+CMGL=3\r").count(b"+CMGL: 1,3,,") == 1


def test_cpms_switches_memories_with_true_counts() -> None:
    """CPMS reports real used counts per memory; messages go to the receive memory."""
    model = quiet()
    assert talk(model, b'AT+CPMS="ME","ME","ME"\r') == b"\r\n+CPMS: 0,30,0,30,0,30\r\n" + OK
    inject.inject_sms(model, "to me", 1.0)
    assert talk(model, b"AT+CPMS?\r") == b'\r\n+CPMS: "ME",1,30,"ME",1,30,"ME",1,30\r\n' + OK
    assert talk(model, b'AT+CPMS="SM"\r') == b"\r\n+CPMS: 0,30,1,30,1,30\r\n" + OK


def test_e3372_needs_three_cpms_memories() -> None:
    """Huawei E3372 rejects AT+CPMS with fewer than three memories."""
    model = quiet(ModemConfig(profile="e3372"))
    assert talk(model, b'AT+CPMS="SM"\r').startswith(b"\r\n+CMS ERROR: 302\r\n")


def test_capacity_limit_rejects_without_cmti() -> None:
    """A full memory stores nothing more and announces nothing."""
    model = quiet(ModemConfig(storage_capacity=2))
    talk(model, b"AT+CNMI=2,1,0,0,0\r")
    assert inject.inject_sms(model, "a", 1.0) == [1]
    assert inject.inject_sms(model, "b", 1.0) == [2]
    model.take_output()
    assert inject.inject_sms(model, "c", 1.0) == []
    assert model.take_output() == b""


def test_inject_multipart_out_of_order_and_dropped() -> None:
    """Parts are delivered in the given order; dropped parts never arrive."""
    model = quiet()
    text = "x" * 400
    assert inject.inject_sms(model, text, 1.0, order=[3, 1, 2], drop=[2]) == [1, 2]
    parts = [pducodec.decode_incoming(p) for p in inject.stored(model).values()]
    sequences = [p.concat.sequence for p in parts if isinstance(p, pducodec.Deliver) and p.concat]
    assert sequences == [3, 1]


def test_inject_alphanumeric_sender_and_ucs2() -> None:
    """Alphanumeric senders and forced UCS-2 are encoded as TS 23.040 says."""
    model = quiet()
    inject.inject_sms(model, "hi", 1.0, sender="MyBank", force_ucs2=True)
    message = pducodec.decode_incoming(inject.stored(model)[1])
    assert isinstance(message, pducodec.Deliver)
    assert (message.sender, message.encoding, message.text) == ("MyBank", "ucs2", "hi")


@pytest.mark.parametrize(
    "kwargs",
    [{"order": [1, 1]}, {"drop": [5]}, {"memory": "XX"}],
)
def test_inject_bad_arguments(kwargs: dict[str, object]) -> None:
    """Bad injection arguments raise SimulatorError."""
    with pytest.raises(SimulatorError):
        inject.inject_sms(quiet(), "text", 1.0, **kwargs)  # type: ignore[arg-type]


def test_inject_pdu_raw_and_bad() -> None:
    """A raw PDU is stored as is (even undecodable); a non-hex one is refused."""
    model = quiet()
    assert inject.inject_pdu(model, "0004FFFF", 1.0) == 1
    assert inject.stored(model) == {1: "0004FFFF"}
    with pytest.raises(SimulatorError):
        inject.inject_pdu(model, "zz", 1.0)


def test_undecodable_stored_pdu_in_text_mode_does_not_crash() -> None:
    """Reading an undecodable PDU in text mode shows its hex instead of failing."""
    model = quiet()
    inject.inject_pdu(model, "0004FFFF", 1.0)
    talk(model, b"AT+CMGF=1\r")
    assert talk(model, b"AT+CMGR=1\r").endswith(b"0004FFFF\r\n" + OK)


def test_realistic_timing_delays_cmgs_and_report() -> None:
    """Realistic timing: +CMGS arrives 1.5-4 s later, the report seconds after that."""
    network = Network(Scheduler(), timing="realistic", seed=1)
    model = quiet(network=network)
    talk(model, b"AT+CNMI=2,1,0,2,0\r")
    part = pducodec.encode_submit("+15550009999", "x", request_status_report=True)[0]
    talk(model, f"AT+CMGS={part.tpdu_length}\r".encode(), 10.0)
    assert talk(model, part.hex.encode() + b"\x1a", 10.0) == b""
    assert talk(model, b"", 11.4) == b""
    assert talk(model, b"", 14.0) == b"\r\n+CMGS: 0\r\n" + OK
    assert talk(model, b"", 30.0) == b'\r\n+CDSI: "SR",1\r\n'


def test_commands_while_send_in_flight_answer_in_order() -> None:
    """A command typed while a send is delayed is answered after the +CMGS reply."""
    network = Network(Scheduler(), timing="realistic", seed=1)
    model = quiet(network=network)
    part = pducodec.encode_submit("+15550009999", "x")[0]
    talk(model, f"AT+CMGS={part.tpdu_length}\r".encode(), 10.0)
    talk(model, part.hex.encode() + b"\x1a", 10.0)
    assert talk(model, b"AT\r", 10.1) == b""
    assert talk(model, b"", 14.0) == b"\r\n+CMGS: 0\r\n" + OK + OK
