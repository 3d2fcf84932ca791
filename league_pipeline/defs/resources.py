"""Dagster resources: the working home, staging, the snapshot store, the source fetcher and the
run's scoring settings.

Belongs here: one ``ConfigurableResource`` per thing a run uses, each with its configuration
shown on the UI's Resources page and a ``get()`` building the library object from it
(``Staging``, ``SnapshotStore``, ``SourceFetcher``); :func:`run_resources` builds them all from
:class:`~league_pipeline.core.settings.Settings`. Nothing here reads the environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg
from pydantic import Field

from league_pipeline.core.paths import HomeLayout
from league_pipeline.core.peer_groups import PEER_GROUPS, peer_group
from league_pipeline.core.settings import (
    BOOTSTRAP_REPLICATES,
    BOOTSTRAP_SEED,
    HTTP_RETRIES,
    HTTP_TIMEOUT,
    LAKE_BACKUPS,
    VARIABLES,
    WHATIF_CHECKED,
    Settings,
)

if TYPE_CHECKING:  # the library objects are built (and imported) when a run asks for them
    from league_pipeline.core.staging import Staging
    from league_pipeline.ingest.acquire import SourceFetcher
    from league_pipeline.snapshots.store import SnapshotStore


class HomeResource(dg.ConfigurableResource):
    """The working home (``LEAGUE_HOME``): the outputs people read are written under it; and
    the cache folder outside it."""

    path: str = Field(description="The working folder; outputs go to <path>/outputs.")
    cache_dir: str = Field(description="Files that are slow to make and safe to delete.")

    def layout(self) -> HomeLayout:
        return HomeLayout(Path(self.path))

    def cache(self) -> Path:
        return Path(self.cache_dir)


class StagingResource(dg.ConfigurableResource):
    """The staging folder: the parsed extracts and intermediate tables handed between steps."""

    root: str = Field(description="The staging folder (<home>/staging).")

    def get(self) -> Staging:
        from league_pipeline.core.staging import Staging

        return Staging(Path(self.root))


class SnapshotStoreResource(dg.ConfigurableResource):
    """The snapshot store: a DuckLake lake of versioned quarterly snapshots."""

    root: str = Field(description="The lake folder: its Parquet data files (<home>/lake).")
    catalog: str | None = Field(
        default=None,
        description="The DuckLake catalog: none for <root>/catalog.sqlite, "
        "'sqlite:/path/catalog.sqlite', or 'postgres:dbname=... host=...'.",
    )
    backups: int = Field(
        default=LAKE_BACKUPS,
        description="Verified copies of a SQLite catalog kept in <root>/backups (0: none).",
    )

    data_path: str | None = Field(
        default=None,
        description="Object storage for the data files, s3://bucket/prefix (none: <root>/data).",
    )
    s3_endpoint: str | None = Field(
        default=None,
        description="host:port of an S3-compatible server (none: AWS); http://host:port for "
        "plain http.",
    )
    s3_url_style: str | None = Field(
        default=None, description="path or vhost (none: path with an endpoint, else vhost)."
    )
    s3_region: str | None = Field(default=None, description="Its region (none: us-east-1).")
    s3_key_id: str | None = Field(
        default=None, description="Its access key: AWS_ACCESS_KEY_ID, read when a run starts."
    )
    s3_secret: str | None = Field(
        default=None, description="Its secret key: AWS_SECRET_ACCESS_KEY, read when a run starts."
    )
    s3_session_token: str | None = Field(
        default=None, description="A session token: AWS_SESSION_TOKEN, read when a run starts."
    )

    def get(self) -> SnapshotStore:
        from league_pipeline.snapshots.store import SnapshotStore

        return SnapshotStore.at(
            Path(self.root),
            catalog=self.catalog,
            backups=self.backups,
            data_path=self.data_path,
            region=self.s3_region,
            endpoint=self.s3_endpoint,
            url_style=self.s3_url_style,
            key_id=self.s3_key_id,
            secret=self.s3_secret,
            session_token=self.s3_session_token,
        )


def lake_storage_config(settings: Settings) -> dict[str, Any]:
    """The snapshot store's object storage settings, as its resource's fields. The credentials
    are the variables they come from (``dg.EnvVar``): Dagster reads them when a run starts, and
    neither the UI's Resources page nor a run's config shows them."""
    if not settings.lake_data_path:
        return {}
    variable = {v.field: v.name for v in VARIABLES}
    secrets = ("s3_key_id", "s3_secret", "s3_session_token")
    return {
        "data_path": settings.lake_data_path,
        "s3_endpoint": settings.s3_endpoint,
        "s3_url_style": settings.s3_url_style,
        "s3_region": settings.s3_region,
        **{name: dg.EnvVar(variable[name]) for name in secrets if getattr(settings, name)},
    }


class FetcherResource(dg.ConfigurableResource):
    """Where source files come from, and the source store they are kept in.

    mode: ``landing`` (the local landing folder) or ``http`` (NHS England URLs from
    ``assets/sources.yaml``; ``http_base_url`` swaps the host, e.g. for a mirror or a test
    server).
    """

    mode: str = Field(default="landing", description="landing or http.")
    landing_dir: str = Field(description="The landing folder: <2025-26-q1>/<published name>.")
    store_root: str = Field(description="The content-addressed source store (<home>/sources).")
    http_base_url: str | None = None
    http_timeout: float = HTTP_TIMEOUT
    http_retries: int = HTTP_RETRIES
    http_allowed_hosts: list[str] = Field(
        default_factory=list,
        description=(
            "Hosts other than a URL's own that an http redirect may lead to (`host`, "
            "`host:port` or `*.domain`); empty: only same-host redirects are followed. A "
            "downgrade from https to http is refused whatever this says."
        ),
    )

    def get(self) -> SourceFetcher:
        from league_pipeline.ingest.acquire import SourceFetcher
        from league_pipeline.ingest.fetch import HttpFetcher
        from league_pipeline.ingest.store import SourceStore

        http = None
        if self.mode == "http":
            http = HttpFetcher(
                timeout=self.http_timeout,
                retries=self.http_retries,
                allowed_hosts=self.http_allowed_hosts,
            )
        return SourceFetcher(
            mode=self.mode,
            store=SourceStore(Path(self.store_root)),
            landing_dir=Path(self.landing_dir),
            http=http,
            url_overrides={"base_url": self.http_base_url} if self.http_base_url else None,
        )


class LeagueConfig(dg.ConfigurableResource):
    """What a run scores: its peer groups, the bootstrap of the likely ranks, and how far the
    report's what-if suggestions search."""

    bootstrap_replicates: int = BOOTSTRAP_REPLICATES
    bootstrap_seed: int = BOOTSTRAP_SEED
    whatif_checked: int = Field(
        default=WHATIF_CHECKED,
        ge=0,
        description=(
            "Metrics per trust the report's 'what would it take' suggestions search exactly; "
            "0 leaves them out (every trust page says so)."
        ),
    )
    peer_groups: list[str] = Field(
        default_factory=lambda: [g.id for g in PEER_GROUPS],
        description=(
            "The peer groups this run scores (acute, mental_health_community, ambulance). "
            "Values whose ranking pool or cut-points span a group left out are taken from NHS "
            "England's publication (basis 'published')."
        ),
    )

    def run_peer_groups(self) -> list[str]:
        """The run's peer groups as ids, in the standard order (aliases accepted)."""
        chosen = {peer_group(g).id for g in self.peer_groups}
        if not chosen:
            raise ValueError("peer_groups is empty: name at least one peer group")
        return [g.id for g in PEER_GROUPS if g.id in chosen]


def league_config(settings: Settings) -> LeagueConfig:
    """The run's scoring settings (every peer group) from ``settings``."""
    return LeagueConfig(
        bootstrap_replicates=settings.bootstrap_replicates,
        bootstrap_seed=settings.bootstrap_seed,
        whatif_checked=settings.whatif_checked,
    )


def run_resources(
    settings: Settings, league: LeagueConfig | None = None
) -> dict[str, dg.ConfigurableResource]:
    """Every resource a run of the assets needs, built from ``settings`` (``league`` overrides
    the run's scoring settings)."""
    layout = settings.layout
    return {
        "home": HomeResource(path=str(settings.home), cache_dir=str(settings.cache_dir)),
        "staging": StagingResource(root=str(layout.staging)),
        "snapshots": SnapshotStoreResource(
            root=str(layout.lake),
            catalog=settings.lake_catalog,
            backups=settings.lake_backups,
            **lake_storage_config(settings),
        ),
        "fetcher": FetcherResource(
            mode=settings.source_mode,
            landing_dir=str(settings.landing_dir),
            store_root=str(layout.sources),
            http_base_url=settings.http_base_url,
            http_timeout=settings.http_timeout,
            http_retries=settings.http_retries,
            http_allowed_hosts=list(settings.http_allowed_hosts),
        ),
        "league": league or league_config(settings),
    }
