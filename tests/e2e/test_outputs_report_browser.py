"""The HTML report in a real browser: headless Debian Chromium opens the single file with every
network request refused, draws all the charts, and shows each trust's page. Screenshots go to
``test-artifacts/`` at the repository root.

Reports built from real snapshots (../shared/data/real): 2025/26 Q1 at version 2 (a revision of
RTE's OF0061) and 2025/26 Q2 (movement against Q1).

Reports built from the synthetic sample data by the Dagster job (fixture ``generated``):
2025/26 Q1 v1 (every peer group: everything computed and compared), 2025/26 Q2 v2 (acute and
mental health only: segments taken from the publication). They show the audit: what is computed,
what is taken from the publication, and where the two differ (disagreements are injected into
the audit table, since the sample data agree everywhere). And hostile trust names
(``<!--<script>``, a closing script tag, an attribute break-out, ``&`` and quotes, a newline)
leave the page, chart and table counts as they are, with no dialog, console error or request.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import dagster as dg
import pytest
from outputs_support import Q1, Q2, build_real_home, revise_acute_q1
from playwright.sync_api import Page, sync_playwright

from league_pipeline.audit import compare as audit
from league_pipeline.cli.runner import run_quarters
from league_pipeline.core.quarters import parse_quarter
from league_pipeline.core.settings import Settings
from league_pipeline.defs.resources import LeagueConfig
from league_pipeline.ingest import catalogue
from league_pipeline.outputs.movement import movement
from league_pipeline.outputs.report import build_report, write_report
from league_pipeline.outputs.results import QuarterResults, load_quarter
from league_pipeline.outputs.revisions import latest_revision
from league_pipeline.snapshots.store import SnapshotStore

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
DRAW_TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def real(tmp_path_factory, acute_bytes, mh_bytes):
    home = build_real_home(
        tmp_path_factory, tmp_path_factory.mktemp("real-home"), acute_bytes, mh_bytes
    )
    revise_acute_q1(home, "RTE", "OF0061", 7.5)
    return home


@pytest.fixture(scope="module")
def reports(real, tmp_path_factory) -> dict[str, Path]:
    """Quarter label -> its report file (Q1 at v2, Q2 at v1)."""
    out = tmp_path_factory.mktemp("reports")
    return {
        quarter: write_report(quarter, out / f"report-{quarter[-2:]}.html", store=real.store)
        for quarter in (Q1, Q2)
    }


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        pytest.fail("Debian chromium is not installed: `apt-get install chromium` (see .ci/run)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Opened:
    """A page with every request outside the file recorded and refused (every request and
    every dialog is recorded too)."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.external: list[str] = []
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("request", lambda r: self.requests.append(r.url))

        def dialog(d) -> None:
            self.dialogs.append(f"{d.type}: {d.message}")
            d.dismiss()

        page.on("dialog", dialog)

        def refuse(route) -> None:
            url = route.request.url
            if url.startswith(("file:", "data:", "blob:", "about:")):
                route.continue_()
            else:
                self.external.append(url)
                route.abort()

        page.route("**/*", refuse)


def _open(browser, path: Path, fragment: str = "", *, javascript: bool = True) -> Opened:
    context = browser.new_context(
        viewport={"width": 1360, "height": 900}, java_script_enabled=javascript
    )
    opened = Opened(context.new_page())
    opened.page.goto(path.as_uri() + fragment)
    return opened


def _wait_for_charts(page: Page, scope: str) -> int:
    page.wait_for_function(
        "scope => { const all = document.querySelectorAll(scope + ' .vega-target');"
        " return all.length > 0 && [...all].every(t => t.dataset.drawn === 'yes'); }",
        arg=scope,
        timeout=DRAW_TIMEOUT_MS,
    )
    return page.locator(f"{scope} .vega-target svg").count()


def _shot(page: Page, name: str, *, full_page: bool = False) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=full_page)


def test_report_draws_offline_with_tables_charts_and_trust_pages(browser, real, reports):
    results = load_quarter(Q1, store=real.store)
    opened = _open(browser, reports[Q1])
    page = opened.page
    assert page.title() == "NHS Oversight Framework league tables, 2025/26 Q1 (snapshot v2)"
    assert _wait_for_charts(page, "main.overview") == 5  # 2 peer groups x 2 charts + distribution

    # league tables with segment colours, one row a trust
    for group, count in (("acute", 134), ("mental_health_community", 61)):
        rows = page.locator(f"table.league[data-peer-group={group}] tbody tr")
        assert rows.count() == count
    first = page.locator("table.league[data-peer-group=acute] tbody tr").first
    assert first.get_attribute("data-trust") == "RP6"  # Moorfields, first in Q1 2025/26
    chip = page.locator("table.league .chip.seg-1").first
    assert chip.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(0, 127, 59)"
    chip4 = page.locator("table.league .chip.seg-4").first
    assert chip4.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(213, 40, 27)"

    # the charts hold one mark per trust (rank intervals) and per domain score (heat map)
    acute = page.locator("#group-acute")
    rank_chart = acute.locator("[data-chart=rank-intervals] svg")
    assert rank_chart.locator("g.mark-rule.role-mark line").count() == 134
    assert rank_chart.locator("g.mark-symbol.role-mark path").count() == 134
    heat = acute.locator("[data-chart=domain-heatmap] svg")
    acute_domains = (results.domain_scores["peer_group"] == "acute").sum()
    assert heat.locator("g.mark-rect.role-mark path").count() == acute_domains
    distribution = page.locator("[data-chart=score-distribution] svg")
    assert distribution.locator("g.mark-rule.role-mark line").count() == 3  # the three cut-points
    assert distribution.locator("text", has_text="Q25 ").count() == 1

    revisions = page.locator("#revisions")
    assert "This is version 2. Compared with version 1" in revisions.inner_text()
    assert revisions.locator("tr[data-trust=RTE]").count() == 1
    assert "no earlier quarter" in page.locator("#movement").inner_text()
    _shot(page, "report-overview.png")

    # a trust's page: shown alone, with its explanation and its own chart
    page.click("table.league a[href='#trust-RTE']")
    trust = page.locator("#trust-RTE")
    trust.wait_for(state="visible")
    assert not page.locator("main.overview").is_visible()
    assert _wait_for_charts(page, "#trust-RTE") == 1
    bars = trust.locator("[data-chart=contributions] svg g.mark-rect.role-mark path")
    assert bars.count() == trust.locator("table.items tbody tr").count() == 17
    text = trust.inner_text()
    assert "ranked" in text and "segment 1" in text
    assert "Revised in v2" in text and "OF0061" in text
    _shot(page, "report-trust-RTE.png", full_page=True)

    page.go_back()
    page.locator("main.overview").wait_for(state="visible")
    assert opened.external == [] and opened.errors == []
    page.context.close()


def test_movement_report_and_a_deep_link_to_a_trust(browser, reports):
    opened = _open(browser, reports[Q2], "#trust-RXG")
    page = opened.page
    assert _wait_for_charts(page, "#trust-RXG") == 1
    trust_text = page.locator("#trust-RXG").inner_text()
    assert "Since 2025/26 Q1" in trust_text and "financial override" in trust_text
    page.goto(reports[Q2].as_uri() + "#movement")
    _wait_for_charts(page, "main.overview")
    movement = page.locator("#movement")
    text = movement.inner_text()
    assert "Compared with 2025/26 Q1 (snapshot v2): 61 trusts in both quarters." in text
    assert "0 trusts are new and 134 left." in text  # no acute Q2 file in ../shared
    row = movement.locator("tr[data-trust=RXG]")
    cells = row.locator("td").all_inner_texts()
    assert cells[3:7] == ["3", "1", "26", "4"]  # segment and rank, Q1 then Q2
    assert "The financial override no longer applies" in cells[-1]
    _shot(page, "report-movement.png")
    assert opened.external == [] and opened.errors == []
    page.context.close()


def test_without_javascript_the_tables_still_carry_every_number(browser, reports):
    opened = _open(browser, reports[Q1], javascript=False)
    page = opened.page
    assert page.locator("table.league tbody tr").count() == 195
    assert page.locator(".vega-target svg").count() == 0
    assert "The charts need JavaScript" in page.locator("body").inner_text()
    assert opened.external == []
    page.context.close()


# -- the audit in the report, on the synthetic sample data ------------------------------------

GQ1, GQ2 = parse_quarter(Q1), parse_quarter(Q2)
PARTIAL = ["acute", "mental_health_community"]


@pytest.fixture(scope="module")
def generated(generated_landing, tmp_path_factory) -> SnapshotStore:
    """The sample data through the Dagster job: Q1 and Q2 v1 with every peer group (one range
    run), then Q2 v2 with acute and mental health only. Returns the lake; the job wrote each
    version's report under ``<home>/outputs``.

    The partial run goes without Q2's flag files: they list ambulance trusts, which that run
    leaves out, and a published quarter takes its flags from the publication anyway."""
    home = tmp_path_factory.mktemp("generated-home")
    landing = home / "landing"
    shutil.copytree(generated_landing, landing)
    settings = Settings.for_home(home, bootstrap_replicates=200, whatif_checked=0)
    instance = dg.DagsterInstance.ephemeral()
    (whole,) = run_quarters([GQ1, GQ2], settings=settings, dagster_instance=instance)
    assert whole.success, whole.problems
    for kind in ("deficit_flags", "rsp_list"):
        (landing / catalogue.landing_path(kind, GQ2)).unlink()
    partial = LeagueConfig(bootstrap_replicates=200, whatif_checked=0, peer_groups=PARTIAL)
    (part,) = run_quarters([GQ2], settings=settings, league=partial, dagster_instance=instance)
    assert part.success, part.problems
    return SnapshotStore(home / "lake")


def _report_of(store: SnapshotStore, quarter, version: int) -> Path:
    path = store.outputs_root / quarter.slug / f"v{version}" / "report.html"
    assert path.exists(), f"the job wrote no report at {path}"
    return path


def _no_nhs_england(text: str) -> None:
    """Synthetic data: the published figures are the publication's, never NHS England's."""
    assert "NHS England" not in text, text


def test_synthetic_report_says_everything_computed_agrees(browser, generated):
    rows = generated.read("audit", Q1)
    summary = audit.layer_summary(rows)
    opened = _open(browser, _report_of(generated, GQ1, 1))
    page = opened.page
    assert page.title().startswith("[SYNTHETIC] ")
    assert page.locator(".synthetic-banner").is_visible()  # the label is kept
    section = page.locator("#audit")
    text = section.inner_text()
    _no_nhs_england(text)
    computed = int((rows["basis"] == "computed").sum())
    taken = int((rows["basis"] == "published").sum())
    assert (
        f"{computed:,} figures were computed here and compared with the publication's figures: "
        f"every one agrees. {taken:,} more are taken from the publication."
    ) in text
    assert "Segments are computed: the cut-points are the quartiles" in text
    assert "for metrics published only as scores" in text
    assert "Every compared figure agrees with the publication's figures." in text
    # the layer counts are the audit's
    for r in summary.itertuples():
        cells = section.locator(f"tr[data-layer={r.layer}] td").all_inner_texts()
        assert [int(c.replace(",", "")) for c in cells] == [
            r.compared,
            r.published_basis,
            r.computed,
            r.computed_agreeing,
            0,
        ]
    assert page.locator("table.audit-differences").count() == 0
    assert page.locator("table.league .differs").count() == 0
    line = page.locator("#group-ambulance p.basis").inner_text()
    assert line == (
        "Segments and ranks are computed. Every segment and rank of its 10 trusts agrees with "
        "the publication's."
    )

    # a trust's page: all agree, and what was taken from the publication
    code = "ZA001"
    mine = rows[rows["trust_code"] == code]
    page.goto(page.url.split("#")[0] + f"#trust-{code}")
    trust = page.locator(f"#trust-{code} .trust-audit")
    trust.wait_for(state="visible")
    text = trust.inner_text()
    _no_nhs_england(text)
    computed = int((mine["basis"] == "computed").sum())
    taken = int((mine["basis"] == "published").sum())
    assert "Compared with the publication's figures" in text
    assert (
        f"Every one of its {computed} figures computed here agrees with the publication's "
        f"figures; {taken} more are taken from the publication."
    ) in text
    basis = trust.locator("ul.trust-basis li").all_inner_texts()
    assert "Whether it is in the Recovery Support Programme" in basis
    given = mine[(mine["layer"] == "metric_score") & (mine["basis"] == "published")]
    assert any(b.startswith("Metric scores published only as scores: ") for b in basis)
    assert len(given) >= 1
    _shot(page, "report-synthetic-trust-audit.png", full_page=True)
    assert opened.external == [] and opened.errors == [] and opened.dialogs == []
    page.context.close()


def test_synthetic_partial_run_says_segments_are_the_publications(browser, generated):
    rows = generated.read("audit", Q2, 2)
    assert generated.lineage(Q2, 2)["peer_groups"] == PARTIAL
    opened = _open(browser, _report_of(generated, GQ2, 2))
    page = opened.page
    _wait_for_charts(page, "main.overview")
    text = page.locator("#audit").inner_text()
    _no_nhs_england(text)
    segments = int(((rows["layer"] == "unadjusted_segment") & (rows["basis"] == "published")).sum())
    assert segments == 195
    assert (
        "This run scored acute trusts and mental health and community trusts only; it left out "
        "ambulance trusts." in text
    )
    assert (
        f"Segments are the publication's segments ({segments} trusts): this run left out "
        "ambulance trusts, whose averages the cut-points need." in text
    )
    assert "domain segments are the publication's ones" in text
    summary_text = page.locator("#summary").inner_text()
    assert "implied by the publication's segments" in summary_text
    _no_nhs_england(summary_text)
    for group in PARTIAL:
        line = page.locator(f"#group-{group} p.basis").inner_text()
        assert line.startswith(
            "Segments are the publication's segments (this run left out ambulance trusts); "
            "ranks are computed from them."
        )
    trust = page.locator("#trust-ZA001 .trust-audit")
    basis = trust.locator("ul.trust-basis li").all_text_contents()
    assert basis[0] == (
        "Its segment before the financial override and its average score, which orders the "
        "league table"
    )
    assert any(b.startswith("Domain segments (cut across every trust type): ") for b in basis)
    _no_nhs_england(trust.text_content())
    assert opened.external == [] and opened.errors == [] and opened.dialogs == []
    page.context.close()


def _with_disagreements(results: QuarterResults) -> QuarterResults:
    """``results`` with an audit in which ZA001 disagrees with the publication on a metric
    score (unexplained), a domain score (inherited) and its rank (inherited), and ZM001 on a
    metric score (rounded cross-type tie); ZA001's published rank differs accordingly."""
    rows = results.audit.copy()
    table = results.league_table.copy()

    def differ(code: str, layer: str, reason: str, published: float | None = None) -> None:
        at = rows.index[(rows["trust_code"] == code) & (rows["layer"] == layer)][0]
        if layer == "metric_score":
            at = rows.index[
                (rows["trust_code"] == code)
                & (rows["layer"] == layer)
                & (rows["basis"] == "computed")
            ][0]
        rows.loc[at, "published"] = (
            published if published is not None else rows.loc[at, "ours"] + 0.25
        )
        rows.loc[at, ["agrees", "reason"]] = [False, reason]

    za = table.index[table["trust_code"] == "ZA001"][0]
    differ("ZA001", "metric_score", audit.UNEXPLAINED)
    differ("ZA001", "domain_score", audit.INHERITED)
    differ("ZA001", "rank", audit.INHERITED, published=float(table.loc[za, "rank"] + 1))
    differ("ZM001", "metric_score", audit.CROSS_TYPE_TIE)
    table.loc[za, "published_rank"] = table.loc[za, "rank"] + 1
    tables = {**results.tables, "audit": rows, "league_table": table}
    return QuarterResults(quarter=results.quarter, info=results.info, tables=tables)


def test_a_trust_page_lists_its_disagreements_in_plain_words(browser, generated, tmp_path):
    results = _with_disagreements(load_quarter(Q1, 1, store=generated))
    path = tmp_path / "report-differences.html"
    path.write_text(build_report(results), encoding="utf-8")
    rank = int(results.league_table.set_index("trust_code").at["ZA001", "rank"])
    opened = _open(browser, path)
    page = opened.page
    section = page.locator("#audit")
    text = section.inner_text()
    assert " agree and 4 differ, for 2 trusts." in text
    differences = section.locator("table.audit-differences tbody tr")
    assert differences.count() == 4
    # upstream first: metric score, domain score, rank
    assert [differences.nth(i).get_attribute("data-layer") for i in range(3)] == [
        "metric_score",
        "domain_score",
        "rank",
    ]
    assert section.locator("table.audit-layers tr[data-layer=rank] td").last.inner_text() == "1"
    reasons = section.locator("ul.reasons li").all_inner_texts()
    assert len(reasons) == 3 and any(r.startswith("Not explained") for r in reasons)
    # the league table marks the rank that differs
    marker = page.locator("table.league tr[data-trust=ZA001] .differs")
    assert marker.inner_text() == f"≠ {rank + 1}"
    assert marker.get_attribute("title") == f"The publication's published rank: {rank + 1}"
    assert "1 trust differs from the publication's in segment or rank (marked ≠)." in (
        page.locator("#group-acute p.basis").inner_text()
    )

    page.click("table.audit-differences a[href='#trust-ZA001']")
    trust = page.locator("#trust-ZA001")
    trust.wait_for(state="visible")
    assert trust.locator("p.audit-flag").inner_text() == (
        "3 of its figures differ from the publication's figures: see “Compared with the "
        "publication's figures” below."
    )
    audit_text = trust.locator(".trust-audit").inner_text()
    _no_nhs_england(audit_text)
    assert re.search(
        r"3 of its \d+ figures computed here differ from the publication's", audit_text
    )
    cells = trust.locator("table.trust-differences tbody tr")
    assert cells.count() == 3
    first = cells.nth(0).locator("td").all_inner_texts()
    assert first[0].startswith("Metric score: ") and first[3].startswith("Not explained.")
    assert float(first[2]) == pytest.approx(float(first[1]) + 0.25)
    rank_row = cells.nth(2).locator("td").all_inner_texts()
    assert rank_row[:3] == ["League rank", str(rank), str(rank + 1)]
    assert "a rank depends on every trust in the same league table" in rank_row[3]
    _shot(page, "report-trust-differences.png", full_page=True)
    tie = page.locator("#trust-ZM001 table.trust-differences tbody tr td").all_text_contents()
    assert tie[3].startswith("Rounding. The published values behind this score are rounded")
    assert opened.external == [] and opened.errors == [] and opened.dialogs == []
    page.context.close()


# -- hostile trust names ----------------------------------------------------------------------

HOSTILE = [
    "<!--<script>",
    "</script><script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    'Smith & Jones "St Mary\'s" <b>Trust</b> &amp; co',
    "First line\nSecond line",
]


def _renamed(results: QuarterResults, names: dict[str, str]) -> QuarterResults:
    """``results`` with the trusts in ``names`` renamed in every table that names trusts."""
    tables = {}
    for table, frame in results.tables.items():
        if "trust_name" in frame:
            frame = frame.copy()
            hit = frame["trust_code"].isin(list(names))
            frame.loc[hit, "trust_name"] = frame.loc[hit, "trust_code"].map(names)
        tables[table] = frame
    return QuarterResults(quarter=results.quarter, info=results.info, tables=tables)


def _counts(opened: Opened) -> dict[str, int]:
    page = opened.page
    drawn = _wait_for_charts(page, "main.overview")
    return {
        "trust pages": page.locator("article.trust-page").count(),
        "chart specs": page.locator("script.chart-spec").count(),
        "charts": page.locator("figure.chart").count(),
        "overview charts drawn": drawn,
        "league rows": page.locator("table.league tbody tr").count(),
        "movement rows": page.locator("table.movement tbody tr").count(),
        "revision rows": page.locator("table.revisions tbody tr").count(),
        "audit rows": page.locator("table.audit-layers tbody tr").count(),
        "scripts": page.locator("script").count(),
        "images": page.locator("img").count(),
        "rank marks": page.locator("[data-chart=rank-intervals] svg g.mark-symbol path").count(),
    }


def test_hostile_trust_names_leave_the_report_whole(browser, generated, tmp_path):
    """Q2 v2 (movement against Q1, the revision from v1) with five trusts per quarter renamed:
    the same pages, charts and rows as with ordinary names, each name shown as written, and no
    dialog, console error or request."""
    q1, q2 = load_quarter(Q1, 1, store=generated), load_quarter(Q2, 2, store=generated)
    revised = latest_revision(Q2, 2, store=generated)
    codes = ["ZA001", "ZA002", "ZM001", "ZM002", "ZA003"]
    names = dict(zip(codes, HOSTILE, strict=True))
    # the revision names trusts too
    hostile_revision = latest_revision(Q2, 2, store=generated)
    hostile_revision.trusts["trust_name"] = (
        hostile_revision.trusts["trust_code"]
        .map(names)
        .fillna(hostile_revision.trusts["trust_name"])
    )
    hostile_q1, hostile_q2 = _renamed(q1, names), _renamed(q2, names)
    paths = {}
    for label, (now, before, rev) in {
        "ordinary": (q2, q1, revised),
        "hostile": (hostile_q2, hostile_q1, hostile_revision),
    }.items():
        html = build_report(
            now, previous=before, revised=rev, moves_frame=movement(now, before), versions=[1, 2]
        )
        paths[label] = tmp_path / f"report-{label}.html"
        paths[label].write_text(html, encoding="utf-8")
    hostile_html = paths["hostile"].read_text(encoding="utf-8")
    for spec in re.findall(
        r'<script type="application/json" class="chart-spec">(.*?)</script>',
        hostile_html,
        flags=re.S,
    ):
        assert "<" not in spec and ">" not in spec and "&" not in spec

    counts = {}
    for label, path in paths.items():
        opened = _open(browser, path)
        counts[label] = _counts(opened)
        assert opened.dialogs == [] and opened.errors == [], label
        assert opened.external == [], label
        if label == "hostile":
            page = opened.page
            assert page.title() == (
                "[SYNTHETIC] NHS Oversight Framework league tables, 2025/26 Q2 (snapshot v2): "
                "synthetic sample data, not NHS England's figures"
            )
            _shot(page, "report-hostile-names.png")
            for code, name in names.items():
                row = page.locator(f"table.league tr[data-trust={code}] td a")
                assert row.text_content() == name
                page.goto(path.as_uri() + f"#trust-{code}")
                trust = page.locator(f"#trust-{code}")
                trust.wait_for(state="visible")
                assert trust.locator("h2").text_content().startswith(name + " ")
                assert _wait_for_charts(page, f"#trust-{code}") == 1
                assert name in trust.locator("ul.explain li").first.text_content()
            labels = page.locator("#group-acute [data-chart=rank-intervals] svg text")
            assert any("<!--<script>" in t for t in labels.all_text_contents())
            moved = page.locator("table.movement tr[data-trust=ZA001] td a")
            if moved.count():
                assert moved.text_content() == names["ZA001"]
            assert opened.dialogs == [] and opened.errors == [], label
            assert opened.external == [], label
        # nothing but the file itself is ever requested (no image, no script source)
        assert {url.split("#")[0] for url in opened.requests} == {path.as_uri()}, label
        opened.page.context.close()
    assert counts["hostile"] == counts["ordinary"]
    assert counts["ordinary"]["trust pages"] == 195
    assert counts["ordinary"]["chart specs"] == 2 * 2 + 1 + 195
