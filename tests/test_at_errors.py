"""Tests for typed +CME/+CMS errors, their names and transient/permanent classes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.at.errors import (
    CME_CODES,
    CMS_CODES,
    CmeError,
    CmsError,
    Retry,
    cme_code_from_text,
    cms_code_from_text,
)
from gateway.errors import ModemFault


@pytest.mark.parametrize(
    ("error", "name", "transient"),
    [
        (CmeError(14), "SIM busy", True),
        (CmeError(515), "device busy (vendor: initialisation or command in progress)", True),
        (CmeError(10), "SIM not inserted", False),
        (CmeError(16), "incorrect password", False),
        (CmsError(512), "manufacturer specific (send/receive collision)", True),
        (CmsError(500), "unknown error", True),
        (CmsError(331), "no network service", True),
        (CmsError(332), "network timeout", True),
        (CmsError(304), "invalid PDU mode parameter", False),
        (CmsError(321), "invalid memory index", False),
        (CmsError(330), "SMSC address unknown", False),
        (CmsError(9999), "unknown", False),
    ],
)
def test_names_and_classes(error: CmeError | CmsError, name: str, transient: bool) -> None:
    """Each code carries its spec name and retry class; unknown codes are permanent."""
    assert isinstance(error, ModemFault)
    assert error.name == name
    assert error.transient is transient


@pytest.mark.parametrize(
    ("text", "code"),
    [("SIM busy", 14), ("incorrect password", 16), ("SIM PIN required", 11), ("nonsense", None)],
)
def test_verbose_cme_texts_map_back(text: str, code: int | None) -> None:
    """CMEE=2 texts map back to their numeric codes."""
    assert cme_code_from_text(text) == code


def test_verbose_cms_texts_map_back() -> None:
    """CMS texts map back, case- and punctuation-insensitively."""
    assert cms_code_from_text("Invalid memory index") == 321
    assert cms_code_from_text("SMSC address unknown") == 330


def test_every_table_entry_is_classified() -> None:
    """Every code in both tables has a non-empty name and a Retry class."""
    for name, retry in [*CME_CODES.values(), *CMS_CODES.values()]:
        assert name
        assert isinstance(retry, Retry)


@given(st.text(max_size=40))
def test_text_lookup_never_raises(text: str) -> None:
    """Any verbose text maps to a known code or None."""
    assert cme_code_from_text(text) in {None, *CME_CODES}
    assert cms_code_from_text(text) in {None, *CMS_CODES}
