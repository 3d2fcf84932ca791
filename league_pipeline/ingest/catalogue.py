"""The source catalogue: which source files exist, where they land and where they are published.

Belongs here: loading and validating ``assets/sources.yaml`` and resolving a kind's landing path,
URL (including config overrides such as a local mirror's ``base_url``) and size cap
(``max_bytes``) for a quarter. The catalogue is declarative; fetching lives in
:mod:`league_pipeline.ingest.fetch`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path, PurePosixPath
from types import MappingProxyType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import yaml

from league_pipeline.core.paths import assets_dir

if TYPE_CHECKING:
    from league_pipeline.core.quarters import Quarter

CATALOGUE_FILE = "sources.yaml"
# Per month of the quarter (i = 1, 2, 3), for the monthly statistics (A&E, RTT, AmbSYS, CWT):
# m{i} 2025-04, m{i}_name April, m{i}_abbr Apr, m{i}_year 2025, m{i}_yy 25, m{i}_end 20250430,
# m{i}_upload 2025/05 and m{i}_upload2 2025/06 (NHS England's upload folders one and two months
# after the month, where its monthly statistics are usually filed).
MONTH_VARIABLES = ("", "_name", "_abbr", "_year", "_yy", "_end", "_upload", "_upload2")
TEMPLATE_VARIABLES = (
    "slug",
    "label",
    "key",
    "q",
    "fy",
    "fy_start",
    *(f"m{i}{suffix}" for i in (1, 2, 3) for suffix in MONTH_VARIABLES),
)
OVERRIDE_KEYS = ("base_url", "urls")
# The size cap of a kind that states none and of a catalogue with no ``defaults: max_bytes``.
DEFAULT_MAX_BYTES = 64 << 20
_SLUG = re.compile(r"^\d{4}-\d{2}-q[1-4]$")
_KIND_KEYS = {
    "description",
    "landing_path",
    "landing_aliases",
    "url",
    "http",
    "http_archive_member",
    "max_bytes",
}
_TOP_KEYS = {"version", "defaults", "kinds"}
_DEFAULT_KEYS = {"max_bytes"}
_SIZE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)\s*$")
_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "bytes": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "kib": 1 << 10,
    "mib": 1 << 20,
    "gib": 1 << 30,
}


class CatalogueError(ValueError):
    """``assets/sources.yaml`` is malformed, or a kind/override does not exist."""


@dataclass(frozen=True)
class SourceKind:
    """One kind of source file, as declared in ``assets/sources.yaml``."""

    id: str
    description: str
    landing_path: str  # template
    url_default: str | None  # template; None when not published over http
    landing_aliases: tuple[str, ...] = ()  # other names the file is published under (templates)
    url_by_quarter: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    http_archive_member: str | None = None  # the member to read when the http file is a ZIP
    max_bytes: int = DEFAULT_MAX_BYTES  # larger files are refused before they are read

    @property
    def has_http(self) -> bool:
        return self.url_default is not None or bool(self.url_by_quarter)


class _Example:
    """Stands in for a Quarter when checking templates at load time."""

    slug, label, key, q, fy_start = "2025-26-q1", "2025/26 Q1", "2025-04", 1, 2025


_EXAMPLE = _Example()


def _month_variables(key: str) -> dict[str, str]:
    """``m1``..``m3`` variables of the quarter starting in month ``key`` (``YYYY-MM``)."""
    year, month = (int(p) for p in key.split("-"))
    out: dict[str, str] = {}
    for i in range(3):
        y, m = year + (month - 1 + i) // 12, (month - 1 + i) % 12 + 1
        first = date(y, m, 1)
        following = [date(y + (m - 1 + k) // 12, (m - 1 + k) % 12 + 1, 1) for k in (1, 2)]
        last = date.fromordinal(following[0].toordinal() - 1)
        prefix = f"m{i + 1}"
        out |= {
            prefix: first.strftime("%Y-%m"),
            f"{prefix}_name": first.strftime("%B"),
            f"{prefix}_abbr": first.strftime("%b"),
            f"{prefix}_year": str(y),
            f"{prefix}_yy": f"{y % 100:02d}",
            f"{prefix}_end": last.strftime("%Y%m%d"),
            f"{prefix}_upload": following[0].strftime("%Y/%m"),
            f"{prefix}_upload2": following[1].strftime("%Y/%m"),
        }
    return out


def template_variables(quarter: Quarter | _Example) -> dict[str, str]:
    fy = f"{quarter.fy_start % 100:02d}-{(quarter.fy_start + 1) % 100:02d}"
    return {
        "slug": quarter.slug,
        "label": quarter.label,
        "key": quarter.key,
        "q": str(quarter.q),
        "fy": fy,
        "fy_start": str(quarter.fy_start),
    } | _month_variables(quarter.key)


def _render(template: str, quarter: Quarter | _Example, where: str) -> str:
    try:
        return template.format_map(template_variables(quarter))
    except (KeyError, IndexError, ValueError) as exc:
        raise CatalogueError(
            f"bad template {template!r} in {where}: {exc}; use only "
            + ", ".join("{" + v + "}" for v in TEMPLATE_VARIABLES)
        ) from None


def parse_size(value: Any, where: str) -> int:
    """A size in bytes: a whole number, or text such as ``64 MiB``, ``1.5 GiB``, ``500 kB``
    (KiB/MiB/GiB are powers of 1024, kB/MB/GB of 1000)."""
    if isinstance(value, bool):
        raise CatalogueError(f"{where}: max_bytes must be a size, not {value!r}")
    if isinstance(value, int):
        size = value
    else:
        match = _SIZE.match(str(value))
        unit = match.group(2).lower() if match else ""
        if match is None or unit not in _SIZE_UNITS:
            raise CatalogueError(
                f"{where}: max_bytes {value!r} is not a size; write bytes or e.g. '64 MiB', '2 GiB'"
            )
        size = int(float(match.group(1)) * _SIZE_UNITS[unit])
    if size < 1:
        raise CatalogueError(f"{where}: max_bytes must be at least 1 byte, not {value!r}")
    return size


def _parse_kind(
    kind_id: str, raw: Any, where: str, default_max_bytes: int = DEFAULT_MAX_BYTES
) -> SourceKind:
    here = f"{where} kind '{kind_id}'"
    if not isinstance(raw, dict):
        raise CatalogueError(f"{here} must be a mapping")
    unknown = set(raw) - _KIND_KEYS
    if unknown:
        raise CatalogueError(
            f"{here} has unknown keys {sorted(unknown)}; allowed {sorted(_KIND_KEYS)}"
        )
    for key in ("description", "landing_path"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise CatalogueError(f"{here} needs a '{key}' text")
    landing = raw["landing_path"].strip()
    aliases = raw.get("landing_aliases") or []
    if not isinstance(aliases, list) or not all(isinstance(a, str) and a.strip() for a in aliases):
        raise CatalogueError(f"{here}: landing_aliases must be a list of path templates")
    aliases = [a.strip() for a in aliases]
    for template in (landing, *aliases):
        rendered = PurePosixPath(_render(template, _EXAMPLE, here))
        if rendered.is_absolute() or ".." in rendered.parts:
            raise CatalogueError(
                f"{here}: landing paths must be relative inside the landing folder"
            )

    http, url = raw.get("http"), raw.get("url")
    default: str | None = None
    by_quarter: dict[str, str] = {}
    if http is not None and str(http).lower() not in ("none", "false"):
        raise CatalogueError(f"{here}: 'http' may only be 'none' (landing only)")
    if http is not None:
        if url is not None:
            raise CatalogueError(f"{here} has both 'http: none' and a 'url'")
    elif isinstance(url, str):
        default = url.strip()
    elif isinstance(url, dict):
        extra = set(url) - {"default", "by_quarter"}
        if extra:
            raise CatalogueError(f"{here}: url has unknown keys {sorted(extra)}")
        default = url.get("default")
        by_quarter = {str(k): str(v).strip() for k, v in (url.get("by_quarter") or {}).items()}
        for slug in by_quarter:
            if not _SLUG.match(slug):
                raise CatalogueError(
                    f"{here}: by_quarter key '{slug}' is not a slug like 2025-26-q1"
                )
    else:
        raise CatalogueError(f"{here} needs a 'url' (text or default/by_quarter) or 'http: none'")
    for template in ([default] if default else []) + list(by_quarter.values()):
        if urlsplit(_render(template, _EXAMPLE, here)).scheme not in ("http", "https"):
            raise CatalogueError(f"{here}: {template!r} is not an http(s) URL")
    member = raw.get("http_archive_member")
    cap = raw.get("max_bytes")
    return SourceKind(
        id=kind_id,
        description=" ".join(raw["description"].split()),
        landing_path=landing,
        landing_aliases=tuple(aliases),
        url_default=default,
        url_by_quarter=MappingProxyType(by_quarter),
        http_archive_member=str(member) if member else None,
        max_bytes=default_max_bytes if cap is None else parse_size(cap, here),
    )


@lru_cache(maxsize=8)
def _load(path: Path) -> Mapping[str, SourceKind]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CatalogueError(f"source catalogue not found: {path}") from None
    except yaml.YAMLError as exc:
        raise CatalogueError(f"cannot parse {path}: {' '.join(str(exc).split())}") from None
    if not isinstance(data, dict) or not isinstance(data.get("kinds"), dict):
        raise CatalogueError(f"{path} must have a top-level 'kinds' mapping")
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise CatalogueError(
            f"{path} has unknown keys {sorted(unknown)}; allowed {sorted(_TOP_KEYS)}"
        )
    defaults = data.get("defaults") or {}
    if not isinstance(defaults, dict) or set(defaults) - _DEFAULT_KEYS:
        raise CatalogueError(f"{path}: 'defaults' may hold only {sorted(_DEFAULT_KEYS)}")
    default_max = (
        DEFAULT_MAX_BYTES
        if defaults.get("max_bytes") is None
        else parse_size(defaults["max_bytes"], f"{path} defaults")
    )
    kinds = {
        str(k): _parse_kind(str(k), v, str(path), default_max) for k, v in data["kinds"].items()
    }
    return MappingProxyType(kinds)


def source_kinds(path: Path | None = None) -> dict[str, SourceKind]:
    """All kinds in the catalogue (``assets/sources.yaml`` unless ``path`` is given)."""
    return dict(_load((path or assets_dir() / CATALOGUE_FILE).resolve()))


def source_kind(kind_id: str) -> SourceKind:
    kinds = source_kinds()
    try:
        return kinds[kind_id]
    except KeyError:
        raise CatalogueError(
            f"unknown source kind '{kind_id}': choose one of {', '.join(sorted(kinds))}"
        ) from None


def max_bytes(kind_id: str) -> int:
    """The size cap of ``kind_id``: a larger file is refused before it is read."""
    return source_kind(kind_id).max_bytes


def landing_path(kind_id: str, quarter: Quarter) -> str:
    """The file's path inside the landing folder, e.g. ``2025-26-q1/etr.csv``."""
    kind = source_kind(kind_id)
    return _render(kind.landing_path, quarter, f"kind '{kind_id}'")


def landing_paths(kind_id: str, quarter: Quarter) -> list[str]:
    """Every name the file may have in the landing folder: the usual one first, then the
    other names NHS England has published it under (``landing_aliases``)."""
    kind = source_kind(kind_id)
    where = f"kind '{kind_id}'"
    return [_render(t, quarter, where) for t in (kind.landing_path, *kind.landing_aliases)]


def _with_base(url: str, base_url: str) -> str:
    """Swap the scheme and host of ``url`` for ``base_url`` (which may carry a path prefix)."""
    parts = urlsplit(url)
    base = base_url.rstrip("/")
    if urlsplit(base).scheme not in ("http", "https"):
        raise CatalogueError(f"base_url {base_url!r} must start with http:// or https://")
    return base + parts.path + (f"?{parts.query}" if parts.query else "")


def url_for(
    kind_id: str, quarter: Quarter, overrides: Mapping[str, Any] | None = None
) -> str | None:
    """The http URL of ``kind_id`` for ``quarter``, or None if it is not published over http.

    ``overrides`` (from config) may hold ``urls`` ({kind_id: template}, replacing the catalogue's
    URL) and ``base_url`` (replacing the scheme and host of the resolved URL, so that
    ``{"base_url": "http://127.0.0.1:8765"}`` points http mode at a local mirror).
    """
    kind = source_kind(kind_id)
    overrides = dict(overrides or {})
    unknown = set(overrides) - set(OVERRIDE_KEYS)
    if unknown:
        raise CatalogueError(
            f"unknown url override keys {sorted(unknown)}: use {', '.join(OVERRIDE_KEYS)}"
        )
    template = (overrides.get("urls") or {}).get(kind_id)
    if template is None:
        template = kind.url_by_quarter.get(quarter.slug, kind.url_default)
    if template is None:
        return None
    url = _render(template, quarter, f"the URL of kind '{kind_id}'")
    if overrides.get("base_url"):
        url = _with_base(url, str(overrides["base_url"]))
    return url
