"""Months of a quarter, as the raw monthly statistics need them.

Belongs here: which calendar months a quarter's derivation reads (the quarter itself, the
financial year to date, or the quarter's last month) and month-name parsing shared by the raw
readers (``APRIL``, ``Apr``, ``MSitAE-APRIL-2025``, ``RTT-June-2025``).
"""

from __future__ import annotations

import re
from datetime import date

from league_pipeline.core.quarters import Quarter

SPANS = ("quarter", "year_to_date", "last_month")
MONTHS = {
    name: number
    for number, name in enumerate(
        [
            "january",
            "february",
            "march",
            "april",
            "may",
            "june",
            "july",
            "august",
            "september",
            "october",
            "november",
            "december",
        ],
        start=1,
    )
}
_MONTH_YEAR = re.compile(r"([A-Za-z]+)[\s\-_]*((?:19|20)\d{2})")


def months_of(quarter: Quarter, span: str) -> list[date]:
    """First days of the months a derivation over ``span`` reads for ``quarter``."""
    if span == "quarter":
        return list(quarter.months)
    if span == "last_month":
        return [quarter.months[-1]]
    if span == "year_to_date":
        out: list[date] = []
        current = Quarter(quarter.fy_start, 1)
        while current <= quarter:
            out.extend(current.months)
            current = current.next()
        return out
    raise ValueError(f"unknown span '{span}': choose one of {', '.join(SPANS)}")


def month_number(text: str) -> int | None:
    """``APRIL``, ``april``, ``Apr`` or ``4`` -> 4; None if it is not a month."""
    key = str(text).strip().lower()
    if key.isdigit():
        number = int(key)
        return number if 1 <= number <= 12 else None
    if key in MONTHS:
        return MONTHS[key]
    matches = [n for name, n in MONTHS.items() if len(key) >= 3 and name.startswith(key)]
    return matches[0] if len(matches) == 1 else None


def month_in_text(text: str) -> date | None:
    """The month named in a period text such as ``MSitAE-APRIL-2025`` or ``RTT-June-2025``."""
    for match in _MONTH_YEAR.finditer(str(text)):
        number = month_number(match.group(1))
        if number is not None:
            return date(int(match.group(2)), number, 1)
    return None


def financial_year_month(fy_text: str, month_text: str) -> date | None:
    """AmbSYS ``Year`` ``2025-26`` and ``Month`` ``APRIL`` (or ``4``) -> 2025-04-01.

    April to December belong to the first calendar year of the financial year, January to March
    to the second. A ``Year`` that is a calendar year (``2025``) is taken as is.
    """
    number = month_number(month_text)
    match = re.fullmatch(r"\s*((?:19|20)\d{2})(?:\s*[-/]\s*(\d{2}|\d{4}))?\s*", str(fy_text))
    if number is None or match is None:
        return None
    start = int(match.group(1))
    if match.group(2) is None:
        return date(start, number, 1)
    return date(start if number >= 4 else start + 1, number, 1)
