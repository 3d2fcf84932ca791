"""The Vega, Vega-Lite and Vega-Embed builds shipped in league_pipeline/outputs/report/vendor/:
their versions are the ones Altair targets, each file is the one its README names (sha256), and
the report inlines all three and is the same bytes when made twice."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime

import altair as alt
import pytest
from outputs_support import Q1, build_real_home

from league_pipeline.outputs import report
from league_pipeline.outputs.report import charts
from league_pipeline.outputs.results import load_quarter

ROW = re.compile(
    r"^\| (?P<package>[a-z-]+) \| (?P<version>[0-9.]+) \| `(?P<file>[a-z.-]+)` \| "
    r"(?P<source>\S+) .*\| (?P<sha256>[0-9a-f]{64}) \|$",
    re.MULTILINE,
)


def _shipped() -> dict[str, dict[str, str]]:
    text = (charts.VENDOR / "README.md").read_text(encoding="utf-8")
    return {m["package"]: m.groupdict() for m in ROW.finditer(text)}


def test_the_readme_lists_the_three_files_the_page_loads_in_order():
    shipped = _shipped()
    assert list(shipped) == ["vega", "vega-lite", "vega-embed"]
    assert tuple(row["file"] for row in shipped.values()) == charts.VEGA_FILES
    for package, row in shipped.items():
        tarball = f"https://registry.npmjs.org/{package}/-/{package}-{row['version']}.tgz"
        assert row["source"] == tarball
        assert (charts.VENDOR / f"LICENSE-{package}").read_text().startswith("Copyright")


def test_the_shipped_versions_are_the_ones_altair_targets():
    """Altair names Vega-Lite exactly (6.4.1) and Vega and Vega-Embed by major version (6, 7):
    a new Altair that moves any of them fails here until scripts/vendor_vega.py is run."""
    shipped = {package: row["version"] for package, row in _shipped().items()}
    assert shipped["vega-lite"] == alt.VEGALITE_VERSION
    for package, target in (("vega", alt.VEGA_VERSION), ("vega-embed", alt.VEGAEMBED_VERSION)):
        assert shipped[package] == target or shipped[package].startswith(f"{target}.")


def test_each_file_carries_the_version_the_readme_names():
    """The builds say their own version: a file swapped without the README fails."""
    shipped = _shipped()
    vega = (charts.VENDOR / "vega.min.js").read_text(encoding="utf-8")
    lite = (charts.VENDOR / "vega-lite.min.js").read_text(encoding="utf-8")
    embed = (charts.VENDOR / "vega-embed.min.js").read_text(encoding="utf-8")
    assert f't.version="{shipped["vega"]["version"]}"' in vega
    assert f'var n="{shipped["vega-lite"]["version"]}"' in lite
    assert f'const pn="{shipped["vega-embed"]["version"]}"' in embed


def test_the_files_match_their_sha256():
    for row in _shipped().values():
        data = (charts.VENDOR / row["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == row["sha256"], row["file"]


def test_the_bundle_is_the_three_files_safe_to_inline():
    bundle = charts.vega_bundle()
    starts = []
    for name in charts.VEGA_FILES:
        text = (charts.VENDOR / name).read_text(encoding="utf-8")
        body = re.sub(r"^//# sourceMappingURL=.*$", "", text, flags=re.MULTILINE).rstrip()
        assert body in bundle
        starts.append(bundle.index(body))
    assert starts == sorted(starts)  # Vega, then Vega-Lite, then Vega-Embed
    assert "sourceMappingURL" not in bundle  # no source map for the browser to look for
    for unsafe in ("</script", "<!--", "<script"):
        assert unsafe not in bundle.lower()


@pytest.fixture(scope="module")
def real(tmp_path_factory, acute_bytes, mh_bytes):
    return build_real_home(
        tmp_path_factory, tmp_path_factory.mktemp("real-home"), acute_bytes, mh_bytes
    )


class _Clock(datetime):
    """The report's only clock input is its "generated" stamp: fixed here."""

    @classmethod
    def now(cls, tz=None):
        return datetime(2026, 1, 15, 9, 30, tzinfo=UTC)


def test_the_report_inlines_the_shipped_files_and_is_the_same_bytes_twice(real, monkeypatch):
    monkeypatch.setattr(report, "datetime", _Clock)
    results = load_quarter(Q1, store=real.store)
    pages = []
    for _ in range(2):
        charts.vega_bundle.cache_clear()  # read the shipped files again, as a new process does
        pages.append(report.build_report(results, whatif_checked=0).encode("utf-8"))
    assert pages[0] == pages[1]
    html = pages[0].decode("utf-8")
    assert html.count(charts.vega_bundle()) == 1
    assert "<script src=" not in html  # every script is inline: nothing to download
