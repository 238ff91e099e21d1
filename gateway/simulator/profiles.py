"""Vendor dialects as data (house style §5): identity strings and quirks per profile.

Seeds: the recorded dialects in python-gsmmodem's test suite, the vendors' AT manuals
and the field notes. Every behaviour that differs between vendors is a field here; the
model reads the fields and never tests the profile name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from gateway.simulator.recorded import replay_table


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
    #: recorded replies of a real device: command line (no CR) -> the exact bytes it sent
    #: (gateway.simulator.recorded); such a line is answered so, verbatim, and is not run
    recorded: Mapping[str, bytes] = field(default_factory=lambda: MappingProxyType({}))
    #: standard commands this device does not implement (answered with ``error_text``)
    unsupported: frozenset[str] = frozenset()
    #: the plain error result line. Huawei E1752: ``COMMAND NOT SUPPORT``, recorded for
    #: unsupported commands; the simulator gives it for every plain ERROR (what the E1752
    #: says for other failures is not recorded)
    error_text: str = "ERROR"
    #: command lines answered ``+CME ERROR: 14`` (SIM busy) the first ``busy_answers``
    #: times after each power-on (Qualcomm M6280: AT+CSCA?, python-gsmmodem issue 10)
    busy_commands: tuple[str, ...] = ()
    busy_answers: int = 0
    #: ``+CMGR: ,,<length>`` without <stat> (ZTE K3565-Z, seen in the wild)
    cmgr_without_stat: bool = False
    #: write the noise lines inside replies (before the final result), not after them
    noise_in_replies: bool = False


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


def _recorded(
    name: str, device: str, manufacturer: str, model: str, revision: str, **quirks: object
) -> Profile:
    """A profile answering ``device``'s recorded command lines verbatim.

    Everything the recording does not cover is unknown about the device: it is filled
    with this simulator's standard TS 27.005/27.007 behaviour (the generic profile's),
    changed only by the ``quirks`` given here, each from a source named beside it.
    """
    return Profile(
        name=name,
        manufacturer=manufacturer,
        model=model,
        revision=revision,
        imei="111111111111111",  # as recorded (AT+CGSN)
        imsi="111111111111111",  # as recorded (AT+CIMI)
        recorded=replay_table(device),
        **quirks,  # type: ignore[arg-type]
    )


#: the six devices of gateway/simulator/data/recorded-replies.json, by profile name
RECORDED: dict[str, Profile] = {
    "huawei-k3715": _recorded(
        "huawei-k3715",
        "HuaweiK3715",
        "huawei",
        "K3715",
        "11.104.05.00.00",
        # in its recorded AT+CLAC list: ^CURC yes; +CCID, +CPINR, +CEREG no (a 3G stick)
        vendor_commands=frozenset({"^CURC"}),
        unsupported=frozenset({"+CEREG"}),
    ),
    "huawei-e1752": _recorded(
        "huawei-e1752",
        "HuaweiE1752",
        "huawei",
        "E1752",
        "11.126.13.00.00",
        vendor_commands=frozenset({"^CURC"}),
        unsupported=frozenset({"+CEREG"}),
        error_text="COMMAND NOT SUPPORT",  # its recorded answer to unsupported commands
    ),
    "wavecom": _recorded(
        "wavecom",
        "WavecomMultiband900E1800",
        "WAVECOM MODEM",
        "MULTIBAND  900E  1800",
        "",  # AT+CGMR is answered ERROR (recorded)
        vendor_commands=frozenset(),
        unsupported=frozenset({"+CGMR", "+CEREG"}),
        cpms_memories=(("SM", "BM", "SR"), ("SM",), ("SM",)),
    ),
    "qualcomm-m6280": _recorded(
        "qualcomm-m6280",
        "QualcommM6280",
        "QUALCOMM INCORPORATED",
        "M6280",
        "M6280_V1.0.0 M6280_V1.0.0 1 [Sep 4 2008 12:00:00]",
        vendor_commands=frozenset(),
        busy_commands=("AT+CSCA?",),
        busy_answers=2,
    ),
    "zte-k3565z": _recorded(
        "zte-k3565z",
        "ZteK3565Z",
        "ZTE INCORPORATED",
        "K3565-Z",
        "BD_P673A2V1.0.0B09",
        vendor_commands=frozenset(),
        cmgr_without_stat=True,
        # its network/service URCs inside replies; the lines as a K3565-Z family stick
        # wrote them in a NetworkManager probe log (ModemManager ignores the same tags)
        noise_every=2,
        noise_in_replies=True,
        noise_lines=('+ZDONR: "Orange",234,33,"CS_PS","ROAM_OFF"', '+ZPASR: "UMTS"'),
    ),
    "nokia-n79": _recorded(
        "nokia-n79",
        "NokiaN79",
        "Nokia",
        "Nokia N79",
        "V ICPR72_08w44.1",
        vendor_commands=frozenset(),
        # a phone: no SMS reading over AT (recorded: AT+CPMS lists no memory, every
        # AT+CPMS and AT+CNMI setting is refused); sending works
        unsupported=frozenset({"+CMGL", "+CMGR", "+CMGD", "+CNMI", "+CPMS", "+CEREG"}),
    ),
}
PROFILES.update(RECORDED)


def get_profile(name: str) -> Profile:
    """Return the profile called ``name``; raise KeyError for an unknown one."""
    return PROFILES[name]
