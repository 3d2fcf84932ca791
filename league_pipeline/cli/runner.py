"""Execute the Dagster job from Python: the CLI's ``run`` and ``backfill``, and the tests.

Belongs here: launching ``quarterly_league_job`` in-process against a persistent Dagster
instance (``DAGSTER_HOME``, so the runs show in ``dagster dev``), one run for a range of quarters
or one run a quarter (optionally several quarters at once, each in its own process), turning
Dagster's events into one progress line per step, and turning the outcome into something a
person can act on (what failed, why, and the fix).

Parallel per-quarter runs are safe: each scoring step uses its own in-memory DuckDB, staging
files are per quarter, the source store is content-addressed with a file lock, and the snapshot
store serialises writers with its own lock (see :mod:`league_pipeline.snapshots.store`), so workers
never see a lock error. Each worker is a separate OS process (``spawn``) with its own Dagster
run in the same instance.

Dagster itself is imported lazily so that a worker process can silence Dagster's beta notices
before the asset definitions are built.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import threading
import uuid
import warnings
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from league_pipeline.core.quarters import Quarter, parse_quarter
from league_pipeline.core.settings import Settings
from league_pipeline.defs.resources import LeagueConfig, league_config

if TYPE_CHECKING:
    import dagster as dg

JOB_NAME = "quarterly_league_job"
PROGRESS_LOGGER = "league_progress"
BACKFILL_TAG = "league/backfill"  # groups the runs of one `league backfill`
MODE_TAG = "league/run_mode"  # single_run, per_quarter or parallel

Progress = Callable[[str], None]


def _no_progress(_message: str) -> None:
    """The default progress callback: say nothing."""


@dataclass
class RunOutcome:
    """One Dagster run: which quarters it covered, and whether it succeeded (and if not, why)."""

    quarters: list[Quarter]
    run_id: str
    success: bool
    problems: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return batch_label(self.quarters)


def batch_label(quarters: list[Quarter]) -> str:
    if len(quarters) == 1:
        return quarters[0].label
    return f"{quarters[0].label} to {quarters[-1].label}"


DEFAULT_INSTANCE_YAML = """\
# Written by league-pipeline on first use; edit freely (see docs/operations.md).
telemetry:
  enabled: false
"""


def instance(dagster_home: Path) -> dg.DagsterInstance:
    """The persistent instance in ``dagster_home`` (the settings' ``DAGSTER_HOME``, default
    ``$LEAGUE_HOME/dagster``), created with a ``dagster.yaml`` on first use."""
    import dagster as dg

    home = Path(dagster_home)
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(DEFAULT_INSTANCE_YAML)
    return dg.DagsterInstance.from_config(str(home))


# -- progress ------------------------------------------------------------------------------------


class StepProgress(logging.Handler):
    """Turns the Dagster events of one run into one progress line per finished step.

    Dagster hands every event to the run's loggers as a log record carrying the event; this
    handler keeps each step's row count (from its materialisation) and failed checks, and
    reports the step when it succeeds or fails: ``[5/12] sources/ods_trusts (0.3 s, 205 rows)``
    or ``[2/12] sources/nof_trust_data_acute FAILED: check pandera_schema failed``.
    """

    def __init__(self, label: str, total_steps: int, progress: Progress) -> None:
        super().__init__(level=logging.DEBUG)
        self.label = label
        self.total = total_steps
        self.progress = progress
        self.done = 0
        self._rows: dict[str, int] = {}
        self._failed_checks: dict[str, list[str]] = {}

    def emit(self, record: logging.LogRecord) -> None:
        try:
            event = (getattr(record, "dagster_meta", None) or {}).get("dagster_event")
            if event is not None:
                self._on_event(event)
        except Exception:  # progress must never break a run
            self.handleError(record)

    def _on_event(self, event: Any) -> None:
        kind = event.event_type_value
        step = event.step_key
        if kind == "ASSET_MATERIALIZATION":
            # a range run materialises once per quarter, each with the whole run's row count
            rows = event.event_specific_data.materialization.metadata.get("dagster/row_count")
            if rows is not None:
                self._rows[step] = rows.value
        elif kind == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            if not evaluation.passed:
                self._failed_checks.setdefault(step, []).append(evaluation.check_name)
        elif kind == "STEP_SUCCESS":
            self.done += 1
            details = [f"{event.event_specific_data.duration_ms / 1000:.1f} s"]
            if step in self._rows:
                details.append(f"{self._rows.pop(step):,} rows")
            self._say(f"{self._step_name(step)} ({', '.join(details)})")
        elif kind == "STEP_FAILURE":
            self.done += 1
            checks = self._failed_checks.pop(step, [])
            why = f": check {', '.join(checks)} failed" if checks else ""
            self._say(f"{self._step_name(step)} FAILED{why}")

    @staticmethod
    def _step_name(step: str | None) -> str:
        return (step or "run").replace("__", "/")

    def _say(self, text: str) -> None:
        self.progress(f"{self.label}: [{self.done}/{self.total}] {text}")


def _progress_logger(handler: StepProgress) -> dg.LoggerDefinition:
    import dagster as dg

    def build(_init_context: dg.InitLoggerContext) -> logging.Logger:
        logger = logging.Logger(f"league.progress.{uuid.uuid4().hex[:8]}", level=logging.DEBUG)
        logger.addHandler(handler)
        return logger

    return dg.LoggerDefinition(build, description="One progress line per finished step.")


# -- one run -------------------------------------------------------------------------------------


def _job(
    league: LeagueConfig, settings: Settings, handler: StepProgress | None = None
) -> dg.JobDefinition:
    """The code location's ``quarterly_league_job``, with the progress logger attached."""
    import dagster as dg

    from league_pipeline.definitions import build_defs

    loggers = {"console": dg.colored_console_logger}
    if handler is not None:
        loggers[PROGRESS_LOGGER] = _progress_logger(handler)
    defs = dg.Definitions.merge(build_defs(settings, league), dg.Definitions(loggers=loggers))
    return defs.resolve_job_def(JOB_NAME)


def _run_config(log_level: str, league: LeagueConfig) -> dict:
    """Loggers, and the run's settings as the ``league`` resource's config, so that the run's
    page in the UI shows them (peer groups, source mode, ...) and a re-execution repeats them."""
    settings = {k: v for k, v in _league_fields(league).items() if v is not None}
    return {
        "loggers": {
            "console": {"config": {"log_level": log_level}},
            PROGRESS_LOGGER: {},
        },
        "resources": {"league": {"config": settings}},
    }


def _problems(result: dg.ExecuteInProcessResult) -> list[str]:
    """What stopped the run: failed blocking checks and failed steps (warnings are not)."""
    import dagster as dg

    out = []
    for evaluation in result.get_asset_check_evaluations():
        if not evaluation.passed and evaluation.severity != dg.AssetCheckSeverity.WARN:
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
    # "league_pipeline.formats.common.ReaderError: ..." -> the user-facing text only
    return rest if rest and error.cls_name and prefix.endswith(error.cls_name) else line


def run_batch(
    batch: list[Quarter],
    *,
    league: LeagueConfig,
    settings: Settings,
    dagster_instance: dg.DagsterInstance,
    progress: Progress = _no_progress,
    tags: dict[str, str] | None = None,
    log_level: str = "CRITICAL",
) -> RunOutcome:
    """One run of ``quarterly_league_job`` for ``batch`` (one quarter, or a range in one run)."""
    from dagster._core.storage.tags import (
        ASSET_PARTITION_RANGE_END_TAG,
        ASSET_PARTITION_RANGE_START_TAG,
    )

    label = batch_label(batch)
    handler = StepProgress(label, 0, progress)
    job = _job(league, settings, handler)
    steps = handler.total = len(job.nodes_in_topological_order)
    progress(f"running {label}: fetch, validate, score, snapshot ({steps} steps)")
    run_tags = dict(tags or {})
    partition_key = None
    if len(batch) == 1:
        partition_key = batch[0].key
    else:
        run_tags[ASSET_PARTITION_RANGE_START_TAG] = batch[0].key
        run_tags[ASSET_PARTITION_RANGE_END_TAG] = batch[-1].key
    result = job.execute_in_process(
        run_config=_run_config(log_level, league),
        instance=dagster_instance,
        partition_key=partition_key,
        raise_on_error=False,
        tags=run_tags,
    )
    outcome = RunOutcome(batch, result.run_id, result.success, _problems(result))
    progress(f"{label}: {'done' if outcome.success else 'FAILED'} (run {result.run_id[:8]})")
    return outcome


# -- several runs --------------------------------------------------------------------------------


def run_quarters(
    quarters: list[Quarter],
    *,
    single_run: bool = True,
    parallel: int = 1,
    settings: Settings,
    league: LeagueConfig | None = None,
    dagster_instance: dg.DagsterInstance | None = None,
    progress: Progress = _no_progress,
    tags: dict[str, str] | None = None,
    log_level: str = "CRITICAL",
) -> list[RunOutcome]:
    """Materialise every asset for ``quarters`` and return one outcome per run, oldest first.

    ``single_run`` (the default) covers the whole range in one run (``BackfillPolicy.single_run``
    on every asset). Otherwise there is one run a quarter: one after another, or ``parallel``
    at a time, each in its own process (this needs a persistent instance, not an ephemeral one).
    ``settings`` say where everything lives; ``league`` (default: from ``settings``) what the
    runs score; the instance defaults to the one in ``settings.dagster_home``.
    """
    if parallel < 1:
        raise ValueError(f"parallel must be at least 1, not {parallel}")
    league = league or league_config(settings)
    inst = dagster_instance or instance(settings.dagster_home)
    run_tags = dict(tags or {})
    if len(quarters) > 1:
        mode = "single_run" if single_run else "parallel" if parallel > 1 else "per_quarter"
        run_tags.setdefault(BACKFILL_TAG, uuid.uuid4().hex[:12])
        run_tags.setdefault(MODE_TAG, mode)
    if single_run:
        batches = [quarters]
    elif parallel > 1 and len(quarters) > 1:
        return _run_parallel(
            quarters, parallel, league, settings, inst, progress, run_tags, log_level
        )
    else:
        batches = [[q] for q in quarters]
    return [
        run_batch(
            batch,
            league=league,
            settings=settings,
            dagster_instance=inst,
            progress=progress,
            tags=run_tags,
            log_level=log_level,
        )
        for batch in batches
    ]


def _league_fields(league: LeagueConfig) -> dict[str, Any]:
    """The resource's settings as plain values (a ConfigurableResource does not pickle)."""
    return {name: getattr(league, name) for name in LeagueConfig.model_fields}


def with_peer_groups(league: LeagueConfig, peer_groups: list[str] | None) -> LeagueConfig:
    """``league`` limited to ``peer_groups`` (all of them when None)."""
    if not peer_groups:
        return league
    return LeagueConfig(**(_league_fields(league) | {"peer_groups": peer_groups}))


def _run_parallel(
    quarters: list[Quarter],
    workers: int,
    league: LeagueConfig,
    settings: Settings,
    inst: dg.DagsterInstance,
    progress: Progress,
    tags: dict[str, str],
    log_level: str,
) -> list[RunOutcome]:
    from dagster._serdes import serialize_value

    if inst.is_ephemeral:
        raise ValueError(
            "parallel runs need a persistent Dagster instance that every worker process can "
            "open: set DAGSTER_HOME (or leave it to default to $LEAGUE_HOME/dagster)"
        )
    instance_ref = serialize_value(inst.get_ref())
    workers = min(workers, len(quarters))
    progress(f"running {len(quarters)} quarters, {workers} at a time, each in its own process")
    ctx = mp.get_context("spawn")  # a fresh interpreter: no inherited threads or DuckDB handles
    messages = ctx.Queue()

    def relay() -> None:
        while (message := messages.get()) is not None:
            progress(message)

    relay_thread = threading.Thread(target=relay, name="league-progress-relay", daemon=True)
    relay_thread.start()
    outcomes: list[RunOutcome] = []
    try:
        with ProcessPoolExecutor(
            max_workers=workers,
            mp_context=ctx,
            initializer=_init_worker,
            initargs=(messages, log_level),
        ) as pool:
            futures = [
                pool.submit(
                    _worker, q.key, _league_fields(league), settings, instance_ref, tags, log_level
                )
                for q in quarters
            ]
            for quarter, future in zip(quarters, futures, strict=True):
                try:
                    outcomes.append(future.result())
                except Exception as exc:  # the worker died (killed, out of memory, ...)
                    outcomes.append(
                        RunOutcome(
                            [quarter],
                            "",
                            False,
                            [f"{quarter.label}: the worker process failed: {exc}"],
                        )
                    )
    finally:
        messages.put(None)
        relay_thread.join(timeout=10)
    return outcomes


_worker_messages: Any = None


def _init_worker(messages: Any, log_level: str) -> None:
    """Runs first in each worker process: logging and warnings (the settings come with each
    task)."""
    global _worker_messages
    _worker_messages = messages
    quiet = log_level.upper() == "CRITICAL"
    if quiet:
        warnings.filterwarnings("ignore")  # Dagster's beta/preview notices are not for end users
    logging.basicConfig(level=logging.ERROR if quiet else logging.INFO)


def _send(message: str) -> None:
    _worker_messages.put(message)


def _worker(
    key: str,
    league_fields: dict[str, Any],
    settings: Settings,
    instance_ref: str,
    tags: dict[str, str],
    level: str,
) -> RunOutcome:
    import dagster as dg
    from dagster._serdes import deserialize_value

    ref = deserialize_value(instance_ref)
    with dg.DagsterInstance.from_ref(ref) as inst:
        return run_batch(
            [parse_quarter(key)],
            league=LeagueConfig(**league_fields),
            settings=settings,
            dagster_instance=inst,
            progress=_send,
            tags=tags,
            log_level=level,
        )
