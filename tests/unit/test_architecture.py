"""The package's shape, read from its source: imports flow one way, no private name crosses a package,
no package import cycle, no module too long (README "Architecture").

A *package* here is a top-level name under ``pytest_featviz``: a concept package (``claims``,
``engine``, ...) or a top-level module (``plugin``, ``errors``, ``_io``, ...).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "pytest_featviz"
# shared top-level private modules that every package may import
SHARED = {"_io", "_validation", "_fields", "_deps", "errors", "progress"}
# the pytest layer: the plugin and its glue. The root package's table may name the fixture's class
# too (``fv.Featviz``, for type hints; it loads on first use).
PYTEST_LAYER = {"_pytest", "plugin", ""}
MAX_LINES = 400


@dataclass(frozen=True)
class Import:
    """One import statement's edge: ``module`` imports ``names`` from ``target`` (``()``: the module itself)."""

    module: str
    target: str
    names: tuple[str, ...]
    runtime: bool  # runs when ``module`` is imported: not inside a function, not under TYPE_CHECKING
    line: int

    def __str__(self) -> str:
        what = f"{self.target}: {', '.join(self.names)}" if self.names else self.target
        return f"{self.module} (line {self.line}) imports {what}"


def module_names(root: Path) -> dict[str, Path]:
    """Every module under ``root`` by its dotted name (a package by its ``__init__.py``)."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports_of(name: str, path: Path, known: set[str]) -> list[Import]:
    """The imports of module ``name`` from ``path``, resolved against the ``known`` module names."""
    base = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found: list[Import] = []

    def add(node: ast.Import | ast.ImportFrom, runtime: bool) -> None:
        if isinstance(node, ast.Import):
            found.extend(Import(name, alias.name, (), runtime, node.lineno) for alias in node.names)
            return
        start = base[: len(base) - node.level + 1] if node.level else []
        target = ".".join(start + ([node.module] if node.module else []))
        for alias in node.names:
            sub = f"{target}.{alias.name}"
            edge = (sub, ()) if sub in known else (target, (alias.name,))
            found.append(Import(name, *edge, runtime, node.lineno))

    def visit(node: ast.AST, runtime: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                add(child, runtime)
            elif isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                for stmt in child.body:
                    visit(ast.Module(body=[stmt], type_ignores=[]), False)
                for stmt in child.orelse:
                    visit(ast.Module(body=[stmt], type_ignores=[]), runtime)
            else:  # a function body runs later: its imports are not import-time edges
                visit(child, runtime and not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

    visit(ast.parse(path.read_text(), str(path)), True)
    return [edge for edge in found if edge.target.split(".")[0] == "pytest_featviz"]


def package_of(module: str) -> str:
    """The top-level name under ``pytest_featviz`` (``""`` for the root package itself)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def all_imports(root: Path) -> list[Import]:
    modules = module_names(root)
    return [edge for name, path in modules.items() for edge in imports_of(name, path, set(modules))]


def pytest_layer_imported_outside(edges: list[Import]) -> list[str]:
    """(a) Imports of ``pytest_featviz._pytest`` from outside the plugin and its glue."""
    return [str(e) for e in edges if package_of(e.target) == "_pytest" and package_of(e.module) not in PYTEST_LAYER]


def private_names_across_packages(edges: list[Import]) -> list[str]:
    """(b) Underscore-named modules or names imported from another package (the shared modules aside)."""
    bad = []
    for e in edges:
        source, target = package_of(e.module), package_of(e.target)
        if source == target or (target == "_pytest" and source in PYTEST_LAYER):
            continue
        path = e.target.split(".")[1:]
        private_module = any(part.startswith("_") for part in path) and path[0] not in SHARED
        private_name = any(n.startswith("_") and not n.startswith("__") for n in e.names)
        if private_module or private_name:
            bad.append(str(e))
    return bad


def package_cycles(edges: list[Import]) -> list[list[str]]:
    """(c) Import cycles among packages through import-time imports, each as its packages in order."""
    graph: dict[str, set[str]] = {}
    for e in edges:
        source, target = package_of(e.module), package_of(e.target)
        if e.runtime and source != target:
            graph.setdefault(source, set()).add(target)
    cycles, done = [], set()

    def walk(node: str, path: list[str]) -> None:
        if node in path:
            loop = path[path.index(node) :]
            first = loop.index(min(loop))  # each cycle once, from its first package by name
            cycle = loop[first:] + loop[:first]
            if cycle + [cycle[0]] not in cycles:
                cycles.append(cycle + [cycle[0]])
            return
        if node in done:
            return
        for nxt in sorted(graph.get(node, ())):
            walk(nxt, path + [node])
        done.add(node)

    for node in sorted(graph):
        walk(node, [])
    return cycles


@pytest.fixture(scope="module")
def edges() -> list[Import]:
    return all_imports(PACKAGE)


def test_imports_are_read_from_the_source(edges):
    """The reader finds what it checks: import-time, in-function and TYPE_CHECKING imports."""
    found = {(e.module, e.target, e.names, e.runtime) for e in edges}
    assert ("pytest_featviz.plugin", "pytest_featviz.claims", ("TestContext",), True) in found
    assert ("pytest_featviz.claims.reach", "pytest_featviz.verify", ("certify_not_reaches",), False) in found
    assert ("pytest_featviz.claims.outcome", "pytest_featviz.engine", ("AscentResult",), False) in found
    assert ("pytest_featviz.claims.account", "pytest_featviz.claims.context", (), True) in found


def test_only_the_plugin_imports_the_pytest_layer(edges):
    assert pytest_layer_imported_outside(edges) == []


def test_no_private_module_or_name_is_imported_across_packages(edges):
    assert private_names_across_packages(edges) == []


def test_packages_import_each_other_without_cycles(edges):
    assert package_cycles(edges) == []


def test_the_checks_catch_a_back_edge_a_private_name_and_a_cycle(tmp_path):
    """The checks above fail on a package that breaks each rule (a copy of the real one, three imports added)."""
    copy = tmp_path / "pytest_featviz"
    for path in module_names(PACKAGE).values():
        target = copy / path.relative_to(PACKAGE)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(path.read_text())
    reach = copy / "claims" / "reach.py"
    n = len(reach.read_text().splitlines())  # the added imports are lines n + 1 and n + 2
    reach.write_text(reach.read_text() + "from .._pytest import fixture\nfrom ..engine.plan import _private\n")
    plan = copy / "engine" / "plan.py"
    plan.write_text(plan.read_text() + "from ..claims import Record\n")
    edges = all_imports(copy)
    back_edge = f"pytest_featviz.claims.reach (line {n + 1}) imports pytest_featviz._pytest.fixture"
    private = f"pytest_featviz.claims.reach (line {n + 2}) imports pytest_featviz.engine.plan: _private"
    assert pytest_layer_imported_outside(edges) == [back_edge]
    assert private_names_across_packages(edges) == [back_edge, private]
    assert ["claims", "engine", "claims"] in package_cycles(edges)


def test_no_module_is_longer_than_400_lines():
    lengths = {
        str(path.relative_to(PACKAGE.parent)): len(path.read_text().splitlines()) for path in PACKAGE.rglob("*.py")
    }
    assert {path: n for path, n in lengths.items() if n > MAX_LINES} == {}
