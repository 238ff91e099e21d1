"""Modem dialects as data: which vendor family a modem belongs to and its named quirks.

The daemon speaks TS 27.007/27.005 and reads the standard's real variants tolerantly
everywhere (:mod:`gateway.modem.storage`, :mod:`gateway.at.lines`). What cannot be
tolerated for every modem alike is a *quirk*, named here and switched on per dialect:
the initialiser asks :meth:`Dialect.has` and never tests a vendor's name. The dialect
comes from ``[[modem]] profile`` or, with ``"auto"``, from the manufacturer the modem
gives for ``AT+CGMI`` (read before the SIM for that reason).

Seeds: the replies of real devices recorded by the python-gsmmodem project (its
``test/fakemodems.py``; replayed by the simulator's recorded profiles) and the field notes.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from gateway.errors import UsageError


class Quirk(Enum):
    """A departure from TS 27.007/27.005 the daemon works around when the dialect has it."""

    #: ``AT+CPIN?`` is answered by ``+CPIN: <code>`` with no final ``OK`` (Wavecom; the
    #: python-gsmmodem recordings note it for the whole family). The information line is
    #: complete on its own (TS 27.007 §8.3 gives exactly one), so it is taken as the answer.
    CPIN_WITHOUT_OK = "cpin-without-ok"


@dataclass(frozen=True, slots=True, kw_only=True)
class Dialect:
    """One vendor family: how to recognise it and the quirks it needs."""

    name: str
    #: lower-case substrings of the ``AT+CGMI`` answer that identify the family
    manufacturers: tuple[str, ...] = ()
    quirks: frozenset[Quirk] = frozenset()
    note: str = ""

    def __post_init__(self) -> None:
        if not self.name or self.name == AUTO:
            raise UsageError(f"a dialect needs a name other than {AUTO!r}")
        if any(m != m.lower() or not m for m in self.manufacturers):
            raise UsageError("dialect manufacturer keys are non-empty lower-case substrings")

    def has(self, quirk: Quirk) -> bool:
        """Return True when this dialect needs the workaround for ``quirk``."""
        return quirk in self.quirks


AUTO = "auto"
GENERIC = Dialect(name="generic", note="TS 27.007/27.005 as written")

#: name -> dialect. ``sim800``, ``e3372`` and ``ec25`` keep the names the ``profile`` key
#: accepted before dialects existed (they match the simulator's profiles of those modems).
DIALECTS: dict[str, Dialect] = {
    d.name: d
    for d in (
        GENERIC,
        Dialect(name="sim800", manufacturers=("simcom",), note="SIMCom SIM800 family"),
        Dialect(name="e3372", note="Huawei E3372 (same handling as huawei)"),
        Dialect(name="huawei", manufacturers=("huawei",), note="Huawei K3715, E1752, E3372..."),
        Dialect(name="ec25", manufacturers=("quectel",), note="Quectel EC25/EG25"),
        Dialect(
            name="wavecom",
            manufacturers=("wavecom",),
            quirks=frozenset({Quirk.CPIN_WITHOUT_OK}),
            note="Wavecom Multiband 900E/1800: +CPIN: without OK",
        ),
        Dialect(name="zte", manufacturers=("zte",), note="ZTE K3565-Z: +ZDONR/+ZPASR noise"),
        Dialect(name="qualcomm", manufacturers=("qualcomm",), note="Qualcomm M6280"),
        Dialect(name="nokia", manufacturers=("nokia",), note="Nokia phones (N79): send only"),
    )
}

#: every value the ``[[modem]] profile`` key accepts
PROFILE_NAMES: tuple[str, ...] = (AUTO, *DIALECTS)


def by_name(name: str) -> Dialect:
    """Return the dialect called ``name``. Raises UsageError for an unknown one (or auto)."""
    try:
        return DIALECTS[name]
    except KeyError:
        raise UsageError(f"unknown dialect {name!r}; one of {', '.join(DIALECTS)}") from None


def detect(manufacturer: str) -> Dialect:
    """Return the dialect whose manufacturer key occurs in ``manufacturer``, else generic."""
    text = manufacturer.lower()
    for dialect in DIALECTS.values():
        if any(key in text for key in dialect.manufacturers):
            return dialect
    return GENERIC
