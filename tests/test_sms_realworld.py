"""Our PDU codec against 399 vectors from real modems and other SMS projects.

The vectors (tests/data/real-world-pdus.json, with their sources) were recorded by
gammu, python-gsmmodem, oFono and warthog618/sms, not by us; where an upstream
expectation contradicts TS 23.040/23.038 the file holds the standard's value and says
why. The comparison lives in bench/codec_vectors.py, which also scores python-gsmmodem.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from bench.codec_vectors import AGREE, POLICY, load, ours
from gateway.sms import decode_incoming, decode_submit
from gateway.sms.octets import PduError

VECTORS = load()
DECODE = [v for v in VECTORS if v["op"] == "decode"]


def _is_hex(text: str) -> bool:
    try:
        bytes.fromhex(text)
    except ValueError:
        return False
    return True


#: Decode vectors whose PDU is hexadecimal (a few gammu failure dumps are not, on purpose).
HEX_DECODE = [v for v in DECODE if _is_hex(v["pdu"])]


def test_the_vector_set_is_whole() -> None:
    """The copy holds every vector of the shared set, each kind of check represented."""
    assert len(VECTORS) == 399
    assert len(DECODE) == 309
    assert {v["op"] for v in VECTORS} >= {"decode", "encode_submit", "encode_parts"}
    assert set(POLICY) <= {v["id"] for v in VECTORS}
    assert len(HEX_DECODE) > 290


@pytest.mark.parametrize("vector", VECTORS, ids=[v["id"] for v in VECTORS])
def test_codec_agrees_with_the_vector(vector: dict[str, Any]) -> None:
    """Each vector decodes or encodes to the standard's value, or is refused with PduError."""
    assert ours(vector) == AGREE


def _decoder(vector: dict[str, Any]) -> Any:
    if vector["expect"].get("type") == "submit":
        return decode_submit
    return decode_incoming


@pytest.mark.parametrize("vector", HEX_DECODE, ids=[v["id"] for v in HEX_DECODE])
def test_every_truncation_and_bit_flip_gives_a_value_or_pdu_error(vector: dict[str, Any]) -> None:
    """A real PDU cut short anywhere or with one octet inverted gives a value or PduError."""
    decode = _decoder(vector)
    octets = bytes.fromhex(vector["pdu"])
    variants = [octets[:n] for n in range(1, len(octets))]
    variants += [
        octets[:i] + bytes([octets[i] ^ 0xFF]) + octets[i + 1 :] for i in range(len(octets))
    ]
    for variant in variants:
        try:
            decode(variant.hex(), has_smsc=vector["has_smsc"])
        except PduError:
            continue


def test_the_daemon_never_imports_python_gsmmodem() -> None:
    """Every gateway module imports without python-gsmmodem: it is a test-only reference."""
    script = (
        "import importlib, pkgutil, sys, gateway\n"
        "for m in pkgutil.walk_packages(gateway.__path__, 'gateway.'):\n"
        "    importlib.import_module(m.name)\n"
        "print(sorted(n for n in sys.modules if n.split('.')[0] == 'gsmmodem'))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert run.stdout.strip() == "[]"
