"""The report's interactions in headless Debian Chromium, on one page load: search and filters,
sortable columns, a trust page taking the focus, Back returning to the row it was opened
from, the movement table's reasons, the charts' accessible names, an axe-core accessibility
check, and no request outside the file and no console error throughout.

The report is 2025/26 Q2 of the real snapshots (../shared/data/real: mental health & community
trusts, movement against Q1). axe-core (tests/support/vendor, ``scripts/vendor_axe.py``) is
injected into the page by the test only. Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import itertools
import re
import shutil
from pathlib import Path

import pytest
from outputs_support import Q2, build_real_home
from playwright.sync_api import Page, sync_playwright

from league_pipeline.outputs.report import write_report

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
AXE = Path(__file__).resolve().parents[1] / "support" / "vendor" / "axe.min.js"
TRUSTS = 61  # mental health & community trusts in Q2


class Session:
    """One page of the report, with every request outside the file refused and recorded, and
    every console error and dialog recorded."""

    def __init__(self, page: Page, path: Path) -> None:
        self.page, self.path = page, path
        self.external: list[str] = []
        self.requests: list[str] = []
        self.errors: list[str] = []
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("dialog", lambda d: (self.errors.append(f"dialog: {d.message}"), d.dismiss()))

        def refuse(route) -> None:
            if route.request.url.startswith(("file:", "data:", "blob:", "about:")):
                route.continue_()
            else:
                self.external.append(route.request.url)
                route.abort()

        page.route("**/*", refuse)

    def overview(self) -> None:
        """Back to the overview with no filter and the league order (no reload)."""
        page = self.page
        if page.url.split("#", 1)[-1].startswith("trust-"):
            page.go_back()
        page.locator("main.overview").wait_for(state="visible")
        page.click("#filter-reset")
        page.wait_for_function("!document.querySelector('table.league tbody tr[hidden]')")


@pytest.fixture(scope="module")
def session(tmp_path_factory, acute_bytes, mh_bytes):
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        pytest.fail("Debian chromium is not installed: `apt-get install chromium` (see .ci/run)")
    real = build_real_home(
        tmp_path_factory, tmp_path_factory.mktemp("real-home"), acute_bytes, mh_bytes
    )
    path = write_report(Q2, tmp_path_factory.mktemp("report") / "report.html", store=real.store)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1360, "height": 900})
        page = context.new_page()
        opened = Session(page, path)
        page.goto(path.as_uri())
        page.wait_for_function(
            "[...document.querySelectorAll('main.overview .vega-target')]"
            ".every(t => t.dataset.drawn === 'yes')",
            timeout=60_000,
        )
        yield opened
        # nothing but the file itself was ever requested, and nothing went wrong
        assert opened.external == [] and opened.errors == []
        assert {url.split("#")[0] for url in opened.requests} == {path.as_uri()}
        browser.close()


def _shot(page: Page, name: str, *, full_page: bool = False) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=full_page)


def _visible_codes(page: Page, table: str = "table.league") -> list[str]:
    return page.eval_on_selector_all(
        f"{table} tbody tr", "rows => rows.filter(r => !r.hidden).map(r => r.dataset.trust)"
    )


def test_search_and_filters(session):
    page = session.page
    session.overview()
    count = page.locator("#filter-count")
    assert count.inner_text().startswith(f"Showing all {TRUSTS} trusts.")
    page.fill("#filter-text", "rxg")  # a code, any case
    assert _visible_codes(page) == ["RXG"]
    assert _visible_codes(page, "table.movement") == ["RXG"]
    assert count.inner_text() == f"Showing 1 of {TRUSTS} trusts in the league tables."
    page.fill("#filter-text", "south west yorkshire")  # a name
    assert _visible_codes(page) == ["RXG"]
    page.fill("#filter-text", "no such trust")
    assert _visible_codes(page) == []
    assert page.locator("#group-mental_health_community .no-match").is_visible()
    page.fill("#filter-text", "")
    page.select_option("#filter-region", "London")
    london = _visible_codes(page)
    rows = page.locator("table.league tbody tr:not([hidden])")
    assert 0 < len(london) < TRUSTS
    assert all(r == "London" for r in rows.evaluate_all("rs => rs.map(r => r.dataset.region)"))
    page.select_option("#filter-segment", "1")
    assert set(rows.evaluate_all("rs => rs.map(r => r.dataset.segment)")) == {"1"}
    assert set(_visible_codes(page)) < set(london)
    page.click("#filter-reset")
    page.select_option("#filter-change", "segment")
    changed = _visible_codes(page)
    assert len(changed) == 15 and "RXG" in changed  # 15 changed segment since Q1
    page.select_option("#filter-group", "mental_health_community")  # the only group in Q2
    assert sorted(_visible_codes(page)) == sorted(changed)
    assert page.locator("#filter-group option").count() == 2  # all, and the one peer group
    page.select_option("#filter-change", "")
    assert len(_visible_codes(page, "table.movement")) == TRUSTS  # not the acute trusts that left
    _shot(page, "report-filtered.png")


def test_sortable_columns(session):
    page = session.page
    session.overview()
    table = page.locator("table.league[data-peer-group=mental_health_community]")

    def column(index: int) -> list[str]:
        return table.locator("tbody tr").evaluate_all(
            f"rs => rs.map(r => r.children[{index}].textContent.trim())"
        )

    average = table.locator("th", has_text="Average score")
    average.locator("button").click()
    values = [float(v) for v in column(5)]
    assert values == sorted(values) and average.get_attribute("aria-sort") == "ascending"
    average.locator("button").click()
    values = [float(v) for v in column(5)]
    assert values == sorted(values, reverse=True)
    assert average.get_attribute("aria-sort") == "descending"
    assert table.locator("th[aria-sort]").count() == 1
    region = table.locator("th", has_text="Region")
    region.locator("button").click()
    regions = column(4)
    assert regions == sorted(regions, key=str.lower)
    change = table.locator("th", has_text="Change since")
    change.locator("button").click()
    climbs = table.locator("tbody tr td.move").evaluate_all(
        "cs => cs.map(c => parseFloat(c.dataset.sort))"
    )
    assert climbs == sorted(climbs)
    rank = table.locator("th", has_text="Rank").first
    rank.locator("button").click()
    ranks = [int(v.split()[0]) for v in column(0)]
    assert ranks == sorted(ranks)
    _shot(page, "report-sorted.png")
    # the movement table sorts too: by the Q2 rank, then back to league order
    movement = page.locator("table.movement")
    movement.locator("th", has_text="Rank 2025/26 Q2").locator("button").click()
    after = movement.locator("tbody tr").evaluate_all(
        "rs => rs.map(r => r.children[6].dataset.sort).filter(v => v !== '').map(Number)"
    )
    assert after == sorted(after) and len(after) == TRUSTS


def test_opening_a_trust_focuses_it_and_back_restores_the_row(session):
    page = session.page
    session.overview()
    code = page.locator("table.league tbody tr").nth(50).get_attribute("data-trust")
    link = page.locator(f"table.league a[href='#trust-{code}']")
    link.scroll_into_view_if_needed()
    page.mouse.wheel(0, 200)
    page.wait_for_timeout(100)
    before = page.evaluate("window.scrollY")
    assert before > 1500
    link.focus()
    page.keyboard.press("Enter")  # from the keyboard
    trust = page.locator(f"#trust-{code}")
    trust.wait_for(state="visible")
    assert page.evaluate("document.activeElement.id") == f"title-{code}"
    assert page.evaluate("window.scrollY") == 0
    page.wait_for_function(
        f"document.querySelector('#trust-{code} .vega-target').dataset.drawn === 'yes'"
    )
    _shot(page, "report-trust-focused.png")
    page.go_back()
    page.locator("main.overview").wait_for(state="visible")
    page.wait_for_function(f"Math.abs(window.scrollY - {before}) < 2")
    assert page.evaluate("document.activeElement.getAttribute('href')") == f"#trust-{code}"
    assert page.evaluate("document.activeElement.closest('table').className") == "league"
    # the trust page's own Back link does the same
    link.click()
    trust.wait_for(state="visible")
    page.click(f"#trust-{code} a.back")
    page.locator("main.overview").wait_for(state="visible")
    page.wait_for_function(f"Math.abs(window.scrollY - {before}) < 2")
    assert page.evaluate("document.activeElement.getAttribute('href')") == f"#trust-{code}"
    _shot(page, "report-back-to-row.png")


def test_a_trust_page_shows_metric_values_and_why_it_moved(session):
    page = session.page
    session.overview()
    page.click("table.league a[href='#trust-RXG']")
    trust = page.locator("#trust-RXG")
    trust.wait_for(state="visible")
    # every averaged item's metric has a row (and the metrics behind the combined finance score)
    metrics = trust.locator("table.metric-values tbody th").all_inner_texts()
    items = trust.locator("table.items tbody tr td:first-child").all_inner_texts()
    assert len(metrics) > len(items)
    assert all(any(m.startswith(item) for m in metrics) for item in items)
    crisis = trust.locator("table.metric-values tr[data-metric=OF0016]")
    cells = crisis.locator("td").all_inner_texts()
    value, period, lower, median, upper, score = cells
    assert value.endswith(" %") and period  # value and unit, reporting period
    assert float(lower) <= float(median) <= float(upper)
    assert float(score) >= 1
    assert crisis.locator("small.description").inner_text().startswith("Percentage of")
    assert "(higher is better)" in crisis.locator("th").inner_text()
    facts = trust.locator("dl.facts").inner_text()
    assert "Rank if its financial override were lifted" in facts
    assert "if no trust's financial override applied" in facts
    assert "its own override lifted" not in facts
    why = trust.locator("p.movement-why").inner_text()
    assert why.startswith("It moved from segment 3 to segment 1. The financial override no")
    assert "Its rank went from 26 to 4 (22 places up; " in why
    _shot(page, "report-trust-RXG-metrics.png", full_page=True)


def test_movement_explains_every_move_in_plain_words(session):
    page = session.page
    session.overview()
    movement = page.locator("table.movement")
    assert movement.locator("tbody tr").count() == TRUSTS + 134  # Q1's acute trusts left
    rows = movement.locator("tbody tr[data-change*=segment]")
    assert rows.count() == 15
    for i in range(rows.count()):
        cells = rows.nth(i).locator("td").all_inner_texts()
        assert cells[3] != cells[4]  # segment before and after
        assert cells[8].startswith("Segment: ")  # its significance, yes or no
        assert cells[9].startswith("It moved from segment ")
        assert "not significant" not in cells[9].split(".")[0]
    # a move the cut-points made: its own average barely changed
    rx4 = movement.locator("tr[data-trust=RX4] td.why").inner_text()
    assert "but the cut-points moved: the cut-point between segments 3 and 4 went from" in rx4
    assert "Its score change is not significant" in rx4
    assert "the cut-points moved past their average" in page.locator("#movement").inner_text()
    _shot(page, "report-movement-why.png")


def test_charts_have_names_and_text_alternatives_and_axe_finds_no_violation(session):
    page = session.page
    session.overview()
    for figure in page.locator("main.overview figure.chart").all():
        target = figure.locator(".vega-target")
        # role img until drawn; Vega-Embed then makes it a graphics document
        assert target.get_attribute("role") in ("img", "graphics-document")
        # named by the template, then by the spec's description (Vega-Embed)
        assert "table" in target.get_attribute("aria-label")
        assert figure.get_attribute("aria-labelledby")
    # full labels: no trust label is cut short
    labels = page.locator("[data-chart=rank-intervals] svg g.role-axis-label text")
    texts = [t for t in labels.all_text_contents() if re.match(r"\d+\. ", t)]
    assert len(texts) == TRUSTS and all(re.search(r" \([A-Z0-9]{3,5}\)$", t) for t in texts), texts
    # cut-point labels do not overlap
    boxes = page.locator("[data-chart=score-distribution] svg text", has_text=": segment ")
    rects = [boxes.nth(i).bounding_box() for i in range(boxes.count())]
    assert len(rects) == 3
    for a, b in itertools.pairwise(rects):
        assert a["y"] + a["height"] <= b["y"] + 0.5 or b["y"] + b["height"] <= a["y"] + 0.5
    # the heat map's numbers are readable (11 px) and its data are in a table
    sizes = page.locator("[data-chart=domain-heatmap] svg g.mark-text.role-mark text").evaluate_all(
        "ts => [...new Set(ts.map(t => getComputedStyle(t).fontSize))]"
    )
    assert sizes == ["11px"]
    table = page.locator("#group-mental_health_community table.domain-table tbody tr")
    assert table.count() == TRUSTS
    page.add_script_tag(path=str(AXE))  # inline: no request
    result = page.evaluate(
        "async () => { const r = await axe.run(document, {resultTypes: ['violations']});"
        " return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))})); }"
    )
    assert result == [], result
    page.click("table.league a[href='#trust-RXG']")
    page.locator("#trust-RXG").wait_for(state="visible")
    page.wait_for_function(
        "document.querySelector('#trust-RXG .vega-target').dataset.drawn === 'yes'"
    )
    result = page.evaluate(
        "async () => { const r = await axe.run('#trust-RXG', {resultTypes: ['violations']});"
        " return r.violations.map(v => ({id: v.id, help: v.help,"
        " nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))})); }"
    )
    assert result == [], result
