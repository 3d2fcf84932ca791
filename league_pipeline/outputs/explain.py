"""Why a trust got its result: what drives its average, how near it is to the next segment,
and what the financial override and the Recovery Support Programme did to it.

Belongs here: the explanation of one trust (or every trust) in one snapshot, as numbers
(:class:`TrustExplanation`) and as plain sentences: each item's effect on the average
(``(score - m) / n``, adding up to ``average - m``), the exact distance to the next segment
(:func:`exact`, :func:`format_distance`), the unadjusted, adjusted and final segments, and the
rank without the override (``sql/ranks_without_override.sql``). Scores run from 1 (best) to 4
(worst). The definitions: docs/outputs.md ("Explanations").
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import Any

import pandas as pd

from league_pipeline.core.peer_groups import BY_ID
from league_pipeline.core.quarters import Quarter
from league_pipeline.outputs.queries import run_query
from league_pipeline.outputs.results import QuarterResults
from league_pipeline.scoring import catalogue

INFECTIONS_ITEM = "INF"
INFECTIONS_LABEL = "Infections (MRSA, E. coli and C. difficile, averaged)"
CUT_NAMES = ("q25", "q50", "q75")
CONTRIBUTION_COLUMNS = ["item", "label", "domain", "score", "peer_median", "effect"]
DOMAIN_COLUMNS = ["domain_id", "domain", "score", "segment"]


class UnknownTrustError(LookupError):
    """The trust is not in the snapshot."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown trust"


def item_labels() -> dict[str, str]:
    """Averaging item id -> the metric's short name (infections: one combined label)."""
    cat = catalogue.metric_catalogue()
    labels = dict(zip(cat["score_id"], cat["short_name"], strict=True))
    labels[INFECTIONS_ITEM] = INFECTIONS_LABEL
    return labels


def _fmt(value: float) -> str:
    return f"{value:.2f}"


def exact(value: float) -> Decimal:
    """The exact decimal a stored score stands for. The scoring SQL stores each average, item
    and cut-point as the nearest double to an exact DECIMAL of at most 15 significant digits
    (``assets/sql/scoring/04_trust_averages.sql``, ``05_segment_cut_points.sql``), and such a
    decimal is the shortest repr of its double: 2.13 gives Decimal('2.13')."""
    return Decimal(repr(float(value)))


def segment_distances(
    average: float, cut_points: dict[str, float], segment: int
) -> tuple[Decimal | None, Decimal | None]:
    """(fall needed to reach the better segment, rise the trust can take before it drops),
    exact; None where there is no better (segment 1) or worse (segment 4) segment. Segment s
    holds averages above cut s-1 up to and including cut s."""
    avg = exact(average)
    bounds = [None, *(exact(cut_points[c]) for c in CUT_NAMES), None]
    better = avg - bounds[segment - 1] if segment > 1 else None
    worse = bounds[segment] - avg if segment < 4 else None
    return better, worse


def format_distance(value: Decimal, places: int = 3) -> str:
    """A distance to ``places`` decimal places, or to two significant digits when it is smaller:
    only a trust exactly on a cut-point reads 0 (0.000)."""
    if value != 0:
        places = max(places, 1 - value.adjusted())
    return f"{value:.{places}f}"


def _float(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


@dataclass
class TrustExplanation:
    """One trust in one snapshot, explained. Scores: 1 best, 4 worst."""

    quarter: Quarter
    version: int
    trust_code: str
    trust_name: str
    peer_group: str
    trusts_in_group: int
    average_score: float
    n_items: int
    national_average: float
    score_range: tuple[float, float]
    rank: int
    rank_range: tuple[int, int]
    unadjusted_segment: int
    adjusted_segment: int
    final_segment: int
    deficit_flag: bool
    in_rsp: bool
    cut_points: dict[str, float]
    # fall in the average needed to reach the better segment (exact: segment_distances)
    to_better_segment: float | None
    # rise in the average the trust can take before it drops (exact: segment_distances)
    to_worse_segment: float | None
    rank_without_own_override: int
    rank_without_any_override: int
    # one dict an item (item, label, domain, score, peer_median, effect), biggest effect first
    items: list[dict[str, Any]] = field(repr=False)
    domain_rows: list[dict[str, Any]] = field(repr=False)  # domain_id, domain, score, segment

    @property
    def contributions(self) -> pd.DataFrame:
        """The items as a table, biggest effect (most raising) first."""
        return pd.DataFrame(self.items, columns=CONTRIBUTION_COLUMNS)

    @property
    def domains(self) -> pd.DataFrame:
        return pd.DataFrame(self.domain_rows, columns=DOMAIN_COLUMNS)

    @property
    def override_changed_segment(self) -> bool:
        return self.adjusted_segment != self.unadjusted_segment

    @property
    def rsp_changed_segment(self) -> bool:
        return self.final_segment != self.adjusted_segment

    @property
    def group_label(self) -> str:
        return BY_ID[self.peer_group].label

    def raising(self, n: int = 3) -> list[dict[str, Any]]:
        """The ``n`` items that raise (worsen) the average most, most first."""
        return [i for i in self.items if i["effect"] > 0][:n]

    def lowering(self, n: int = 3) -> list[dict[str, Any]]:
        """The ``n`` items that lower (improve) the average most, most first."""
        return [i for i in reversed(self.items) if i["effect"] < 0][:n]

    def sentences(self) -> list[str]:
        """The explanation in plain English, one finding a sentence."""
        lo, hi = self.score_range
        rlo, rhi = self.rank_range
        gap = self.average_score - self.national_average
        out = [
            f"{self.trust_name} ({self.trust_code}) is ranked {self.rank} of "
            f"{self.trusts_in_group} {self.group_label.lower()} in {self.quarter.label} "
            f"(likely range {rlo} to {rhi}).",
            f"Its average metric score is {_fmt(self.average_score)} over {self.n_items} "
            f"items (likely range {_fmt(lo)} to {_fmt(hi)}; 1 is best, 4 is worst): "
            f"{_fmt(abs(gap))} {'worse' if gap > 0 else 'better'} than the national average "
            f"of {_fmt(self.national_average)}.",
        ]

        def listing(rows: list[dict[str, Any]]) -> str:
            return "; ".join(
                f"{r['label']} (score {_fmt(r['score'])}, {r['effect']:+.3f})" for r in rows
            )

        if self.raising():
            out.append(f"Raising (worsening) its average most: {listing(self.raising())}.")
        if self.lowering():
            out.append(f"Lowering (improving) its average most: {listing(self.lowering())}.")
        cuts = " / ".join(_fmt(self.cut_points[c]) for c in CUT_NAMES)
        seg = self.unadjusted_segment
        text = f"Its average places it in segment {seg} (cut-points {cuts})."
        better, worse = segment_distances(self.average_score, self.cut_points, seg)
        if better is not None:
            text += (
                f" To reach segment {seg - 1} its average must fall by "
                f"{format_distance(better)} ({format_distance(better * self.n_items, 2)} "
                "item-score points in total)."
            )
        else:
            text += " It is already in the best segment."
        if worse is not None:
            text += (
                f" It would drop to segment {seg + 1} if its average rose by more than "
                f"{format_distance(worse)}"
                + (" (it sits exactly on the cut-point)." if worse == 0 else ".")
            )
        out.append(text)
        if not self.deficit_flag:
            out.append("It is not in deficit, so the financial override does not apply.")
        elif self.override_changed_segment:
            out.append(
                "It is in deficit or receiving deficit support, so the financial override "
                f"moved it from segment {self.unadjusted_segment} to segment "
                f"{self.adjusted_segment}. Without the override it would rank "
                f"{self.rank_without_own_override} instead of {self.rank}."
            )
        else:
            out.append(
                "It is in deficit or receiving deficit support, but the financial override "
                f"did not change its segment (already segment {self.unadjusted_segment})."
            )
        if self.rank_without_any_override != self.rank:
            out.append(
                f"With no trust's override applied it would rank {self.rank_without_any_override}."
            )
        if self.in_rsp:
            out.append(
                "It is in the Recovery Support Programme, so its final segment is 5; its league "
                f"position uses segment {self.adjusted_segment}."
            )
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: every number, the sentences, the items and the domains."""
        data = asdict(self)
        data["quarter"] = self.quarter.label
        data["override_changed_segment"] = self.override_changed_segment
        data["rsp_changed_segment"] = self.rsp_changed_segment
        data["sentences"] = self.sentences()
        return data


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """``frame.to_dict(orient="records")``, built from one list a column (pandas boxes every
    cell of a text column one by one: several times slower). A column of another pandas type
    than numbers, booleans and text (nullable integers, whose missing values to_dict gives as
    None) leaves it to pandas."""
    for dtype in frame.dtypes:
        if isinstance(dtype, pd.api.extensions.ExtensionDtype) and not (
            isinstance(dtype, pd.StringDtype) and dtype.na_value is not pd.NA
        ):
            return frame.to_dict(orient="records")
    columns = list(frame.columns)
    lists = [frame[column].tolist() for column in columns]
    return [dict(zip(columns, row, strict=True)) for row in zip(*lists, strict=True)]


class Explainer:
    """Explanations for the trusts of one snapshot (shared tables are computed once)."""

    def __init__(self, results: QuarterResults) -> None:
        self.results = results

    @cached_property
    def _cut_points(self) -> dict[str, float]:
        return self.results.cut_points

    @cached_property
    def contributions(self) -> pd.DataFrame:
        """Every trust's items with their effect on its average (see the module docstring)."""
        items = self.results.score_items.copy()
        labels = item_labels()
        domains = catalogue.domains().set_index("domain_id")["domain"]
        n = items.groupby("trust_code")["score"].transform("count")
        items["label"] = items["item"].map(labels).fillna(items["item"])
        items["domain"] = items["domain_id"].map(domains)
        items["effect"] = (items["score"] - self.results.national_average) / n
        items["peer_median"] = items.groupby(["peer_group", "item"])["score"].transform("median")
        columns = ["trust_code", *CONTRIBUTION_COLUMNS]
        ordered = items.sort_values(
            ["trust_code", "effect"], ascending=[True, False], kind="stable"
        )
        return ordered[columns].reset_index(drop=True)

    @cached_property
    def ranks(self) -> pd.DataFrame:
        table = run_query("ranks_without_override", {"trust_segments": self.results.trust_segments})
        return table.set_index("trust_code")

    @cached_property
    def _by_trust(self) -> dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]]:
        """Trust code -> (its items, its domains) as plain records, grouped in one pass."""
        out: dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]] = {}
        for record in _records(self.contributions):
            code = record.pop("trust_code")
            out.setdefault(code, ([], []))[0].append(record)
        domains = self.results.domain_scores.sort_values(["trust_code", "domain_id"])
        for record in _records(domains[["trust_code", *DOMAIN_COLUMNS]]):
            code = record.pop("trust_code")
            out.setdefault(code, ([], []))[1].append(record)
        return out

    @cached_property
    def _group_sizes(self) -> dict[str, int]:
        return self.results.league_table["peer_group"].value_counts().to_dict()

    @cached_property
    def _league_rows(self) -> dict[str, dict[str, Any]]:
        """Trust code -> its league-table row, joined with its ranks without the override."""
        table = self.results.league_table.merge(
            self.ranks.reset_index()[
                ["trust_code", "rank_without_own_override", "rank_without_any_override"]
            ],
            on="trust_code",
            how="left",
        )
        return {r["trust_code"]: r for r in _records(table)}

    def trust_codes(self) -> list[str]:
        return list(self.results.league_table["trust_code"])

    def trust(self, trust_code: str) -> TrustExplanation:
        """Explain one trust (its code, any case)."""
        code = trust_code.strip().upper()
        rows = self._league_rows
        if code not in rows:
            raise UnknownTrustError(
                f"trust {trust_code!r} is not in the {self.results.quarter.label} snapshot "
                f'(v{self.results.version}); `league table --quarter "{self.results.quarter.label}"'
                "` lists its trusts"
            )
        row = rows[code]
        cuts = dict(self._cut_points)
        seg = int(row["unadjusted_segment"])
        avg = float(row["average_score"])
        better, worse = segment_distances(avg, cuts, seg)
        contributions, domains = self._by_trust.get(code, ([], []))
        return TrustExplanation(
            quarter=self.results.quarter,
            version=self.results.version,
            trust_code=code,
            trust_name=str(row["trust_name"]),
            peer_group=str(row["peer_group"]),
            trusts_in_group=int(self._group_sizes[row["peer_group"]]),
            average_score=avg,
            n_items=int(row["n_items"]),
            national_average=self.results.national_average,
            score_range=(float(row["score_lower"]), float(row["score_upper"])),
            rank=int(row["rank"]),
            rank_range=(int(row["rank_lower"]), int(row["rank_upper"])),
            unadjusted_segment=seg,
            adjusted_segment=int(row["adjusted_segment"]),
            final_segment=int(row["final_segment"]),
            deficit_flag=bool(row["deficit_flag"]),
            in_rsp=bool(row["in_rsp"]),
            cut_points=cuts,
            to_better_segment=_float(better),
            to_worse_segment=_float(worse),
            rank_without_own_override=int(row["rank_without_own_override"]),
            rank_without_any_override=int(row["rank_without_any_override"]),
            items=contributions,
            domain_rows=domains,
        )

    def all(self) -> list[TrustExplanation]:
        """Every trust, in league order (peer group, rank, code)."""
        return [self.trust(code) for code in self.trust_codes()]

    def summary(self) -> pd.DataFrame:
        """One row a trust: the explanation's numbers (for a CSV and the report), computed for
        every trust at once."""
        table = self.results.league_table
        cuts = self.results.cut_points
        seg = table["unadjusted_segment"].astype(int)
        avg = table["average_score"]
        distances = [segment_distances(a, cuts, s) for a, s in zip(avg, seg, strict=True)]
        better, worse = ([_float(d[i]) for d in distances] for i in (0, 1))
        items = self.contributions
        top_up = items.loc[items.groupby("trust_code")["effect"].idxmax()].set_index("trust_code")
        top_down = items.loc[items.groupby("trust_code")["effect"].idxmin()].set_index("trust_code")
        top_up = top_up[top_up["effect"] > 0]
        top_down = top_down[top_down["effect"] < 0]
        ranks = self.ranks
        code = table["trust_code"]
        out = pd.DataFrame(
            {
                "quarter": table["quarter"],
                "peer_group": table["peer_group"],
                "trust_code": code,
                "trust_name": table["trust_name"],
                "average_score": avg,
                "national_average": self.results.national_average,
                "unadjusted_segment": seg,
                "adjusted_segment": table["adjusted_segment"],
                "final_segment": table["final_segment"],
                "to_better_segment": pd.Series(better, index=table.index, dtype="float64"),
                "to_worse_segment": pd.Series(worse, index=table.index, dtype="float64"),
                "override_changed_segment": table["adjusted_segment"] != seg,
                "rsp_changed_segment": table["final_segment"] != table["adjusted_segment"],
                "rank": table["rank"],
                "rank_without_own_override": code.map(ranks["rank_without_own_override"]),
                "rank_without_any_override": code.map(ranks["rank_without_any_override"]),
                "most_raising_item": code.map(top_up["label"]),
                "most_raising_effect": code.map(top_up["effect"]),
                "most_lowering_item": code.map(top_down["label"]),
                "most_lowering_effect": code.map(top_down["effect"]),
            }
        )
        return out.reset_index(drop=True)


def explain_trust(results: QuarterResults, trust_code: str) -> TrustExplanation:
    """Explain one trust of a loaded snapshot."""
    return Explainer(results).trust(trust_code)
