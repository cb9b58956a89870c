"""The package's layering, read from the source with :mod:`ast` (nothing is imported).

Layers, bottom to top; a module may import its own layer and the ones below, never one
above, and never a sibling of its own layer:

0. ``asgibench`` (``__init__``), ``asgibench.errors``, ``asgibench.registry``
1. ``asgibench.loops`` | ``asgibench.protocols`` (siblings: neither imports the other)
2. ``asgibench.server``
3. ``asgibench.harness``
4. ``asgibench.reports``
5. ``asgibench.cli`` (imported by nothing but ``asgibench/__main__.py``)
6. ``asgibench.__main__`` (the entry point)

Every ``import``/``from ... import`` counts for the layering, wherever it is: at module
level, inside a function, or under ``if TYPE_CHECKING:``; relative imports are resolved.
The cycle check reads the imports run when a module is imported (module level and class
bodies, not functions, not ``TYPE_CHECKING``): the only cycle allowed there is
``asgibench.server.connection`` <-> ``asgibench.server.cycle``.

The checks take the package's directory as a parameter, so the self-checks at the end
run them on a copy of the package with violations injected, to show they can fail.
"""

from __future__ import annotations

import ast
import shutil
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest


def _repo_root() -> Path:
    here = Path(__file__).resolve().parent
    for parent in (here, *here.parents):
        if (parent / "pyproject.toml").is_file() and (parent / "asgibench").is_dir():
            return parent
    raise RuntimeError(f"no asgibench checkout above {here}")


REPO = _repo_root()
PACKAGE = REPO / "asgibench"

#: (group, layer): a group is a module or a package with everything under it.
GROUPS: tuple[tuple[str, int], ...] = (
    ("asgibench", 0),
    ("asgibench.errors", 0),
    ("asgibench.registry", 0),
    ("asgibench._build", 0),
    ("asgibench.loops", 1),
    ("asgibench.protocols", 1),
    ("asgibench.server", 2),
    ("asgibench.harness", 3),
    ("asgibench.reports", 4),
    ("asgibench.cli", 5),
    ("asgibench.__main__", 6),
)
#: Groups that are a single module: ``asgibench`` means ``asgibench/__init__.py`` only.
SINGLE_MODULE_GROUPS = {"asgibench", "asgibench.errors", "asgibench.registry", "asgibench._build",
                        "asgibench.__main__"}
#: Strongly connected components allowed in the import-time graph.
ALLOWED_CYCLES = {frozenset({"asgibench.server.connection", "asgibench.server.cycle"})}
#: (b): the server's layer and the ones under it import nothing from these.
LOW_GROUPS = ("asgibench.server", "asgibench.loops", "asgibench.protocols")
HIGH_GROUPS = ("asgibench.harness", "asgibench.reports", "asgibench.cli")


@dataclass(frozen=True)
class Import:
    importer: str  # the importing module, e.g. "asgibench.loops._base"
    file: str  # its path, relative to the package's parent directory
    line: int
    target: str  # the asgibench module imported (resolved)
    statement: str  # the import as written
    in_function: bool  # inside a def/lambda: run when called, not on import
    type_checking: bool  # under ``if TYPE_CHECKING:``
    resolved: bool  # target is a module of the tree

    @property
    def at_import_time(self) -> bool:
        return not self.in_function and not self.type_checking

    @property
    def where(self) -> str:
        kind = []
        if self.in_function:
            kind.append("in a function")
        if self.type_checking:
            kind.append("under TYPE_CHECKING")
        return f"{self.file}:{self.line}" + (f" ({', '.join(kind)})" if kind else "")

    def describe(self, why: str) -> str:
        return (f"{self.where}: {self.importer} imports {self.target} "
                f"[{self.statement}]: {why}")


# -- the walker ---------------------------------------------------------------------------


def modules(root: Path) -> dict[str, Path]:
    """Every module of the package at ``root``, by dotted name."""
    found: dict[str, Path] = {}
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root.parent)
        if "__pycache__" in rel.parts:
            continue
        parts = list(rel.with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


class _Collector(ast.NodeVisitor):
    def __init__(self, module: str, is_package: bool, file: str, package: str,
                 known: set[str]) -> None:
        self.module = module
        self.is_package = is_package
        self.file = file
        self.package = package
        self.known = known
        self.in_function = 0
        self.type_checking = 0
        self.found: list[Import] = []

    def _ours(self, name: str) -> bool:
        return name == self.package or name.startswith(self.package + ".")

    def _add(self, node: ast.stmt, target: str) -> None:
        resolved = target in self.known
        self.found.append(Import(
            importer=self.module, file=self.file, line=node.lineno, target=target,
            statement=ast.unparse(node), in_function=self.in_function > 0,
            type_checking=self.type_checking > 0, resolved=resolved))

    def _absolute(self, node: ast.ImportFrom) -> str:
        if not node.level:
            return node.module or ""
        parts = self.module.split(".")
        if not self.is_package:
            parts = parts[:-1]
        up = node.level - 1
        if up > len(parts) - 1:
            raise AssertionError(f"{self.file}:{node.lineno}: relative import beyond the "
                                 f"top-level package: {ast.unparse(node)}")
        base = parts[: len(parts) - up]
        return ".".join([*base, *([node.module] if node.module else [])])

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if self._ours(alias.name):
                self._add(node, alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = self._absolute(node)
        if not self._ours(base):
            return
        for alias in node.names:
            sub = f"{base}.{alias.name}"
            # ``from pkg import sub`` imports the module pkg.sub when there is one,
            # otherwise a name defined by pkg itself.
            self._add(node, sub if sub in self.known else base)

    def visit_If(self, node: ast.If) -> None:
        if not _is_type_checking(node.test):
            self.generic_visit(node)
            return
        self.type_checking += 1
        for child in node.body:
            self.visit(child)
        self.type_checking -= 1
        for child in node.orelse:
            self.visit(child)

    def _function(self, node: ast.AST) -> None:
        self.in_function += 1
        self.generic_visit(node)
        self.in_function -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = _function

    def generic_visit(self, node: ast.AST) -> None:
        # Imports are statements: only statement lists (bodies, handlers, match cases)
        # can hold one, so expressions are not walked (a lambda holds no statement).
        for _field, value in ast.iter_fields(node):
            if isinstance(value, list):
                for item in value:
                    if isinstance(item, ast.stmt | ast.excepthandler | ast.match_case):
                        self.visit(item)


_CACHE: dict[tuple[object, ...], list[Import]] = {}


def collect(root: Path) -> list[Import]:
    """Every import of a module of the package at ``root``, by every module of it (cached
    while no file of the tree changes: the checks each read the whole tree)."""
    known = modules(root)
    key = (root, *((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in known.values()))
    if key not in _CACHE:
        _CACHE[key] = _collect(root, known)
    return _CACHE[key]


def _collect(root: Path, known: dict[str, Path]) -> list[Import]:
    imports: list[Import] = []
    for name, path in known.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        collector = _Collector(name, path.name == "__init__.py",
                               str(path.relative_to(root.parent)), root.name, set(known))
        collector.visit(tree)
        # One Import per (line, target): ``from x import a, b`` of one module is one edge.
        seen: set[tuple[int, str]] = set()
        for item in collector.found:
            if (item.line, item.target) not in seen:
                seen.add((item.line, item.target))
                imports.append(item)
    return imports


def group_of(module: str) -> tuple[str, int] | None:
    best: tuple[str, int] | None = None
    for group, layer in GROUPS:
        if module == group or (group not in SINGLE_MODULE_GROUPS
                               and module.startswith(group + ".")):
            if best is None or len(group) > len(best[0]):
                best = (group, layer)
    return best


def _in(module: str, group: str) -> bool:
    return module == group or module.startswith(group + ".")


# -- the checks: each returns one message per violation -----------------------------------


def unclassified(root: Path) -> list[str]:
    return [f"{path.relative_to(root.parent)}: {name} belongs to no layer; add it to "
            f"GROUPS in {Path(__file__).name}"
            for name, path in modules(root).items() if group_of(name) is None]


def unresolved(root: Path) -> list[str]:
    return [item.describe("no such module in the tree") for item in collect(root)
            if not item.resolved]


def layer_violations(root: Path) -> list[str]:
    """(a): an import of a layer above the importer's, or of a sibling group."""
    out = []
    for item in collect(root):
        mine, theirs = group_of(item.importer), group_of(item.target)
        if mine is None or theirs is None:
            continue  # reported by unclassified()
        if theirs[1] > mine[1]:
            out.append(item.describe(f"layer {theirs[0]} ({theirs[1]}) is above "
                                     f"{mine[0]} ({mine[1]})"))
        elif theirs[1] == mine[1] and theirs[0] != mine[0] and theirs[1] != 0:
            out.append(item.describe(f"{theirs[0]} and {mine[0]} are siblings "
                                     f"(layer {mine[1]}): neither imports the other"))
    return out


def low_layer_violations(root: Path) -> list[str]:
    """(b): server, loops and protocols import nothing from harness, reports or cli."""
    return [item.describe(f"{low} must not import from {high}")
            for item in collect(root)
            for low in LOW_GROUPS if _in(item.importer, low)
            for high in HIGH_GROUPS if _in(item.target, high)]


def cli_importers(root: Path) -> list[str]:
    """(c): nothing imports asgibench.cli but asgibench/__main__.py (and cli itself)."""
    cli = f"{root.name}.cli"
    return [item.describe(f"only {root.name}.__main__ may import {cli}")
            for item in collect(root)
            if _in(item.target, cli) and not _in(item.importer, cli)
            and item.importer != f"{root.name}.__main__"]


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative; components in no particular order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    components.append(sorted(component))
    return components


def cycles(root: Path) -> list[str]:
    """(d): import cycles among the imports run on import (allowed ones excepted)."""
    edges = [i for i in collect(root) if i.at_import_time and i.resolved]
    graph: dict[str, set[str]] = {name: set() for name in modules(root)}
    for item in edges:
        graph[item.importer].add(item.target)
    out = []
    for component in strongly_connected(graph):
        members = set(component)
        if len(component) == 1 and component[0] not in graph[component[0]]:
            continue
        if frozenset(members) in ALLOWED_CYCLES:
            continue
        inside = sorted((i for i in edges if i.importer in members and i.target in members),
                        key=lambda i: (i.importer, i.line))
        lines = "\n".join(f"    {i.where}: {i.importer} -> {i.target} [{i.statement}]"
                          for i in inside)
        out.append(f"import cycle among {', '.join(component)}:\n{lines}")
    return out


def _report(violations: list[str], what: str) -> str:
    return f"{len(violations)} {what}:\n" + "\n".join(violations)


# -- the real tree ------------------------------------------------------------------------


def test_the_walker_sees_the_package() -> None:
    found = modules(PACKAGE)
    imports = collect(PACKAGE)
    # Guards against a walker that silently finds nothing (wrong root, broken resolution).
    assert {"asgibench", "asgibench.cli", "asgibench.server.connection"} <= set(found)
    assert any(i.importer == "asgibench.server.connection"
               and i.target == "asgibench.server.cycle" for i in imports)
    assert unclassified(PACKAGE) == []


def test_every_asgibench_import_names_a_module_of_the_tree() -> None:
    violations = unresolved(PACKAGE)
    assert not violations, _report(violations, "imports of missing modules")


def test_no_module_imports_a_layer_above_its_own() -> None:
    violations = layer_violations(PACKAGE)
    assert not violations, _report(violations, "layering violations")


def test_server_loops_protocols_import_nothing_from_harness_reports_cli() -> None:
    violations = low_layer_violations(PACKAGE)
    assert not violations, _report(violations, "upward imports from the server layer")


def test_only_main_imports_the_cli() -> None:
    violations = cli_importers(PACKAGE)
    assert not violations, _report(violations, "imports of asgibench.cli")


def test_no_import_cycles_but_connection_and_cycle() -> None:
    violations = cycles(PACKAGE)
    assert not violations, _report(violations, "import cycles")


# -- self-checks: the checks fail on a tree that breaks the rules --------------------------


def _append(path: Path, text: str) -> int:
    """Append ``text`` (dedented) to ``path``; the line number of its first line."""
    source = path.read_text(encoding="utf-8")
    if not source.endswith("\n"):
        source += "\n"
    first = source.count("\n") + 1
    path.write_text(source + textwrap.dedent(text), encoding="utf-8")
    return first


@pytest.fixture
def broken_tree(tmp_path: Path) -> tuple[Path, dict[str, int]]:
    """A copy of the package with one violation of each rule; the line of each."""
    root = tmp_path / "asgibench"
    shutil.copytree(PACKAGE, root, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    lines = {}
    # (a)+(b), relative and in a function: loops -> server.
    lines["loops"] = _append(root / "loops" / "__init__.py", """\
        def _injected():
            from ..server import config
            return config
        """) + 1
    # (a)+(b) under TYPE_CHECKING: protocols -> harness.
    lines["protocols"] = _append(root / "protocols" / "events.py", """\
        import typing
        if typing.TYPE_CHECKING:
            from asgibench.harness import results as _injected
        """) + 2
    # (a) sibling: protocols -> loops.
    lines["sibling"] = _append(root / "protocols" / "h11.py", "import asgibench.loops\n")
    # (a)+(c): harness -> cli.
    lines["cli"] = _append(root / "harness" / "ranking.py",
                           "from asgibench.cli import main as _injected\n")
    # (d): a new cycle in reports, one side relative.
    (root / "reports" / "_cyc_a.py").write_text("from asgibench.reports import _cyc_b\n")
    (root / "reports" / "_cyc_b.py").write_text('"""b"""\n\nfrom . import _cyc_a\n')
    # The allowed pair, made a real import-time cycle: still allowed.
    lines["allowed"] = _append(root / "server" / "cycle.py",
                               "from asgibench.server import connection as _injected\n")
    return root, lines


def test_self_check_layers(broken_tree: tuple[Path, dict[str, int]]) -> None:
    root, lines = broken_tree
    violations = "\n".join(layer_violations(root))
    expected = [
        (f"asgibench/loops/__init__.py:{lines['loops']} (in a function)",
         "asgibench.loops imports asgibench.server.config"),
        (f"asgibench/protocols/events.py:{lines['protocols']} (under TYPE_CHECKING)",
         "asgibench.protocols.events imports asgibench.harness.results"),
        (f"asgibench/protocols/h11.py:{lines['sibling']}:",
         "asgibench.protocols.h11 imports asgibench.loops"),
        (f"asgibench/harness/ranking.py:{lines['cli']}:",
         "asgibench.harness.ranking imports asgibench.cli"),
    ]
    for where, what in expected:
        assert any(where in line and what in line for line in violations.splitlines()), (
            f"not reported: {where} {what}\n{violations}")
    # Exactly the four injected ones on top of the real tree's own (if any).
    assert len(set(layer_violations(root)) - set(layer_violations(PACKAGE))) == 4, violations


def test_self_check_low_layers_and_cli(broken_tree: tuple[Path, dict[str, int]]) -> None:
    root, lines = broken_tree
    low = "\n".join(low_layer_violations(root))
    assert (f"asgibench/loops/__init__.py:{lines['loops']} (in a function): asgibench.loops "
            f"imports asgibench.server.config") not in low  # server is not "high"
    assert (f"asgibench/protocols/events.py:{lines['protocols']} (under TYPE_CHECKING): "
            f"asgibench.protocols.events imports asgibench.harness.results") in low
    cli = "\n".join(cli_importers(root))
    assert (f"asgibench/harness/ranking.py:{lines['cli']}: asgibench.harness.ranking "
            f"imports asgibench.cli") in cli
    assert "asgibench.__main__ imports" not in cli


def test_self_check_cycles(broken_tree: tuple[Path, dict[str, int]]) -> None:
    root, _ = broken_tree
    found = cycles(root)
    text = "\n".join(found)
    assert "import cycle among asgibench.reports._cyc_a, asgibench.reports._cyc_b" in text
    assert ("asgibench/reports/_cyc_a.py:1: asgibench.reports._cyc_a -> "
            "asgibench.reports._cyc_b") in text
    assert ("asgibench/reports/_cyc_b.py:3: asgibench.reports._cyc_b -> "
            "asgibench.reports._cyc_a") in text
    # connection <-> cycle is a real import-time cycle in the copy, and allowed...
    assert "asgibench.server.connection" not in text, text
    # ... but not once a third module joins it.
    _append(root / "server" / "state.py", "from asgibench.server import connection\n")
    text = "\n".join(cycles(root))
    assert "asgibench.server.connection, asgibench.server.cycle, asgibench.server.state" in (
        text), text


def test_self_check_function_level_and_type_checking_imports_make_no_cycle(
        tmp_path: Path) -> None:
    root = tmp_path / "asgibench"
    (root / "server").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "server" / "__init__.py").write_text("")
    (root / "server" / "a.py").write_text("from asgibench.server import b\n")
    (root / "server" / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import a\n"
        "def f():\n    from asgibench.server.a import x\n")
    assert cycles(root) == []
    imports = collect(root)
    assert {(i.importer, i.line, i.target, i.type_checking, i.in_function) for i in imports} == {
        ("asgibench.server.a", 1, "asgibench.server.b", False, False),
        ("asgibench.server.b", 3, "asgibench.server.a", True, False),
        ("asgibench.server.b", 5, "asgibench.server.a", False, True),
    }
    # Counted as a cycle once they run on import.
    (root / "server" / "b.py").write_text("from . import a\n")
    assert len(cycles(root)) == 1
