"""The shape of the package: no import cycles, no module over MAX_LINES lines.

The import graph is read from the source (ast), so it includes imports inside functions and
under `if TYPE_CHECKING:`: a cycle hidden there is still a cycle. `from package import name`
counts as an import of the submodule when `name` is one, else of the package.

The known exceptions below may only shrink: a module that falls to MAX_LINES or below, or a
cycle that is gone, must be removed from its list (the test says which).
"""

from __future__ import annotations

import ast
from pathlib import Path

import syndicator

PACKAGE = Path(syndicator.__file__).parent
MAX_LINES = 500

# Modules over MAX_LINES lines today, to be split.
KNOWN_LONG: frozenset[str] = frozenset()

# Import cycles today (each as its sorted modules), to be broken.
KNOWN_CYCLES: frozenset[tuple[str, ...]] = frozenset()


def _modules() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its own name)."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def import_graph() -> dict[str, set[str]]:
    """Each module's imports of the package's modules."""
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        imported: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names if alias.name in modules)
            elif isinstance(node, ast.ImportFrom):
                base = _absolute(node.module or "", node.level, name, is_package)
                for alias in node.names:
                    submodule = f"{base}.{alias.name}"
                    if submodule in modules:
                        imported.add(submodule)
                    elif base in modules:
                        imported.add(base)
        imported.discard(name)
        graph[name] = imported
    return graph


def _absolute(module: str, level: int, importer: str, is_package: bool) -> str:
    if level == 0:
        return module
    parts = importer.split(".")
    if not is_package:
        parts.pop()
    parts = parts[:len(parts) - (level - 1)]
    return ".".join([*parts, module] if module else parts)


def cycles(graph: dict[str, set[str]]) -> list[tuple[str, ...]]:
    """The strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[tuple[str, ...]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(tuple(sorted(group)))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def test_cycles_finds_a_cycle_and_only_cycles() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(graph) == [("a", "b", "c")]
    assert _absolute("x", 1, "p.q.m", False) == "p.q.x"
    assert _absolute("", 2, "p.q", True) == "p"


def test_the_graph_sees_imports_in_functions_and_under_type_checking() -> None:
    graph = import_graph()
    assert "syndicator.cli_common" in graph["syndicator.cli_push"]
    # parallel.py imports pagerender under TYPE_CHECKING and inside functions
    assert "syndicator.publish.pagerender" in graph["syndicator.publish.parallel"]


def test_no_import_cycles() -> None:
    found = set(cycles(import_graph()))
    assert found - KNOWN_CYCLES == set(), "new import cycles"
    assert KNOWN_CYCLES - found == set(), "gone: remove these from KNOWN_CYCLES"


def test_no_module_over_max_lines() -> None:
    lines = {name: len(path.read_text(encoding="utf-8").splitlines())
             for name, path in _modules().items()}
    long = {name for name, count in lines.items() if count > MAX_LINES}
    assert {name: lines[name] for name in long - KNOWN_LONG} == {}, (
        f"modules over {MAX_LINES} lines: split them")
    assert KNOWN_LONG - long == set(), "no longer over the limit: remove from KNOWN_LONG"
