"""The declared dependency lower bounds exclude versions with published advisories."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"

#: package -> the first version without the advisory, and the advisory
FIXED = {
    "idna": ((3, 7), "CVE-2024-3651: quadratic-time encode on crafted input (DoS)"),
    "setuptools": ((78, 1, 1), "CVE-2025-47273 / GHSA-5rjg-fvgr-3xxf: path traversal"),
    # not an advisory: the number-type refusal (no premium-rate pumping) is only as good
    # as libphonenumber's range metadata, so old metadata is not accepted
    "phonenumbers": ((9, 0), "number-type metadata current enough for the pumping policy"),
}


def _lower_bounds() -> dict[str, tuple[int, ...]]:
    """Return the ``>=`` lower bound of each runtime and build requirement."""
    data = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))
    requirements = [*data["project"]["dependencies"], *data["build-system"]["requires"]]
    bounds = {}
    for requirement in requirements:
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)\s*>=\s*([0-9.]+)", requirement.strip())
        assert match is not None, f"{requirement!r}: give every dependency a >= lower bound"
        bounds[match.group(1).lower()] = tuple(int(p) for p in match.group(2).split("."))
    return bounds


@pytest.mark.parametrize("package", sorted(FIXED))
def test_lower_bound_excludes_the_advisory(package: str) -> None:
    """Each dependency with a known advisory requires at least the fixed release."""
    fixed, advisory = FIXED[package]
    assert _lower_bounds()[package] >= fixed, advisory
