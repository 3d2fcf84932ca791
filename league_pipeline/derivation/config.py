"""The metric-source configuration, ``assets/methodology/metric_sources.yaml``.

Belongs here: loading and checking that file (the measures the raw derivations produce, their
rounding and reconciliation tolerance, and the precedence between official, derived and
carried values) and the small look-ups the rest of :mod:`league_pipeline.derivation` needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from league_pipeline.core.paths import methodology_dir
from league_pipeline.ingest.catalogue import source_kinds
from league_pipeline.scoring.catalogue import metric_catalogue

CONFIG_FILE = "metric_sources.yaml"
SOURCES = ("official", "derived", "carried")
MODES = ("official", "provisional")
_MEASURE_KEYS = {
    "source",
    "metric_id",
    "unit",
    "decimals",
    "min_match_rate",
    "description",
    "note",
    "standard",
}


class MetricSourcesError(ValueError):
    """``assets/methodology/metric_sources.yaml`` is malformed (the message names the entry and
    the fix)."""


@dataclass(frozen=True)
class Measure:
    name: str
    sources: tuple[str, ...]
    metric_id: str | None
    unit: str
    decimals: int
    min_match_rate: float = 1.0
    description: str = ""
    note: str = ""
    standard: str | None = None

    @property
    def tolerance(self) -> float:
        """Half a unit of the last published decimal (plus float slack): a derived value within
        this of the official one rounds to it."""
        return 0.5 * 10.0**-self.decimals + 1e-9


@dataclass(frozen=True)
class MetricSources:
    precedence: dict[str, tuple[str, ...]]
    overrides: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)
    measures: dict[str, Measure] = field(default_factory=dict)

    def order(self, metric_id: str, mode: str) -> tuple[str, ...]:
        """The sources tried, first to last, for ``metric_id`` in a quarter of kind ``mode``."""
        if mode not in MODES:
            raise ValueError(f"unknown mode '{mode}': choose one of {', '.join(MODES)}")
        return self.overrides.get(metric_id, {}).get(mode, self.precedence[mode])

    def by_metric(self) -> dict[str, Measure]:
        """Measures that reproduce a NOF metric, by metric id."""
        return {m.metric_id: m for m in self.measures.values() if m.metric_id}

    def source_kinds(self) -> list[str]:
        """Every raw source kind some measure reads, in first-use order."""
        out: list[str] = []
        for measure in self.measures.values():
            out.extend(k for k in measure.sources if k not in out)
        return out

    def measures_frame(self) -> pd.DataFrame:
        """One row a measure, for the derivation SQL (table ``measures``)."""
        return pd.DataFrame(
            [
                {
                    "measure": m.name,
                    "metric_id": m.metric_id,
                    "unit": m.unit,
                    "decimals": m.decimals,
                    "source_kind": "+".join(m.sources),
                }
                for m in self.measures.values()
            ]
        ).astype({"metric_id": "object", "decimals": "int32"})

    def standards_frame(self) -> pd.DataFrame:
        """Published CWT ``STANDARD`` -> measure (table ``standards``)."""
        rows = [{"standard": m.standard, "measure": m.name} for m in self.measures.values()]
        return pd.DataFrame([r for r in rows if r["standard"]], columns=["standard", "measure"])


def _sources(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise MetricSourcesError(f"{where} must be a non-empty list of {', '.join(SOURCES)}")
    unknown = [v for v in value if v not in SOURCES]
    if unknown or len(set(value)) != len(value):
        raise MetricSourcesError(
            f"{where} = {value}: use each of {', '.join(SOURCES)} at most once"
        )
    return tuple(value)


def _measure(name: str, raw: Any, kinds: set[str], path: Path) -> Measure:
    where = f"{path} measure '{name}'"
    if not isinstance(raw, dict):
        raise MetricSourcesError(f"{where} must be a mapping")
    unknown = set(raw) - _MEASURE_KEYS
    if unknown:
        raise MetricSourcesError(f"{where} has unknown keys {sorted(unknown)}")
    sources = raw.get("source")
    sources = [sources] if isinstance(sources, str) else sources
    if not sources or any(s not in kinds for s in sources):
        raise MetricSourcesError(
            f"{where}: source {sources} must name kinds in assets/sources.yaml"
        )
    rate = float(raw.get("min_match_rate", 1.0))
    if not 0.0 <= rate <= 1.0:
        raise MetricSourcesError(f"{where}: min_match_rate must be between 0 and 1")
    try:
        decimals = int(raw["decimals"])
        unit = str(raw["unit"])
    except (KeyError, TypeError, ValueError):
        raise MetricSourcesError(f"{where} needs 'unit' and a whole-number 'decimals'") from None
    return Measure(
        name=name,
        sources=tuple(sources),
        metric_id=raw.get("metric_id"),
        unit=unit,
        decimals=decimals,
        min_match_rate=rate,
        description=" ".join(str(raw.get("description", "")).split()),
        note=" ".join(str(raw.get("note", "")).split()),
        standard=raw.get("standard"),
    )


@cache
def _load(path: Path) -> MetricSources:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MetricSourcesError(f"metric-source configuration not found: {path}") from None
    except yaml.YAMLError as exc:
        raise MetricSourcesError(f"cannot parse {path}: {' '.join(str(exc).split())}") from None
    if not isinstance(data, dict):
        raise MetricSourcesError(f"{path} must be a mapping with precedence and measures")
    precedence = data.get("precedence") or {}
    missing = [m for m in MODES if m not in precedence]
    if missing:
        raise MetricSourcesError(f"{path}: precedence needs {', '.join(missing)}")
    orders = {mode: _sources(precedence[mode], f"{path} precedence.{mode}") for mode in MODES}
    if "carried" in orders["official"]:
        raise MetricSourcesError(
            f"{path}: precedence.official cannot use 'carried' "
            "(an official quarter has its own file)"
        )
    overrides: dict[str, dict[str, tuple[str, ...]]] = {}
    for metric_id, modes in (data.get("metrics") or {}).items():
        if not isinstance(modes, dict) or set(modes) - set(MODES):
            raise MetricSourcesError(
                f"{path} metrics.{metric_id} must map official/provisional to source lists"
            )
        overrides[str(metric_id)] = {
            mode: _sources(v, f"{path} metrics.{metric_id}.{mode}") for mode, v in modes.items()
        }
    kinds = set(source_kinds())
    measures = {
        str(name): _measure(str(name), raw, kinds, path)
        for name, raw in (data.get("measures") or {}).items()
    }
    ids = [m.metric_id for m in measures.values() if m.metric_id]
    if len(ids) != len(set(ids)):
        raise MetricSourcesError(f"{path}: two measures reproduce the same metric_id")
    return MetricSources(precedence=orders, overrides=overrides, measures=measures)


def metric_peer_groups() -> dict[str, set[str]]:
    """OF0xxx metric -> the peer groups scored on it (``assets/methodology/metrics.csv``
    peer_groups)."""
    cat = metric_catalogue()
    return {
        str(r.value_id): set(str(r.peer_groups).split("|"))
        for r in cat.itertuples()
        if pd.notna(r.value_id)
    }


def metric_sources(path: Path | None = None) -> MetricSources:
    """The configuration (``assets/methodology/metric_sources.yaml`` unless ``path`` is given)."""
    return _load((path or methodology_dir() / CONFIG_FILE).resolve())
