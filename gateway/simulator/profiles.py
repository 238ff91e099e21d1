"""Vendor dialects as data (house style §5): identity strings and quirks per profile.

Seeds: the recorded dialects in python-gsmmodem's test suite, the vendors' AT manuals
and the field notes. Every behaviour that differs between vendors is a field here; the
model reads the fields and never tests the profile name.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True, kw_only=True)
class Profile:
    """The data that makes one vendor's modem answer differently from another's."""

    name: str
    manufacturer: str
    model: str
    revision: str
    imei: str = "867856030000001"
    imsi: str = "310260000000001"
    #: the SIM's ICCID (EF_ICCID, TS 51.011 §10.1.1); ModemConfig.iccid overrides it
    iccid: str = "8901260000000000011"
    #: AT+CCID answers a bare number (SIM800) instead of ``+CCID: <iccid>``
    ccid_bare: bool = False
    #: first storage index (TS 27.005 leaves the numbering to the ME)
    first_index: int = 1
    #: memories offered per CPMS slot: (read/delete, write/send, receive)
    cpms_memories: tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]] = (
        ("SM", "ME", "SR"),
        ("SM", "ME"),
        ("SM", "ME"),
    )
    #: Huawei E3372-325 rejects AT+CPMS with fewer than three memories
    cpms_min_args: int = 1
    #: power-on values of AT+CNMI (mode, mt, bm, ds, bfr)
    default_cnmi: tuple[int, int, int, int, int] = (0, 0, 0, 0, 0)
    #: URC lines written once the SIM is ready after power-on
    boot_urcs: tuple[str, ...] = ()
    #: memory named in +CDSI for a stored status report (EC25 stores in SR, says "SM")
    report_announce_memory: str = "SR"
    #: SIM800 routes status reports as +CDS even when asked to store them (ds=2)
    reports_always_routed: bool = False
    #: unsolicited noise written after every ``noise_every``-th command (0 = none);
    #: deterministic instead of timed so tests can predict it; AT^CURC=0 silences it
    noise_every: int = 0
    noise_lines: tuple[str, ...] = ()
    #: commands this vendor answers with fixed info lines (name -> lines), e.g. AT^CURC?
    extra_commands: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: optional or vendor-specific commands this profile implements (e.g. Huawei AT^CURC,
    #: AT+CCID, TS 27.007 §8.65 AT+CPINR); a modem without them answers ERROR
    vendor_commands: frozenset[str] = frozenset({"+CCID", "+CPINR"})
    battery: str = "+CBC: 0,95"


PROFILES: dict[str, Profile] = {
    "generic": Profile(
        name="generic",
        manufacturer="OTPGW",
        model="SIMULATED-3GPP",
        revision="1.0.0",
    ),
    "sim800": Profile(
        name="sim800",
        manufacturer="SIMCOM_Ltd",
        model="SIMCOM_SIM800L",
        revision="Revision:1418B04SIM800L24",
        imei="867856030000002",
        cpms_memories=(("SM", "ME"), ("SM", "ME"), ("SM", "ME")),
        default_cnmi=(2, 1, 0, 0, 0),
        boot_urcs=("RDY", "+CFUN: 1", "+CPIN: READY", "Call Ready", "SMS Ready"),
        reports_always_routed=True,
        ccid_bare=True,
        vendor_commands=frozenset({"+CCID", "+SPIC"}),  # no AT+CPINR on the SIM800
        battery="+CBC: 0,95,4100",
    ),
    "e3372": Profile(
        name="e3372",
        manufacturer="huawei",
        model="E3372",
        revision="22.315.01.00.00",
        imei="867856030000003",
        first_index=0,
        cpms_memories=(("SM", "ME"), ("SM", "ME"), ("SM", "ME")),
        cpms_min_args=3,
        boot_urcs=("^BOOT:20952380,0,0,0,72", "^SYSSTART"),
        noise_every=3,
        noise_lines=("^RSSI:20", "^BOOT:20952380,0,0,0,72", "^RSSI:19", "^MODE:5,4"),
        # gammu's Huawei init sends AT^PORTSEL=1 (URCs to the PCUI port) and gives up on
        # ERROR; the E3372 accepts it
        extra_commands={"^PORTSEL": (), "^HWVER": ('^HWVER:"CL2E3372HM Ver.A"',)},
        # no AT+CCID: the ICCID is read with AT+CRSM (EF_ICCID)
        vendor_commands=frozenset({"^CURC", "+CPINR"}),
    ),
    "ec25": Profile(
        name="ec25",
        manufacturer="Quectel",
        model="EC25",
        revision="EC25EFAR06A06M4G",
        imei="867856030000004",
        first_index=0,
        cpms_memories=(("SM", "ME", "SR"), ("SM", "ME", "SR"), ("SM", "ME")),
        default_cnmi=(2, 1, 0, 0, 0),
        boot_urcs=("RDY", "+CFUN: 1", "+CPIN: READY", "+QUSIM: 1", "+QIND: SMS DONE"),
        report_announce_memory="SM",
        extra_commands={"+QGMR": ("EC25EFAR06A06M4G_01.001.01.001",)},
        vendor_commands=frozenset({"+CCID", "+ICCID", "+CPINR"}),
        battery="+CBC: 0,95,4100",
    ),
}


def get_profile(name: str) -> Profile:
    """Return the profile called ``name``; raise KeyError for an unknown one."""
    return PROFILES[name]
