"""Runs started by ``league run`` show in the Dagster UI where the UI's own runs do: the job's
page (its runs), the Overview's Jobs tab and the job's header (the job's latest runs), and the
job's partitions view (the runs of each partition, and the asset's materialised partitions).
Each is checked with the GraphQL query that page sends, to a real ``dagster-webserver`` on
loopback serving the instance the CLI wrote to. A run of a job with the same name but without
the code location's tags is the control: the job's pages leave it out."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import dagster as dg
import httpx
import pytest
from ui_browser_support import webserver

from league_pipeline.cli import main
from league_pipeline.cli.runner import instance
from league_pipeline.core.quarters import parse_quarter
from league_pipeline.core.settings import Settings

Q1 = parse_quarter("2025/26 Q1")
JOB = "quarterly_league_job"
# what the UI passes for the job's code location: <repository>@<location in workspace.yaml>
REPOSITORY_TAG = {"key": ".dagster/repository", "value": "__repository__@league_pipeline"}

# the job's page: its runs feed, filtered on the job's name and code location
JOB_PAGE = """
query JobRuns($filter: RunsFilter) { runsFeedOrError(limit: 50, filter: $filter, view: RUNS) {
  __typename ... on RunsFeedConnection { results {
    __typename id ... on Run { jobName status tags { key value } } } }
} }
"""
# the Overview's Jobs tab and the job's header: the job, as the code location defines it, asked
# for its runs
JOB_RUNS = """
{ pipelineOrError(params: {pipelineName: "quarterly_league_job",
    repositoryName: "__repository__", repositoryLocationName: "league_pipeline"}) {
  __typename ... on Pipeline { runs(limit: 10) { runId } }
} }
"""
# the job's partitions view: the runs of one partition (one query per partition)
PARTITION_RUNS = """
query PartitionRuns($filter: RunsFilter!) { pipelineRunsOrError(filter: $filter, limit: 1000) {
  __typename ... on Runs { results { runId } }
} }
"""
# an asset's partitions tab: which quarters are materialised
ASSET_PARTITIONS = """
{ assetNodeOrError(assetKey: {path: ["snapshots", "quarterly_snapshot"]}) {
  __typename ... on AssetNode { partitionStats { numMaterialized numPartitions } }
} }
"""


@pytest.fixture
def settings(league_home: Path, generated_landing: Path) -> Settings:
    shutil.copytree(generated_landing, league_home / "landing")
    return Settings.for_home(league_home, bootstrap_replicates=200, whatif_checked=0)


def _ask(url: str, query: str, variables: dict | None = None) -> dict:
    reply = httpx.post(
        f"{url}/graphql", json={"query": query, "variables": variables or {}}, timeout=60
    )
    reply.raise_for_status()
    body = reply.json()
    assert "errors" not in body, body
    return body["data"]


def _run_without_the_code_locations_tags(dagster_instance: dg.DagsterInstance) -> str:
    """A run of a job also called quarterly_league_job, started as the CLI used to start them
    (``execute_in_process``: no code location tags)."""

    @dg.asset
    def nothing() -> None:
        return None

    job = dg.define_asset_job(JOB, selection=[nothing])
    defs = dg.Definitions(assets=[nothing], jobs=[job])
    return defs.resolve_job_def(JOB).execute_in_process(instance=dagster_instance).run_id


def test_a_cli_run_shows_on_the_jobs_pages(capsys, settings: Settings, tmp_path: Path):
    runs = instance(settings.dagster_home)  # the Dagster home, made before the UI opens it
    env = dict(os.environ) | {
        "LEAGUE_HOME": str(settings.home),  # the webserver's settings: its environment
        "DAGSTER_HOME": str(settings.dagster_home),
        "PYTHONWARNINGS": "ignore",
    }
    with webserver(env, tmp_path / "webserver.log") as server:
        # while the webserver loads the code location: `league run`, and the control run
        assert main(["run", "--quarter", Q1.label], settings=settings) == 0, capsys.readouterr()
        [cli_run] = runs.get_runs(filters=dg.RunsFilter(job_name=JOB))
        control = _run_without_the_code_locations_tags(runs)
        url = server.ready()

        # the job's page lists the CLI's run (and not the control), with its partition
        feed = _ask(url, JOB_PAGE, {"filter": {"pipelineName": JOB, "tags": [REPOSITORY_TAG]}})
        listed = {r["id"]: r for r in feed["runsFeedOrError"]["results"]}
        assert set(listed) == {cli_run.run_id}
        shown = listed[cli_run.run_id]
        assert shown["jobName"] == JOB and shown["status"] == "SUCCESS"
        tags = {t["key"]: t["value"] for t in shown["tags"]}
        assert tags["dagster/partition"] == Q1.key
        assert tags["dagster/code_location"] == "league_pipeline"

        # the Overview's Jobs tab and the job's header: the job's runs are the CLI's
        job = _ask(url, JOB_RUNS)["pipelineOrError"]
        assert job["__typename"] == "Pipeline"
        assert [r["runId"] for r in job["runs"]] == [cli_run.run_id]

        # the partitions view: the run is 2025/26 Q1's, and the quarter is materialised
        partition = {"key": "dagster/partition", "value": Q1.key}
        found = _ask(
            url,
            PARTITION_RUNS,
            {"filter": {"pipelineName": JOB, "tags": [REPOSITORY_TAG, partition]}},
        )
        assert [r["runId"] for r in found["pipelineRunsOrError"]["results"]] == [cli_run.run_id]
        stats = _ask(url, ASSET_PARTITIONS)["assetNodeOrError"]["partitionStats"]
        assert stats["numMaterialized"] == 1 and stats["numPartitions"] >= 4

        # the control run is in the instance, under the same job name, and on none of these
        everything = _ask(url, JOB_PAGE, {"filter": {"pipelineName": JOB}})
        assert {r["id"] for r in everything["runsFeedOrError"]["results"]} == {
            cli_run.run_id,
            control,
        }
