"""Tests for the SIM identity and PIN counter parsers (real reply lines, then random input)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.modem.simid import (
    parse_cpinr,
    parse_crsm_iccid,
    parse_huawei_cpin,
    parse_iccid,
    parse_qpinc,
    parse_spic,
)
from gateway.simulator.commands_sim import iccid_bcd

PARSERS = [parse_iccid, parse_crsm_iccid, parse_cpinr, parse_spic, parse_qpinc, parse_huawei_cpin]


@pytest.mark.parametrize(
    ("lines", "iccid"),
    [
        (("+CCID: 89014103211118510720",), "89014103211118510720"),  # Quectel
        (("89014103211118510720",), "89014103211118510720"),  # SIM800: bare
        (('+ICCID: "8944500102198304826F"',), "8944500102198304826"),  # padded, quoted
        (("^ICCID: 8986001234567890123",), "8986001234567890123"),
        (("+CCID: 12345",), None),
        (("ERROR",), None),
        ((), None),
    ],
)
def test_parse_iccid(lines: tuple[str, ...], iccid: str | None) -> None:
    """AT+CCID/+ICCID answers, tagged or bare, give the 89... number; junk gives None."""
    assert parse_iccid(lines) == iccid


def test_parse_crsm_iccid_swaps_bcd_nibbles() -> None:
    """EF_ICCID read with AT+CRSM (SW 9000) is BCD with swapped nibbles and F padding."""
    assert parse_crsm_iccid(('+CRSM: 144,0,"98101430121181157002"',)) == "89014103211118510720"
    assert parse_crsm_iccid((f'+CRSM: 144,0,"{iccid_bcd("8901260000000000011")}"',)) == (
        "8901260000000000011"
    )
    assert parse_crsm_iccid(("+CRSM: 106,130",)) is None  # file not found
    assert parse_crsm_iccid(('+CRSM: 144,0,"9810143"',)) is None


@pytest.mark.parametrize(
    ("parser", "lines", "left"),
    [
        (parse_cpinr, ("+CPINR: SIM PIN,2,3",), 2),
        (parse_cpinr, ('+CPINR: "SIM PIN",1,3', "+CPINR: SIM PUK,10,10"), 1),
        (parse_cpinr, ("+CPINR: SIM PUK,10,10",), None),
        (parse_spic, ("+SPIC: 3,10,3,10",), 3),
        (parse_qpinc, ('+QPINC: "SC",1,10',), 1),
        (parse_qpinc, ('+QPINC: "P2",3,10',), None),
        (parse_huawei_cpin, ("^CPIN: SIM PIN,3,10,3,10,3",), 3),
        (parse_cpinr, ("+CPINR: SIM PIN,x,3",), None),
    ],
)
def test_pin_counters(parser: object, lines: tuple[str, ...], left: int | None) -> None:
    """TS 27.007 AT+CPINR and the SIMCom, Quectel and Huawei counters give PIN1 attempts."""
    assert callable(parser)
    assert parser(lines) == left


@given(st.lists(st.text(max_size=40), max_size=4).map(tuple))
def test_parsers_never_raise(lines: tuple[str, ...]) -> None:
    """Any reply lines give a value or None from every parser."""
    for parser in PARSERS:
        value = parser(lines)
        assert value is None or isinstance(value, str | int)
