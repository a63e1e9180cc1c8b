"""The periods a QA lead reads scorecards by: ISO weeks, calendar months and rolling 28 days.

A period is named by its kind and first day and covers `start`..`end` inclusive (business-time
audit days). A rolling window exists for each published audit day and ends on it, so the
newest day always has the 28 days a peer comparison needs. Which periods a day belongs to is
what a re-audit or a backfill must refresh (warehouse/periods.py); the roll-up itself is
`transforms.scorecards.period_scorecards`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final, Literal

import polars as pl

PeriodKind = Literal["week", "month", "rolling_28d"]
PERIOD_KINDS: Final[tuple[PeriodKind, ...]] = ("week", "month", "rolling_28d")
ROLLING_DAYS: Final = 28
PERIODS_SCHEMA = pl.Schema({"period": pl.String(), "period_start": pl.Date(), "period_end": pl.Date()})


@dataclass(frozen=True, order=True)
class Period:
    kind: PeriodKind
    start: date
    end: date

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day <= self.end

    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]


def week_of(day: date) -> Period:
    """The ISO week (Monday to Sunday) holding the day."""
    monday = day - timedelta(days=day.weekday())
    return Period("week", monday, monday + timedelta(days=6))


def month_of(day: date) -> Period:
    first = day.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return Period("month", first, following - timedelta(days=1))


def rolling_ending(day: date) -> Period:
    """The 28 days ending on (and including) the day."""
    return Period("rolling_28d", day - timedelta(days=ROLLING_DAYS - 1), day)


def periods_containing(days: Iterable[date], published: Iterable[date]) -> list[Period]:
    """Every period holding one of `days`: its week, its month, and the rolling windows that
    end on a published day within 28 days after it (a window exists only for a published day)."""
    published_days = set(published)
    found: set[Period] = set()
    for day in days:
        found |= {week_of(day), month_of(day)}
        ends = (day + timedelta(days=i) for i in range(ROLLING_DAYS))
        found |= {rolling_ending(end) for end in ends if end in published_days}
    return sorted(found)


def periods_frame(periods: Iterable[Period]) -> pl.LazyFrame:
    rows = [(p.kind, p.start, p.end) for p in periods]
    return pl.LazyFrame(rows, schema=PERIODS_SCHEMA, orient="row")
