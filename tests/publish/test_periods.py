"""Which periods a refresh recomputes, and how it replaces them (warehouse/periods.py)."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from transforms.periods import Period, month_of, periods_containing, rolling_ending, week_of
from warehouse.periods import chunks, period_predicate, source_digest, stale_periods
from warehouse.publication import PublishPoint

D = date(2026, 3, 4)  # a Wednesday


def points(*days: date, attempt: int = 1) -> dict[date, PublishPoint]:
    return {d: PublishPoint(d, f"run-{attempt}", attempt, {}) for d in days}


def test_a_day_belongs_to_its_week_month_and_the_published_windows_after_it() -> None:
    published = [D, D + timedelta(days=1), D + timedelta(days=27), D + timedelta(days=28)]
    found = periods_containing([D], published)
    assert found == sorted(
        [
            Period("week", date(2026, 3, 2), date(2026, 3, 8)),
            Period("month", date(2026, 3, 1), date(2026, 3, 31)),
            rolling_ending(D),
            rolling_ending(D + timedelta(days=1)),
            rolling_ending(D + timedelta(days=27)),  # its first day is D; D + 28 no longer holds D
        ]
    )
    assert rolling_ending(D) == Period("rolling_28d", date(2026, 2, 5), D)
    assert month_of(date(2024, 2, 10)).end == date(2024, 2, 29)
    assert week_of(date(2026, 1, 1)) == Period("week", date(2025, 12, 29), date(2026, 1, 4))


def test_the_digest_changes_only_when_a_day_of_the_period_is_republished() -> None:
    before = points(D, D + timedelta(days=1), D + timedelta(days=10))
    after = {**before, D + timedelta(days=10): PublishPoint(D + timedelta(days=10), "run-2", 2, {})}
    week = week_of(D)
    assert source_digest(week, before) == source_digest(week, after)  # day 10 is in the next week
    assert source_digest(month_of(D), before) != source_digest(month_of(D), after)


def test_stale_periods_are_the_new_and_the_changed_ones() -> None:
    published = points(D, D + timedelta(days=1))
    every = periods_containing(sorted(published), sorted(published))
    assert stale_periods(published, {}) == every  # nothing stored yet
    stored = {(p.kind, p.start): source_digest(p, published) for p in every}
    assert stale_periods(published, stored) == []  # a second refresh does nothing
    redone = {**published, D: PublishPoint(D, "run-9", 9, {})}
    # Re-publishing D changes its week, its month and both windows holding it (ending on D
    # and on D + 1); nothing that holds only D + 1 changes.
    assert stale_periods(redone, stored) == sorted(
        [week_of(D), month_of(D), rolling_ending(D), rolling_ending(D + timedelta(days=1))]
    )


def test_predicate_names_each_period_by_kind_and_start() -> None:
    text = period_predicate([week_of(D), month_of(D), week_of(D + timedelta(days=7))])
    assert text == (
        "(period = 'month' AND period_start IN ('2026-03-01')) OR "
        "(period = 'week' AND period_start IN ('2026-03-02', '2026-03-09'))"
    )


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 400), min_size=1, max_size=40, unique=True), st.integers(28, 90))
def test_chunks_keep_every_period_once_and_bound_the_days_read(offsets: list[int], span: int) -> None:
    days = [date(2025, 1, 1) + timedelta(days=o) for o in offsets]
    periods = periods_containing(days, days)
    groups = chunks(periods, span)
    assert sorted(p for g in groups for p in g) == sorted(periods)
    for group in groups:
        width = (max(p.end for p in group) - min(p.start for p in group)).days + 1
        assert width <= span or len(group) == 1
