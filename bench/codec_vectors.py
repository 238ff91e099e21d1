"""Our PDU codec and python-gsmmodem's against the real-world vectors; prints the figures.

    .venv/bin/python -m bench.codec_vectors

The vectors (tests/data/real-world-pdus.json, a copy of shared/pdu-vectors) come from modem
dumps and the test data of gammu, python-gsmmodem, oFono and warthog618/sms; each holds
the value TS 23.040/23.038 give (``expect``). A vector with ``judgment`` is malformed
input on which decoders may differ by policy; ours is written down in :data:`POLICY`.

For each vector the result is ``agree``, ``disagree`` (a value other than the expected
one, or a value where a rejection was expected, or the reverse) or ``crash`` (an
exception that is not the codec's own error type: what a daemon would have to catch
blindly). python-gsmmodem is scored on the ``decode`` vectors only (its encoder's known
faults are listed in gateway.sms.pdu), comparing the fields it returns.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from gateway.sms import (
    Deliver,
    StatusReport,
    Submit,
    decode_incoming,
    decode_submit,
    encode_deliver,
    encode_status_report,
    encode_submit,
)
from gateway.sms.address import decode_address, decode_smsc, encode_address, encode_smsc
from gateway.sms.octets import PduEncodeError, PduError, Reader
from gateway.sms.timestamp import (
    decode_relative_validity,
    decode_timestamp,
    encode_relative_validity,
)
from gateway.sms.userdata import decode_user_data

VECTORS = Path(__file__).resolve().parents[1] / "tests" / "data" / "real-world-pdus.json"

#: Malformed vectors where decoders differ by policy: what ours does, and why it is sound.
POLICY: dict[str, str] = {
    # TP-UDHI set and TP-UDL 0: the header the first octet announces is missing (§9.2.3.23).
    "gammu/at-sms/20": "reject",
    # TP-UDL asks for more octets than follow: a truncated PDU (§9.2.3.16).
    "gammu/at-sms/41": "reject",
    "python-gsmmodem/TestSmsPdu.test_decode#8": "reject",
    # TP-PI announces optional fields that are missing; every mandatory field is there and
    # a report must not be lost over what we do not read (gateway.sms.pdu docstring).
    "warthog618/TestUnmarshalBinary/SmsStatusReport underflow pid": "accept",
    "warthog618/TestUnmarshalBinary/SmsStatusReport underflow dcs": "accept",
    "warthog618/TestUnmarshalBinary/SmsStatusReport underflow ud": "accept",
}

OWN_ERRORS = (PduError, PduEncodeError)


@dataclass(frozen=True, slots=True)
class Outcome:
    """One vector's result: ``agree``, ``disagree`` or ``crash``, and why."""

    verdict: str
    detail: str = ""


AGREE = Outcome("agree")


def load(path: Path = VECTORS) -> list[dict[str, Any]]:
    """Return the vectors of ``path`` that check something (``note`` entries left out)."""
    vectors: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))["vectors"]
    return [v for v in vectors if v["op"] != "note"]


def stamp(t: list[int]) -> datetime:
    """Return the datetime of a vector's ``[yy, MM, dd, hh, mm, ss, offset]`` (20yy)."""
    yy, mo, dd, hh, mi, ss, off = t
    return datetime(2000 + yy, mo, dd, hh, mi, ss, tzinfo=timezone(timedelta(seconds=off)))


def seven(when: datetime | None) -> list[int] | None:
    """Return ``when`` as a vector's seven-number time (two-digit year), None for None."""
    if when is None:
        return None
    offset = when.utcoffset()
    assert offset is not None
    fields = [when.year % 100, when.month, when.day, when.hour, when.minute, when.second]
    return [*fields, int(offset.total_seconds())]


def _concat(message: Deliver | Submit) -> list[int] | None:
    c = message.concat
    return None if c is None else [c.reference, c.total, c.sequence]


def _field(message: Deliver | Submit | StatusReport, key: str) -> Any:
    """Return what ``message`` says for the vector field ``key`` (``...`` when it has none)."""
    kind = {Deliver: "deliver", Submit: "submit", StatusReport: "status_report"}
    getters: dict[str, Callable[[], Any]] = {
        "type": lambda: kind[type(message)],
        "concat": lambda: _concat(message),  # type: ignore[arg-type]
        "scts": lambda: seven(message.scts),  # type: ignore[union-attr]
        "discharge": lambda: seven(message.discharge),  # type: ignore[union-attr]
        "data_hex": lambda: None if message.data is None else message.data.hex().upper(),  # type: ignore[union-attr]
        "delivered": lambda: message.status < 0x20,  # type: ignore[union-attr]  # §9.2.3.15
        "validity_minutes": lambda: message.validity // timedelta(minutes=1),  # type: ignore[union-attr,operator]
        "validity_absolute": lambda: seven(message.validity),  # type: ignore[union-attr,arg-type]
    }
    if key in getters:
        return getters[key]()
    return getattr(message, key, ...)


def _compare(expect: dict[str, Any], got: Callable[[str], Any]) -> Outcome:
    """Return agree when every expected field equals what ``got`` gives for it."""
    wrong = []
    for key, want in expect.items():
        if key == "validity_octet":  # the raw TP-VP octet: covered by validity_minutes vectors
            continue
        value = got(key)
        expected = want.upper() if isinstance(want, str) and key == "data_hex" else want
        if value != expected:
            wrong.append(f"{key}: {value!r} != {expected!r}")
    return Outcome("disagree", "; ".join(wrong)) if wrong else AGREE


def _guarded(run: Callable[[], Outcome], expect_error: bool) -> Outcome:
    """Run one check: our own error where one is expected agrees, anything else crashes."""
    try:
        outcome = run()
    except OWN_ERRORS as exc:
        return AGREE if expect_error else Outcome("disagree", f"refused: {exc}")
    except Exception as exc:  # the point is to count what escapes
        return Outcome("crash", type(exc).__name__)
    if expect_error:
        return Outcome("disagree", "accepted what should be refused")
    return outcome


def _decode(v: dict[str, Any]) -> Outcome:
    expect = v["expect"]
    policy = POLICY.get(v["id"])

    def run() -> Outcome:
        message: Deliver | Submit | StatusReport
        if expect.get("type") == "submit":
            message = decode_submit(v["pdu"], has_smsc=v["has_smsc"])
        else:
            message = decode_incoming(v["pdu"], has_smsc=v["has_smsc"])
        if policy == "accept":
            return AGREE
        return _compare(expect, lambda key: _field(message, key))

    expect_error = policy == "reject" if policy else "error" in expect
    return _guarded(run, expect_error)


def _encoded(pdus: list[str], expect: dict[str, Any]) -> Outcome:
    return _compare(expect, lambda key: pdus if key == "pdus" else ...)


def _encode_submit(v: dict[str, Any]) -> Outcome:
    a = dict(v["args"])
    minutes = a.pop("validity_minutes", None)
    validity = None if minutes is None else timedelta(minutes=minutes)
    return _guarded(
        lambda: _encoded([p.hex for p in encode_submit(**a, validity=validity)], v["expect"]),
        "error" in v["expect"],
    )


def _encode_deliver(v: dict[str, Any]) -> Outcome:
    a = dict(v["args"])
    a["scts"] = stamp(a["scts"])
    return _guarded(lambda: _encoded([p.hex for p in encode_deliver(**a)], v["expect"]), False)


def _encode_status_report(v: dict[str, Any]) -> Outcome:
    a = dict(v["args"])
    a["scts"], a["discharge"] = stamp(a["scts"]), stamp(a["discharge"])
    return _guarded(lambda: _encoded([encode_status_report(**a).hex], v["expect"]), False)


def _text(message: Deliver | StatusReport) -> str:
    assert isinstance(message, Deliver)
    return message.text


def _parts(v: dict[str, Any]) -> Outcome:
    """Count (and, where asked, reassemble) the parts of a text; ``ucs2`` vectors force UCS-2."""
    a = v["args"]

    def run() -> Outcome:
        texts: list[str]
        if v.get("encoding") == "ucs2":  # SUBMIT has no forced alphabet; DELIVER splits alike
            pdus = encode_deliver(
                "+15550000000",
                a["text"],
                scts=stamp([24, 1, 1, 0, 0, 0, 0]),
                force_ucs2=True,
                concat_reference=a.get("concat_reference"),
            )
            texts = [_text(decode_incoming(p.hex)) for p in pdus]
        else:
            texts = [decode_submit(p.hex).text for p in encode_submit(**a)]
        return _compare(
            v["expect"], lambda k: "".join(texts) == a["text"] if k == "roundtrip" else len(texts)
        )

    return _guarded(run, "error" in v["expect"])


def _limit(v: dict[str, Any]) -> Outcome:
    a = v["args"]
    base = {"number": a["number"], "concat_reference": a["concat_reference"]}

    def run() -> Outcome:
        parts = len(encode_submit(text=a["char"] * a["size"], **base))
        if parts != v["expect"]["parts"]:
            return Outcome("disagree", f"{parts} parts")
        try:
            encode_submit(text=a["char"] * (a["size"] + 1), **base)
        except PduEncodeError:
            return AGREE
        return Outcome("disagree", "one character more was accepted")

    return _guarded(run, False)


def _address_decode(v: dict[str, Any]) -> Outcome:
    def run() -> Outcome:
        reader = Reader(bytes.fromhex(v["field_hex"]))
        if v["smsc_field"]:
            address: str | None = decode_smsc(reader)
        else:
            address = decode_address(reader, "address")[0]
        read = reader.position
        return _compare(v["expect"], lambda k: address if k == "address" else read)

    return _guarded(run, False)


def _address_encode(v: dict[str, Any]) -> Outcome:
    def run() -> Outcome:
        octets = encode_smsc(v["address"]) if v["smsc_field"] else encode_address(v["address"])[0]
        return _compare(v["expect"], lambda _k: octets.hex().upper())

    return _guarded(run, False)


def _timestamp(v: dict[str, Any]) -> Outcome:
    def run() -> Outcome:
        when = decode_timestamp(Reader(bytes.fromhex(v["hex"])), "time")
        return _compare(v["expect"], lambda _k: seven(when))

    return _guarded(run, False)


def _validity(v: dict[str, Any]) -> Outcome:
    def run() -> Outcome:
        minutes = decode_relative_validity(v["octet"]) // timedelta(minutes=1)
        octet = encode_relative_validity(timedelta(minutes=v["minutes"]))
        return _compare(v["expect"], lambda k: octet if k == "octet" else minutes)

    return _guarded(run, False)


def _udh_concat(v: dict[str, Any]) -> Outcome:
    def run() -> Outcome:
        ie = bytes.fromhex(v["ie_hex"])
        user_data = bytes([len(ie) + 1, len(ie)]) + ie  # TP-UDL, UDHL, the IE (8-bit data)
        ud = decode_user_data(Reader(user_data), "8bit", udhi=True)
        c = ud.concat
        return _compare(
            v["expect"], lambda _k: None if c is None else [c.reference, c.total, c.sequence]
        )

    return _guarded(run, False)


OURS: dict[str, Callable[[dict[str, Any]], Outcome]] = {
    "decode": _decode,
    "encode_submit": _encode_submit,
    "encode_deliver": _encode_deliver,
    "encode_status_report": _encode_status_report,
    "encode_parts": _parts,
    "encode_limit": _limit,
    "address_decode": _address_decode,
    "address_encode": _address_encode,
    "timestamp": _timestamp,
    "validity_relative": _validity,
    "udh_concat": _udh_concat,
}


def ours(v: dict[str, Any]) -> Outcome:
    """Return our codec's outcome on vector ``v``."""
    return OURS[v["op"]](v)


_GSMMODEM_TYPES = {
    "SMS-DELIVER": "deliver",
    "SMS-SUBMIT": "submit",
    "SMS-STATUS-REPORT": "status_report",
}


def gsmmodem_decode(v: dict[str, Any]) -> Outcome:
    """Return python-gsmmodem's outcome on decode vector ``v``, on the fields it returns.

    It has no error type of its own for bad PDUs: it raises ValueError (counted as its
    refusal, as the field notes advise catching it) or leaks StopIteration, TypeError,
    IndexError… (counted as crashes).
    """
    import gsmmodem.pdu  # noqa: PLC0415 - the reference decoder, only where it is compared

    expect = v["expect"]
    pdu = v["pdu"] if v["has_smsc"] else "00" + v["pdu"]
    policy = POLICY.get(v["id"])
    try:
        result = gsmmodem.pdu.decodeSmsPdu(pdu)
    except ValueError as exc:
        refused = policy == "reject" if policy else "error" in expect
        return AGREE if refused else Outcome("disagree", f"refused: {exc}")
    except Exception as exc:  # counted: that is the point
        return Outcome("crash", type(exc).__name__)
    if policy == "reject" or (not policy and "error" in expect):
        return Outcome("disagree", "accepted what should be refused")
    if policy == "accept":
        return AGREE

    def got(key: str) -> Any:
        if key == "type":
            return _GSMMODEM_TYPES.get(result.get("type", ""))
        if key in ("sender", "number", "recipient"):
            return result.get("number")
        if key in ("scts", "discharge"):
            when = result.get("time" if key == "scts" else "discharge")
            return seven(when) if isinstance(when, datetime) else when
        if key == "concat":
            ies = [u for u in result.get("udh", []) if type(u).__name__ == "Concatenation"]
            return [ies[0].reference, ies[0].parts, ies[0].number] if ies else None
        if key in ("smsc", "text", "reference", "status"):
            return result.get(key)
        return expect[key]  # a field gsmmodem does not report is not held against it

    return _compare(expect, got)


def score(
    vectors: list[dict[str, Any]], check: Callable[[dict[str, Any]], Outcome]
) -> tuple[Counter[str], list[tuple[str, Outcome]]]:
    """Return verdict counts and the (id, outcome) of every vector that did not agree."""
    counts: Counter[str] = Counter()
    misses = []
    for v in vectors:
        outcome = check(v)
        counts[outcome.verdict] += 1
        if outcome.verdict != "agree":
            misses.append((v["id"], outcome))
    return counts, misses


def main() -> int:
    """Print both codecs' figures on the vectors; exit 0."""
    vectors = load()
    decode = [v for v in vectors if v["op"] == "decode"]
    print(f"vectors: {len(vectors)} ({len(decode)} decode) from {VECTORS.name}")
    for name, check, subset in (
        ("otp-gateway (all ops)", ours, vectors),
        ("otp-gateway (decode)", ours, decode),
        ("python-gsmmodem 0.13 (decode)", gsmmodem_decode, decode),
    ):
        counts, misses = score(subset, check)
        line = ", ".join(f"{counts[k]} {k}" for k in ("agree", "disagree", "crash"))
        print(f"{name}: {line} of {len(subset)}")
        crashes = Counter(o.detail for _, o in misses if o.verdict == "crash")
        if crashes:
            print("  crashes by exception: " + ", ".join(f"{k} {n}" for k, n in crashes.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
