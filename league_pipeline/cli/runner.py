"""Start runs of the code location's job from Python: the CLI's ``run`` and ``backfill``, and the
tests.

Belongs here: executing ``quarterly_league_job`` as the code location defines it (through
:func:`dagster.execute_job` and a reconstructable job) against the persistent instance in the
settings' Dagster home; the tags that put such a run on the job's page and in its partitions
view in the UI; the run config (the executor, the run's settings as resource config); one run
for a range of quarters or one a quarter; one progress line per finished step, read from the
run's events; and turning the outcome into what failed, why, and the fix. Parallel work is
Dagster's: the executor's ``max_concurrent`` inside a run (``defs/automation.py``), the
instance's run queue across runs (``deploy/dagster.yaml``).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from league_pipeline.core.quarters import Quarter
from league_pipeline.core.settings import Settings
from league_pipeline.defs.partitions import QUARTER_TAG
from league_pipeline.defs.resources import LeagueConfig, league_config, run_resources

if TYPE_CHECKING:
    import dagster as dg

JOB_NAME = "quarterly_league_job"
# workspace.yaml's location_name, and Dagster's name for the repository of a Definitions object
CODE_LOCATION = "league_pipeline"
REPOSITORY = "__repository__"
# What the UI sets on the runs it launches and filters on. The job's page and its partitions
# view ask for runs with the job's name and `.dagster/repository` = <repository>@<location>.
REPOSITORY_TAG = ".dagster/repository"
CODE_LOCATION_TAG = "dagster/code_location"
PARTITION_TAG = "dagster/partition"
RANGE_START_TAG = "dagster/asset_partition_range_start"  # a range in one run (single-run
RANGE_END_TAG = "dagster/asset_partition_range_end"  # backfill policy on every asset)
BACKFILL_TAG = "league/backfill"  # groups the runs of one `league backfill`
MODE_TAG = "league/run_mode"  # single_run or per_quarter
REQUEST_TAG = "league/request"  # the runner's own id for a run it starts, to follow its events

# the events a progress line is made from
PROGRESS_EVENTS = (
    "ASSET_MATERIALIZATION",
    "ASSET_CHECK_EVALUATION",
    "STEP_SUCCESS",
    "STEP_FAILURE",
)
POLL_SECONDS = 0.25

Progress = Callable[[str], None]
# where a run's steps stand: (run label, steps done, steps in all, the step just finished)
Steps = Callable[[str, int, int, str], None]


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


# -- the job -------------------------------------------------------------------------------------


def code_location_job() -> dg.JobDefinition:
    """The code location's ``quarterly_league_job``, as ``dagster dev`` loads it.

    A module-level function, so that :func:`dagster.reconstructable` can point at it: a
    multiprocess run's step processes rebuild the job from here."""
    from league_pipeline.definitions import defs

    return defs.resolve_job_def(JOB_NAME)


def run_tags(batch: list[Quarter], tags: dict[str, str] | None = None) -> dict[str, str]:
    """``tags`` plus the code location's tags and the quarters' partition tags: one quarter is
    ``dagster/partition``, a range the asset partition range tags, as the UI sets them; and
    ``league/quarter``, the quarters as people read them (``2025/26 Q1``: the partition keys
    are the months the quarters start)."""
    out = {
        **(tags or {}),
        REPOSITORY_TAG: f"{REPOSITORY}@{CODE_LOCATION}",
        CODE_LOCATION_TAG: CODE_LOCATION,
        QUARTER_TAG: batch_label(batch),
    }
    if len(batch) == 1:
        out[PARTITION_TAG] = batch[0].key
    else:
        out[RANGE_START_TAG] = batch[0].key
        out[RANGE_END_TAG] = batch[-1].key
    return out


def _fields(resource: Any) -> dict[str, Any]:
    """A resource's settings as plain values: its config in a run config. A value Dagster reads
    from an environment variable (``dg.EnvVar``, a secret) stays a reference to the variable."""
    import dagster as dg

    values = {name: getattr(resource, name) for name in type(resource).model_fields}
    return {
        name: {"env": value.env_var_name} if isinstance(value, dg.EnvVar) else value
        for name, value in values.items()
    }


def run_config(
    settings: Settings,
    league: LeagueConfig,
    *,
    parallel: int = 1,
    log_level: str = "CRITICAL",
) -> dict:
    """The run config: the executor (``parallel`` steps at a time), the console log level, and
    every resource's settings, so that the run uses ``settings`` whatever the environment of the
    process the job was loaded in, the run's page in the UI shows them, and a re-execution
    repeats them."""
    from league_pipeline.defs.automation import executor_config

    resources = run_resources(settings, league)
    return {
        **executor_config(parallel),
        "loggers": {"console": {"config": {"log_level": log_level}}},
        "resources": {name: {"config": _fields(r)} for name, r in resources.items()},
    }


# -- progress ------------------------------------------------------------------------------------


class StepProgress:
    """Turns the Dagster events of one run into one progress line per finished step.

    Keeps each step's row count (from its materialisation) and failed checks, and reports the
    step when it succeeds or fails: ``[5/12] sources/ods_trusts (0.3 s, 205 rows)`` or
    ``[2/12] sources/nof_trust_data_acute FAILED: check pandera_schema failed``. With ``steps``
    (a progress bar), a step that succeeds moves the bar instead of printing a line.
    """

    def __init__(
        self, label: str, total_steps: int, progress: Progress, steps: Steps | None = None
    ) -> None:
        self.label = label
        self.total = total_steps
        self.progress = progress
        self.steps = steps
        self.done = 0
        self._rows: dict[str, int] = {}
        self._failed_checks: dict[str, list[str]] = {}

    def on_event(self, event: Any) -> None:
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
            text = f"{self._step_name(step)} ({', '.join(details)})"
            if self.steps is None:
                self._say(text)
            else:
                self.steps(self.label, self.done, self.total, text)
        elif kind == "STEP_FAILURE":
            self.done += 1
            checks = self._failed_checks.pop(step, [])
            why = f": check {', '.join(checks)} failed" if checks else ""
            self._say(f"{self._step_name(step)} FAILED{why}")  # a line, bar or not
            if self.steps is not None:
                self.steps(self.label, self.done, self.total, self._step_name(step) + " FAILED")

    @staticmethod
    def _step_name(step: str | None) -> str:
        return (step or "run").replace("__", "/")

    def _say(self, text: str) -> None:
        self.progress(f"{self.label}: [{self.done}/{self.total}] {text}")


class RunFollower:
    """Follows the events of the run tagged ``league/request = request`` in ``instance`` from a
    background thread, handing each progress event to ``handler`` in order. The run's steps may
    be in this process or in others (the multiprocess executor): they all write to the
    instance. :meth:`stop` hands over the events not yet seen before it returns."""

    def __init__(self, dagster_instance: dg.DagsterInstance, request: str, handler) -> None:
        self._instance = dagster_instance
        self._request = request
        self._handler = handler
        self._run_id: str | None = None
        self._cursor: str | None = None
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._follow, name="league-progress", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, run_id: str | None) -> None:
        self._run_id = self._run_id or run_id
        self._stopping.set()
        self._thread.join()

    def _follow(self) -> None:
        while True:
            last = self._stopping.is_set()  # one more pass after stop() is called
            try:
                self._pass()
            except Exception:  # progress must never break a run
                return
            if last:
                return
            self._stopping.wait(POLL_SECONDS)

    def _pass(self) -> None:
        import dagster as dg

        if self._run_id is None:
            found = self._instance.get_run_ids(
                filters=dg.RunsFilter(tags={REQUEST_TAG: self._request}), limit=1
            )
            if not found:
                return
            self._run_id = found[0]
        kinds = {dg.DagsterEventType(kind) for kind in PROGRESS_EVENTS}
        while True:
            page = self._instance.get_records_for_run(
                self._run_id, cursor=self._cursor, of_type=kinds, limit=1000
            )
            for record in page.records:
                self._handler(record.event_log_entry.dagster_event)
            self._cursor = page.cursor
            if not page.has_more:
                return


# -- one run -------------------------------------------------------------------------------------


def _problems(result: dg.ExecutionResult) -> list[str]:
    """What stopped the run: failed blocking checks and failed steps (warnings are not)."""
    import dagster as dg

    out, reported = [], set()
    for evaluation in result.get_asset_check_evaluations():
        if not evaluation.passed and evaluation.severity != dg.AssetCheckSeverity.WARN:
            summary = evaluation.metadata.get("summary")
            text = summary.value if summary is not None else "check failed"
            place = evaluation.metadata.get("where")  # the file, its bad lines and their text
            if place is not None:
                text = f"{text} In {place.value}"
            out.append(
                f"{'/'.join(evaluation.asset_key.path)} failed {evaluation.check_name}: {text}"
            )
            reported.add("__".join(evaluation.asset_key.path))
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data:
            message = root_cause(event.step_failure_data.error)
            if "blocking asset check" in message or event.step_key in reported:
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
    parallel: int = 1,
    progress: Progress = _no_progress,
    steps: Steps | None = None,
    tags: dict[str, str] | None = None,
    log_level: str = "CRITICAL",
) -> RunOutcome:
    """One run of the code location's ``quarterly_league_job`` for ``batch`` (one quarter, or a
    range in one run), ``parallel`` steps at a time. ``progress`` gets the lines; ``steps``, when
    given, where the steps stand instead of a line per step that succeeds."""
    import dagster as dg

    label = batch_label(batch)
    total = len(code_location_job().nodes_in_topological_order)
    handler = StepProgress(label, total, progress, steps)
    progress(f"running {label}: fetch, validate, score, snapshot ({handler.total} steps)")
    if steps is not None:
        steps(label, 0, total, "")
    request = uuid.uuid4().hex
    follower = RunFollower(dagster_instance, request, handler.on_event)
    follower.start()
    run_id = None
    try:
        with dg.execute_job(
            dg.reconstructable(code_location_job),
            instance=dagster_instance,
            run_config=run_config(settings, league, parallel=parallel, log_level=log_level),
            tags=run_tags(batch, {**(tags or {}), REQUEST_TAG: request}),
            raise_on_error=False,
        ) as result:
            run_id = result.run_id
            outcome = RunOutcome(batch, result.run_id, result.success, _problems(result))
    finally:
        follower.stop(run_id)
    progress(f"{label}: {'done' if outcome.success else 'FAILED'} (run {outcome.run_id[:8]})")
    return outcome


# -- several runs --------------------------------------------------------------------------------


def run_quarters(
    quarters: list[Quarter],
    *,
    single_run: bool = True,
    parallel: int | None = None,
    settings: Settings,
    league: LeagueConfig | None = None,
    dagster_instance: dg.DagsterInstance | None = None,
    progress: Progress = _no_progress,
    steps: Steps | None = None,
    tags: dict[str, str] | None = None,
    log_level: str = "CRITICAL",
) -> list[RunOutcome]:
    """Materialise every asset for ``quarters`` and return one outcome per run, oldest first.

    ``single_run`` (the default) covers the whole range in one run (``BackfillPolicy.single_run``
    on every asset); otherwise there is one run a quarter, one after another. ``parallel`` is
    how many steps of a run execute at once: 1 runs them one after another in this process,
    more runs each in a process of its own (Dagster's multiprocess executor); None is the job's
    default (:data:`~league_pipeline.defs.automation.DEFAULT_MAX_CONCURRENT`). ``settings`` say
    where everything lives; ``league`` (default: from ``settings``) what the runs score; the
    instance defaults to the one in ``settings.dagster_home`` (step processes need a persistent
    one). ``progress`` and ``steps`` are :func:`run_batch`'s.
    """
    from league_pipeline.defs.automation import DEFAULT_MAX_CONCURRENT

    parallel = DEFAULT_MAX_CONCURRENT if parallel is None else parallel
    if parallel < 1:
        raise ValueError(f"parallel must be at least 1, not {parallel}")
    league = league or league_config(settings)
    inst = dagster_instance or instance(settings.dagster_home)
    if parallel > 1 and inst.is_ephemeral:
        raise ValueError(
            "steps in processes of their own need a persistent Dagster instance that they can "
            "open: pass one made from a Dagster home, or leave it to the settings' Dagster home"
        )
    common = dict(tags or {})
    if len(quarters) > 1:
        common.setdefault(BACKFILL_TAG, uuid.uuid4().hex[:12])
        common.setdefault(MODE_TAG, "single_run" if single_run else "per_quarter")
    batches = [quarters] if single_run else [[q] for q in quarters]
    return [
        run_batch(
            batch,
            league=league,
            settings=settings,
            dagster_instance=inst,
            parallel=parallel,
            progress=progress,
            steps=steps,
            tags=common,
            log_level=log_level,
        )
        for batch in batches
    ]


def with_peer_groups(league: LeagueConfig, peer_groups: list[str] | None) -> LeagueConfig:
    """``league`` limited to ``peer_groups`` (all of them when None)."""
    if not peer_groups:
        return league
    return LeagueConfig(**(_fields(league) | {"peer_groups": peer_groups}))
