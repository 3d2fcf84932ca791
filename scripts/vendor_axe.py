"""Fetch axe-core's browser build for the report's accessibility test, from npm, into
tests/support/vendor/ (``axe.min.js`` as published, its licence, and README.md with the
version, source and sha256). Test-only: the package never ships it.

Usage: ``python scripts/vendor_axe.py`` (needs ``npm``). To move the version, change VERSION
below, run the script, and commit the folder.
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
VENDOR = ROOT / "tests" / "support" / "vendor"
PACKAGE, VERSION, BUILD = "axe-core", "4.14.1", "axe.min.js"

README = """\
# axe-core, as published on npm (test-only)

`tests/e2e/test_outputs_report_browser.py` injects `axe.min.js` into the report's page in
headless Chromium and fails on any accessibility violation axe-core finds. The file is the npm
package's byte for byte; `LICENSE-axe-core` is its licence (MPL-2.0). It is a test tool only:
it is not in the package and never in a report. Made by `scripts/vendor_axe.py`; do not edit
by hand.

| package | version | file | source | sha256 |
| --- | --- | --- | --- | --- |
| {package} | {version} | `{build}` | {url} (`package/{build}`) | {sha} |
"""


def main() -> int:
    VENDOR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        subprocess.run(
            ["npm", "pack", "--silent", f"{PACKAGE}@{VERSION}", "--pack-destination", tmp],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        with tarfile.open(work / f"{PACKAGE}-{VERSION}.tgz") as tar:
            tar.extractall(work / PACKAGE, filter="data")
        unpacked = work / PACKAGE / "package"
        shutil.copyfile(unpacked / BUILD, VENDOR / BUILD)
        shutil.copyfile(unpacked / "LICENSE", VENDOR / f"LICENSE-{PACKAGE}")
    sha = hashlib.sha256((VENDOR / BUILD).read_bytes()).hexdigest()
    url = f"https://registry.npmjs.org/{PACKAGE}/-/{PACKAGE}-{VERSION}.tgz"
    (VENDOR / "README.md").write_text(
        README.format(package=PACKAGE, version=VERSION, build=BUILD, url=url, sha=sha),
        encoding="utf-8",
    )
    print(PACKAGE, VERSION, BUILD, sha)
    return 0


if __name__ == "__main__":
    sys.exit(main())
