"""Tests that imports run one way: down the floors of docs/architecture.md, never in a circle.

The package is a house: each top-level module or package of ``gateway`` (a *unit*) stands
on one floor, and a unit imports only units on lower floors (and its own modules). Inside
a unit, modules import each other without a circle. Every import counts, wherever it
stands: at module level, under ``if TYPE_CHECKING:`` (a type named is a dependency of the
design, and the circles issue 16 names exist only there) and inside functions (a lazy
import is a dependency at run time). Imports by name in a string
(``importlib.import_module``, the CLI's ``COMMANDS`` table) are not seen.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator, Mapping, Set
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "gateway"
ARCHITECTURE = ROOT / "docs" / "architecture.md"

#: The floors, ground first: a unit may import only the units of lower floors.
#: ``gateway`` is the package's own ``__init__`` (``__version__``).
FLOORS: tuple[frozenset[str], ...] = (
    frozenset({"gateway", "errors", "exits", "hardening", "inotify", "sdnotify"}),
    frozenset({"tracebacks", "log", "numbers", "ratelimit", "jobs", "sms", "at"}),
    frozenset({"webotp"}),
    frozenset({"simulator", "modem", "relay", "config"}),
    frozenset({"journal", "client"}),
    frozenset({"pipeline"}),
    frozenset({"daemon"}),
    frozenset({"cli", "testing"}),
    frozenset({"__main__"}),
)


def module_name(path: Path) -> str:
    """Return the dotted name of a source file under ``gateway/``."""
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES: dict[str, Path] = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def unit_of(module: str) -> str:
    """Return the unit (floor tenant) a module belongs to: its first name under gateway."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "gateway"


def _import_nodes(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Yield every import statement of a module, at any depth."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node


def imported_modules(module: str, source: str, *, is_package: bool = False) -> set[str]:
    """Return the gateway modules that ``source``, the text of ``module``, imports.

    ``from pkg import sub`` counts as importing ``pkg.sub`` where that is a module, and
    ``pkg`` otherwise; an import of a name inside a module counts as that module.
    """
    found: set[str] = set()
    package = module.split(".") if is_package else module.split(".")[:-1]
    for node in _import_nodes(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:
                parent = package[: len(package) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            names = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
                for alias in node.names
            ]
        for name in names:
            target = name
            while target not in MODULES and "." in target:
                target = target.rsplit(".", 1)[0]
            if target in MODULES and target != module:
                found.add(target)
    return found


GRAPH: dict[str, set[str]] = {
    m: imported_modules(m, p.read_text(encoding="utf-8"), is_package=p.name == "__init__.py")
    for m, p in MODULES.items()
}


def floor_of(unit: str) -> int:
    """Return the floor number of a unit (1 is the ground floor)."""
    for number, units in enumerate(FLOORS, start=1):
        if unit in units:
            return number
    raise KeyError(unit)


def circles(graph: Mapping[str, Set[str]]) -> list[frozenset[str]]:
    """Return the strongly connected sets of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            for target in edges:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph.get(target, ())))))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(frozenset(component))
    return found


def inner_circles() -> list[frozenset[str]]:
    """Return the import circles among the modules of each unit."""
    inner = {m: {t for t in targets if unit_of(t) == unit_of(m)} for m, targets in GRAPH.items()}
    return circles(inner)


def test_every_unit_has_a_floor() -> None:
    """Each top-level module and package of gateway stands on exactly one floor."""
    units = {unit_of(m) for m in MODULES}
    placed = [unit for floor in FLOORS for unit in floor]
    assert len(placed) == len(set(placed)), "a unit is on two floors"
    assert units - set(placed) == set(), "new units: add them to FLOORS and docs/architecture.md"
    assert set(placed) - units == set(), "FLOORS names units that no longer exist"


def test_imports_run_down_the_floors() -> None:
    """No module imports a unit on its own floor or a floor above (its own unit aside)."""
    back_edges = sorted(
        f"{source} (floor {floor_of(unit_of(source))}) imports {target} "
        f"(floor {floor_of(unit_of(target))})"
        for source, targets in GRAPH.items()
        for target in targets
        if unit_of(source) != unit_of(target)
        and floor_of(unit_of(target)) >= floor_of(unit_of(source))
    )
    assert back_edges == []


def test_no_import_circle_inside_a_unit() -> None:
    """No module of a unit imports, through others of that unit, the module importing it."""
    assert [sorted(circle) for circle in inner_circles()] == []


def test_circle_finder_finds_a_circle_and_only_one() -> None:
    """The circle finder reports a three-module loop and not the module hanging off it."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set[str]()}
    assert circles(graph) == [frozenset({"a", "b", "c"})]


def test_relative_type_only_and_lazy_imports_are_seen() -> None:
    """The import reader resolves relative, from-package, type-only and function-level imports."""
    source = "\n".join(
        [
            "from typing import TYPE_CHECKING",
            "from . import parse",
            "from .compose import compose",
            "if TYPE_CHECKING:",
            "    from gateway.relay import messages",
            "def f() -> None:",
            "    import gateway.at.engine",
            "    from ..errors import UsageError",
        ]
    )
    assert imported_modules("gateway.webotp", source, is_package=True) == {
        "gateway.webotp.parse",
        "gateway.webotp.compose",
        "gateway.relay.messages",
        "gateway.at.engine",
        "gateway.errors",
    }


_FLOOR_ROW = re.compile(r"^\|\s*(\d+)\s*\|([^|]*)\|", re.M)


def documented_floors() -> dict[int, frozenset[str]]:
    """Return the floors table of docs/architecture.md: number -> unit names."""
    text = ARCHITECTURE.read_text(encoding="utf-8")
    section = text.split("## Layers", 1)[1].split("\n## ", 1)[0]
    return {
        int(number): frozenset(re.findall(r"`([\w.]+)`", units))
        for number, units in _FLOOR_ROW.findall(section)
    }


def test_architecture_doc_shows_the_floors() -> None:
    """docs/architecture.md lists the same floors as the rule checked here."""
    documented = {
        number: frozenset(u.removeprefix("gateway.") for u in units)
        for number, units in documented_floors().items()
    }
    assert documented == dict(enumerate(FLOORS, start=1))


@pytest.mark.parametrize("module", ["gateway.relay.server", "gateway.daemon.app"])
def test_reader_sees_known_imports(module: str) -> None:
    """The import graph holds imports known to be there (a guard against a blind reader)."""
    expected = {
        "gateway.relay.server": {"gateway.relay.session", "gateway.errors"},
        "gateway.daemon.app": {"gateway.daemon.wiring", "gateway.journal", "gateway"},
    }[module]
    assert expected <= GRAPH[module]
