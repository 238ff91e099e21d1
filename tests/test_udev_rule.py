"""systemd/70-otp-gateway.rules run by the real udevadm against USB modem ports in a fake sysfs.

`udevadm test` evaluates the rules for a device as udevd would. The device trees are
umockdev descriptions (USB device → interface → usb-serial → tty) written from each
stick's identifiers and port layout (vendor/product IDs, which interface is the AT
port: the vendors' USB interface tables, as quoted in the rule file's comments); the
standard rules (60-serial's usb_id import) derive ID_USB_INTERFACE_NUM from them as on a
real machine. Each run happens in its own user and mount namespace, with our rule file
bound over /etc/udev/rules.d and a private /dev and /run/udev, so nothing on the host
changes.
"""

from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path

import pytest

RULES = Path(__file__).resolve().parents[1] / "systemd" / "70-otp-gateway.rules"

#: What `udevadm test` needs around it: our rules only, a private /dev (with a pty
#: multiplexer, which umockdev needs to emulate a tty) and a private udev database.
SANDBOX = textwrap.dedent(
    """\
    set -e
    rules=$1 device=$2 action=$3 root=$4
    mount --bind "$rules" /etc/udev/rules.d
    mount -t tmpfs tmpfs /run/udev
    mkdir -p "$root/dev/pts"
    touch "$root/dev/null"
    mount --bind /dev/null "$root/dev/null"
    mount -t devpts -o newinstance,ptmxmode=0666 devpts "$root/dev/pts"
    ln -sf pts/ptmx "$root/dev/ptmx"
    mount --rbind "$root/dev" /dev
    exec umockdev-run -d "$device" -- udevadm test --action="$action" /sys/class/tty/ttyUSB0
    """
)


UNSHARE = ("unshare", "--map-root-user", "--mount", "--propagation", "private")


def umockdev(vendor: str, product: str, interface: str, name: str) -> str:
    """Return the umockdev description of ttyUSB0 on interface ``interface`` of a USB stick."""
    usb = "/devices/pci0000:00/0000:00:14.0/usb1/1-2"
    port = f"{usb}/1-2:1.{int(interface)}"
    return textwrap.dedent(
        f"""\
        P: {usb}
        N: bus/usb/001/005
        E: DEVNAME=/dev/bus/usb/001/005
        E: DEVTYPE=usb_device
        E: DRIVER=usb
        E: PRODUCT={vendor}/{product}/100
        E: SUBSYSTEM=usb
        A: idVendor={vendor}
        A: idProduct={product}
        A: bcdDevice=0100
        A: manufacturer={name}
        A: product={name}
        A: serial=0123456789ABCDEF
        A: bDeviceClass=00

        P: {port}
        E: DEVTYPE=usb_interface
        E: DRIVER=option
        E: INTERFACE=255/255/255
        E: SUBSYSTEM=usb
        A: bInterfaceNumber={interface}
        A: bInterfaceClass=ff
        A: bInterfaceSubClass=ff
        A: bInterfaceProtocol=ff

        P: {port}/ttyUSB0
        E: DRIVER=option1
        E: SUBSYSTEM=usb-serial

        P: {port}/ttyUSB0/tty/ttyUSB0
        N: ttyUSB0
        E: DEVNAME=/dev/ttyUSB0
        E: MAJOR=188
        E: MINOR=0
        E: SUBSYSTEM=tty
        """
    )


def udev_properties(
    tmp_path: Path, device: str, action: str, *, enable: str = ""
) -> dict[str, str]:
    """Return the properties `udevadm test --action=ACTION` gives ttyUSB0 under our rule file.

    ``enable``: a vendor ID whose commented-out example rule is enabled in the copy tested.
    """
    rules = tmp_path / "rules"
    rules.mkdir(exist_ok=True)
    text = RULES.read_text(encoding="utf-8")
    if enable:
        lines = text.splitlines()
        marker = f'#ACTION=="add|change", SUBSYSTEM=="tty", ATTRS{{idVendor}}=="{enable}"'
        assert any(line.startswith(marker) for line in lines), marker
        text = "\n".join(line[1:] if line.startswith(marker) else line for line in lines)
    (rules / RULES.name).write_text(text, encoding="utf-8")
    description = tmp_path / "device.umockdev"
    description.write_text(device, encoding="utf-8")
    root = tmp_path / f"root-{action}"
    root.mkdir()
    run = subprocess.run(
        [*UNSHARE, "sh", "-c", SANDBOX, "sandbox", str(rules), str(description), action, str(root)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env={**os.environ, "SYSTEMD_LOG_LEVEL": "debug"},
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert f"Reading rules file: /etc/udev/rules.d/{RULES.name}" in run.stderr + run.stdout
    properties = {}
    for line in run.stdout.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.isupper():
            properties[key] = value
    return properties


def links(properties: dict[str, str]) -> set[str]:
    """Return the /dev links udev would create for the device."""
    return set(properties.get("DEVLINKS", "").split())


@pytest.mark.parametrize("action", ["add", "change"])
def test_e3372_modem_port_gets_the_stable_link_on_add_and_change(
    tmp_path: Path, action: str
) -> None:
    """Interface 00 of a Huawei E3372 (12d1:1506) gets /dev/gsm-modem0 on add and on change."""
    props = udev_properties(tmp_path, umockdev("12d1", "1506", "00", "HUAWEI_MOBILE"), action)
    assert props["ID_USB_INTERFACE_NUM"] == "00"
    assert "/dev/gsm-modem0" in links(props)
    assert props["ID_MM_DEVICE_IGNORE"] == "1"


@pytest.mark.parametrize("action", ["add", "change"])
def test_other_e3372_ports_are_hidden_from_modemmanager_without_the_link(
    tmp_path: Path, action: str
) -> None:
    """Interface 02 of the same stick is kept from ModemManager but is not the AT port."""
    props = udev_properties(tmp_path, umockdev("12d1", "1506", "02", "HUAWEI_MOBILE"), action)
    assert "/dev/gsm-modem0" not in links(props)
    assert props["ID_MM_DEVICE_IGNORE"] == "1"


@pytest.mark.parametrize(
    ("vendor", "product", "name"),
    [("1e0e", "9001", "SimTech__Incorporated"), ("2c7c", "0125", "Quectel")],
)
@pytest.mark.parametrize("action", ["add", "change"])
def test_commented_examples_work_once_enabled(
    tmp_path: Path, vendor: str, product: str, name: str, action: str
) -> None:
    """The SIM7600 and EC25 examples, uncommented, link interface 02 on add and change."""
    at_port = udev_properties(
        tmp_path, umockdev(vendor, product, "02", name), action, enable=vendor
    )
    assert "/dev/gsm-modem0" in links(at_port)
    assert at_port["ID_MM_DEVICE_IGNORE"] == "1"


def test_an_unknown_usb_serial_device_is_left_alone(tmp_path: Path) -> None:
    """A tty of another vendor gets neither the link nor the ModemManager opt-out."""
    props = udev_properties(tmp_path, umockdev("0403", "6001", "00", "FTDI"), "add")
    assert "/dev/gsm-modem0" not in links(props)
    assert "ID_MM_DEVICE_IGNORE" not in props
