"""Hostile or careless input that must be refused, and output that must stay safe
(docs/reliability.md lists each fault with the test that holds it)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from league_pipeline.core.atomic import write_bytes
from league_pipeline.core.quarters import QuarterError, parse_quarter
from league_pipeline.ingest.fetch import LandingFetcher, SourceFetchError


@pytest.mark.parametrize("text", ["２０２５/26 Q1", "2025/٢٦ Q1", "Q１ 2025/26", "２０２５-04"])
def test_quarter_parser_takes_ascii_digits_only(text: str) -> None:
    with pytest.raises(QuarterError, match="cannot read the quarter"):
        parse_quarter(text)
    assert parse_quarter("2025/26 Q1").label == "2025/26 Q1"


def test_a_landing_link_out_of_the_folder_is_refused(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    (landing / "2025-26-q1").mkdir(parents=True)
    secret = tmp_path / "secret.csv"
    secret.write_text("not for the pipeline\n")
    link = landing / "2025-26-q1" / "etr.csv"
    link.symlink_to(secret)
    fetcher = LandingFetcher(landing)
    for call in (fetcher.fetch, fetcher.probe):
        with pytest.raises(SourceFetchError, match="leads outside the landing folder"):
            call("2025-26-q1/etr.csv")
    # a link that stays inside the folder is just another name for a landing file
    inside = landing / "2025-26-q1" / "copy.csv"
    inside.write_text("a,b\n")
    (landing / "2025-26-q1" / "alias.csv").symlink_to(inside)
    assert fetcher.fetch("2025-26-q1/alias.csv").content == b"a,b\n"


@pytest.mark.parametrize("umask", [0o022, 0o027, 0o077])
def test_written_files_honour_the_umask(tmp_path: Path, umask: int) -> None:
    old = os.umask(umask)
    try:
        path = write_bytes(tmp_path / "out.csv", b"x\n")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
