"""Checks that look across a quarter's source files, which no single file's schema can see.

Belongs here: pure functions over already-parsed extracts that return a
:class:`ConsistencyReport` naming the rows at fault: :func:`trust_consistency` (the files agree
on which trusts exist: each NOF trust in its own peer group's file, once, known to ODS and open;
every RSP and deficit-flag trust scored; every scored trust in the deficit flags) and
:func:`reporting_period` (a NOF file belongs to the quarter it is processed as). Wiring them
into Dagster is :mod:`league_pipeline.defs.consistency`; per-file rules are the pandera
schemas. The rules in full: docs/reliability.md ("The cross-source checks").
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from league_pipeline.core.peer_groups import BY_SOURCE_KIND
from league_pipeline.core.quarters import Quarter, parse_quarter

MAX_ROWS_SHOWN = 50
ODS_EXEMPT_PREFIXES = ("T",)  # care trusts: in ODS's "ect" extract, not "etr"
PROBLEM_COLUMNS = ["source", "Trust_code", "Trust_name", "problem"]
_REPORTING_QUARTER = re.compile(r"^\s*Q([1-4])\s+(\d{4})\s*/\s*(\d{2})\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class ConsistencyReport:
    """The outcome of one consistency check; ``failing_rows`` holds one row per problem."""

    check: str
    passed: bool
    summary: str
    rows_checked: int
    failing_rows: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=PROBLEM_COLUMNS)
    )

    @property
    def num_failing_rows(self) -> int:
        return len(self.failing_rows)

    def dagster_metadata(self) -> dict[str, Any]:
        """Plain values and a Markdown table, for ``AssetCheckResult`` metadata."""
        shown = self.failing_rows.head(MAX_ROWS_SHOWN)
        return {
            "summary": self.summary,
            "rows_checked": self.rows_checked,
            "num_failing_rows": self.num_failing_rows,
            "failing_rows": shown.to_markdown(index=False) if len(shown) else "(none)",
        }


def _quarter(quarter: str | Quarter) -> Quarter:
    if isinstance(quarter, Quarter):
        return quarter
    return parse_quarter(str(quarter), check_methodology=False)


def _trusts(df: pd.DataFrame) -> pd.DataFrame:
    """One row per trust code: code, name (first seen) and Trust_type (if the frame has it)."""
    cols = [c for c in ("Trust_code", "Trust_name", "Trust_type") if c in df.columns]
    out = df[cols].dropna(subset=["Trust_code"]).drop_duplicates("Trust_code")
    for col in ("Trust_name", "Trust_type"):
        if col not in out.columns:
            out[col] = pd.NA
    return out.reset_index(drop=True)


def _problems(source: str, trusts: pd.DataFrame, mask: pd.Series, problem: Any) -> pd.DataFrame:
    """Rows of ``trusts`` selected by ``mask`` as problem rows (``problem``: text or Series)."""
    chosen = trusts.loc[mask, ["Trust_code", "Trust_name"]].copy()
    chosen.insert(0, "source", source)
    chosen["problem"] = problem[mask] if isinstance(problem, pd.Series) else problem
    return chosen


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _ods_dates(ods: pd.DataFrame) -> pd.DataFrame:
    """open_date and close_date by ODS code (NaT where blank or unreadable)."""
    by_code = ods.drop_duplicates("ods_code").set_index("ods_code")
    return pd.DataFrame(
        {
            col: pd.to_datetime(by_code[col], errors="coerce")
            if col in by_code
            else pd.Series(pd.NaT, index=by_code.index)
            for col in ("open_date", "close_date")
        }
    )


def _nof_file_problems(
    kind: str, trusts: pd.DataFrame, scored: dict[str, list[str]], ods: pd.DataFrame, q: Quarter
) -> list[pd.DataFrame]:
    """A NOF file's trusts: right file, only one file, known to ODS and open in the quarter."""
    group = BY_SOURCE_KIND[kind]
    codes = trusts["Trust_code"]
    wrong_type = trusts["Trust_type"].notna() & trusts["Trust_type"].ne(group.trust_type)
    type_text = "Trust_type '" + trusts["Trust_type"].astype(str) + f"' in the {group.id} file"
    others = pd.Series([[k for k in scored[c] if k != kind] for c in codes], index=trusts.index)
    known, _ = _ods_problems(kind, trusts, ods, q, "not in the ODS trust list (etr)")
    return [
        _problems(kind, trusts, wrong_type, type_text),
        _problems(kind, trusts, others.map(bool), "also in " + others.map(", ".join)),
        *known,
    ]


def _ods_problems(
    source: str,
    trusts: pd.DataFrame,
    ods: pd.DataFrame,
    q: Quarter,
    unknown_text: str,
    among: pd.Series | None = None,
) -> tuple[list[pd.DataFrame], pd.Series]:
    """What ODS can tell of ``trusts`` (those ``among`` selects; all by default): codes not in
    the ``etr`` list (care trusts' ``T`` codes exempt), trusts closed before the quarter or
    opened after it. The problem rows, and the mask of the trusts with any."""
    codes = trusts["Trust_code"]
    if among is None:
        among = pd.Series(True, index=trusts.index)
    unknown = among & ~codes.isin(ods.index) & ~codes.str.startswith(ODS_EXEMPT_PREFIXES)
    dates = ods.reindex(codes).set_axis(trusts.index)
    closed = among & (dates["close_date"] < pd.Timestamp(q.start))
    opened = among & (dates["open_date"] > pd.Timestamp(q.end))
    rows = [
        _problems(source, trusts, unknown, unknown_text),
        _problems(
            source,
            trusts,
            closed,
            "closed in ODS on " + dates["close_date"].dt.strftime("%Y-%m-%d") + f", before {q}",
        ),
        _problems(
            source,
            trusts,
            opened,
            "opened in ODS on " + dates["open_date"].dt.strftime("%Y-%m-%d") + f", after {q}",
        ),
    ]
    return rows, unknown | closed | opened


LISTED_NAMES = {"rsp_list": "the RSP list", "deficit_flags": "the deficit flags"}


def _and(items: list[str]) -> str:
    return ", ".join(items[:-1]) + " and " + items[-1] if len(items) > 1 else items[0]


def trust_consistency(
    quarter: str | Quarter,
    nof: Mapping[str, pd.DataFrame],
    ods: pd.DataFrame,
    rsp: pd.DataFrame | None,
    deficit_flags: pd.DataFrame | None,
    left_out: Collection[str] = (),
) -> ConsistencyReport:
    """Check that a quarter's source files agree on its trusts (see the module docstring).

    ``nof`` maps each NOF source kind (``nof_trust_data_acute`` ...) to its parsed extract;
    ``ods``, ``rsp`` and ``deficit_flags`` are the parsed ODS list, RSP list and deficit flags
    (None when not supplied: a published quarter's files carry the flags themselves).
    ``left_out`` names the NOF source kinds of peer groups the run does not score: an RSP or
    deficit-flag trust in none of the files read may be one of theirs (those lists name no peer
    group), so it is counted as not checked instead of as a problem.
    """
    q = _quarter(quarter)
    unknown = (set(nof) | set(left_out)) - set(BY_SOURCE_KIND)
    if unknown:
        raise ValueError(
            f"unknown NOF source kinds {sorted(unknown)}: use {', '.join(BY_SOURCE_KIND)}"
        )
    if set(nof) & set(left_out):
        raise ValueError(f"{sorted(set(nof) & set(left_out))} are both read and left out")
    nof_trusts = {kind: _trusts(df) for kind, df in nof.items()}
    scored: dict[str, list[str]] = {}
    for kind, trusts in nof_trusts.items():
        for code in trusts["Trust_code"]:
            scored.setdefault(code, []).append(kind)

    found: list[pd.DataFrame] = []
    ods_dates = _ods_dates(ods)
    for kind, trusts in nof_trusts.items():
        found += _nof_file_problems(kind, trusts, scored, ods_dates, q)
    supplied = {"rsp_list": rsp, "deficit_flags": deficit_flags}
    listed = {name: _trusts(df) for name, df in supplied.items() if df is not None}
    not_checked = 0
    for source, trusts in listed.items():
        unscored = ~trusts["Trust_code"].isin(scored)
        if left_out:  # perhaps a trust of a peer group the run leaves out: what ODS can tell
            known, wrong = _ods_problems(
                source, trusts, ods_dates, q, "in no NOF file read and not in ODS (etr)", unscored
            )
            found += known
            not_checked += int((unscored & ~wrong).sum())
            continue
        found.append(
            _problems(
                source,
                trusts,
                unscored,
                "in no NOF trust data file (an unknown code, or a trust missing from its NOF file)",
            )
        )
    flagged = set(listed["deficit_flags"]["Trust_code"]) if "deficit_flags" in listed else None
    for kind, trusts in nof_trusts.items() if flagged is not None else []:
        found.append(
            _problems(
                "deficit_flags",
                trusts,
                ~trusts["Trust_code"].isin(flagged),
                f"no row for this trust scored in {kind} (every scored trust needs Yes or No)",
            )
        )

    nonempty = [f for f in found if len(f)]
    checked = sum(len(t) for t in [*nof_trusts.values(), *listed.values()]) - not_checked
    unchecked = ""
    if left_out:
        groups = _and([BY_SOURCE_KIND[k].id for k in sorted(left_out)])
        unchecked = (
            f" {_plural(not_checked, 'RSP or deficit-flag row')} of trusts open in ODS but in no "
            f"NOF file read not checked further: the run leaves out {groups}."
        )
    if not nonempty:
        summary = (
            f"trust consistency {q.label}: {len(scored):,} scored trusts agree across "
            f"{_and(['the NOF files', 'the ODS list', *(LISTED_NAMES[n] for n in listed)])}."
        )
        return ConsistencyReport("trust_consistency", True, summary + unchecked, checked)
    rows = pd.concat(nonempty, ignore_index=True)
    counts = rows.groupby("source", sort=False).size()
    parts = ", ".join(f"{source} {_plural(n, 'problem')}" for source, n in counts.items())
    summary = (
        f"trust consistency {q.label} FAILED: {_plural(len(rows), 'problem')} ({parts}); "
        "fix the trust codes, or add the missing trust rows, then re-run."
    )
    return ConsistencyReport("trust_consistency", False, summary + unchecked, checked, rows)


def reporting_quarters(reporting_date: pd.Series) -> pd.Series:
    """``Q1 2025/26``-style Reporting_date values as :class:`Quarter` (None for other forms)."""

    def parse(text: object) -> Quarter | None:
        if not isinstance(text, str):
            return None
        match = _REPORTING_QUARTER.match(text)
        if not match:
            return None
        fy, fy2 = int(match.group(2)), int(match.group(3))
        if fy2 != (fy + 1) % 100:
            return None
        return Quarter(fy, int(match.group(1)))

    return reporting_date.map(parse).astype(object)


def reporting_period(
    quarter: str | Quarter, trust_data: pd.DataFrame, source: str = "nof_trust_data"
) -> ConsistencyReport:
    """Check that a NOF trust-data file's newest ``Qn YYYY/YY`` reporting period is ``quarter``.

    A file with no such reporting date cannot be placed this way and passes (the summary says
    so). Failing rows are the file's rows of its newest period (at most 50 shown).
    """
    q = _quarter(quarter)
    if "Reporting_date" not in trust_data.columns:
        summary = f"reporting period {q.label}: the file has no Reporting_date column to compare."
        return ConsistencyReport("reporting_period", True, summary, len(trust_data))
    periods = reporting_quarters(trust_data["Reporting_date"])
    present = periods.dropna()
    if present.empty:
        summary = f"reporting period {q.label}: no 'Qn YYYY/YY' reporting dates to compare."
        return ConsistencyReport("reporting_period", True, summary, len(trust_data))
    newest = max(present)
    if newest == q:
        summary = (
            f"reporting period {q.label}: the newest quarterly reporting date in the file is "
            f"{q.published_label}, as expected."
        )
        return ConsistencyReport("reporting_period", True, summary, len(trust_data))
    at_fault = trust_data.loc[periods.map(lambda p: p == newest).astype(bool)]
    cols = [c for c in ("Trust_code", "Trust_name", "Metric_ID", "Reporting_date") if c in at_fault]
    rows = at_fault[cols].copy()
    rows.insert(0, "source", source)
    direction = "older" if newest < q else "newer"
    rows["problem"] = f"reporting period {newest.published_label} is {direction} than {q.label}"
    summary = (
        f"reporting period {q.label} FAILED: {source}'s newest quarterly reporting date is "
        f"{newest.published_label} ({_plural(len(rows), 'row')}), so the file belongs to "
        f"{newest.label}, not {q.label}; put the file for {q.label} in its landing folder."
    )
    return ConsistencyReport("reporting_period", False, summary, len(trust_data), rows)
