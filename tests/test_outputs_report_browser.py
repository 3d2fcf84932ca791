"""The HTML report in a real browser: headless Debian Chromium opens the single file with every
network request refused, draws all the charts, and shows each trust's page. Screenshots go to
``test-artifacts/`` at the repository root.

Reports built from real snapshots (../shared/data/real): 2025/26 Q1 at version 2 (a revision of
RTE's OF0061) and 2025/26 Q2 (movement against Q1).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from outputs_support import Q1, Q2, build_real_home, revise_acute_q1
from playwright.sync_api import Page, sync_playwright

from league_pipeline.outputs.report import write_report
from league_pipeline.outputs.results import load_quarter

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
DRAW_TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def real(tmp_path_factory, acute_bytes, mh_bytes):
    home = build_real_home(tmp_path_factory.mktemp("real-home"), acute_bytes, mh_bytes)
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
    """A page with every request outside the file recorded and refused."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.external: list[str] = []
        self.errors: list[str] = []
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)

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
    assert "financial override" in row.inner_text() and "3 → 1" in row.inner_text()
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
