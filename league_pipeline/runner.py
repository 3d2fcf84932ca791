"""Execute the Dagster job from Python: the CLI's ``run`` and ``backfill``, and the tests.

Belongs here: launching materialisations in-process against a persistent Dagster instance
(``DAGSTER_HOME``, so the runs show in ``dagster dev``) and turning the outcome into something a
person can act on (what failed, why, and the fix).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from league_pipeline import paths
from league_pipeline.definitions import ALL_ASSETS
from league_pipeline.quarters import Quarter
from league_pipeline.resources import LeagueConfig, config_from_env


def _log_config(level: str) -> dict:
    return {"loggers": {"console": {"config": {"log_level": level}}}}


@dataclass
class RunOutcome:
    quarters: list[Quarter]
    run_id: str
    success: bool
    problems: list[str] = field(default_factory=list)


DEFAULT_INSTANCE_YAML = """\
# Written by league-pipeline on first use; edit freely (see README: production instance).
telemetry:
  enabled: false
"""


def instance() -> dg.DagsterInstance:
    """The persistent instance in DAGSTER_HOME (default ``$LEAGUE_HOME/dagster``)."""
    os.environ.setdefault("DAGSTER_HOME", str(paths.dagster_home()))
    home = Path(os.environ["DAGSTER_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(DEFAULT_INSTANCE_YAML)
    return dg.DagsterInstance.get()


def _problems(result: dg.ExecuteInProcessResult) -> list[str]:
    out = []
    for evaluation in result.get_asset_check_evaluations():
        if not evaluation.passed:
            summary = evaluation.metadata.get("summary")
            text = summary.value if summary is not None else "check failed"
            out.append(
                f"{'/'.join(evaluation.asset_key.path)} failed {evaluation.check_name}: {text}"
            )
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data:
            message = root_cause(event.step_failure_data.error)
            if "blocking asset check" in message:
                continue  # already reported with its reason above
            out.append(f"{event.step_key}: {message}")
    return out


def root_cause(error) -> str:
    """The innermost error's first line (Dagster wraps the user's exception)."""
    if error is None:
        return "step failed"
    while error.cause is not None:
        error = error.cause
    line = error.message.strip().splitlines()[0]
    prefix, _, rest = line.partition(": ")
    # "league_pipeline.readers.ReaderError: ..." -> the user-facing text only
    return rest if rest and error.cls_name and prefix.endswith(error.cls_name) else line


def run_quarters(
    quarters: list[Quarter],
    *,
    single_run: bool = True,
    league: LeagueConfig | None = None,
    dagster_instance: dg.DagsterInstance | None = None,
    progress: Callable[[str], None] = lambda _msg: None,
    tags: dict[str, str] | None = None,
    log_level: str = "CRITICAL",
) -> list[RunOutcome]:
    """Materialise every asset for ``quarters``: one run for the whole range, or one a quarter."""
    league = league or config_from_env()
    inst = dagster_instance or instance()
    batches = [quarters] if single_run else [[q] for q in quarters]
    outcomes = []
    for batch in batches:
        label = batch[0].label if len(batch) == 1 else f"{batch[0].label} to {batch[-1].label}"
        progress(f"running {label}: fetch, validate, score, snapshot ...")
        run_tags = dict(tags or {})
        partition_key = None
        if len(batch) == 1:
            partition_key = batch[0].key
        else:
            run_tags[ASSET_PARTITION_RANGE_START_TAG] = batch[0].key
            run_tags[ASSET_PARTITION_RANGE_END_TAG] = batch[-1].key
        result = dg.materialize(
            ALL_ASSETS,
            partition_key=partition_key,
            resources={"league": league},
            instance=inst,
            run_config=_log_config(log_level),
            raise_on_error=False,
            tags=run_tags,
        )
        outcome = RunOutcome(batch, result.run_id, result.success, _problems(result))
        progress(f"{label}: {'done' if outcome.success else 'FAILED'} (run {result.run_id[:8]})")
        outcomes.append(outcome)
    return outcomes
