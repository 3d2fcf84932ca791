"""Configuration: the environment is read in one module (core/settings.py), once, into one frozen
value; the Dagster resources are built from it and show their configuration."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest

import league_pipeline
from league_pipeline.core.paths import HomeLayout
from league_pipeline.core.settings import (
    BOOTSTRAP_REPLICATES,
    BOOTSTRAP_SEED,
    HTTP_RETRIES,
    HTTP_TIMEOUT,
    LAKE_BACKUPS,
    VARIABLES,
    SettingError,
    Settings,
)

PACKAGE = Path(league_pipeline.__file__).resolve().parent
SETTINGS_MODULE = PACKAGE / "core" / "settings.py"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "operations.md"


ENVIRONMENT = ("environ", "environb", "getenv", "getenvb")


def _environment_reads(path: Path) -> list[str]:
    """Every ``os.environ`` / ``os.getenv`` (any alias of ``os``) and ``from os import
    environ`` in one module, as ``path:line name``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ENVIRONMENT:
            found.append(f"{path}:{node.lineno} {node.attr}")
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            found += [f"{path}:{node.lineno} {a.name}" for a in node.names if a.name in ENVIRONMENT]
    return found


def _calls(path: Path, name: str) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [
        f"{path.relative_to(PACKAGE.parent)}:{node.lineno}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == name
    ]


def test_only_the_settings_module_reads_the_environment():
    reads = [
        read
        for path in sorted(PACKAGE.rglob("*.py"))
        if path != SETTINGS_MODULE
        for read in _environment_reads(path)
    ]
    assert reads == [], "read environment variables in league_pipeline/core/settings.py only"
    assert _environment_reads(SETTINGS_MODULE)  # the scan does see a read


def test_the_scan_finds_every_spelling(tmp_path):
    module = tmp_path / "probe.py"
    texts = [
        "import os\nos.environ.get('X')\n",
        "import os\nos.getenv('X')\n",
        "from os import environ\n",
        "from os import getenv as g\n",
        "import os as o\no.environ['X']\n",
    ]
    for text in texts:
        module.write_text(text)
        assert _environment_reads(module), text
    module.write_text("import os\nos.path.join('a', 'b')\n")
    assert _environment_reads(module) == []


def test_the_settings_are_read_once_per_program():
    """The CLI's main and the code location (definitions.py) read them; nothing else does."""
    calls = [call for path in sorted(PACKAGE.rglob("*.py")) for call in _calls(path, "from_env")]
    assert [call.split(":")[0] for call in calls] == [
        "league_pipeline/cli/__init__.py",
        "league_pipeline/definitions.py",
    ]


def test_defaults_without_any_variable(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    settings = Settings.from_env({})
    home = (tmp_path / ".league").resolve()
    assert settings.home == home
    assert settings.landing_dir == home / "landing"
    assert settings.dagster_home == home / "dagster"
    assert settings.cache_dir == (tmp_path / "user" / ".cache" / "league-pipeline").resolve()
    assert settings.layout == HomeLayout(home)
    assert (settings.layout.sources, settings.layout.staging) == (
        home / "sources",
        home / "staging",
    )
    assert (settings.layout.lake, settings.layout.outputs) == (home / "lake", home / "outputs")
    assert settings.source_mode == "landing" and settings.http_base_url is None
    assert (settings.http_timeout, settings.http_retries) == (HTTP_TIMEOUT, HTTP_RETRIES)
    assert settings.http_allowed_hosts == ()
    assert settings.bootstrap_replicates == BOOTSTRAP_REPLICATES
    assert settings.bootstrap_seed == BOOTSTRAP_SEED
    assert settings.lake_catalog is None and settings.lake_backups == LAKE_BACKUPS
    assert Settings.from_env({}) == Settings.for_home(".league")  # for_home: no environment


def test_every_variable_is_read(tmp_path):
    env = {
        "LEAGUE_HOME": str(tmp_path / "home"),
        "LEAGUE_SOURCE_MODE": "http",
        "LEAGUE_LANDING_DIR": str(tmp_path / "elsewhere"),
        "LEAGUE_HTTP_BASE_URL": "http://127.0.0.1:8000",
        "LEAGUE_HTTP_TIMEOUT": "2.5",
        "LEAGUE_HTTP_RETRIES": "0",
        "LEAGUE_HTTP_ALLOWED_HOSTS": "files.example.org, 127.0.0.1:8765 *.nhs.uk",
        "LEAGUE_BOOTSTRAP_REPLICATES": "200",
        "LEAGUE_BOOTSTRAP_SEED": "7",
        "LEAGUE_WHATIF_CHECKED": "0",
        "LEAGUE_LAKE_CATALOG": "postgres:dbname=league",
        "LEAGUE_LAKE_BACKUPS": "0",
        "LEAGUE_LAKE_DATA_PATH": "s3://league-lake/snapshots",
        "LEAGUE_S3_ENDPOINT": "http://127.0.0.1:9000",
        "LEAGUE_S3_URL_STYLE": "path",
        "AWS_REGION": "eu-west-2",
        "AWS_ACCESS_KEY_ID": "key-id",
        "AWS_SECRET_ACCESS_KEY": "secret-key",
        "AWS_SESSION_TOKEN": "session-token",
        "LEAGUE_CELERY_BROKER": "redis://127.0.0.1:6379/0",
        "LEAGUE_CELERY_BACKEND": "redis://127.0.0.1:6379/1",
        "LEAGUE_CACHE_DIR": str(tmp_path / "cache"),
        "DAGSTER_HOME": str(tmp_path / "dagster"),
    }
    assert {v.name for v in VARIABLES} == set(env), "a new variable: give it a value here"
    settings = Settings.from_env(env)
    assert settings == Settings(
        home=tmp_path / "home",
        landing_dir=tmp_path / "elsewhere",
        dagster_home=tmp_path / "dagster",
        cache_dir=tmp_path / "cache",
        source_mode="http",
        http_base_url="http://127.0.0.1:8000",
        http_timeout=2.5,
        http_retries=0,
        http_allowed_hosts=("files.example.org", "127.0.0.1:8765", "*.nhs.uk"),
        bootstrap_replicates=200,
        bootstrap_seed=7,
        whatif_checked=0,
        lake_catalog="postgres:dbname=league",
        lake_backups=0,
        lake_data_path="s3://league-lake/snapshots",
        s3_endpoint="http://127.0.0.1:9000",
        s3_url_style="path",
        s3_region="eu-west-2",
        s3_key_id="key-id",
        s3_secret="secret-key",
        s3_session_token="session-token",
        celery_broker="redis://127.0.0.1:6379/0",
        celery_backend="redis://127.0.0.1:6379/1",
    )
    for secret in ("key-id", "secret-key", "session-token", "redis://"):
        assert secret not in repr(settings)
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.home = tmp_path  # type: ignore[misc]


def test_xdg_cache_home_and_empty_values(tmp_path):
    settings = Settings.from_env(
        {
            "LEAGUE_HOME": str(tmp_path),
            "XDG_CACHE_HOME": str(tmp_path / "xdg"),
            "LEAGUE_LAKE_CATALOG": " ",
        }
    )
    assert settings.cache_dir == tmp_path / "xdg" / "league-pipeline"
    assert settings.lake_catalog is None  # empty counts as unset


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("LEAGUE_SOURCE_MODE", "ftp"),
        ("LEAGUE_HTTP_TIMEOUT", "soon"),
        ("LEAGUE_HTTP_TIMEOUT", "0"),
        ("LEAGUE_HTTP_RETRIES", "-1"),
        ("LEAGUE_BOOTSTRAP_REPLICATES", "0"),
        ("LEAGUE_BOOTSTRAP_SEED", "1.5"),
        ("LEAGUE_LAKE_BACKUPS", "x"),
        ("LEAGUE_LAKE_DATA_PATH", "/srv/lake"),
        ("LEAGUE_S3_URL_STYLE", "virtual"),
    ],
)
def test_a_value_that_cannot_be_used_names_its_variable(name, value):
    with pytest.raises(SettingError, match=rf"^{name}='{value}'"):
        Settings.from_env({name: value})


def variables_table() -> str:
    """The table of docs/operations.md section 8, from :data:`VARIABLES` (print it with
    ``python -c "from tests.unit.test_settings import variables_table as t; print(t())"``)."""
    rows = [f"| `{v.name}` | {v.default} | {v.meaning} |" for v in VARIABLES]
    return "\n".join(["| variable | default | meaning |", "| --- | --- | --- |", *rows])


def test_the_operations_table_is_the_table_of_variables():
    """docs/operations.md lists every variable with the default and meaning defined here."""
    text = DOCS.read_text(encoding="utf-8")
    assert variables_table() in text, (
        "docs/operations.md section 8 is not the table of VARIABLES: paste variables_table()"
    )


def test_the_code_location_shows_each_resource_with_its_configuration(tmp_path):
    from league_pipeline.definitions import build_defs

    settings = Settings.for_home(
        tmp_path / "home", lake_catalog="sqlite:/tmp/catalog.sqlite", bootstrap_replicates=50
    )
    defs = build_defs(settings)
    resources = defs.resources
    home = settings.home
    assert resources["home"].path == str(home)
    assert resources["home"].cache_dir == str(settings.cache_dir)
    assert resources["staging"].root == str(home / "staging")
    assert resources["snapshots"].root == str(home / "lake")
    assert resources["snapshots"].catalog == "sqlite:/tmp/catalog.sqlite"
    assert resources["snapshots"].backups == LAKE_BACKUPS
    assert resources["fetcher"].mode == "landing"
    assert resources["fetcher"].landing_dir == str(home / "landing")
    assert resources["fetcher"].store_root == str(home / "sources")
    assert resources["league"].bootstrap_replicates == 50
    # each resource builds its library object from that configuration
    assert resources["staging"].get().root == home / "staging"
    store = resources["snapshots"].get()
    assert store.root == home / "lake" and store.backups_kept == LAKE_BACKUPS
    fetcher = resources["fetcher"].get()
    assert fetcher.store.root == home / "sources" and fetcher.http is None

    # the UI's Resources page lists them with their configuration (the repository snapshot the
    # webserver serves)
    repository = defs.get_repository_def()
    shown = repository.get_top_level_resources()
    for key in ("home", "staging", "snapshots", "fetcher", "league"):
        assert key in shown
    # every asset that uses one asks for it as a resource parameter
    graph = defs.resolve_asset_graph()
    needs = {
        key.to_user_string(): graph.get(key).assets_def.required_resource_keys
        for key in graph.get_all_asset_keys()
    }
    assert {"fetcher", "staging", "snapshots"} <= needs["sources/nof_trust_data_acute"]
    assert {"staging", "snapshots"} <= needs["snapshots/quarterly_snapshot"]
    assert {"home", "snapshots", "fetcher"} <= needs["outputs/html_report"]
