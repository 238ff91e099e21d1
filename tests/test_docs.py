"""Tests that the docs match the code: config keys and defaults, CLI options, links."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from gateway.cli import COMMANDS, main
from gateway.cli.exits import EXIT, TABLE
from gateway.config import (
    AccessRule,
    Config,
    ConfigError,
    JournalSettings,
    LogSettings,
    ModemSettings,
    RateLimitSettings,
    ReceiveSettings,
    RelaySettings,
    SendSettings,
    parse,
)

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
CONFIGURATION = DOCS / "configuration.md"
CLI = DOCS / "cli.md"
MARKDOWN = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]

#: TOML table heading (as in docs/configuration.md) -> the dataclass its keys fill.
SECTIONS: dict[str, type] = {
    "[[modem]]": ModemSettings,
    "[receive]": ReceiveSettings,
    "[send]": SendSettings,
    "[ratelimit]": RateLimitSettings,
    "[relay]": RelaySettings,
    "[[relay.access]]": AccessRule,
    "[journal]": JournalSettings,
    "[log]": LogSettings,
}
#: the smallest valid content of each table, to set one documented default into
BASE: dict[str, dict[str, object]] = {
    "[[modem]]": {"name": "modem0", "device": "/dev/ttyUSB0"},
    "[[relay.access]]": {
        "users": ["shop"],
        "groups": ["otp"],
        "operations": ["get"],
        "origins": ["shop.example"],
    },
}
_LITERAL = re.compile(r"^`([^`]+)`$")
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
_FENCE = re.compile(r"^```.*?^```", re.M | re.S)


def sections(path: Path) -> Iterator[tuple[int, str, list[str]]]:
    """Yield (heading level, heading text without backticks, body lines) of a markdown file."""
    text = _FENCE.sub("", path.read_text(encoding="utf-8"))
    level, title = 0, ""
    body: list[str] = []
    for line in text.splitlines():
        heading = re.match(r"^(#+)\s+(.*)$", line)
        if heading:
            yield level, title, body
            level, title, body = len(heading.group(1)), heading.group(2).replace("`", ""), []
        else:
            body.append(line)
    yield level, title, body


def table_rows(lines: list[str]) -> list[list[str]]:
    """Return the data rows of the markdown tables in ``lines`` (cells stripped)."""
    rows = [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in lines
        if line.startswith("|")
    ]
    return [row for row in rows if row[0] not in ("key", "") and not set(row[0]) <= set("-:")]


def documented_keys() -> dict[str, list[list[str]]]:
    """Return each configuration table heading with its rows (key, type, default, meaning)."""
    return {
        title: table_rows(body)
        for _, title, body in sections(CONFIGURATION)
        if title.startswith("[")
    }


def document(section: str, table: dict[str, object]) -> dict[str, object]:
    """Return a configuration with ``table`` as the content of ``section``."""
    data: dict[str, object] = {"modem": [BASE["[[modem]]"]]}
    if section == "[[modem]]":
        data["modem"] = [table]
    elif section == "[[relay.access]]":
        data["relay"] = {"access": [table]}
    else:
        data[section.strip("[]")] = table
    return data


def field_value(config: Config, section: str, key: str) -> object:
    """Return the value of ``key`` in ``section`` of a parsed configuration."""
    if section == "[[modem]]":
        return getattr(config.modem[0], key)
    if section == "[[relay.access]]":
        return getattr(config.relay.access[0], key)
    return getattr(getattr(config, section.strip("[]")), key)


def test_configuration_documents_every_key() -> None:
    """Every key of every settings dataclass is in docs/configuration.md, and nothing else."""
    documented = documented_keys()
    assert set(documented) == set(SECTIONS)
    for section, cls in SECTIONS.items():
        keys = [row[0].strip("`") for row in documented[section]]
        assert sorted(keys) == sorted(f.name for f in dataclasses.fields(cls)), section
        assert all(len(row) == 4 and all(row) for row in documented[section]), section
    tables = {f.name for f in dataclasses.fields(Config)}
    assert tables == {s.strip("[]").split(".")[0] for s in SECTIONS}


def test_configuration_defaults_are_the_schemas() -> None:
    """A default written as a TOML value is what the daemon uses; required/unset are true."""
    checked = 0
    for section, rows in documented_keys().items():
        for cell, _type, default, _meaning in rows:
            key = cell.strip("`")
            base = {k: v for k, v in BASE.get(section, {}).items() if k != key}
            literal = _LITERAL.match(default)
            if literal is not None:
                value = tomllib.loads(f"v = {literal.group(1)}")["v"]
                with_default = parse(document(section, {**base, key: value}))
                assert with_default == parse(document(section, base)), f"{section} {key}"
                checked += 1
            elif default == "required":
                with pytest.raises(ConfigError):
                    parse(document(section, base))
            else:
                assert default == "unset", f"{section} {key}: {default}"
                assert field_value(parse(document(section, base)), section, key) is None
    assert checked >= 40


def commands() -> Iterator[tuple[str, click.Command]]:
    """Yield ("otp-gateway NAME [SUB]", command) for every registered command."""
    ctx = click.Context(main)
    for name in COMMANDS:
        command = main.get_command(ctx, name)
        assert command is not None, name
        yield f"otp-gateway {name}", command
        if isinstance(command, click.Group):
            sub_ctx = click.Context(command, parent=ctx)
            for sub in command.list_commands(sub_ctx):
                subcommand = command.get_command(sub_ctx, sub)
                assert subcommand is not None, sub
                yield f"otp-gateway {name} {sub}", subcommand


def test_cli_documents_every_command_and_option() -> None:
    """Each command has a section in docs/cli.md naming all its options and arguments."""
    documented = {title: (level, "\n".join(body)) for level, title, body in sections(CLI)}
    real = dict(commands())
    titles = {t for t in documented if t.startswith("otp-gateway")}
    assert titles == set(real), titles ^ set(real)
    for title, command in real.items():
        level, body = documented[title]
        for param in command.params:
            if isinstance(param, click.Option):
                for opt in param.opts:
                    assert re.search(rf"`{re.escape(opt)}[ `=\[]", body), f"{title} {opt}"
            else:
                assert param.human_readable_name in body, f"{title} {param.name}"
        if level == 2:
            assert "Exit status" in body, title


def slug(heading: str) -> str:
    """Return the anchor a markdown renderer (GitHub's rules) gives ``heading``."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Return the heading anchors of a markdown file."""
    text = _FENCE.sub("", path.read_text(encoding="utf-8"))
    return {slug(m.group(1)) for m in re.finditer(r"^#+\s+(.*)$", text, re.M)}


@pytest.mark.parametrize("path", MARKDOWN, ids=lambda p: p.name)
def test_relative_links_resolve(path: Path) -> None:
    """Every relative link in README.md and docs/*.md names an existing file (and heading)."""
    text = _FENCE.sub("", path.read_text(encoding="utf-8"))
    links = [t for t in _LINK.findall(text) if "://" not in t and not t.startswith("mailto:")]
    for link in links:
        target, _, anchor = link.partition("#")
        resolved = (path.parent / target).resolve() if target else path
        assert resolved.exists(), f"{path.name}: {link}"
        if anchor and resolved.suffix == ".md":
            assert anchor in anchors(resolved), f"{path.name}: {link}"


def test_readme_links_every_doc() -> None:
    """README.md links every page in docs/, so none is orphaned."""
    linked = set(_LINK.findall((ROOT / "README.md").read_text(encoding="utf-8")))
    for page in sorted(DOCS.glob("*.md")):
        assert f"docs/{page.name}" in linked, page.name


def test_cli_exit_status_table_is_the_codes() -> None:
    """docs/cli.md's exit status table is gateway.cli.exits.TABLE, row for row."""
    [body] = [body for _, title, body in sections(CLI) if title == "Exit status"]
    documented = [row for row in table_rows(body) if row[0] != "status"]
    expected = [
        [
            str(row.status),
            "all" if row.commands == ("all",) else ", ".join(f"`{c}`" for c in row.commands),
            row.meaning,
        ]
        for row in TABLE
    ]
    assert documented == expected


def test_cli_exits_only_through_the_table() -> None:
    """No CLI module exits with a bare number: every status comes from gateway.cli.exits."""
    bare = re.compile(r"(sys\.exit|SystemExit|ctx\.exit)\(\s*\d")
    for module in sorted((ROOT / "gateway" / "cli").glob("*.py")):
        assert not bare.search(module.read_text(encoding="utf-8")), module.name
    assert {row.name for row in TABLE} == set(EXIT)
    assert len({(row.status, row.commands) for row in TABLE}) == len(TABLE)
