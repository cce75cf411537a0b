"""The layering rules of the package, checked on the source: no import cycle, and a runtime that
imports nothing above it (README "Architecture").

Imports are read with ``ast`` from every module of ``src/musicagent``, including those made inside
functions (run-time imports count), except under ``if TYPE_CHECKING:`` (never executed).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "musicagent"


def module_name(path: Path, root: Path = SRC) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node, skipping the bodies of ``if TYPE_CHECKING:`` (their ``else`` still runs)."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def imports_of(path: Path, modules: set[str], root: Path = SRC) -> set[str]:
    """The package's own modules that ``path`` imports (``from a import b`` names ``a.b`` if it is a module)."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in _nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            for alias in node.names:
                found.add(f"{target}.{alias.name}" if f"{target}.{alias.name}" in modules else target)
    return {m for m in found if m in modules}


def import_graph(root: Path = SRC) -> dict[str, set[str]]:
    paths = sorted((root / PACKAGE).rglob("*.py"))
    modules = {module_name(p, root) for p in paths}
    return {module_name(p, root): imports_of(p, modules, root) for p in paths}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module, or a module importing itself (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_checker_sees_a_cycle_and_ignores_type_checking(tmp_path: Path) -> None:
    """The rule itself can fail: a two-module loop is found, a TYPE_CHECKING-only import is not."""
    assert cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]
    assert cycles({"a": {"a"}}) == [["a"]]
    source = tmp_path / "m.py"
    source.write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import x.hidden\nelse:\n    import x.shown\n"
        "def f():\n    import x.late\n",
        encoding="utf-8",
    )
    assert imports_of(source, {"x.hidden", "x.shown", "x.late"}, tmp_path) == {"x.shown", "x.late"}


def test_no_import_cycle_among_the_packages_modules() -> None:
    graph = import_graph()
    assert len(graph) > 40  # the walk really read the package
    assert cycles(graph) == []


LOWER_LAYERS = {
    "_runtime": ("_runtime",),
    "_generated": ("_generated", "_runtime"),
    "lib": ("lib", "_generated", "_runtime", "_version"),
}


@pytest.mark.parametrize("layer", sorted(LOWER_LAYERS))
def test_lower_layers_import_nothing_above_them(layer: str) -> None:
    """``_runtime`` imports only ``_runtime``; ``_generated`` adds ``_runtime``; ``lib`` adds both and the version."""
    allowed = LOWER_LAYERS[layer]
    prefixes = tuple(f"{PACKAGE}.{name}" for name in allowed)
    upward = {
        module: sorted(m for m in imported if not m.startswith(prefixes))
        for module, imported in import_graph().items()
        if module.startswith(f"{PACKAGE}.{layer}")
    }
    assert {module: found for module, found in upward.items() if found} == {}
