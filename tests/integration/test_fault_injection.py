"""Fault injection at the pipeline level: each kind of bad input, applied to every source file it
can affect, is stopped before scoring, with a clear error, and nothing is lost.

Setup: a working home where the embedded default for 2025/26 Q1 and Q2 was run once, so the
store holds good snapshots (Q1 v1, Q2 v1); built once per test session and shared with the other
reliability tests (``tests/support/reliability_support.py``). Each fault works on a copy of it: it
breaks the landing files of every relevant source kind at once, runs the pipeline
(``dagster.materialize``: the six sources, every check, scoring and the snapshot; the raw
statistics' derivations staged by the setup are reused) and asserts:

* the run fails, and for EACH broken kind either its source step failed with a one-line
  ``ReaderError`` (unreadable file), or a blocking check failed with the offending rows in its
  ``failing_rows`` metadata (or, for a structural problem, the column named in its checks);
* no scoring asset and no snapshot was materialised, no snapshot was written, and Q1 v1 reads
  back exactly as before (fingerprinted);
* the bad bytes themselves were kept in the content-addressed source store (nothing lost).

The source assets are independent steps, each validating only its own file, so breaking several
kinds in one run still gives each kind its own verdict; one run per fault keeps the suite fast.
Kinds a fault cannot apply to are left out, with the reason in ``NOT_APPLICABLE``.

NHS England's NOF files are cumulative (the generated ones too): with Q2's file in the folder,
Q1's rows are read from it. A fault in a Q1 file is therefore run with the later NOF files
taken out of the copy, so that the broken Q1 file is the newest publication; a revision of Q1
is made, as NHS England makes it, in the newest file that holds Q1's rows.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import pytest
from prebuilt import copy_of
from reliability_support import CORE, Q1, Q2, populated_home, snapshot_digests, use_home

from league_pipeline.cli.common import snapshot_store, source_store
from league_pipeline.cli.runner import _problems, root_cause
from league_pipeline.core.quarters import Quarter
from league_pipeline.core.settings import Settings
from league_pipeline.definitions import ALL_ASSETS, run_resources
from league_pipeline.ingest.acquire import landing_file
from league_pipeline.snapshots.store import SnapshotStore

BEFORE = [(Q1.label, 1), (Q2.label, 1)]  # the shared home's snapshots
INSTANCE = dg.DagsterInstance.ephemeral()  # run history is not what is tested here
ACUTE = "nof_trust_data_acute"
MHC = "nof_trust_data_mental_health_community"
AMB = "nof_trust_data_ambulance"
NOF = (ACUTE, MHC, AMB)
ODS, RSP, DEFICIT = "ods_trusts", "rsp_list", "deficit_flags"
KINDS = (*NOF, ODS, RSP, DEFICIT)
HTML = b"<!DOCTYPE html>\n<html><head><title>503</title></head><body>Service unavailable</body>"

NOT_APPLICABLE = {
    ("renamed_column", ODS): "the ODS etr report has no header: columns are known by position",
    ("unknown_trust_codes", ODS): "ODS defines which codes exist; a malformed code is a schema "
    "failure (tests/unit/test_validation.py::test_bad_ods_rows)",
    ("missing_trusts", RSP): "the RSP list names only the trusts in the programme: absence is "
    "'not in the programme' by definition",
    **{
        ("missing_trusts", kind): "a NOF file missing a trust fails its own rank check first "
        "(nof_file_missing_a_trust), before the trusts are compared across files"
        for kind in NOF
    },
    **{
        ("nof_file_missing_a_trust", kind): "only NOF files rank their trusts"
        for kind in (ODS, RSP, DEFICIT)
    },
    ("out_of_range_values", RSP): "the RSP list has no numeric column",
    ("quarter_file_under_another_quarter", ODS): "the ODS list has no quarter: ODS 'current' "
    "serves every quarter",
    **{
        ("date_not_yyyymmdd", kind): "only the ODS list has dates (NOF Reporting_date is a "
        "period label such as Jun-25, free text)"
        for kind in (*NOF, RSP, DEFICIT)
    },
    **{
        ("q1_layout_file_under_another_quarter", kind): "only NOF files come in the Q1 layout "
        "without a Quarter column; the others are covered by quarter_file_under_another_quarter"
        for kind in (ODS, RSP, DEFICIT)
    },
}


# -- CSV editing -----------------------------------------------------------------------------------


@dataclass
class Table:
    """A landing CSV as a header and rows of text, written back in its own layout."""

    header: list[str] | None
    rows: list[list[str]]
    bom: bool
    newline: str
    quoting: int = csv.QUOTE_MINIMAL

    @classmethod
    def parse(cls, content: bytes, *, header: bool = True) -> Table:
        bom = content.startswith(b"\xef\xbb\xbf")
        text = content.decode("utf-8-sig")
        lines = list(csv.reader(io.StringIO(text, newline="")))
        newline = "\r\n" if "\r\n" in text else "\n"
        quoting = csv.QUOTE_MINIMAL if header else csv.QUOTE_ALL
        if header:
            return cls(lines[0], lines[1:], bom, newline, quoting)
        return cls(None, lines, bom, newline, quoting)

    def col(self, name: str) -> int:
        assert self.header is not None
        return self.header.index(name)

    def text(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator=self.newline, quoting=self.quoting)
        if self.header is not None:
            writer.writerow(self.header)
        writer.writerows(self.rows)
        return out.getvalue()

    def bytes(self, encoding: str = "utf-8") -> bytes:
        return (b"\xef\xbb\xbf" if self.bom else b"") + self.text().encode(encoding)


ODS_CODE, ODS_NAME, ODS_OPEN, ODS_CLOSE = 0, 1, 10, 11


def _is_ods(kind: str) -> bool:
    return kind == ODS


def code_col(kind: str, table: Table) -> int:
    return ODS_CODE if _is_ods(kind) else table.col("Trust_code")


def name_col(kind: str, table: Table) -> int:
    return ODS_NAME if _is_ods(kind) else table.col("Trust_name")


def edit(fn: Callable[[str, Table, Ctx], None]) -> Callable[[str, bytes, Ctx], bytes]:
    """A fault that edits the parsed table in place (encoded back as UTF-8)."""

    def apply(kind: str, content: bytes, ctx: Ctx) -> bytes:
        table = Table.parse(content, header=not _is_ods(kind))
        fn(kind, table, ctx)
        return table.bytes()

    return apply


@dataclass
class Ctx:
    """What a fault may need besides the file: other quarters' files and chosen trusts."""

    landing: Path
    codes: dict[str, list[str]] = field(default_factory=dict)  # NOF kind -> its trust codes

    def read(self, kind: str, quarter: Quarter) -> bytes:
        return landing_file(kind, quarter, self.landing).read_bytes()


# -- the faults ------------------------------------------------------------------------------------


def empty(kind: str, content: bytes, ctx: Ctx) -> bytes:
    return b""


def truncated(kind: str, content: bytes, ctx: Ctx) -> bytes:
    """Cut mid-line, two characters into the second field of a line half-way down."""
    start = content.rfind(b"\n", 0, len(content) // 2) + 1
    return content[: content.index(b",", start) + 3]


def html_page(kind: str, content: bytes, ctx: Ctx) -> bytes:
    return HTML


ACCENTED = "Hôpital "


def wrong_encoding(kind: str, content: bytes, ctx: Ctx) -> bytes:
    """Saved as Windows-1252 with an accented trust name: not UTF-8."""
    table = Table.parse(content, header=not _is_ods(kind))
    table.rows[0][name_col(kind, table)] = ACCENTED + table.rows[0][name_col(kind, table)]
    return table.bytes("cp1252")


def accent_offset(content: bytes) -> int:
    """Where the "ô" written by wrong_encoding is, counted in bytes from the start of the file
    (its UTF-8 BOM included): the first byte that is not UTF-8, as the rows before are ASCII."""
    return content.index(ACCENTED.encode("cp1252")) + 1


MISSING_COLUMN = {ACUTE: "Units", MHC: "Units", AMB: "Units", RSP: "In_RSP"}
MISSING_COLUMN[DEFICIT] = "In_deficit_or_receiving_support"


@edit
def missing_column(kind: str, table: Table, ctx: Ctx) -> None:
    if _is_ods(kind):  # the last of the 27 fields
        table.rows = [row[:-1] for row in table.rows]
        return
    i = table.col(MISSING_COLUMN[kind])
    table.header.pop(i)  # type: ignore[union-attr]
    for row in table.rows:
        row.pop(i)


RENAMED = {ACUTE: "Value", MHC: "Value", AMB: "Value", RSP: "Trust_code", DEFICIT: "Trust_code"}


@edit
def renamed_column(kind: str, table: Table, ctx: Ctx) -> None:
    i = table.col(RENAMED[kind])
    table.header[i] = RENAMED[kind].replace("_", " ") + "s"  # type: ignore[index]


@edit
def extra_column(kind: str, table: Table, ctx: Ctx) -> None:
    if table.header is not None:
        table.header.append("Notes")
    for row in table.rows:
        row.append("checked by hand")


@edit
def duplicate_rows(kind: str, table: Table, ctx: Ctx) -> None:
    table.rows.insert(1, list(table.rows[0]))


UNKNOWN_CODE = {ACUTE: "RZZ1", MHC: "RZZ2", AMB: "RZZ3", RSP: "RZZ4", DEFICIT: "RZZ5"}


@edit
def unknown_trust_codes(kind: str, table: Table, ctx: Ctx) -> None:
    """NOF: one trust's code mistyped in every row; RSP/deficit: a row for a code nobody has."""
    c = code_col(kind, table)
    if kind in NOF:
        old = ctx.codes[kind][0]
        for row in table.rows:
            if row[c] == old:
                row[c] = UNKNOWN_CODE[kind]
        return
    extra = list(table.rows[0])
    extra[c] = UNKNOWN_CODE[kind]
    table.rows.append(extra)


def dropped_trust(kind: str, ctx: Ctx) -> str:
    """Which trust each file loses: a different one per file, or they would still agree."""
    if kind in NOF:
        return ctx.codes[kind][0]
    return ctx.codes[ACUTE][{ODS: 1, DEFICIT: 2}[kind]]


@edit
def missing_trusts(kind: str, table: Table, ctx: Ctx) -> None:
    c, gone = code_col(kind, table), dropped_trust(kind, ctx)
    table.rows = [row for row in table.rows if row[c] != gone]


BAD_VALUE = {ACUTE: "n/a", MHC: "n/a", AMB: "n/a", ODS: "unknown", RSP: "Maybe", DEFICIT: "n/a"}


def _set_first(table: Table, column: int, value: str, where: Callable[[list[str]], bool]) -> None:
    row = next(r for r in table.rows if where(r))
    row[column] = value


@edit
def non_numeric_values(kind: str, table: Table, ctx: Ctx) -> None:
    if kind in NOF:
        column, where = table.col("Value"), lambda r: r[table.col("Metric_ID")].startswith("OF0")
    elif kind == ODS:
        column, where = ODS_OPEN, lambda r: True
    elif kind == RSP:
        column, where = table.col("In_RSP"), lambda r: True
    else:
        column, where = table.col("Planned_surplus_deficit_pct"), lambda r: True
    _set_first(table, column, BAD_VALUE[kind], where)


OUT_OF_RANGE = {ACUTE: "7.5", MHC: "7.5", AMB: "7.5", ODS: "20000101", DEFICIT: "250.0"}


@edit
def out_of_range_values(kind: str, table: Table, ctx: Ctx) -> None:
    if kind in NOF:  # a metric score above 4
        column, where = table.col("Value"), lambda r: r[table.col("Metric_ID")].startswith("OF1")
    elif kind == ODS:  # closed before it opened
        column, where = ODS_CLOSE, lambda r: r[ODS_OPEN] > "20000101"
    else:  # a planned surplus of 250% of income
        column, where = table.col("Planned_surplus_deficit_pct"), lambda r: True
    _set_first(table, column, OUT_OF_RANGE[kind], where)


SEVEN_DIGIT_DATE = "2017101"  # YYYYMMDD with a digit missing: 2017-10-01? 2017-01-01?


@edit
def date_not_yyyymmdd(kind: str, table: Table, ctx: Ctx) -> None:
    """An ODS open date with 7 digits, which strptime's %Y%m%d happily reads as 2017-10-01."""
    _set_first(table, ODS_OPEN, SEVEN_DIGIT_DATE, lambda r: True)


def q2_file(kind: str, content: bytes, ctx: Ctx) -> bytes:
    """Q2's published file (it has a Quarter column) left in Q1's folder. A NOF file is cut to
    its Q2 rows: the whole cumulative Q2 publication also holds Q1's rows, and is a valid (newer)
    source of them."""
    content = ctx.read(kind, Q2)
    if kind not in NOF:
        return content
    table = Table.parse(content)
    table.rows = [row for row in table.rows if row[table.col("Quarter")] == "Q2 2025/26"]
    return table.bytes()


def q1_layout_file(kind: str, content: bytes, ctx: Ctx) -> bytes:
    """Q1's published file (the Sept 2025 layout: no Quarter column) left in Q2's folder."""
    return ctx.read(kind, Q1)


# -- expectations ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reader:
    """The source step fails with a one-line ReaderError containing ``text``."""

    text: str


@dataclass(frozen=True)
class Check:
    """A blocking check fails. Every text of ``row`` appears on ONE line of its ``failing_rows``
    table (the offending row, and why); every text of ``checks`` is in its ``failing_checks``
    (for structural problems, where a column rather than a row is at fault)."""

    name: str
    row: tuple[str, ...] = ()
    checks: tuple[str, ...] = ()
    on: str | None = None  # the asset the check is on (default: the broken kind's)


def schema(*row: str, checks: tuple[str, ...] = ()) -> Check:
    return Check("pandera_schema", row=row, checks=checks)


def trusts(source: str, code: str, problem: str) -> Check:
    return Check("trusts_consistent", row=(f"| {source} ", f"| {code} ", problem), on=ODS)


UNREADABLE_LINE = "has 2 fields but the header has"
EMPTY = {kind: Reader("the file is empty") for kind in KINDS}
TRUNCATED = {kind: Reader(UNREADABLE_LINE) for kind in KINDS}
TRUNCATED[ODS] = Reader("not a readable CSV file (unexpected end of data)")


@dataclass(frozen=True)
class Fault:
    name: str
    apply: Callable[[str, bytes, Ctx], bytes]
    expect: dict[str, Reader | Check]
    quarter: Quarter = Q1  # the quarter that is run (and whose landing files are broken)


FAULTS = [
    Fault("empty_file", empty, EMPTY),
    Fault("truncated_file", truncated, TRUNCATED),
    Fault(
        "html_error_page", html_page, {k: Reader("received an HTML page, not CSV") for k in KINDS}
    ),
    Fault(
        "wrong_encoding",
        wrong_encoding,
        # the exact byte and offset are asserted by expectations(): the NOF files have a BOM
        {k: Reader("not UTF-8 text (byte 0x") for k in KINDS},
    ),
    Fault(
        "missing_column",
        missing_column,
        {k: schema(checks=(f"missing column '{c}'",)) for k, c in MISSING_COLUMN.items()}
        | {ODS: schema(checks=("missing column 'null_27'",))},
    ),
    Fault(
        "renamed_column",
        renamed_column,
        {
            k: schema(
                checks=(f"missing column '{c}'", f"unexpected column '{c.replace('_', ' ')}s'")
            )
            for k, c in RENAMED.items()
        },
    ),
    Fault(
        "extra_column",
        extra_column,
        {k: schema(checks=("unexpected column 'Notes'",)) for k in KINDS if k != ODS}
        | {ODS: schema(checks=("unexpected column 'extra_28'",))},
    ),
    Fault(
        "duplicate_trust_rows",
        duplicate_rows,
        {k: schema("unique") for k in (*NOF, RSP, DEFICIT)}
        | {ODS: schema("ods_code field_uniqueness")},
    ),
    Fault("unknown_trust_codes", unknown_trust_codes, {}),  # expectations need the trust codes
    Fault("missing_trusts", missing_trusts, {}),
    # a trust dropped from its NOF file leaves the worst ranks beyond the trusts left to rank
    Fault(
        "nof_file_missing_a_trust",
        missing_trusts,
        {k: schema("Rank a whole number from 1 to the trusts ranked") for k in NOF},
    ),
    Fault(
        "non_numeric_values",
        non_numeric_values,
        {k: schema(BAD_VALUE[k], "coerce_dtype") for k in (*NOF, ODS, DEFICIT)}
        | {RSP: schema("Maybe", "In_RSP yes_no_flag")},
    ),
    Fault(
        "out_of_range_values",
        out_of_range_values,
        {k: schema("7.5", "in [1, 4]") for k in NOF}
        | {DEFICIT: schema("in_range(-100, 100)")}
        | {ODS: schema("close_date is not before open_date")},
    ),
    Fault(
        "date_not_yyyymmdd",
        date_not_yyyymmdd,
        {ODS: schema(f" {SEVEN_DIGIT_DATE} ", "open_date coerce_dtype('datetime64[ns]')")},
    ),
    Fault(
        "quarter_file_under_another_quarter",
        q2_file,
        {k: schema("| 2025/26 Q2 ", "[expected quarter]") for k in (RSP, DEFICIT)}
        | {k: schema(checks=("no rows for 2025/26 Q1",)) for k in NOF},
    ),
    Fault(
        "q1_layout_file_under_another_quarter",
        q1_layout_file,
        {
            k: Check("reporting_period", row=(f"| {k} ", "Q1 2025/26 is older than 2025/26 Q2"))
            for k in NOF
        },
        quarter=Q2,
    ),
]


def expectations(fault: Fault, ctx: Ctx) -> dict[str, Reader | Check]:
    """The per-kind verdicts; the trust faults name the codes the setup's files hold, the
    encoding fault the offset of the byte it broke in each file."""
    if fault.name == "wrong_encoding":
        out, boms = {}, []
        for kind in fault.expect:
            bad = fault.apply(kind, ctx.read(kind, fault.quarter), ctx)
            at = accent_offset(bad)
            assert bad[at] == 0xF4  # "ô" in Windows-1252
            out[kind] = Reader(f"not UTF-8 text (byte 0xf4 at position {at});")
            boms.append(bad.startswith(b"\xef\xbb\xbf"))
        assert any(boms) and not all(boms)  # files with and without a UTF-8 BOM
        return out
    if fault.name == "unknown_trust_codes":
        out = {k: trusts(k, UNKNOWN_CODE[k], "not in the ODS trust list") for k in NOF}
        for kind in (RSP, DEFICIT):
            out[kind] = trusts(kind, UNKNOWN_CODE[kind], "in no NOF trust data file")
        return out
    if fault.name == "missing_trusts":
        out = {ODS: trusts(ACUTE, dropped_trust(ODS, ctx), "not in the ODS trust list (etr)")}
        out[DEFICIT] = trusts(DEFICIT, dropped_trust(DEFICIT, ctx), "no row for this trust")
        return out
    return fault.expect


# -- setup -----------------------------------------------------------------------------------------


@dataclass
class Base:
    home: Path  # the shared working home: landing/ and a store holding Q1 v1 and Q2 v1
    v1_digest: dict[str, str]
    codes: dict[str, list[str]]


def materialize(
    settings: Settings, quarter: Quarter, selection: dg.AssetSelection = CORE
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        ALL_ASSETS,
        selection=selection,
        partition_key=quarter.key,
        resources=run_resources(settings),
        instance=INSTANCE,
        raise_on_error=False,
    )


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Base:
    """A copy of the session's populated home (Q1 and Q2 run once; the prebuilt one is never
    opened in place), Q1 v1's fingerprint and the files' trust codes."""
    home = copy_of(populated_home(tmp_path_factory), tmp_path_factory.mktemp("fault-base") / "home")
    store = SnapshotStore(home / "lake")
    assert [(i.quarter, i.version) for i in store.list()] == BEFORE
    codes = {}
    for kind in NOF:
        table = Table.parse(landing_file(kind, Q1, home / "landing").read_bytes())
        codes[kind] = sorted({row[table.col("Trust_code")] for row in table.rows})
    return Base(home, snapshot_digests(store, Q1, 1), codes)


@pytest.fixture
def work(base: Base, tmp_path: Path) -> Settings:
    """A copy of the shared working home: its settings."""
    return use_home(base.home, tmp_path / "home")


# -- the suite -------------------------------------------------------------------------------------


def _check_metadata(result: dg.ExecuteInProcessResult) -> dict[tuple[str, str], dict]:
    return {
        (e.asset_key.path[-1], e.check_name): {k: v.value for k, v in e.metadata.items()}
        for e in result.get_asset_check_evaluations()
        if not e.passed
    }


def assert_verdict(kind: str, expect: Reader | Check, result, failed_checks) -> None:
    if isinstance(expect, Reader):
        failure = next(
            (
                e
                for e in result.all_events
                if e.is_step_failure and e.step_key == f"sources__{kind}"
            ),
            None,
        )
        assert failure is not None, f"{kind}: the source step did not fail"
        assert failure.step_failure_data.error.cause.cls_name == "ReaderError"
        message = root_cause(failure.step_failure_data.error)
        assert "\n" not in message and expect.text in message, f"{kind}: {message}"
        return
    meta = failed_checks.get((expect.on or kind, expect.name))
    assert meta is not None, f"{kind}: {expect.name} did not fail ({sorted(failed_checks)})"
    assert "\n" not in str(meta["summary"])
    shown = str(meta["failing_rows"])
    if expect.row:
        assert any(all(text in line for text in expect.row) for line in shown.splitlines()), (
            f"{kind}: no failing row shows {expect.row}:\n{shown}"
        )
    checks = " ; ".join(meta.get("failing_checks", []))
    for text in expect.checks:
        assert text in checks, f"{kind}: {text!r} not in the failing checks: {checks}"


@pytest.mark.parametrize("fault", FAULTS, ids=[f.name for f in FAULTS])
def test_fault_is_stopped_before_scoring_and_nothing_is_lost(
    fault: Fault, base: Base, work: Settings
) -> None:
    landing = work.landing_dir
    ctx = Ctx(base.home / "landing", base.codes)
    expect = expectations(fault, ctx)
    assert {k for k in KINDS if k not in expect} == {
        k for (name, k) in NOT_APPLICABLE if name == fault.name
    }
    if fault.quarter == Q1:  # the broken Q1 files are the newest publications in the folder
        for kind in NOF:
            landing_file(kind, Q2, landing).unlink()
    bad_bytes = {}
    for kind in expect:
        path = landing_file(kind, fault.quarter, landing)
        bad_bytes[kind] = fault.apply(kind, path.read_bytes(), ctx)
        path.write_bytes(bad_bytes[kind])

    result = materialize(work, fault.quarter)

    assert not result.success
    failed_checks = _check_metadata(result)
    for kind, verdict in expect.items():
        assert_verdict(kind, verdict, result, failed_checks)
    problems = _problems(result)
    assert problems and all("\n" not in p for p in problems)

    materialised = {m.asset_key.path[0] for m in result.get_asset_materialization_events()}
    assert not materialised & {"scoring", "snapshots"}
    store = snapshot_store(work)
    assert [(i.quarter, i.version) for i in store.list()] == BEFORE
    assert snapshot_digests(store, Q1, 1) == base.v1_digest
    sources = source_store(work)
    for kind, content in bad_bytes.items():  # the bad file itself is kept, by its hash
        assert hashlib.sha256(content).hexdigest() in sources, kind


def test_revised_file_with_the_same_name_is_a_new_version(base: Base, work: Settings) -> None:
    """NHS England re-publishes every file under the same name with a small correction."""
    landing = work.landing_dir
    store = snapshot_store(work)
    v1 = store.get(Q1.label, 1)

    def revise(kind: str, change: Callable[[Table], None]) -> None:
        # Q1's NOF rows are revised in the newest file that holds them: Q2's (cumulative)
        path = landing_file(kind, Q2 if kind in NOF else Q1, landing)
        table = Table.parse(path.read_bytes(), header=not _is_ods(kind))
        change(table)
        path.write_bytes(table.bytes())

    def nudge_value(table: Table) -> None:  # the first metric value (a Q1 row), up by 0.01
        value, metric = table.col("Value"), table.col("Metric_ID")
        row = next(r for r in table.rows if r[metric].startswith("OF0") and r[value])
        row[value] = f"{float(row[value]) + 0.01:.2f}"

    for kind in NOF:
        revise(kind, nudge_value)
    revise(ODS, lambda t: t.rows[0].__setitem__(4, "REVISED ADDRESS"))
    revise(RSP, lambda t: t.rows[0].__setitem__(t.col("Trust_name"), "Renamed Trust"))
    revise(
        DEFICIT,
        lambda t: t.rows[0].__setitem__(t.col("Planned_surplus_deficit_pct"), "-4.69"),
    )

    result = materialize(work, Q1)
    assert result.success

    assert [i.version for i in store.list(Q1.label)] == [1, 2]  # a new version, no overwrite
    assert snapshot_digests(store, Q1, 1) == base.v1_digest
    v2 = store.get(Q1.label, 2)
    for kind in KINDS:
        old, new = v1.lineage["inputs"][kind], v2.lineage["inputs"][kind]
        assert old["url"].rsplit("/", 1)[1] == new["url"].rsplit("/", 1)[1]  # same file name
        assert old["sha256"] != new["sha256"], kind  # different content, recorded as such
    sources = source_store(work)
    for kind in KINDS:  # both versions of every file are kept
        assert v1.lineage["inputs"][kind]["sha256"] in sources
        assert v2.lineage["inputs"][kind]["sha256"] in sources
    # the revision reached the snapshot: the nudged value differs between the versions
    old, new = (store.read("metric_values", Q1.label, v) for v in (1, 2))
    both = old.merge(new, on=["trust_code", "metric_id"], suffixes=("_v1", "_v2"))
    assert len(both) == len(old) == len(new)
    changed = both[both["value_v1"].notna() & (both["value_v1"] != both["value_v2"])]
    assert len(changed) == len(NOF)  # one nudged value per NOF file, nothing else
    assert ((changed["value_v2"] - changed["value_v1"]).round(6) == 0.01).all()
