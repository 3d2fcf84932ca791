"""The package's import graph has no cycle.

The graph is read from the source with :mod:`ast`, not by importing: every ``import`` and
``from ... import`` of a ``league_pipeline`` module counts, at module level or inside a
function (a deferred import hides a cycle from Python, not from this test), and under
``if TYPE_CHECKING:`` too. Importing ``a.b.c`` also imports the packages ``a`` and ``a.b``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "league_pipeline"


def _modules(package: Path) -> dict[str, tuple[Path, bool]]:
    """Module name -> (file, is a package's ``__init__``)."""
    out = {}
    for path in sorted(package.rglob("*.py")):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        out[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return out


def _targets(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> list[str]:
    """The module names one import statement imports (before adding their packages)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:  # relative: from the module's package, up level - 1 packages
        package = module.split(".") if is_package else module.split(".")[:-1]
        package = package[: len(package) - (node.level - 1)]
        base = ".".join([*package, base] if base else package)
    # ``from a import b`` imports the module a.b when there is one, else a name from a
    return [base, *(f"{base}.{alias.name}" for alias in node.names)]


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """Each module of ``package`` -> the modules of ``package`` it imports."""
    modules = _modules(package)
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, (path, is_package) in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            for target in _targets(node, name, is_package):
                parts = target.split(".")
                for end in range(1, len(parts) + 1):
                    imported = ".".join(parts[:end])
                    if imported in modules and imported != name:
                        graph[name].add(imported)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

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
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_package_has_no_import_cycle() -> None:
    graph = import_graph()
    assert len(graph) > 50  # the whole package was read
    assert "league_pipeline.validation.schemas" in graph["league_pipeline.validation.report"]
    found = cycles(graph)
    shown = "\n".join(
        " <-> ".join(c)
        + "\n    "
        + "; ".join(f"{m} imports {sorted(graph[m] & set(c))}" for m in c)
        for c in found
    )
    assert not found, f"import cycles in league_pipeline:\n{shown}"


@pytest.mark.parametrize(
    ("sources", "expected"),
    [
        ({"a": "import pkg.b", "b": "x = 1"}, []),
        ({"a": "import pkg.b", "b": "def f():\n    from pkg import a"}, [["pkg.a", "pkg.b"]]),
        ({"a": "from . import b", "b": "from .a import f"}, [["pkg.a", "pkg.b"]]),
        (
            {
                "a": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.b import B",
                "b": "from pkg.a import A",
            },
            [["pkg.a", "pkg.b"]],
        ),
    ],
)
def test_deferred_relative_and_type_checking_imports_count(
    tmp_path: Path, sources: dict[str, str], expected: list
) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    for name, text in sources.items():
        (package / f"{name}.py").write_text(text + "\n")
    assert cycles(import_graph(package)) == expected
