"""The team deployment's executor: a run's steps on Celery workers (issue 13).

Belongs here: ``quarterly_league_celery_job``, the same assets and checks as
``quarterly_league_job`` (:mod:`~league_pipeline.defs.automation`, whose in-process default is
unchanged), each step sent as a task to Celery workers by ``dagster_celery.celery_executor``,
with the broker and result backend from the settings (``configured``, so they stay out of run
config and the UI). The workers run ``dagster-celery worker start`` with ``deploy/celery.yaml``,
the same settings and the same Dagster instance (``docs/operations.md``, "Team deployment").
"""

from __future__ import annotations

import dagster as dg
from dagster_celery import celery_executor

from league_pipeline.defs.automation import quarterly_league_job

CELERY_JOB = "quarterly_league_celery_job"


def celery_job(broker: str | None, backend: str | None) -> dg.UnresolvedAssetJobDefinition:
    """The job whose steps run on the Celery workers listening at ``broker``; results come
    back through ``backend`` (None: dagster-celery's defaults, RabbitMQ on localhost and
    ``rpc://``)."""
    executor_config = {
        key: value for key, value in (("broker", broker), ("backend", backend)) if value
    }
    return dg.define_asset_job(
        CELERY_JOB,
        selection=quarterly_league_job.selection,  # the same assets and checks
        description=(
            "quarterly_league_job with every step run on a Celery worker: the team deployment "
            "(docs/operations.md)."
        ),
        executor_def=celery_executor.configured(executor_config, name="celery"),
    )
