"""NHS financial-year quarters: partition keys and the labels people read.

Belongs here: conversion between partition keys (calendar month that starts the quarter,
``2025-04``) and NHS labels (``2025/26 Q1``), and the refusal of quarters outside the
methodology. Q1 = Apr-Jun, Q2 = Jul-Sep, Q3 = Oct-Dec, Q4 = Jan-Mar. No Dagster here: the
partitions definition built on these keys is :mod:`league_pipeline.defs.partitions`.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import date

FIRST_QUARTER_KEY = "2025-04"  # 2025/26 Q1: the first quarter of the NOF 2025/26 methodology
END_KEY = "2026-04"  # exclusive: 2026/27 is scored under the 2026/27 manual (defined thresholds)
METHODOLOGY_VERSION = "NOF-2025/26"


class QuarterError(ValueError):
    """A quarter that cannot be parsed or lies outside the methodology."""


@dataclass(frozen=True, order=True)
class Quarter:
    """An NHS financial-year quarter. ``fy_start`` 2025 and ``q`` 1 is 2025/26 Q1."""

    fy_start: int
    q: int

    @property
    def key(self) -> str:
        """The Dagster partition key: the calendar month the quarter starts, ``YYYY-MM``."""
        month = 4 + 3 * (self.q - 1)
        year = self.fy_start
        if month > 12:
            month -= 12
            year += 1
        return f"{year:04d}-{month:02d}"

    @property
    def label(self) -> str:
        return f"{self.fy_start}/{(self.fy_start + 1) % 100:02d} Q{self.q}"

    @property
    def published_label(self) -> str:
        """How NHS England's files write it: ``Q1 2025/26``."""
        return f"Q{self.q} {self.fy_start}/{(self.fy_start + 1) % 100:02d}"

    @property
    def slug(self) -> str:
        """File-name friendly label: ``2025-26-q1``."""
        return f"{self.fy_start}-{(self.fy_start + 1) % 100:02d}-q{self.q}"

    @property
    def start(self) -> date:
        y, m = (int(p) for p in self.key.split("-"))
        return date(y, m, 1)

    @property
    def end(self) -> date:
        """Last day of the quarter."""
        nxt = self.next()
        return date.fromordinal(nxt.start.toordinal() - 1)

    @property
    def months(self) -> list[date]:
        y, m = self.start.year, self.start.month
        out = []
        for i in range(3):
            mm = m + i
            out.append(date(y + (mm - 1) // 12, (mm - 1) % 12 + 1, 1))
        return out

    def next(self) -> Quarter:
        return Quarter(self.fy_start + (self.q == 4), self.q % 4 + 1)

    def previous(self) -> Quarter:
        return Quarter(self.fy_start - (self.q == 1), (self.q - 2) % 4 + 1)

    def __str__(self) -> str:
        return self.label


FIRST_QUARTER = Quarter(2025, 1)
LAST_QUARTER = Quarter(2025, 4)

# ASCII digits only: ``\d`` would also take full-width and other Unicode digits ("２０２５/26 Q1")
_LABEL = re.compile(r"^\s*(\d{4})\s*[/-]\s*(\d{2}|\d{4})\s*Q([1-4])\s*$", re.IGNORECASE | re.ASCII)
_PUBLISHED = re.compile(
    r"^\s*Q([1-4])\s+(\d{4})\s*[/-]\s*(\d{2}|\d{4})\s*$", re.IGNORECASE | re.ASCII
)
_SLUG = re.compile(r"^\s*(\d{4})-(\d{2})-q([1-4])\s*$", re.IGNORECASE | re.ASCII)
_KEY = re.compile(r"^\s*(\d{4})-(\d{2})\s*$", re.ASCII)


@functools.lru_cache(maxsize=4096)
def parse_quarter(text: str, *, check_methodology: bool = True) -> Quarter:
    """Parse ``2025/26 Q1``, ``Q1 2025/26`` (as NHS files write it), ``2025-26-q1`` or ``2025-04``.

    Cached: readers call it for every row of a file, on a handful of distinct texts (a
    :class:`Quarter` is immutable, so sharing one is safe; errors are raised afresh each time).

    Raises :class:`QuarterError` with the fix for malformed text and for quarters before
    2025/26 Q1, which the NOF 2025/26 methodology does not cover.
    """
    text = str(text)
    quarter: Quarter | None = None
    match = _LABEL.match(text) or _SLUG.match(text)
    published = _PUBLISHED.match(text)
    if published:
        match = published
        fy, fy2, q = int(published.group(2)), published.group(3), int(published.group(1))
    elif match:
        fy, fy2, q = int(match.group(1)), match.group(2), int(match.group(3))
    if match:
        if int(fy2[-2:]) != (fy + 1) % 100:
            raise QuarterError(
                f"'{text}' is not a financial year: the second year must follow the first "
                f"(for example '{fy}/{(fy + 1) % 100:02d} Q{q}')"
            )
        quarter = Quarter(fy, q)
    else:
        match = _KEY.match(text)
        if match:
            year, month = int(match.group(1)), int(match.group(2))
            if month not in (1, 4, 7, 10):
                raise QuarterError(
                    f"'{text}' is not a quarter start: partition keys are YYYY-01, -04, -07 or -10"
                )
            q = {4: 1, 7: 2, 10: 3, 1: 4}[month]
            quarter = Quarter(year if month >= 4 else year - 1, q)
    if quarter is None:
        raise QuarterError(
            f"cannot read the quarter '{text}': write it like '2025/26 Q1' (or the key '2025-04')"
        )
    if check_methodology and quarter < FIRST_QUARTER:
        raise QuarterError(
            f"{quarter.label} is before {FIRST_QUARTER.label}, the first quarter of the NHS "
            "Oversight Framework 2025/26 methodology; earlier quarters were not scored this way"
        )
    if check_methodology and quarter > LAST_QUARTER:
        raise QuarterError(
            f"{quarter.label} is after {LAST_QUARTER.label}: from 2026/27 NHS England scores "
            "trusts under the 2026/27 methodology (defined thresholds), which this pipeline "
            "does not implement"
        )
    return quarter


def all_quarters() -> list[Quarter]:
    """Every quarter the methodology covers, oldest first."""
    return quarter_range(FIRST_QUARTER, LAST_QUARTER)


def quarter_label(partition_key: str) -> str:
    """``2025-04`` -> ``2025/26 Q1``."""
    return parse_quarter(partition_key).label


def quarter_range(first: Quarter, last: Quarter) -> list[Quarter]:
    if last < first:
        raise QuarterError(f"the range ends ({last}) before it starts ({first})")
    out = [first]
    while out[-1] < last:
        out.append(out[-1].next())
    return out
