"""NHS England's real publications end to end: the whole Dagster job on the files in
../shared/data/real, laid out as published, in landing mode and in http mode.

Layout (landing file names from assets/sources.yaml):
- Q1: the acute Q1 file (no Quarter column), the cumulative MH file under its Q1 name
  ("non-acute hospital trust"), the ODS list, and the real A&E, AmbSYS and CWT files;
- Q2: the cumulative MH file (Q1 and Q2 rows) under its later name, and the ODS list.
There is no ambulance file and no acute Q2 file here, so Q1 runs acute + MH and Q2 runs MH
only: the pools and cut-points that span a group left out are taken from the publication
(basis ``published``) and everything else is computed and audited.
"""

from __future__ import annotations

import contextlib
import html
import io
import json
import re
import shutil
import threading
import zipfile
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from league_pipeline.audit import compare as audit
from league_pipeline.cli import main
from league_pipeline.cli.common import snapshot_store
from league_pipeline.cli.runner import run_quarters
from league_pipeline.core.quarters import parse_quarter
from league_pipeline.core.settings import Settings
from league_pipeline.defs.resources import LeagueConfig
from league_pipeline.ingest import catalogue

pytestmark = pytest.mark.slow

Q1, Q2 = parse_quarter("2025/26 Q1"), parse_quarter("2025/26 Q2")
ACUTE, MHC = "acute", "mental_health_community"
PEER_GROUPS = {Q1: [ACUTE, MHC], Q2: [MHC]}
MH_Q1_NAME = "nhs-oversight-framework-non-acute-hospital-trust-data.csv"
# Published values are rounded to 2 dp: trusts of DIFFERENT peer groups that look tied in a
# complete pool cannot be ordered (test_fidelity.py documents them)
CROSS_TYPE_TIES = {
    (Q1.label, "RH5", "OF1005"),
    (Q1.label, "RRE", "OF1005"),
    (Q1.label, "RTF", "OF1005"),
}
EXACT_LAYERS = (
    "unadjusted_segment",
    "adjusted_segment",
    "final_segment",
    "deficit_flag",
    "in_rsp",
    "rank",
)


def _files(real: Path) -> dict[str, Path]:
    """Landing path -> the real file to put there."""
    q1, q2 = Q1.slug, Q2.slug
    mh = real / "nof2526_q1q2_mh_community_trust_data.csv"
    ods = real / "ods_etr_nhs_trusts_2025-11.csv"
    files = {
        catalogue.landing_path("nof_trust_data_acute", Q1): real
        / "nof2526_q1_acute_trust_data.csv",
        f"{q1}/{MH_Q1_NAME}": mh,
        catalogue.landing_path("nof_trust_data_mental_health_community", Q2): mh,
        catalogue.landing_path("ods_trusts", Q1): ods,
        catalogue.landing_path("ods_trusts", Q2): ods,
        catalogue.landing_path("ambsys", Q1): real / "ambsys_time_series_to_2025-08.xlsx",
        catalogue.landing_path("cwt_crs_provider", Q1): real
        / "cwt_crs_provider_extract_2025-04_to_2025-07.xlsx",
    }
    for slot, month in ((1, "2025-04"), (2, "2025-05"), (3, "2025-06")):
        files[catalogue.landing_path(f"ae_monthly_m{slot}", Q1)] = real / f"ae_monthly_{month}.csv"
    assert all(rel.startswith((q1, q2)) for rel in files)
    return files


@pytest.fixture(scope="module")
def real_landing(real_data, tmp_path_factory) -> Path:
    landing = tmp_path_factory.mktemp("real_landing")
    for rel, source in _files(real_data).items():
        target = landing / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, target)
    return landing


def _run(settings: Settings) -> dict[str, pd.DataFrame]:
    """Run Q1 (acute + MH) and Q2 (MH) through the job; return each quarter's audit."""
    instance = dg.DagsterInstance.ephemeral()
    out = {}
    for quarter, groups in PEER_GROUPS.items():
        league = LeagueConfig(
            bootstrap_replicates=settings.bootstrap_replicates,
            whatif_checked=settings.whatif_checked,
            peer_groups=groups,
        )
        (outcome,) = run_quarters(
            [quarter], settings=settings, league=league, dagster_instance=instance
        )
        assert outcome.success, outcome.problems
        out[quarter.label] = snapshot_store(settings).read("audit", quarter.label)
    return out


@pytest.fixture(scope="module")
def landing_run(real_landing, tmp_path_factory) -> dict[str, pd.DataFrame]:
    home = tmp_path_factory.mktemp("home")
    settings = Settings.for_home(
        home, landing_dir=real_landing, bootstrap_replicates=200, whatif_checked=0
    )
    audits = _run(settings)
    store = snapshot_store(settings)
    lineage = {q: store.lineage(q) for q in audits}
    tables = {q: store.read("league_table", q) for q in audits}
    # the report the job wrote for each quarter's snapshot (v1)
    reports = {
        q.label: (home / "outputs" / q.slug / "v1" / "report.html").read_text(encoding="utf-8")
        for q in PEER_GROUPS
    }
    cli = {
        name: _cli(settings, *argv)
        for name, argv in {
            "table": ("table", "--quarter", Q2.label, "--peer-group", MHC),
            "audit": ("audit", "--quarter", Q1.label),
            "csv": ("audit", "--quarter", Q1.label, "--format", "csv"),
            "json": ("audit", "--quarter", Q2.label, "--format", "json"),
            "strict": ("audit", "--quarter", Q1.label, "--strict"),
        }.items()
    }
    return {
        "audit": audits,
        "lineage": lineage,
        "league_table": tables,
        "cli": cli,
        "report": reports,
    }


def _cli(settings: Settings, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv), settings=settings)
    return code, out.getvalue(), err.getvalue()


def test_every_published_segment_flag_and_rank_is_reproduced(landing_run, fidelity_report):
    for quarter, rows in landing_run["audit"].items():
        trusts = rows["trust_code"].nunique()
        assert trusts == (195 if quarter == Q1.label else 61)
        for layer in EXACT_LAYERS:
            g = rows[rows["layer"] == layer]
            assert len(g) == trusts, (quarter, layer)
            assert g["agrees"].all(), g[~g["agrees"]]
        fidelity_report.extend(
            f"[real files, job, {quarter}] {audit.rate_line(rows, layer)}" for layer in audit.LAYERS
        )


def test_metric_scores_from_values_agree_on_every_complete_pool(landing_run):
    rows = pd.concat(landing_run["audit"].values(), ignore_index=True)
    scores = rows[rows["layer"] == "metric_score"]
    computed = scores[scores["basis"] == "computed"]
    misses = computed[~computed["agrees"]]
    assert set(zip(misses["quarter"], misses["trust_code"], misses["item"], strict=True)) == (
        CROSS_TYPE_TIES
    )
    assert (misses["reason"] == audit.CROSS_TYPE_TIE).all()
    # the pools the run could not complete came from the publication, and agree by definition
    published = scores[scores["basis"] == "published"]
    assert len(published) and published["agrees"].all()
    assert computed["agrees"].mean() > 0.99


def test_every_disagreement_has_a_reason_from_the_list(landing_run):
    rows = pd.concat(landing_run["audit"].values(), ignore_index=True)
    bad = rows[~rows["agrees"]]
    assert bad["reason"].isin(audit.REASONS).all()
    assert (rows.loc[rows["agrees"], "reason"] == "").all()
    # the cut-points span the ambulance trusts (absent): the segments came from the publication
    unadjusted = rows[rows["layer"] == "unadjusted_segment"]
    assert (unadjusted["basis"] == "published").all()


def test_lineage_records_each_publication(landing_run, real_landing):
    q1 = landing_run["lineage"][Q1.label]["inputs"]
    mh = q1["nof_trust_data_mental_health_community"]
    # Q1's MH rows come from the newest publication of the year that holds them: Q2's file
    assert mh["publication_quarter"] == Q2.label
    assert (
        mh["url"]
        == (
            real_landing / catalogue.landing_path("nof_trust_data_mental_health_community", Q2)
        ).as_uri()
    )
    assert mh["quarters_in_file"] == [Q1.label, Q2.label]
    assert q1["nof_trust_data_acute"]["publication_quarter"] == Q1.label
    assert q1["nof_trust_data_ambulance"]["absent"] is True
    assert q1["deficit_flags"]["absent"] is True  # the publication carries OF5004
    q2 = landing_run["lineage"][Q2.label]["inputs"]
    assert q2["cwt_crs_provider"]["absent"] is True  # raw files are optional when published
    table = landing_run["league_table"][Q1.label]
    assert (table["rank"] == table["published_rank"]).all()
    assert (table["adjusted_segment"] == table["published_segment"]).all()


def test_the_cli_shows_the_basis_and_the_audit(landing_run):
    code, table, _ = landing_run["cli"]["table"]
    assert code == 0
    assert "synthetic" not in table  # real files never carry the label
    words = " ".join(table.split())  # lines wrap on words at 100 columns
    assert "basis: segments and the averages ordering them are taken from the publication" in (
        words
    )
    assert "the run left out acute, ambulance" in words
    assert "every rank agrees with the publication's" in table
    code, text, _ = landing_run["cli"]["audit"]
    rank = next(line.split() for line in text.splitlines() if line.startswith("rank "))
    assert code == 0 and rank[:4] == ["rank", "195", "0", "195/195"]
    assert "RD1" in text and "unexplained" in text
    code, csv_text, _ = landing_run["cli"]["csv"]
    frame = pd.read_csv(io.StringIO(csv_text))
    assert list(frame.columns) == [
        "quarter",
        "peer_group",
        "trust_code",
        "layer",
        "item",
        "ours",
        "published",
        "basis",
        "agrees",
        "reason",
    ]
    assert set(frame["layer"]) == set(audit.LAYERS)
    assert len(frame) == len(landing_run["audit"][Q1.label])
    code, json_text, _ = landing_run["cli"]["json"]
    records = json.loads(json_text)
    assert code == 0 and {r["quarter"] for r in records} == {Q2.label}
    # --strict: Q1 has unexplained rounding residues (RD1's access domain, five averages)
    code, _, err = landing_run["cli"]["strict"]
    assert code == 1 and "have no known reason" in err


def _text(fragment: str) -> str:
    """The text of an HTML fragment, tags dropped, entities decoded, spaces collapsed."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", fragment))).strip()


def _element(page: str, tag: str, element_id: str) -> str:
    found = re.search(rf'<{tag}\b[^>]*\bid="{element_id}"[^>]*>.*?</{tag}>', page, re.S)
    assert found, f"no <{tag} id={element_id}> in the report"
    return found.group(0)


def test_the_report_shows_where_the_recomputation_differs(landing_run):
    """The report the job wrote says what is computed and what is NHS England's, with the
    audit's counts, lists every disagreement, and shows each trust its own."""
    for quarter, rows in landing_run["audit"].items():
        page = landing_run["report"][quarter]
        # real files: no label, and the figures are NHS England's, not "the publication's"
        assert 'content="published"' in page and "SYNTHETIC" not in page
        assert "the publication's" not in page
        section = _text(_element(page, "section", "audit"))
        computed = rows[rows["basis"] == "computed"]
        bad = rows[~rows["agrees"]]
        taken = int((rows["basis"] == "published").sum())
        assert (
            f"{len(computed):,} figures were computed here and compared with NHS England's "
            f"published figures: {int(computed['agrees'].sum()):,} agree and {len(bad):,} differ, "
            f"for {bad['trust_code'].nunique()} trusts. {taken:,} more are taken from the "
            "publication."
        ) in section
        left_out = (
            "ambulance trusts" if quarter == Q1.label else "acute trusts and ambulance trusts"
        )
        trusts = rows["trust_code"].nunique()
        assert (
            f"Segments are NHS England's published segments ({trusts} trusts): this run left "
            f"out {left_out}, whose averages the cut-points need."
        ) in section
        differences = re.findall(r'<tr data-trust="(\w+)" data-layer="(\w+)">', page)
        assert sorted(differences) == sorted(zip(bad["trust_code"], bad["layer"], strict=True))
        assert "≠" not in _text(_element(page, "section", "group-mental_health_community"))
    q1 = landing_run["report"][Q1.label]
    rcx = _text(_element(q1, "article", "trust-RCX"))
    assert "1 of its " in rcx and "Average metric score 3.3447 3.35 Not explained." in rcx
    assert "Its segment before the financial override and its average score" in rcx
    rh5 = _text(_element(q1, "article", "trust-RH5"))
    assert "Metric score: Community waits over 52 weeks (%) (OF1005) 1.675 1.7 Rounding." in rh5
    rx1 = _text(_element(q1, "article", "trust-RX1"))
    assert re.search(
        r"Every one of its \d+ figures computed here agrees with NHS England's published "
        r"figures; \d+ more are taken from the publication\.",
        rx1,
    )
    assert "Metric scores published only as scores: SHMI (score only)" in rx1


# -- http mode ------------------------------------------------------------------------------------


@pytest.fixture
def nhs_mirror(real_data, tmp_path):
    """The real files at NHS England's published paths (assets/sources.yaml), on 127.0.0.1."""
    root = tmp_path / "www"
    files = _files(real_data)
    for rel, source in files.items():
        quarter = Q1 if rel.startswith(Q1.slug) else Q2
        kind = next(
            (k for k in catalogue.source_kinds() if rel in catalogue.landing_paths(k, quarter)),
            None,
        )
        if kind is None or kind.startswith(("ambsys", "ae_", "cwt_")):
            continue  # the raw statistics' URLs are unverified templates: served by nobody
        url = catalogue.url_for(kind, quarter, {"base_url": "http://mirror"})
        target = root / url.removeprefix("http://mirror/")
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.suffix == ".zip":
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w") as archive:
                archive.writestr("etr.csv", source.read_bytes())
            target.write_bytes(buffer.getvalue())
        else:
            shutil.copy(source, target)
    handler = partial(SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_http_mode_on_real_files(league_home, nhs_mirror, tmp_path):
    empty_landing = tmp_path / "landing"  # flag files are landing-only: none supplied
    empty_landing.mkdir()
    settings = Settings.for_home(
        league_home,
        source_mode="http",
        http_base_url=nhs_mirror,
        landing_dir=empty_landing,
        bootstrap_replicates=200,
        whatif_checked=0,
        http_retries=0,
    )
    audits = _run(settings)
    for quarter, rows in audits.items():
        for layer in EXACT_LAYERS:
            assert rows.loc[rows["layer"] == layer, "agrees"].all(), (quarter, layer)
    lineage = snapshot_store(settings).lineage(Q1.label)["inputs"]
    acute = lineage["nof_trust_data_acute"]
    assert acute["url"] == (
        f"{nhs_mirror}/wp-content/uploads/2025/09/nhs-oversight-framework-acute-trust-data.csv"
    )
    mh = lineage["nof_trust_data_mental_health_community"]
    assert mh["url"].startswith(f"{nhs_mirror}/wp-content/uploads/2025/12/")
    assert mh["publication_quarter"] == Q2.label
