"""What the report says about the audit: which figures were computed and which were taken from
the publication, and where the recomputation and the published figures differ, in words a trust
board member can follow.

Belongs here: turning a snapshot's ``audit`` table (:mod:`league_pipeline.audit.compare`), its
lineage (``peer_groups``) and the basis columns of its tables into the report's context: notes
for the quarter, the per-layer counts, the table of disagreements, one line a peer group, and a
section on every trust's page. Nothing here renders HTML.

A snapshot of NHS England's files compares with "NHS England's" figures. A snapshot of the
synthetic sample data compares with "the publication's" figures: its published layers are
invented, and the report must not call them NHS England's.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from league_pipeline.audit import compare as audit
from league_pipeline.core.peer_groups import BY_ID, PEER_GROUPS
from league_pipeline.outputs.explain import item_labels
from league_pipeline.outputs.results import QuarterResults
from league_pipeline.scoring import catalogue

COMPUTED, PUBLISHED = "computed", "published"
DIFFERENCES_SHOWN = 200  # rows of the report-wide disagreement table; the rest are counted
LAYER_LABELS = {
    "metric_score": "Metric scores",
    "domain_score": "Domain scores",
    "domain_segment": "Domain segments",
    "average_score": "Average metric score",
    "unadjusted_segment": "Segment before the financial override",
    "adjusted_segment": "Segment after the financial override",
    "final_segment": "Final segment (5 = Recovery Support Programme)",
    "deficit_flag": "In deficit or receiving deficit support (financial override)",
    "in_rsp": "In the Recovery Support Programme",
    "rank": "League rank",
}
FLAG_LAYERS = {"deficit_flag", "in_rsp"}
NUMBER_LAYERS = {"metric_score", "domain_score", "average_score"}
# each reason of league_pipeline.audit.compare.REASONS in plain words
REASON_TEXT = {
    audit.CROSS_TYPE_TIE: (
        "The published values behind this score are rounded to 2 decimal places, and "
        "at that rounding this trust ties with a trust of another type. Which of the two ranks "
        "higher depends on digits that were not published, so the recomputation cannot settle "
        "it. It says nothing about the trust's performance."
    ),
    audit.POOL_INCOMPLETE: (
        "This figure is worked out across trusts of every type, and this run did not include "
        "all of them, so it could not be recomputed in full."
    ),
    audit.INHERITED: (
        "This follows from another difference: a figure it is built from already differs "
        "(listed above it)."
    ),
    audit.UNEXPLAINED: (
        "Recomputed from the published values, the figure comes out different, "
        "and none of the known causes (rounding ties, an incomplete run, an earlier difference) "
        "applies."
    ),
}
# the word a reason's explanation starts with on a trust's page
REASON_LEAD = {audit.CROSS_TYPE_TIE: "Rounding.", audit.UNEXPLAINED: "Not explained."}
# a rank is built from every trust of its league table, not only from the trust's own figures
RANK_INHERITED_TEXT = (
    "This follows from another difference: a rank depends on every trust in the same league "
    "table, and a figure of one of them differs."
)
REASON_SHORT = {
    audit.CROSS_TYPE_TIE: "rounding tie with a trust of another type",
    audit.POOL_INCOMPLETE: "run did not include every trust type",
    audit.INHERITED: "follows from an earlier difference",
    audit.UNEXPLAINED: "not explained",
}


def whose(synthetic: bool) -> dict[str, str]:
    """The words for the published figures: NHS England's, or (synthetic data) the
    publication's, never NHS England's."""
    if synthetic:
        return {
            "owner": "the publication's",
            "Owner": "The publication's",
            "published": "the publication's",  # "... segments"
            "figures": "the publication's figures",
        }
    return {
        "owner": "NHS England's",
        "Owner": "NHS England's",
        "published": "NHS England's published",
        "figures": "NHS England's published figures",
    }


def _number(value: Any) -> str:
    """A figure as text: whole numbers without decimals, others to at most 4 dp."""
    if value is None or pd.isna(value):
        return "not computed"
    value = float(value)
    if value.is_integer():
        return str(int(value))
    return f"{value:.4f}".rstrip("0")


def _value(layer: str, value: Any) -> str:
    if layer in FLAG_LAYERS and value is not None and not pd.isna(value):
        return "Yes" if float(value) else "No"
    return _number(value)


def _labels() -> dict[str, str]:
    """Audit item id -> plain name: metric scores (OF1xxx), domain scores (OF40xx) and domain
    segments (OF41xx)."""
    labels = item_labels()
    domains = catalogue.domains()
    labels.update(zip(domains["domain_id"], domains["domain"], strict=True))
    labels.update(zip(domains["domain_segment_id"], domains["domain"], strict=True))
    return labels


def _given_scores() -> set[str]:
    """Metric score ids NHS England publishes only as scores (SHMI, CQC: rule ``given``)."""
    cat = catalogue.metric_catalogue()
    return set(cat.loc[cat["rule"] == "given", "score_id"])


def _what(layer: str, item: str, labels: dict[str, str]) -> str:
    if layer == "metric_score":
        return f"Metric score: {labels.get(item, item)} ({item})"
    if layer == "domain_score":
        return f"Domain score: {labels.get(item, item)}"
    if layer == "domain_segment":
        return f"Domain segment: {labels.get(item, item)}"
    return LAYER_LABELS.get(layer, layer)


def _group_names(ids: Iterable[str]) -> str:
    """``acute trusts and ambulance trusts`` (lower case, for a sentence)."""
    names = [BY_ID[i].label[0].lower() + BY_ID[i].label[1:] for i in ids if i in BY_ID]
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


def _layer_order(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows by peer group, trust, then layer in scoring order (a figure after the ones it is
    built from), then item."""
    layers = {layer: i for i, layer in enumerate(audit.LAYERS)}
    groups = {g.id: i for i, g in enumerate(PEER_GROUPS)}
    keys = rows.assign(
        _group=rows["peer_group"].map(groups).fillna(len(groups)),
        _layer=rows["layer"].map(layers).fillna(len(layers)),
    )
    ordered = keys.sort_values(["_group", "trust_code", "_layer", "item"], kind="stable")
    return ordered.drop(columns=["_group", "_layer"])


def _difference_row(r: Any, labels: dict[str, str], names: dict[str, str]) -> dict[str, Any]:
    if r.layer == "rank" and r.reason == audit.INHERITED:
        detail = RANK_INHERITED_TEXT
    else:
        detail = REASON_TEXT.get(r.reason, r.reason)
    gap = ""
    if r.layer in NUMBER_LAYERS and not pd.isna(r.ours) and not pd.isna(r.published):
        gap = f"{float(r.ours) - float(r.published):+.4f}".rstrip("0").rstrip(".")
    return {
        "trust_code": r.trust_code,
        "trust_name": names.get(r.trust_code, ""),
        "peer_group": BY_ID[r.peer_group].label if r.peer_group in BY_ID else str(r.peer_group),
        "layer": r.layer,
        "item": r.item,
        "what": _what(r.layer, r.item, labels),
        "ours": _value(r.layer, r.ours),
        "published": _value(r.layer, r.published),
        "gap": gap,
        "reason": r.reason,
        "reason_short": REASON_SHORT.get(r.reason, r.reason),
        "reason_text": " ".join(filter(None, (REASON_LEAD.get(r.reason), detail))),
        "reason_detail": detail,
        "basis": r.basis,
    }


def _trust_basis(
    taken: dict[str, list[str]], average_published: bool, labels: dict[str, str], given: set[str]
) -> list[str]:
    """One line for each kind of figure of a trust that was taken from the publication
    (``taken``: layer -> the items of that layer, in order)."""
    out = []
    if "unadjusted_segment" in taken:
        out.append(
            "Its segment before the financial override"
            + (" and its average score, which orders the league table" if average_published else "")
        )
    elif average_published:
        out.append("Its average score, which orders the league table")
    if "deficit_flag" in taken:
        out.append("Whether it is in deficit or receiving deficit support (the financial override)")
    if "in_rsp" in taken:
        out.append("Whether it is in the Recovery Support Programme")
    scores = taken.get("metric_score", [])
    only = [labels.get(i, i) for i in scores if i in given]
    pooled = [labels.get(i, i) for i in scores if i not in given]
    if only:
        out.append(f"Metric scores published only as scores: {'; '.join(only)}")
    if pooled:
        out.append(
            "Metric scores ranked across every trust type, including types this run left out: "
            + "; ".join(pooled)
        )
    segments = taken.get("domain_segment", [])
    if segments:
        out.append(
            "Domain segments (cut across every trust type): "
            + "; ".join(labels.get(i, i) for i in segments)
        )
    return out


def _supplied(rows: pd.DataFrame) -> list[str]:
    """Figures given in the landing folder's own files (flag files), neither computed nor
    published."""
    other = rows[~rows["basis"].isin([COMPUTED, PUBLISHED])]
    return [LAYER_LABELS.get(layer, layer) for layer in dict.fromkeys(other["layer"])]


def comparison_context(results: QuarterResults, *, synthetic: bool) -> dict[str, Any]:
    """The report's account of the audit: ``available``, the words (``who``), the quarter's
    ``notes`` and ``layers`` counts, the ``differences`` (at most :data:`DIFFERENCES_SHOWN`,
    ``differences_total`` in all), ``groups`` (peer group id -> one line) and ``by_trust``
    (trust code -> its page's section)."""
    who = whose(synthetic)
    lineage = results.info.lineage or {}
    run_groups = lineage.get("peer_groups") or [g.id for g in results.peer_groups()]
    left_out = [g.id for g in PEER_GROUPS if g.id not in run_groups]
    context: dict[str, Any] = {
        "available": results.audit is not None,
        "who": who,
        "run_groups": _group_names(g for g in run_groups),
        "left_out": _group_names(left_out),
        "notes": [],
        "layers": [],
        "differences": [],
        "differences_total": 0,
        "headline": "",
        "groups": {},
        "by_trust": {},
    }
    rows = results.audit
    if rows is None:
        return context
    rows = rows[audit.COLUMNS]
    labels = _labels()
    given = _given_scores()
    names = dict(
        zip(results.league_table["trust_code"], results.league_table["trust_name"], strict=True)
    )
    segments = results.trust_segments
    average_published = (
        set(segments.loc[segments["average_score_basis"] == PUBLISHED, "trust_code"])
        if "average_score_basis" in segments
        else set()
    )

    summary = audit.layer_summary(rows)
    for r in summary.itertuples():
        differ = int(r.compared - r.published_basis - r.computed_agreeing)
        context["layers"].append(
            {
                "layer": str(r.layer),
                "label": LAYER_LABELS.get(str(r.layer), str(r.layer)),
                "compared": int(r.compared),
                "published": int(r.published_basis),
                "computed": int(r.computed),
                "agreeing": int(r.computed_agreeing),
                "differ": differ,
            }
        )
    bad = _layer_order(rows[~rows["agrees"]])
    context["differences_total"] = len(bad)
    context["differences"] = [
        _difference_row(r, labels, names) for r in bad.head(DIFFERENCES_SHOWN).itertuples()
    ]
    context["headline"] = _headline(rows, bad, who)
    context["notes"] = _notes(results, rows, who, left_out, given)
    context["groups"] = _group_lines(results, rows, who, left_out)

    # one pass over the rows for every trust's section (a filter a trust took ~1.5 s a report)
    counts: dict[str, dict[str, int]] = {}  # trust code -> basis -> figures
    for (code, basis), n in rows.groupby(["trust_code", "basis"]).size().items():
        counts.setdefault(code, {})[basis] = n
    differences: dict[str, list[dict[str, Any]]] = {}
    for r in bad.itertuples():
        differences.setdefault(r.trust_code, []).append(_difference_row(r, labels, names))
    taken: dict[str, dict[str, list[str]]] = {}
    supplied: dict[str, dict[str, None]] = {}
    for code, layer, item, basis in rows.loc[
        rows["basis"] != COMPUTED, ["trust_code", "layer", "item", "basis"]
    ].itertuples(index=False, name=None):
        if basis == PUBLISHED:
            taken.setdefault(code, {}).setdefault(layer, []).append(item)
        else:
            supplied.setdefault(code, {})[LAYER_LABELS.get(layer, layer)] = None
    by_trust: dict[str, dict[str, Any]] = {}
    for code in dict.fromkeys(rows["trust_code"]):
        mine = counts[code]
        by_trust[str(code)] = {
            "compared": int(sum(mine.values())),
            "computed": int(mine.get(COMPUTED, 0)),
            "published": int(mine.get(PUBLISHED, 0)),
            "differences": differences.get(code, []),
            "basis": _trust_basis(taken.get(code, {}), code in average_published, labels, given),
            "supplied": list(supplied.get(code, {})),
        }
    context["by_trust"] = by_trust
    return context


def _headline(rows: pd.DataFrame, bad: pd.DataFrame, who: dict[str, str]) -> str:
    """One sentence: how many figures were computed and how many agree, how many were taken
    from the publication (or supplied)."""
    computed = rows[rows["basis"] == COMPUTED]
    agreeing = int(computed["agrees"].sum())
    text = f"{len(computed):,} figures were computed here and compared with {who['figures']}: "
    if bad.empty:
        text += "every one agrees."
    else:
        trusts = _plural(bad["trust_code"].nunique(), "trust")
        text += f"{agreeing:,} agree and {len(bad):,} differ, for {trusts}."
    taken = int((rows["basis"] == PUBLISHED).sum())
    supplied = int((~rows["basis"].isin([COMPUTED, PUBLISHED])).sum())
    if taken:
        text += f" {taken:,} more {'is' if taken == 1 else 'are'} taken from the publication."
    if supplied:
        text += f" {supplied:,} {'is' if supplied == 1 else 'are'} supplied in the landing folder."
    return text


def _notes(
    results: QuarterResults,
    rows: pd.DataFrame,
    who: dict[str, str],
    left_out: list[str],
    given: set[str],
) -> list[str]:
    """The quarter's sentences on what is computed and what is taken from the publication."""
    notes = []
    run = [g.id for g in results.peer_groups()]
    if left_out:
        notes.append(
            f"This run scored {_group_names(run)} only; it left out {_group_names(left_out)}."
        )

    def taken(layer: str) -> pd.DataFrame:
        return rows[(rows["layer"] == layer) & (rows["basis"] == PUBLISHED)]

    segments_taken = len(taken("unadjusted_segment"))
    if segments_taken or results.cut_points_basis == PUBLISHED:
        why = (
            f"this run left out {_group_names(left_out)}, whose averages the cut-points need"
            if left_out
            else "this run could not compute the cut-points"
        )
        notes.append(
            f"Segments are {who['published']} segments ({_plural(segments_taken, 'trust')}): "
            f"{why}. The averages that order each league table are {who['published']} "
            "averages too; the average recomputed from each trust's metric scores is compared "
            "with it below. The cut-points shown are the ones the published segments imply (the "
            "highest published average in each segment). The financial override, segment 5 and "
            "the ranks are computed from these."
        )
    else:
        notes.append(
            "Segments are computed: the cut-points are the quartiles of the recomputed averages "
            f"of all {len(results.league_table):,} trusts."
        )
    scores = rows[rows["layer"] == "metric_score"]
    published_scores = taken("metric_score")
    if len(published_scores):
        only = published_scores["item"].isin(given)
        parts = []
        if only.any():
            parts.append(
                f"{int(only.sum()):,} for metrics published only as scores (SHMI and the CQC "
                "ratings and surveys)"
            )
        if (~only).any():
            parts.append(
                f"{int((~only).sum()):,} for metrics ranked across every trust type, including "
                f"{_group_names(left_out) or 'a group this run left out'}"
            )
        notes.append(
            f"{len(scores) - len(published_scores):,} of the {len(scores):,} metric scores are "
            f"computed from the published values; {len(published_scores):,} are taken from the "
            f"publication: {' and '.join(parts)}."
        )
    elif len(scores):
        notes.append(f"All {len(scores):,} metric scores are computed from the published values.")
    domain_segments = taken("domain_segment")
    if len(domain_segments):
        notes.append(
            f"{len(domain_segments):,} domain segments are {who['published']} ones: like "
            "the segments, they are cut across every trust type. Domain scores are computed."
        )
    flags = [
        text
        for layer, text in (
            ("deficit_flag", "who is in deficit or receiving deficit support"),
            ("in_rsp", "who is in the Recovery Support Programme"),
        )
        if len(taken(layer))
    ]
    if flags:
        notes.append(
            f"The flags saying {' and '.join(flags)} are taken from the publication "
            f"(OF5004, OF5007), so they agree with {who['owner']} by definition."
        )
    supplied = _supplied(rows)
    if supplied:
        notes.append(
            "Supplied in the landing folder's own files, not computed: "
            + "; ".join(s.lower() for s in supplied)
            + "."
        )
    return notes


def _group_lines(
    results: QuarterResults, rows: pd.DataFrame, who: dict[str, str], left_out: list[str]
) -> dict[str, str]:
    """Peer group id -> one line above its league table: where its segments come from and
    whether its segments and ranks agree with the published ones."""
    lines = {}
    table = results.league_table
    for group in results.peer_groups():
        part = rows[rows["peer_group"] == group.id]
        published = part[(part["layer"] == "unadjusted_segment") & (part["basis"] == PUBLISHED)]
        text = []
        if len(published):
            text.append(
                f"Segments are {who['published']} segments (this run left out "
                f"{_group_names(left_out) or 'a peer group'}); ranks are computed from them."
            )
        else:
            text.append("Segments and ranks are computed.")
        checked = part[part["layer"].isin(["adjusted_segment", "rank"])]
        differ = checked[~checked["agrees"]]
        rows_ = table[table["peer_group"] == group.id]
        if checked.empty:
            text.append("The publication has no segments or ranks to compare them with.")
        elif differ.empty:
            text.append(
                f"Every segment and rank of its {_plural(len(rows_), 'trust')} agrees with "
                f"{who['owner']}."
            )
        else:
            n = differ["trust_code"].nunique()
            text.append(
                f"{_plural(n, 'trust')} {'differs' if n == 1 else 'differ'} from {who['owner']} "
                "in segment or rank (marked ≠)."
            )
        lines[group.id] = " ".join(text)
    return lines
