"""The README's server install and the install guide say the same, and match the unit.

.ci/install-walk runs every line of docs/install.md on a fresh Debian 12 root; these
checks keep the README's short version to lines the walk has run, and the facts the
guide states about the unit true to the unit file.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
GUIDE = ROOT / "docs" / "install.md"
UNIT = ROOT / "systemd" / "otp-gateway.service"


def sh_commands(text: str) -> list[str]:
    """Return the commands of the ``sh`` blocks of ``text``: comments dropped, && split."""
    commands: list[str] = []
    for block in re.findall(r"^```sh\n(.*?)^```", text, re.M | re.S):
        for line in block.splitlines():
            command = re.split(r"(?:^|\s+)#", line)[0].strip()
            commands.extend(part.strip() for part in command.split(" && ") if part.strip())
    return commands


def server_section() -> str:
    """Return the README's "Installing on a server" section."""
    text = README.read_text(encoding="utf-8")
    return text.split("## Installing on a server", 1)[1].split("\n## ", 1)[0]


def test_readme_server_install_uses_only_lines_the_guide_walk_runs() -> None:
    """Every command of the README's server install is a command of docs/install.md."""
    readme = sh_commands(server_section())
    guide = set(sh_commands(GUIDE.read_text(encoding="utf-8")))
    assert readme, "the README's server section has no sh block"
    assert [c for c in readme if c not in guide] == []


def test_readme_server_install_starts_with_python3_venv() -> None:
    """Debian's python3 has no venv module without python3-venv: the README installs it first."""
    readme = sh_commands(server_section())
    assert readme[0] == "sudo apt install python3-venv"


def test_guide_creates_the_configuration_directory_in_the_units_mode() -> None:
    """The guide's mode for /etc/otp-gateway is the unit's ConfigurationDirectoryMode=."""
    unit = UNIT.read_text(encoding="utf-8")
    mode = re.search(r"^ConfigurationDirectoryMode=(\d+)$", unit, re.M)
    assert mode
    made = [c for c in sh_commands(GUIDE.read_text()) if c.endswith(" /etc/otp-gateway")]
    assert made == [f"sudo install -d -m {mode.group(1)} -o root -g otp-gateway /etc/otp-gateway"]


def test_guide_installs_what_the_units_documentation_names() -> None:
    """Each file the unit's Documentation= names is installed by a step of the guide."""
    unit = UNIT.read_text(encoding="utf-8")
    line = re.search(r"^Documentation=(.*)$", unit, re.M)
    assert line
    paths = [url[5:] for url in line.group(1).split() if url.startswith("file:")]
    assert paths
    step = "sudo install -D -m 0644 -t /usr/share/doc/otp-gateway README.md docs/*.md"
    assert step in sh_commands(GUIDE.read_text(encoding="utf-8"))
    for path in paths:
        name = Path(path).name
        assert path == f"/usr/share/doc/otp-gateway/{name}"
        assert (ROOT / name).is_file() or (ROOT / "docs" / name).is_file()
