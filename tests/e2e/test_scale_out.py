"""The team deployment (issue 13, item 2; docs/operations.md, "Team deployment"): the lake's data
files on S3-compatible object storage (moto's server on loopback), the lake's catalog and
Dagster's instance on PostgreSQL (``deploy/dagster.yaml``), and a run's steps on two Celery
workers (``deploy/celery.yaml``) with a local Redis broker (Debian ``redis-server``).

* A four-quarter backfill of the embedded default (``league sample-data``, then one run of
  ``quarterly_league_celery_job`` over 2025/26 Q1..Q4 with ``dagster job execute``) runs its
  steps on both workers and writes every quarter to the S3 + Postgres lake. Every snapshot table
  of every quarter equals the same backfill's on the embedded default (``league backfill``: a
  SQLite catalog, local files, steps in-process), row for row, and so do the manifests and the
  lineage but for what is per run (listed below); ``league lake check`` finds the lake healthy.
* The snapshot store on object storage: versions, reads, time travel, ``lake check`` (a
  missing, a changed and an orphaned object), orphan removal, and the refusal of a data path
  that is not the one the catalog recorded.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import httpx
import pandas as pd
import pytest
from moto.server import ThreadedMotoServer
from postgres_support import free_port

from league_pipeline.cli import main
from league_pipeline.cli.common import snapshot_store
from league_pipeline.core.quarters import parse_quarter
from league_pipeline.core.settings import Settings
from league_pipeline.defs.scale_out import CELERY_JOB
from league_pipeline.defs.snapshots import SNAPSHOT_TABLES
from league_pipeline.snapshots import lake
from league_pipeline.snapshots.store import SnapshotStore

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
DEPLOY = REPO / "deploy"
QUARTERS = [parse_quarter(f"2025/26 Q{q}") for q in (1, 2, 3, 4)]
REPLICATES = 50  # a small bootstrap: the same code, less arithmetic (both backfills use it)
WORKERS = ("league-w1", "league-w2")
BUCKET = "league-lake"
KEY_ID, SECRET = "league-test-key", "league-test-secret"  # moto accepts any
RUN_TIMEOUT = 1200  # seconds: a generous bound for a loaded 2-core machine, not a speed claim

# What legitimately differs between two runs of the same backfill, and nothing else: the
# manifest's run id and commit time, and in the lineage the Dagster run id, the build time and
# each input's fetch time. (Every snapshot table is compared whole: none holds a per-run value.)
PER_RUN_MANIFEST = ("run_id", "created_at")
PER_RUN_LINEAGE = ("dagster_run_id", "built_at")
PER_RUN_INPUT = ("fetched_at",)


# -- servers -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def s3() -> Iterator[str]:
    """moto's S3 server on a free loopback port (its endpoint, ``http://127.0.0.1:<port>``)."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def s3_request(method: str, endpoint: str, path: str, content: bytes | None = None) -> bytes:
    """A request to moto's S3 server, as a client of the object storage would send it (moto
    reads the access key from the Authorization header and does not check the signature)."""
    auth = f"AWS4-HMAC-SHA256 Credential={KEY_ID}/20250401/us-east-1/s3/aws4_request, "
    headers = {"Authorization": auth + "SignedHeaders=host, Signature=0"}
    response = httpx.request(method, f"{endpoint}/{path}", content=content, headers=headers)
    response.raise_for_status()
    return response.content


def create_bucket(endpoint: str, name: str) -> None:
    s3_request("PUT", endpoint, name)


@pytest.fixture(scope="module")
def redis(tmp_path_factory) -> Iterator[str]:
    """Debian's redis-server on a free loopback port, nothing persisted (its URL)."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server not found: apt-get install redis-server (.ci/run does)")
    port = free_port()
    folder = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"],
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(port, proc, "redis-server")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _wait_for_port(port: int, proc: subprocess.Popen, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"{what} exited with code {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return
        time.sleep(0.1)
    pytest.fail(f"{what} did not listen on 127.0.0.1:{port} within {timeout:.0f} s")


@contextlib.contextmanager
def celery_workers(env: dict[str, str], logs: Path) -> Iterator[list[str]]:
    """The Celery workers, started as docs/operations.md says (``dagster-celery worker start``
    with deploy/celery.yaml), one task at a time each; their node names."""
    procs: list[subprocess.Popen] = []
    names = []
    try:
        for name in WORKERS:
            log = logs / f"{name}.log"
            with log.open("w") as out:
                procs.append(
                    subprocess.Popen(
                        [
                            str(BIN / "dagster-celery"),
                            "worker",
                            "start",
                            "-A",
                            "dagster_celery.app",
                            "-y",
                            str(DEPLOY / "celery.yaml"),
                            "-n",
                            name,
                            "--",
                            "--concurrency",
                            "1",
                        ],
                        env=env,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,  # its own process group: the celery child too
                    )
                )
            names.append(f"{name}@{socket.gethostname()}")
        deadline = time.monotonic() + 180
        for proc, name in zip(procs, WORKERS, strict=True):
            log = logs / f"{name}.log"
            while " ready." not in log.read_text(errors="replace"):
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"Celery worker {name} did not start:\n{log.read_text()[-3000:]}")
                time.sleep(0.2)
        yield names
    finally:
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)


# -- helpers -------------------------------------------------------------------------------------


def _contents(store: SnapshotStore, table: str, label: str) -> pd.DataFrame:
    """A snapshot table (the latest version of the quarter) in a canonical row order."""
    frame = store.read(table, label)
    return frame.sort_values(list(frame.columns)).reset_index(drop=True)


def _without_per_run(lineage: dict) -> dict:
    out = {k: v for k, v in lineage.items() if k not in PER_RUN_LINEAGE}
    out["inputs"] = {
        kind: {k: v for k, v in record.items() if k not in PER_RUN_INPUT}
        for kind, record in lineage["inputs"].items()
    }
    return out


def _clean_environment() -> dict[str, str]:
    """This process's environment without any setting of the package or Dagster's instance."""
    names = {"DAGSTER_HOME", "LEAGUE_SHARED_DATA"}
    return {
        k: v
        for k, v in os.environ.items()
        if k in names or not k.startswith(("LEAGUE_", "DAGSTER_", "AWS_"))
    }


# -- the backfill --------------------------------------------------------------------------------


def test_a_backfill_on_two_celery_workers_into_s3_and_postgres_equals_the_embedded_default(
    postgres, s3, redis, tmp_path, monkeypatch, capsys
):
    # the embedded default's landing files, used by both backfills
    local = Settings.for_home(tmp_path / "local", bootstrap_replicates=REPLICATES, whatif_checked=0)
    assert main(["sample-data"], settings=local) == 0

    # the team deployment: Dagster's instance and the lake's catalog on PostgreSQL, the data
    # files on S3, the steps on two Celery workers; the same landing files
    postgres.create_database("scale_dagster")
    postgres.create_database("scale_lake")
    create_bucket(s3, BUCKET)
    dagster_home = tmp_path / "dagster"
    dagster_home.mkdir()
    shutil.copy(DEPLOY / "dagster.yaml", dagster_home / "dagster.yaml")
    env = {
        **_clean_environment(),
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",  # celery, for the workers
        "DAGSTER_HOME": str(dagster_home),
        **postgres.dagster_env("scale_dagster"),
        "LEAGUE_HOME": str(tmp_path / "team"),
        "LEAGUE_LANDING_DIR": str(local.landing_dir),
        "LEAGUE_BOOTSTRAP_REPLICATES": str(REPLICATES),
        "LEAGUE_WHATIF_CHECKED": "0",
        "LEAGUE_LAKE_CATALOG": f"postgres:{postgres.dsn('scale_lake')}",
        "LEAGUE_LAKE_DATA_PATH": f"s3://{BUCKET}/lake",
        "LEAGUE_S3_ENDPOINT": s3,
        "AWS_ACCESS_KEY_ID": KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "LEAGUE_CELERY_BROKER": redis,
        "LEAGUE_CELERY_BACKEND": redis,
    }
    team = Settings.from_env(env)
    for name, value in postgres.dagster_env("scale_dagster").items():
        monkeypatch.setenv(name, value)  # deploy/dagster.yaml reads them
    # create Dagster's tables once, before three processes open the instance at the same time
    instance = dg.DagsterInstance.from_config(str(dagster_home))
    assert type(instance.run_storage).__name__ == "PostgresRunStorage"

    tags = {
        "dagster/asset_partition_range_start": QUARTERS[0].key,
        "dagster/asset_partition_range_end": QUARTERS[-1].key,
    }
    # the two backfills side by side (they share nothing but the landing files): the team's
    # one run of the Celery job over the range, and `league backfill` on the embedded default
    # (SQLite catalog, local files, steps in-process)
    local_env = {
        **_clean_environment(),
        "LEAGUE_HOME": str(local.home),
        "LEAGUE_BOOTSTRAP_REPLICATES": str(REPLICATES),
        "LEAGUE_WHATIF_CHECKED": "0",
    }
    execute = ["job", "execute", "-m", "league_pipeline.definitions", "-a", "defs"]
    backfill = ["backfill", "--from", QUARTERS[0].label, "--to", QUARTERS[-1].label]
    commands = {
        "celery": (
            [str(BIN / "dagster"), *execute, "-j", CELERY_JOB, "--tags", json.dumps(tags)],
            env,
        ),
        "embedded": ([str(BIN / "league"), *backfill], local_env),
    }
    with celery_workers(env, tmp_path) as workers, contextlib.ExitStack() as outputs:
        procs = {
            name: subprocess.Popen(
                argv,
                env=child_env,
                cwd=tmp_path,
                stdout=outputs.enter_context((tmp_path / f"{name}.out").open("w")),
                stderr=subprocess.STDOUT,
            )
            for name, (argv, child_env) in commands.items()
        }
        try:
            codes = {name: proc.wait(timeout=RUN_TIMEOUT) for name, proc in procs.items()}
        finally:
            for proc in procs.values():
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(timeout=30)
    for name, code in codes.items():
        assert code == 0, (tmp_path / f"{name}.out").read_text()[-5000:]

    # one run of the Celery job over the range, every step done on a Celery worker, both used
    [run] = instance.get_runs(dg.RunsFilter(job_name=CELERY_JOB))
    assert run.status == dg.DagsterRunStatus.SUCCESS
    assert {k: run.tags[k] for k in tags} == tags
    events = [e.dagster_event for e in instance.all_logs(run.run_id) if e.dagster_event]
    on_worker: dict[str, str] = {}
    for event in events:
        if event.event_type_value == "ENGINE_EVENT" and event.step_key:
            metadata = event.event_specific_data.metadata
            if "Celery worker" in metadata:
                on_worker[event.step_key] = metadata["Celery worker"].value
    succeeded = {e.step_key for e in events if e.event_type_value == "STEP_SUCCESS"}
    assert not [e for e in events if e.event_type_value == "STEP_FAILURE"]
    assert succeeded and set(on_worker) == succeeded
    assert set(on_worker.values()) == set(workers), on_worker

    # the lake: data files on S3 only, the catalog on Postgres
    store, reference = snapshot_store(team), snapshot_store(local)
    assert store.spec.kind == "postgres"
    assert store.spec.storage is not None and store.spec.storage.url == f"s3://{BUCKET}/lake/"
    objects = lake.stored_objects(store.spec)
    assert objects and all(url.startswith(f"s3://{BUCKET}/lake/") for url in objects)
    assert not (team.layout.lake / "data").exists()
    (files,) = postgres.query("scale_lake", "SELECT count(*) FROM ducklake_data_file")[0]
    assert files > 0

    # every snapshot table of every quarter equals the embedded default's
    assert [(i.quarter, i.version) for i in store.list()] == [(q.label, 1) for q in QUARTERS]
    for quarter in QUARTERS:
        ours, theirs = store.latest(quarter.label), reference.latest(quarter.label)
        assert ours.run_id == run.run_id and ours.run_id != theirs.run_id  # (PER_RUN_MANIFEST)
        assert (ours.snapshot_id, ours.tables, ours.columns) == (
            theirs.snapshot_id,
            theirs.tables,
            theirs.columns,
        )
        assert set(SNAPSHOT_TABLES.values()) <= set(ours.tables)
        for table in theirs.tables:
            pd.testing.assert_frame_equal(
                _contents(store, table, quarter.label), _contents(reference, table, quarter.label)
            )
        assert _without_per_run(ours.lineage) == _without_per_run(theirs.lineage)
        # the outputs step read the snapshot back from S3 on a worker
        assert (team.layout.outputs / quarter.slug / "v1").is_dir()

    capsys.readouterr()
    assert main(["lake", "check"], settings=team) == 0
    out = capsys.readouterr().out
    assert "lake check: healthy" in out and f"data files: {len(objects)}" in out


# -- the store on object storage -------------------------------------------------------------------


def test_the_snapshot_store_on_object_storage(s3, tmp_path):
    create_bucket(s3, "store-test")
    storage = lake.object_store(
        "s3://store-test/snapshots", endpoint=s3, key_id=KEY_ID, secret=SECRET
    )
    assert (storage.endpoint, storage.use_ssl, storage.url_style) == (
        s3.removeprefix("http://"),
        False,
        "path",
    )
    assert SECRET not in repr(storage)
    store = SnapshotStore(tmp_path / "lake", storage=storage)
    frame = pd.DataFrame({"trust_code": [f"Z{i:05d}" for i in range(3000)], "score": range(3000)})
    first = store.write("2025/26 Q1", {"league_table": frame}, {"note": "first"})
    second = store.write("2025/26 Q1", {"league_table": frame.assign(score=-frame.score)}, {})
    assert (first.version, second.version) == (1, 2)
    assert not (tmp_path / "lake" / "data").exists()  # the files are in the bucket
    objects = lake.stored_objects(store.spec)
    assert len(objects) == 2 and all(u.startswith("s3://store-test/snapshots/") for u in objects)

    # reads, a version, time travel
    pd.testing.assert_frame_equal(
        store.read("league_table", "2025/26 Q1", 1).drop(columns=["quarter", "snapshot_version"]),
        frame,
        check_dtype=False,
    )
    assert store.read("league_table", "2025/26 Q1")["score"].sum() == -frame["score"].sum()
    as_of = store.read("league_table", "2025/26 Q1", as_of=first.created_at)
    assert set(as_of["snapshot_version"]) == {1}
    assert store.lineage("2025/26 Q1", 1)["note"] == "first"

    # lake check: healthy, then an orphan, a changed and a missing object, each named
    report = store.check()
    assert report.healthy, report.problems
    assert report.data_files == 2
    s3_request("PUT", s3, "store-test/snapshots/main/league_table/stray.parquet", b"x" * 10)
    report = store.check()
    assert report.orphans == ["s3://store-test/snapshots/main/league_table/stray.parquet"]
    assert store.remove_orphan_files() == report.orphans
    assert store.check().healthy
    first_url, second_url = sorted(objects)
    first_key, second_key = first_url.removeprefix("s3://"), second_url.removeprefix("s3://")
    s3_request("PUT", s3, first_key, s3_request("GET", s3, first_key) + b"!")
    s3_request("DELETE", s3, second_key)
    problems = store.check().problems
    assert any(p.startswith(f"changed data file: {first_url}") for p in problems), problems
    assert any(p.startswith(f"missing data file: {second_url}") for p in problems), problems

    # the catalog recorded its data path: another one, or none, is refused with the fix
    other = lake.object_store(
        "s3://store-test/elsewhere", endpoint=s3, key_id=KEY_ID, secret=SECRET
    )
    with pytest.raises(lake.LakeError, match="keeps its data files in s3://store-test/snapshots/"):
        SnapshotStore(tmp_path / "lake", storage=other).list()
    with pytest.raises(lake.LakeError, match="no object storage is set"):
        SnapshotStore(tmp_path / "lake").list()


@pytest.mark.parametrize(
    "url",
    ["s3://", "http://bucket/x", "s3://Bucket_Name/x", "s3://bucket/a*", "s3://bucket/../x"],
)
def test_a_data_path_that_is_not_an_s3_url_is_refused(url):
    with pytest.raises(lake.LakeError, match="data path"):
        lake.object_store(url)


def test_the_object_storage_keys_are_never_shown(tmp_path):
    """The snapshot store's resource holds the keys as the variables they come from: the UI's
    Resources page and a run's config (the CLI's) name the variables, never the values."""
    from league_pipeline.cli.runner import run_config
    from league_pipeline.defs.resources import league_config, run_resources

    settings = Settings.for_home(
        tmp_path,
        lake_data_path="s3://league-lake/snapshots",
        s3_endpoint="http://127.0.0.1:9000",
        s3_key_id=KEY_ID,
        s3_secret=SECRET,
    )
    resource = run_resources(settings)["snapshots"]
    assert resource.data_path == "s3://league-lake/snapshots"
    assert isinstance(resource.s3_secret, dg.EnvVar)
    assert resource.s3_secret.env_var_name == "AWS_SECRET_ACCESS_KEY"
    assert resource.s3_session_token is None  # not set: no variable to read either
    config = run_config(settings, league_config(settings))["resources"]["snapshots"]["config"]
    assert config["s3_key_id"] == {"env": "AWS_ACCESS_KEY_ID"}
    assert config["s3_secret"] == {"env": "AWS_SECRET_ACCESS_KEY"}
    assert SECRET not in json.dumps(config) and SECRET not in repr(settings)
    # the CLI's store gets the values themselves, the secret left out of its repr
    store = snapshot_store(settings)
    assert store.spec.storage is not None and store.spec.storage.secret == SECRET
    assert store.spec.storage.url == "s3://league-lake/snapshots/"
    assert SECRET not in repr(store.spec)
