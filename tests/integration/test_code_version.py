"""The code version each kind of install records in a snapshot's lineage (``code_version()``).

Belongs here: a wheel built from a clean clone records the clone's commit in its package metadata
(hatch-vcs) and reports it with no git, and even when installed inside a git checkout; a source
checkout (the editable install) reports its own HEAD from git.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

from league_pipeline.snapshots.lineage import code_version

ROOT = Path(__file__).resolve().parents[2]

CHILD = """
import importlib.metadata, json, sys
sys.path.insert(0, sys.argv[1])
import league_pipeline
from league_pipeline.snapshots.lineage import code_version
print(json.dumps({
    "file": league_pipeline.__file__,
    "metadata": importlib.metadata.version("league-pipeline"),
    "code_version": code_version(),
}))
"""


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(cwd), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


def _installed_version(site: Path, env_path: str, cwd: Path) -> dict[str, str]:
    done = subprocess.run(
        [sys.executable, "-I", "-c", CHILD, str(site)],
        cwd=cwd,
        env={"PATH": env_path, "HOME": str(cwd)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_wheel_install_records_its_commit(tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    commit = _git(clone, "rev-parse", "HEAD")
    pip = [sys.executable, "-m", "pip", "--quiet", "--disable-pip-version-check"]
    # offline: the build backend (hatchling, hatch-vcs) comes from this environment (dev extra)
    dist = tmp_path / "dist"
    offline = ["--no-deps", "--no-index", "--no-build-isolation"]
    subprocess.run(
        [*pip, "wheel", *offline, "--wheel-dir", str(dist), str(clone)],
        check=True,
        timeout=300,
    )
    (wheel,) = dist.glob("league_pipeline-*.whl")
    elsewhere = tmp_path / "site"
    inside_checkout = clone / ".venv-site"  # like a virtualenv in the checkout: not the checkout
    for target in (elsewhere, inside_checkout):
        subprocess.run(
            [*pip, "install", "--no-deps", "--no-index", "--target", str(target), str(wheel)],
            check=True,
            timeout=300,
        )

    git = shutil.which("git")
    assert git, "git is needed to clone the repository"
    (tmp_path / "no-git").mkdir()
    for target, path, cwd in (
        (elsewhere, str(tmp_path / "no-git"), tmp_path),  # PATH with no git at all
        (inside_checkout, str(Path(git).parent), clone),  # git there, and a checkout around it
    ):
        found = _installed_version(target, path, cwd)
        assert Path(found["file"]).is_relative_to(target), found
        version = found["code_version"]
        assert version == found["metadata"]
        # a clean build: <release>.devN+g<commit>, with no dirty marker or date
        match = re.fullmatch(r"\d+(?:\.\d+)*(?:\.dev\d+)?\+g([0-9a-f]{7,40})", version)
        assert match, version
        assert commit.startswith(match.group(1)), (version, commit)


def test_checkout_reports_its_head_from_git() -> None:
    head = _git(ROOT, "rev-parse", "--short=12", "HEAD")
    version = code_version.__wrapped__()
    assert re.fullmatch(rf"[^+]+\+g{head}(\.dirty)?", version), (version, head)
