"""The settings: every environment variable the package reads is read here, and only here.

Belongs here: :class:`Settings` (one frozen value), :meth:`Settings.from_env` (the one place
that reads ``os.environ``), :meth:`Settings.for_home` (the same without the environment, for
code and tests that name their folders) and :data:`VARIABLES`, the table of variables with
their defaults and meanings. Library code never reads the environment: it takes what it needs
as arguments. No Dagster here (read-only CLI commands import this module).

To add a setting: a field of :class:`Settings` with its default, a :class:`Variable` in
:data:`VARIABLES`, and its row in the table of ``docs/operations.md``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from league_pipeline.core.paths import HomeLayout

# defaults that library code shares (each defined here once)
HTTP_TIMEOUT = 30.0  # seconds
HTTP_RETRIES = 3  # further attempts after the first
BOOTSTRAP_REPLICATES = 10_000
BOOTSTRAP_SEED = 20250401
LAKE_BACKUPS = 5  # verified copies of a SQLite catalog kept (0: none)
WHATIF_CHECKED = 3  # metrics per trust the report's what-if suggestions search (0: none)
SOURCE_MODES = ("landing", "http")
S3_URL_STYLES = ("path", "vhost")
CACHE_FOLDER = "league-pipeline"  # under $XDG_CACHE_HOME or ~/.cache


class SettingError(ValueError):
    """An environment variable holds a value that cannot be used (the message names it)."""


def _whole(name: str, text: str, *, minimum: int = 0) -> int:
    if not text.isascii() or not text.isdigit() or int(text) < minimum:
        raise SettingError(f"{name}={text!r} is not a whole number of {minimum} or more")
    return int(text)


def _number(name: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise SettingError(f"{name}={text!r} is not a number of seconds above 0")
    return value


def _mode(name: str, text: str) -> str:
    if text not in SOURCE_MODES:
        raise SettingError(f"{name}={text!r}: choose one of {', '.join(SOURCE_MODES)}")
    return text


def _path(_name: str, text: str) -> Path:
    return Path(text).expanduser().resolve()


def _hosts(_name: str, text: str) -> tuple[str, ...]:
    return tuple(text.replace(",", " ").split())


def _text(_name: str, text: str) -> str:
    return text


def _s3_url(name: str, text: str) -> str:
    if not text.startswith("s3://") or len(text) <= len("s3://"):
        raise SettingError(f"{name}={text!r} is not an S3 URL: use s3://bucket/prefix")
    return text


def _url_style(name: str, text: str) -> str:
    if text not in S3_URL_STYLES:
        raise SettingError(f"{name}={text!r}: choose one of {', '.join(S3_URL_STYLES)}")
    return text


@dataclass(frozen=True)
class Variable:
    """One environment variable: the :class:`Settings` field it sets, how its text is read,
    its default as people read it, and what it means."""

    name: str
    field: str
    parse: Callable[[str, str], Any]
    default: str
    meaning: str


VARIABLES: tuple[Variable, ...] = (
    Variable("LEAGUE_HOME", "home", _path, "`./.league`", "the working folder"),
    Variable(
        "LEAGUE_SOURCE_MODE",
        "source_mode",
        _mode,
        "`landing`",
        "`landing` (local folder) or `http` (NHS England URLs in `assets/sources.yaml`)",
    ),
    Variable(
        "LEAGUE_LANDING_DIR",
        "landing_dir",
        _path,
        "`$LEAGUE_HOME/landing`",
        "landing folder: `<2025-26-q1>/<published file name>`",
    ),
    Variable(
        "LEAGUE_HTTP_BASE_URL",
        "http_base_url",
        _text,
        "(none)",
        "replaces the host of every URL (a mirror, or a test server)",
    ),
    Variable(
        "LEAGUE_HTTP_TIMEOUT", "http_timeout", _number, f"`{HTTP_TIMEOUT:g}`", "http timeout (s)"
    ),
    Variable(
        "LEAGUE_HTTP_RETRIES",
        "http_retries",
        _whole,
        f"`{HTTP_RETRIES}`",
        "http retries after the first attempt; the backoff is exponential",
    ),
    Variable(
        "LEAGUE_HTTP_ALLOWED_HOSTS",
        "http_allowed_hosts",
        _hosts,
        "(none)",
        "hosts other than a URL's own that an http redirect may lead to, separated by commas "
        "or spaces: `host` (any port), `host:port` or `*.domain`. Empty: only redirects to the "
        "same host (and port) are followed. A redirect from https to http is refused whatever "
        "this says",
    ),
    Variable(
        "LEAGUE_BOOTSTRAP_REPLICATES",
        "bootstrap_replicates",
        lambda name, text: _whole(name, text, minimum=1),
        f"`{BOOTSTRAP_REPLICATES}`",
        "bootstrap replicates of the likely ranks",
    ),
    Variable(
        "LEAGUE_BOOTSTRAP_SEED",
        "bootstrap_seed",
        _whole,
        f"`{BOOTSTRAP_SEED}`",
        "seed of the likely ranks' bootstrap",
    ),
    Variable(
        "LEAGUE_WHATIF_CHECKED",
        "whatif_checked",
        _whole,
        f"`{WHATIF_CHECKED}`",
        'metrics per trust the report\'s "what would it take" suggestions search exactly (the '
        "ones the estimate ranks best); `0` leaves the suggestions out, and every trust page "
        "says so. The search is most of the outputs step's work",
    ),
    Variable(
        "LEAGUE_LAKE_CATALOG",
        "lake_catalog",
        _text,
        "SQLite in `$LEAGUE_HOME/lake`",
        "DuckLake catalog: `sqlite:/path/catalog.sqlite`, or `postgres:dbname=league host=...` "
        "for a team",
    ),
    Variable(
        "LEAGUE_LAKE_BACKUPS",
        "lake_backups",
        _whole,
        f"`{LAKE_BACKUPS}`",
        "verified copies of the SQLite catalog kept in `lake/backups/` (one after every "
        "commit; `0` keeps none); `league lake restore` uses the newest good one",
    ),
    Variable(
        "LEAGUE_LAKE_DATA_PATH",
        "lake_data_path",
        _s3_url,
        "`$LEAGUE_HOME/lake/data`",
        "where the lake's Parquet data files go: `s3://bucket/prefix` puts them on "
        "S3-compatible object storage (the team deployment; with the `LEAGUE_S3_*` and `AWS_*` "
        "variables)",
    ),
    Variable(
        "LEAGUE_S3_ENDPOINT",
        "s3_endpoint",
        _text,
        "(none: AWS)",
        "`host:port` of an S3-compatible server other than AWS (MinIO, Ceph, ...); "
        "`http://host:port` for plain http",
    ),
    Variable(
        "LEAGUE_S3_URL_STYLE",
        "s3_url_style",
        _url_style,
        "`path` with an endpoint, else `vhost`",
        "`path` (`host/bucket/key`) or `vhost` (`bucket.host/key`)",
    ),
    Variable("AWS_REGION", "s3_region", _text, "`us-east-1`", "the object storage's region"),
    Variable(
        "AWS_ACCESS_KEY_ID",
        "s3_key_id",
        _text,
        "(none)",
        "the object storage's access key (none: anonymous access)",
    ),
    Variable("AWS_SECRET_ACCESS_KEY", "s3_secret", _text, "(none)", "its secret key"),
    Variable("AWS_SESSION_TOKEN", "s3_session_token", _text, "(none)", "a temporary session token"),
    Variable(
        "LEAGUE_CELERY_BROKER",
        "celery_broker",
        _text,
        "`pyamqp://guest@localhost:5672//` (dagster-celery's)",
        "the Celery broker of `quarterly_league_celery_job`, e.g. `redis://host:6379/0`",
    ),
    Variable(
        "LEAGUE_CELERY_BACKEND",
        "celery_backend",
        _text,
        "`rpc://`",
        "where Celery workers send step results back, e.g. `redis://host:6379/0`",
    ),
    Variable(
        "LEAGUE_CACHE_DIR",
        "cache_dir",
        _path,
        f"`$XDG_CACHE_HOME/{CACHE_FOLDER}`, else `~/.cache/{CACHE_FOLDER}`",
        "files that are slow to make and safe to delete, shared by every working home",
    ),
    Variable(
        "DAGSTER_HOME",
        "dagster_home",
        _path,
        "`$LEAGUE_HOME/dagster`",
        "the Dagster instance of `league run` and `league backfill` (runs, events)",
    ),
)


def user_cache_dir(xdg_cache_home: str | None = None) -> Path:
    """``<xdg_cache_home or ~/.cache>/league-pipeline``."""
    base = Path(xdg_cache_home) if xdg_cache_home else Path.home() / ".cache"
    return base.expanduser().resolve() / CACHE_FOLDER


@dataclass(frozen=True)
class Settings:
    """Where things live and how a run fetches, scores and keeps its results.

    Build it with :meth:`from_env` (the ``league`` command, the Dagster code location) or
    :meth:`for_home` (explicit folders, no environment). The variables, their defaults and
    meanings are :data:`VARIABLES`; in short:

    * ``home``: the working folder (``./.league``); ``landing_dir`` (``<home>/landing``),
      ``dagster_home`` (``<home>/dagster``) and ``cache_dir`` (``~/.cache/league-pipeline``)
      may live elsewhere; the rest of the layout is :attr:`layout` (sources, staging, lake,
      outputs);
    * ``source_mode`` (``landing``), ``http_base_url`` (none), ``http_timeout`` (30 s),
      ``http_retries`` (3), ``http_allowed_hosts`` (none): how source files are fetched;
    * ``bootstrap_replicates`` (10,000) and ``bootstrap_seed`` (20250401): the likely ranks;
      ``whatif_checked`` (3): the metrics per trust the report's what-if suggestions search;
    * ``lake_catalog`` (none: SQLite in ``<home>/lake``) and ``lake_backups`` (5): the lake;
      ``lake_data_path`` (none: ``<home>/lake/data``, or ``s3://...``) and the ``s3_*`` fields:
      where its data files go;
    * ``celery_broker`` and ``celery_backend``: the Celery job's workers (none: dagster-celery's
      defaults).

    Secrets (the object storage's keys, broker URLs that may hold a password) are left out of
    ``repr``.
    """

    home: Path
    landing_dir: Path
    dagster_home: Path
    cache_dir: Path
    source_mode: str = "landing"
    http_base_url: str | None = None
    http_timeout: float = HTTP_TIMEOUT
    http_retries: int = HTTP_RETRIES
    http_allowed_hosts: tuple[str, ...] = ()
    bootstrap_replicates: int = BOOTSTRAP_REPLICATES
    bootstrap_seed: int = BOOTSTRAP_SEED
    whatif_checked: int = WHATIF_CHECKED
    lake_catalog: str | None = None
    lake_backups: int = LAKE_BACKUPS
    lake_data_path: str | None = None
    s3_endpoint: str | None = None
    s3_url_style: str | None = None
    s3_region: str | None = None
    s3_key_id: str | None = field(default=None, repr=False)
    s3_secret: str | None = field(default=None, repr=False)
    s3_session_token: str | None = field(default=None, repr=False)
    celery_broker: str | None = field(default=None, repr=False)
    celery_backend: str | None = field(default=None, repr=False)

    @property
    def layout(self) -> HomeLayout:
        """The folders inside :attr:`home` (sources, staging, lake, outputs)."""
        return HomeLayout(self.home)

    @classmethod
    def for_home(cls, home: Path | str, **values: Any) -> Settings:
        """The settings of working folder ``home``, the other folders inside it unless given,
        everything else its default unless given; the environment is not read."""
        root = Path(home).expanduser().resolve()
        layout = HomeLayout(root)
        values.setdefault("landing_dir", layout.landing)
        values.setdefault("dagster_home", layout.dagster)
        values.setdefault("cache_dir", user_cache_dir())
        values["http_allowed_hosts"] = tuple(values.get("http_allowed_hosts", ()))
        return cls(home=root, **values)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings from the environment (``environ``, default ``os.environ``): each
        variable of :data:`VARIABLES` that is set and not empty, the defaults for the rest.
        A value that cannot be used raises :class:`SettingError` naming the variable."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for variable in VARIABLES:
            text = env.get(variable.name, "").strip()
            if text:
                values[variable.field] = variable.parse(variable.name, text)
        if "cache_dir" not in values:
            values["cache_dir"] = user_cache_dir(env.get("XDG_CACHE_HOME", "").strip() or None)
        return cls.for_home(values.pop("home", Path(".league")), **values)
