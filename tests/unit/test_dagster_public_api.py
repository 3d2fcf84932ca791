"""The package uses Dagster's public API only: no module of league_pipeline imports a private
Dagster module (``dagster._...``, or ``dagster_<library>._...``), however it is written."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "league_pipeline"


def _private(module: str) -> bool:
    """``dagster._core.storage.tags``, ``dagster_graphql._impl``: a name starting with an
    underscore under a Dagster package."""
    top, *rest = module.split(".")
    return (top == "dagster" or top.startswith("dagster_")) and any(
        part.startswith("_") for part in rest
    )


def private_dagster_imports(source: str) -> list[str]:
    """Every private Dagster module ``source`` imports, by ``import`` or ``from ... import``
    (a private module imported as a name, ``from dagster import _core``, counts too)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if _private(alias.name)]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
            found += [name for name in names if _private(name)][:1]
    return found


def test_the_scan_sees_every_spelling():
    source = "\n".join(
        [
            "import dagster as dg",
            "from dagster import AssetKey, asset",
            "import dagster._core.storage.tags",
            "from dagster._serdes import serialize_value",
            "from dagster import _check",
            "def f():",
            "    from dagster_graphql._impl import x",
            "from dagster_duckdb import DuckDBResource",
        ]
    )
    assert private_dagster_imports(source) == [
        "dagster._core.storage.tags",
        "dagster._serdes",
        "dagster._check",
        "dagster_graphql._impl",
    ]


def test_no_module_imports_private_dagster():
    modules = sorted(PACKAGE.rglob("*.py"))
    assert len(modules) > 50  # the whole package, not an empty folder
    offenders = {
        str(path.relative_to(PACKAGE.parent)): found
        for path in modules
        if (found := private_dagster_imports(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}
