"""Fetch the Vega, Vega-Lite and Vega-Embed builds the report inlines, from npm, into
league_pipeline/outputs/report/vendor/ (each ``.min.js`` as published, its LICENSE, and
README.md with the version, source and sha256 of every file).

Usage: ``python scripts/vendor_vega.py`` (needs ``npm``). To move a version, change VERSIONS
below (Vega-Lite must be Altair's ``VEGALITE_VERSION``, Vega and Vega-Embed within Altair's
``VEGA_VERSION`` and ``VEGAEMBED_VERSION``; tests/integration/test_vega_vendor.py checks it),
run the script, and commit the folder.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENDOR = ROOT / "league_pipeline" / "outputs" / "report" / "vendor"

# npm package: (version, its browser build inside the package), in the order the page loads them
VERSIONS = {
    "vega": ("6.2.0", "build/vega.min.js"),
    "vega-lite": ("6.4.1", "build/vega-lite.min.js"),
    "vega-embed": ("7.0.2", "build/vega-embed.min.js"),
}

README_HEAD = """\
# Vega, Vega-Lite and Vega-Embed, as published on npm

The report (`league_pipeline/outputs/report/charts.py`, `vega_bundle`) inlines these three
browser builds, in this order, so it draws its charts with no network. Each `.min.js` is the
file of the npm package byte for byte; `LICENSE-<package>` is the package's licence (BSD
3-Clause). Made by `scripts/vendor_vega.py`; do not edit by hand.
`tests/integration/test_vega_vendor.py` checks the versions against Altair's and the sha256 below.

| package | version | file | source | sha256 |
| --- | --- | --- | --- | --- |
"""


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fetch(package: str, version: str, build: str, work: Path) -> list[str]:
    """The package's tarball from npm (``npm pack``), its build and LICENSE copied into the
    vendor folder; returns the README row."""
    subprocess.run(
        ["npm", "pack", "--silent", f"{package}@{version}", "--pack-destination", str(work)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    tarball = work / f"{package}-{version}.tgz"
    with tarfile.open(tarball) as tar:
        tar.extractall(work / package, filter="data")
    unpacked = work / package / "package"
    target = VENDOR / Path(build).name
    shutil.copyfile(unpacked / build, target)
    shutil.copyfile(unpacked / "LICENSE", VENDOR / f"LICENSE-{package}")
    url = f"https://registry.npmjs.org/{package}/-/{package}-{version}.tgz"
    return [package, version, f"`{target.name}`", f"{url} (`package/{build}`)", sha256(target)]


def main() -> int:
    VENDOR.mkdir(parents=True, exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for package, (version, build) in VERSIONS.items():
            rows.append(fetch(package, version, build, Path(tmp)))
    lines = ["| " + " | ".join(row) + " |" for row in rows]
    (VENDOR / "README.md").write_text(README_HEAD + "\n".join(lines) + "\n", encoding="utf-8")
    for row in rows:
        print(" ".join(row[:3]), row[4])
    return 0


if __name__ == "__main__":
    sys.exit(main())
