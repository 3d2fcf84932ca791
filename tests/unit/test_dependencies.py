"""The declared dependencies (pyproject.toml) against the imports, and the lock files against both.

Belongs here: that every third-party import of the package is declared (in the base install, or
for a guarded import in its path's extra) and every declared package is imported or listed in
``RUNTIME_ONLY`` with its reason; the same for the tests, benchmarks and scripts against the base
and ``dev``; that the base install imports every module of the package; and that the lock files
in ``requirements/`` pin what pyproject.toml says, Dagster's packages in lockstep.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import tomllib
from collections import defaultdict
from functools import cache
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOCKS = ROOT / "requirements"
PROFILES = ("base", "ui", "postgres", "dev")

# Declared but never imported, each with what uses it instead. A package imported somewhere is
# not exempted by being listed here; the list only answers "declared but unimported".
RUNTIME_ONLY = {
    # DuckDB extension binaries: snapshots/lake.py finds their files by path and LOADs them
    "duckdb-extension-ducklake": "base",
    "duckdb-extension-sqlite": "base",
    "duckdb-extension-httpfs": "base",  # lake data on S3-compatible storage
    "duckdb-extension-postgres-scanner": "postgres",  # the Postgres lake catalog
    # the Redis client Celery's broker and result backend use (dagster-celery does not bring it)
    "redis": "base",
    # programs: `dagster dev` and `dagster-webserver` (tests/e2e start it as a program)
    "dagster-webserver": "ui",
    # Dagster's storage named by module in deploy/dagster.yaml, loaded by the Dagster instance
    "dagster-postgres": "postgres",
    # pytest plugin (`-n 2` in the Makefile) and the linter (`make lint`)
    "pytest-xdist": "dev",
    "ruff": "dev",
    # a local S3 server for the object-storage tests, run as a program
    "moto": "dev",
    # the build backend of pyproject.toml, for tests/integration/test_code_version.py's wheel
    "hatchling": "dev",
    "hatch-vcs": "dev",
}

# Imports of packages that are not in the base install: each sits inside the function of its
# extra's code path, which turns its absence into an error naming the package, so the base
# install still imports every module (test_base_install_imports_every_module).
GUARDED = {
    "psycopg2-binary": "postgres",  # snapshots/lake.py: the Postgres catalog's writer lock
}

# Dagster core 1.X.N moves with its integration libraries 0.(X+16).N
LIBRARY_MINOR_OFFSET = 16


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@cache
def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _requirement(text: str) -> tuple[str, list[str], str | None]:
    """(name, extras, pinned version or None) of one requirement line."""
    match = re.fullmatch(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?\s*(.*)", text)
    assert match, f"cannot read the requirement {text!r}"
    name, extras, rest = match.groups()
    extras_list = [normalise(e) for e in (extras or "").split(",") if e.strip()]
    pin = re.fullmatch(r"==\s*([^\s;,]+)\s*(?:;.*)?", rest)
    return normalise(name), extras_list, pin.group(1) if pin else None


def declared(group: str) -> dict[str, str | None]:
    """Distribution -> pinned version declared by ``group`` ("base" or an extra) itself."""
    project = pyproject()["project"]
    lines = project["dependencies"] if group == "base" else project["optional-dependencies"][group]
    own = normalise(project["name"])
    return {name: pin for name, _, pin in map(_requirement, lines) if name != own}


def groups_within(group: str) -> list[str]:
    """``group`` with the extras it takes in through the project itself (dev takes ui and
    postgres), and base."""
    project = pyproject()["project"]
    found = ["base", group] if group != "base" else ["base"]
    lines = [] if group == "base" else project["optional-dependencies"][group]
    for name, extras, _ in map(_requirement, lines):
        if name == normalise(project["name"]):
            found += [g for extra in extras for g in groups_within(extra) if g not in found]
    return found


def third_party_imports(folders: list[str]) -> dict[str, list[tuple[str, bool]]]:
    """Top-level module -> [(file:line, inside a function)] for every absolute import that is
    neither the standard library nor the project's own code (the package, or the folders'
    own modules such as tests/support's)."""
    files = [f for folder in folders for f in sorted((ROOT / folder).rglob("*.py"))]
    local = {"league_pipeline"} | {f.stem for f in files}
    local |= {d.name for folder in folders for d in (ROOT / folder).rglob("*") if d.is_dir()}
    found: dict[str, list[tuple[str, bool]]] = defaultdict(list)

    def visit(node: ast.AST, where: str, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            names: list[str] = []
            if isinstance(child, ast.Import):
                names = [alias.name for alias in child.names]
            elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
                names = [child.module]
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in local:
                    found[top].append((f"{where}:{child.lineno}", in_function))
            visit(child, where, inner)

    for file in files:
        visit(ast.parse(file.read_text(), str(file)), str(file.relative_to(ROOT)), False)
    return found


@cache
def module_distributions() -> dict[str, list[str]]:
    return packages_distributions()


def distribution_of(module: str) -> str:
    dists = module_distributions().get(module)
    assert dists, (
        f"no installed distribution provides the module {module!r}: declare it in "
        "pyproject.toml, run `make lock`, and install again (`make install`)"
    )
    return normalise(dists[0])


def test_package_imports_are_declared_and_declarations_imported() -> None:
    runtime_groups = ("base", "ui", "postgres")
    group_of = {name: g for g in runtime_groups for name in declared(g)}
    imports = third_party_imports(["league_pipeline"])
    used: set[str] = set()
    problems = []
    for module, places in sorted(imports.items()):
        dist = distribution_of(module)
        used.add(dist)
        group = group_of.get(dist)
        if group is None:
            problems.append(f"{dist} (import {module}, {places[0][0]}) is not declared")
        elif group != "base":
            if GUARDED.get(dist) != group:
                problems.append(
                    f"{dist} (import {module}) is declared only in the {group!r} extra, but the "
                    "base install imports every module: declare it in the base, or guard the "
                    "import and list it in GUARDED"
                )
            unguarded = [where for where, in_function in places if not in_function]
            if unguarded:
                problems.append(f"{dist} must be imported inside its function: {unguarded}")
    for dist, group in sorted(group_of.items()):
        if dist not in used and RUNTIME_ONLY.get(dist) != group:
            problems.append(
                f"{dist} is declared in {group!r} but nothing in league_pipeline imports it: "
                "remove it, or list it in RUNTIME_ONLY with what uses it"
            )
    assert not problems, "\n".join(problems)


def test_tests_benchmarks_and_scripts_imports_are_declared() -> None:
    within_dev = {name for g in groups_within("dev") for name in declared(g)}
    imports = third_party_imports(["tests", "benchmarks", "scripts"])
    used = {distribution_of(module) for module in imports}
    undeclared = sorted(
        f"{distribution_of(module)} (import {module}, {places[0][0]})"
        for module, places in imports.items()
        if distribution_of(module) not in within_dev
    )
    assert not undeclared, f"declare these in pyproject.toml's dev extra: {undeclared}"
    unused = sorted(
        dist for dist in declared("dev") if dist not in used and RUNTIME_ONLY.get(dist) != "dev"
    )
    assert not unused, f"declared in dev but never imported nor listed in RUNTIME_ONLY: {unused}"


def test_allow_lists_name_declared_packages() -> None:
    for listing in (RUNTIME_ONLY, GUARDED):
        for dist, group in listing.items():
            assert dist in declared(group), f"{dist} is listed for {group!r} but not declared there"


def test_dev_takes_the_ui_and_postgres_extras() -> None:
    # the tests start dagster-webserver and PostgreSQL
    assert groups_within("dev") == ["base", "dev", "ui", "postgres"]


# -- the lock files --------------------------------------------------------------------------


@cache
def lock(profile: str) -> dict[str, tuple[str, frozenset[str]]]:
    """Distribution -> (version, hashes) of ``requirements/<profile>.txt``; a package locked
    twice (one version per Python range) keeps the first."""
    text = (LOCKS / f"{profile}.txt").read_text()
    assert "make lock" in text.split("\n", 3)[1], f"{profile}.txt was not written by `make lock`"
    entries: dict[str, tuple[str, frozenset[str]]] = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        first = block.split("\n", 1)[0]
        if first.startswith("#") or not first.strip():
            continue
        name, _, version = _requirement(first.rstrip(" \\"))
        hashes = frozenset(re.findall(r"--hash=(sha256:[0-9a-f]{64})", block))
        assert version and hashes, f"{profile}.txt: {first!r} is not pinned with hashes"
        entries.setdefault(name, (version, hashes))
    return entries


def test_locks_pin_what_pyproject_declares() -> None:
    problems = []
    for profile in PROFILES:
        for group in groups_within(profile):
            for name, pin in declared(group).items():
                locked = lock(profile).get(name)
                if locked is None or (pin is not None and locked[0] != pin):
                    problems.append(f"{profile}.txt: {name} is {locked and locked[0]}, not {pin}")
    assert not problems, "run `make lock` (README, Installing):\n" + "\n".join(problems)


def test_profiles_are_subsets_of_dev() -> None:
    """One resolution: base, ui and postgres hold dev's versions and hashes, and the base is in
    each of them."""
    for profile in ("base", "ui", "postgres"):
        for name, entry in lock(profile).items():
            assert lock("dev").get(name) == entry, f"{profile}.txt and dev.txt differ on {name}"
            if profile == "base":
                assert lock("ui")[name] == lock("postgres")[name] == entry


def test_build_lock_pins_the_build_backend() -> None:
    build = lock("build")
    for requirement in pyproject()["build-system"]["requires"]:
        name = _requirement(re.sub(r"[<>=!~].*", "", requirement))[0]
        assert name in build, f"{name} (build-system) is missing from requirements/build.txt"
        if name in lock("dev"):
            assert build[name] == lock("dev")[name], f"build.txt and dev.txt differ on {name}"


def test_dagster_packages_in_lockstep() -> None:
    versions = {name: v for name, (v, _) in lock("dev").items() if name.startswith("dagster")}
    core = versions["dagster"]
    major, minor, patch = core.split(".")
    library = f"0.{int(minor) + LIBRARY_MINOR_OFFSET}.{patch}"
    assert major == "1", core
    wrong = {name: v for name, v in versions.items() if v not in (core, library)}
    assert not wrong, f"not dagster {core} nor its libraries' {library}: {wrong}"


def test_base_install_imports_every_module() -> None:
    """Every module of the package imports with only the base install's packages: those of the
    ui, postgres and dev lock files alone are made unimportable (pip and setuptools stay: every
    virtualenv has them)."""
    base = set(lock("base"))
    extra_only = {n for p in ("ui", "postgres", "dev") for n in lock(p)} - base
    extra_only -= {"pip", "setuptools"}
    blocked = sorted(
        module
        for module, dists in module_distributions().items()
        if {normalise(d) for d in dists} <= extra_only
    )
    assert {"dagster_webserver", "dagster_postgres", "psycopg2", "pytest"} <= set(blocked)
    child = f"""
import importlib, importlib.abc, json, pkgutil, sys
BLOCKED = set({blocked!r})

class NotInBase(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}} (not in the base install)")
        return None

sys.meta_path.insert(0, NotInBase())
import league_pipeline
failed = []
def onerror(name):
    failed.append(f"{{name}}: {{sys.exc_info()[1]!r}}")
for info in pkgutil.walk_packages(league_pipeline.__path__, "league_pipeline.", onerror):
    try:
        importlib.import_module(info.name)
    except Exception as exc:
        failed.append(f"{{info.name}}: {{exc!r}}")
print(json.dumps(failed))
"""
    done = subprocess.run(
        [sys.executable, "-c", child], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    failed = json.loads(done.stdout.strip().splitlines()[-1])
    assert not failed, "\n".join(failed)
