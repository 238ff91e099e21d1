"""Tests for URC recognition: reply-vs-URC disambiguation and vendor notices as data."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.at.events import (
    CallerId,
    Event,
    MalformedUrc,
    NewMessage,
    NoticeKind,
    Registration,
    SimState,
    VendorNotice,
)
from gateway.at.lines import fields, parse_final
from gateway.at.urc import PduHeader, classify


@pytest.mark.parametrize(
    ("line", "expected", "result"),
    [
        ('+CMTI: "ME",12', (), NewMessage(memory="ME", index=12)),
        ("+CMTI: SM", (), MalformedUrc(line="+CMTI: SM", reason="+CMTI needs <mem>,<index>")),
        ("+CREG: 0,1", ("+CREG",), None),
        ("+CREG: 1", ("+CREG",), Registration(domain="CREG", stat=1)),
        ("+CGREG: 2,1", ("+CGREG",), None),
        ('+CEREG: 2,1,"1A2B","01A2B3C4",7', ("+CEREG",), None),
        (
            '+CEREG: 5,"1A2B","01A2B3C4",7',
            (),
            Registration(domain="CEREG", stat=5, area="1A2B", cell="01A2B3C4"),
        ),
        ("+CLIP: 1,1", ("+CLIP",), None),
        ('+CLIP: "+15551234",145,,,,0', (), CallerId(number="+15551234", toa=145)),
        ("+CPIN: READY", ("+CPIN",), None),
        ("+CPIN: READY", (), SimState(state="READY")),
        ("+CMT: ,24", (), PduHeader(tag="+CMT", length=24, line="+CMT: ,24")),
        ('+CMT: "alpha",24', (), PduHeader(tag="+CMT", length=24, line='+CMT: "alpha",24')),
        ("^MODE:5,4", (), VendorNotice(kind=NoticeKind.MODE, tag="^MODE", line="^MODE:5,4")),
        ("^SRVST:2", (), VendorNotice(kind=NoticeKind.SERVICE, tag="^SRVST", line="^SRVST:2")),
        ("+CSQ: 20,99", (), None),
        ("hello", (), None),
    ],
)
def test_classify(line: str, expected: tuple[str, ...], result: object) -> None:
    """Lines classify as URCs only when they are not the pending command's reply form."""
    assert classify(line, expected) == result


def test_fields_respect_quotes() -> None:
    """Commas inside quotes do not split fields."""
    assert fields('+COPS: 0,0,"Fake, Operator",7') == ["0", "0", '"Fake, Operator"', "7"]


@given(st.text(max_size=60), st.sampled_from([(), ("+CREG",), ("+CLIP",), ("+CPIN",)]))
def test_classify_and_parse_never_raise(line: str, expected: tuple[str, ...]) -> None:
    """Any text classifies to an event, a header or None, and parses to a final or None."""
    result = classify(line, expected)
    assert result is None or isinstance(result, (Event, PduHeader))
    parse_final(line)
