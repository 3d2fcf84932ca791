"""`dagster dev`'s code location loads with no errors: a real webserver on loopback, asked over
GraphQL, plus `dagster definitions validate` on workspace.yaml."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
WORKSPACE_QUERY = """
{ workspaceOrError { __typename ... on Workspace { locationEntries {
    name loadStatus
    locationOrLoadError { __typename ... on PythonError { message } }
} } } }
"""
ASSETS_QUERY = "{ assetNodes { assetKey { path } groupName hasAssetChecks } }"
# what the UI's Resources page shows: each top-level resource with its configured values
RESOURCES_QUERY = """
{ allTopLevelResourceDetailsOrError(repositorySelector: {
    repositoryLocationName: "league_pipeline", repositoryName: "__repository__"}) {
  __typename ... on ResourceDetailsList { results { name configuredValues { key value } } }
} }
"""


# what the asset graph and an asset's page show of the declarations: the snapshot step's pool,
# the outputs' dependency on the snapshot with its partition mapping, each asset's checks
DECLARATIONS_QUERY = """
{ assetNodes { assetKey { path } pools
    dependencies { asset { assetKey { path } } partitionMapping { className description } }
    assetChecksOrError { __typename ... on AssetChecks { checks { name jobNames blocking } } }
} }
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["DAGSTER_HOME"] = str(tmp_path / "dagster_home")
    env["LEAGUE_HOME"] = str(tmp_path / "league")
    Path(env["DAGSTER_HOME"]).mkdir()
    (Path(env["DAGSTER_HOME"]) / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return env


def test_definitions_validate(tmp_path):
    result = subprocess.run(
        [str(BIN / "dagster"), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=REPO,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "All code locations passed validation" in result.stdout + result.stderr


def test_webserver_loads_the_code_location(tmp_path):
    port = _free_port()
    proc = subprocess.Popen(
        [
            str(BIN / "dagster-webserver"),
            "-w",
            "workspace.yaml",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        cwd=REPO,
        env=_env(tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{url}/server_info", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "webserver did not start within 90 s"
            time.sleep(0.5)
        data = httpx.post(f"{url}/graphql", json={"query": WORKSPACE_QUERY}, timeout=30).json()
        entries = data["data"]["workspaceOrError"]["locationEntries"]
        assert [e["name"] for e in entries] == ["league_pipeline"]
        assert entries[0]["locationOrLoadError"]["__typename"] == "RepositoryLocation", entries
        nodes = httpx.post(f"{url}/graphql", json={"query": ASSETS_QUERY}, timeout=30).json()
        groups = {
            "/".join(n["assetKey"]["path"]): n["groupName"] for n in nodes["data"]["assetNodes"]
        }
        assert groups["sources/nof_trust_data_acute"] == "sources"
        assert groups["snapshots/quarterly_snapshot"] == "snapshots"
        checked = {
            "/".join(n["assetKey"]["path"])
            for n in nodes["data"]["assetNodes"]
            if n["hasAssetChecks"]
        }
        assert "sources/nof_trust_data_ambulance" in checked

        # the snapshot write's pool, the outputs' previous-quarter dependency, the freshness
        # check (in its own job, not the quarterly one)
        found = httpx.post(f"{url}/graphql", json={"query": DECLARATIONS_QUERY}, timeout=30)
        by_key = {"/".join(n["assetKey"]["path"]): n for n in found.json()["data"]["assetNodes"]}
        assert by_key["snapshots/quarterly_snapshot"]["pools"] == ["snapshot_writes"]
        assert by_key["scoring/league_tables"]["pools"] == []
        for output in ("outputs/official_exports", "outputs/insights", "outputs/html_report"):
            (dep,) = [
                d
                for d in by_key[output]["dependencies"]
                if d["asset"]["assetKey"]["path"] == ["snapshots", "quarterly_snapshot"]
            ]
            mapping = dep["partitionMapping"]
            assert mapping["className"] == "TimeWindowPartitionMapping"
            # Dagster's own wording: the quarter before and the quarter itself
            assert "offsetted by -1 and 0 partitions" in mapping["description"]
        checks = by_key["snapshots/quarterly_snapshot"]["assetChecksOrError"]["checks"]
        (fresh,) = [c for c in checks if c["name"] == "quarters_built_on_time"]
        assert "freshness_checks_job" in fresh["jobNames"] and not fresh["blocking"]
        assert "quarterly_league_job" not in fresh["jobNames"]

        # the Resources page: the working home, staging, snapshot store and fetcher, each
        # with the configuration the code location built from the environment
        details = httpx.post(f"{url}/graphql", json={"query": RESOURCES_QUERY}, timeout=30).json()
        listed = details["data"]["allTopLevelResourceDetailsOrError"]
        assert listed["__typename"] == "ResourceDetailsList", listed
        config = {
            r["name"]: {v["key"]: json.loads(v["value"]) for v in r["configuredValues"]}
            for r in listed["results"]
        }
        home = tmp_path / "league"
        assert config["home"]["path"] == str(home)
        assert config["staging"]["root"] == str(home / "staging")
        assert config["snapshots"]["root"] == str(home / "lake")
        assert config["fetcher"]["mode"] == "landing"
        assert config["fetcher"]["landing_dir"] == str(home / "landing")
        assert config["fetcher"]["store_root"] == str(home / "sources")
        assert "league" in config
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
