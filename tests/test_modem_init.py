"""Tests for the initialisation helpers and configuration (the sequence runs in session tests)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.errors import UsageError
from gateway.modem.init import (
    CNMI_CHOICES,
    VENDOR_TWEAKS,
    InitConfig,
    cpms_command,
    parse_operator,
    registration_stat,
)


@pytest.mark.parametrize(
    ("lines", "stat"),
    [
        (("+CREG: 0,1",), 1),
        (('+CREG: 2,5,"00C3","0000A1B2"',), 5),
        (("+CEREG: 0,2",), 2),
        (("+CREG: 1",), None),  # URC form, not a reply
        ((), None),
    ],
)
def test_registration_stat(lines: tuple[str, ...], stat: int | None) -> None:
    """<stat> is the second field of the AT+CREG?/AT+CEREG? reply."""
    assert registration_stat(lines) == stat


def test_cpms_command_keeps_slot_count() -> None:
    """AT+CPMS is written with as many memories as the modem offers slots."""
    assert cpms_command(("SM",)) == 'AT+CPMS="SM"'
    assert cpms_command(("SM", "ME", "ME")) == 'AT+CPMS="SM","ME","ME"'


@pytest.mark.parametrize("pin", ["12", "123456789", "12a4", ""])
def test_bad_pin_is_refused(pin: str) -> None:
    """A PIN must be 4 to 8 digits."""
    with pytest.raises(UsageError):
        InitConfig(pin=pin)


def test_tables_are_data() -> None:
    """CNMI prefers store-and-notify with stored reports; Huawei gets AT^CURC=0."""
    assert CNMI_CHOICES[0] == "2,1,0,2,0"
    assert VENDOR_TWEAKS["huawei"] == ("AT^CURC=0",)


@given(st.lists(st.text(max_size=30), max_size=5).map(tuple))
def test_registration_stat_never_raises(lines: tuple[str, ...]) -> None:
    """Any reply lines give a stat or None."""
    result = registration_stat(lines)
    assert result is None or result >= 0


@pytest.mark.parametrize(
    ("lines", "name"),
    [
        (('+COPS: 0,0,"Fake Operator",7',), "Fake Operator"),
        (('+COPS: 1,2,"310260"',), "310260"),
        (('+COPS: 0,0,"T-Mobile"',), "T-Mobile"),
        (("+COPS: 0",), None),  # not registered: mode only (TS 27.007 §7.3)
        (('+COPS: 0,0,""',), None),
        (("ERROR",), None),
        ((), None),
    ],
)
def test_parse_operator(lines: tuple[str, ...], name: str | None) -> None:
    """<oper> is the third field of the AT+COPS? reply, absent when not registered."""
    assert parse_operator(lines) == name


@given(st.lists(st.text(max_size=40), max_size=5).map(tuple))
def test_parse_operator_never_raises(lines: tuple[str, ...]) -> None:
    """Any reply lines give a printable name or None."""
    result = parse_operator(lines)
    assert result is None or (result.isprintable() and 0 < len(result) <= 64)


def test_storage_memories_are_validated() -> None:
    """Configured storage memories are two capital letters."""
    assert InitConfig(storage=("ME", "SM")).storage == ("ME", "SM")
    with pytest.raises(UsageError):
        InitConfig(storage=("me",))
