"""Dagster resources: the configuration object every asset reads, and the worker pool.

Belongs here: settings (source mode, folders, HTTP behaviour, bootstrap size, snapshot catalog)
and factories for the objects built from them; the pool of worker processes a range run uses
(:mod:`league_pipeline.workers`). Values come from environment variables so that
`dagster dev`, the CLI and tests configure runs the same way.
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)
from pydantic import Field, PrivateAttr

from league_pipeline.core import paths
from league_pipeline.core.peer_groups import PEER_GROUPS, peer_group
from league_pipeline.ingest.fetch import HttpFetcher
from league_pipeline.ingest.store import SourceStore
from league_pipeline.scoring.likely_ranges import DEFAULT_REPLICATES, DEFAULT_SEED
from league_pipeline.workers import QuarterPool, default_workers


class LeagueConfig(dg.ConfigurableResource):
    """Where sources come from and where results go.

    source_mode: ``landing`` (default; the local landing folder) or ``http`` (NHS England URLs
    from ``assets/sources.yaml``; ``http_base_url`` swaps the host, e.g. for a mirror or a test
    server).
    """

    source_mode: str = "landing"
    landing_dir: str | None = None
    http_base_url: str | None = None
    http_timeout: float = 30.0
    http_retries: int = 3
    http_allowed_hosts: list[str] = Field(
        default_factory=list,
        description=(
            "Hosts other than a URL's own that an http redirect may lead to (`host`, "
            "`host:port` or `*.domain`); empty: only same-host redirects are followed. A "
            "downgrade from https to http is refused whatever this says."
        ),
    )
    bootstrap_replicates: int = DEFAULT_REPLICATES
    bootstrap_seed: int = DEFAULT_SEED
    lake_catalog: str | None = None
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

    def landing_path(self) -> Path:
        return Path(self.landing_dir).resolve() if self.landing_dir else paths.landing_dir()

    def source_store(self) -> SourceStore:
        return SourceStore(paths.source_store_dir())

    def http_fetcher(self) -> HttpFetcher:
        return HttpFetcher(
            timeout=self.http_timeout,
            retries=self.http_retries,
            allowed_hosts=self.http_allowed_hosts,
        )

    def url_overrides(self) -> dict[str, str] | None:
        return {"base_url": self.http_base_url} if self.http_base_url else None


def config_from_env() -> LeagueConfig:
    """Build the resource from LEAGUE_* environment variables (documented in the README)."""
    env = os.environ
    return LeagueConfig(
        source_mode=env.get("LEAGUE_SOURCE_MODE", "landing"),
        landing_dir=env.get("LEAGUE_LANDING_DIR"),
        http_base_url=env.get("LEAGUE_HTTP_BASE_URL"),
        http_timeout=float(env.get("LEAGUE_HTTP_TIMEOUT", "30")),
        http_retries=int(env.get("LEAGUE_HTTP_RETRIES", "3")),
        http_allowed_hosts=env.get("LEAGUE_HTTP_ALLOWED_HOSTS", "").replace(",", " ").split(),
        bootstrap_replicates=int(env.get("LEAGUE_BOOTSTRAP_REPLICATES", str(DEFAULT_REPLICATES))),
        bootstrap_seed=int(env.get("LEAGUE_BOOTSTRAP_SEED", str(DEFAULT_SEED))),
        lake_catalog=env.get("LEAGUE_LAKE_CATALOG"),
    )


class WorkerPool(dg.ConfigurableResource):
    """Worker processes for the work each quarter of a range run does on its own: its
    bootstrap of the likely ranges and its outputs.

    workers: how many (``LEAGUE_WORKERS``; default one per core, at most two; 1 turns the pool
    off). A run over several quarters starts them as it begins, so they are ready when the
    league tables and outputs steps need them; a run of one quarter never starts them.
    """

    workers: int = 2
    _pool: QuarterPool | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._pool = QuarterPool(self.workers)
        tags = context.run.tags if context.run is not None else {}
        start = tags.get(ASSET_PARTITION_RANGE_START_TAG)
        if start is not None and start != tags.get(ASSET_PARTITION_RANGE_END_TAG):
            self._pool.start()

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def map(self, fn, items):
        """``[fn(item) for item in items]``, shared among the workers (see QuarterPool.map)."""
        if self._pool is None:  # used outside a run (direct invocation in a test)
            with QuarterPool(self.workers) as pool:
                return pool.map(fn, items)
        return self._pool.map(fn, items)


def workers_from_env() -> WorkerPool:
    """The worker pool sized by ``LEAGUE_WORKERS`` (see :func:`workers.default_workers`)."""
    return WorkerPool(workers=default_workers())
