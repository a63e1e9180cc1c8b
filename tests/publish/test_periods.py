"""Which periods a refresh recomputes, and how it replaces them (warehouse/periods.py)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from configs.settings import load_settings
from transforms.peers import LIFECYCLE_SCHEMA, ROLLING_PEERS_SCHEMA, flag_lifecycle
from transforms.periods import Period, month_of, periods_containing, rolling_ending, week_of
from warehouse.periods import (
    _commit,
    chunks,
    concession_lifecycle,
    period_predicate,
    source_digest,
    stale_periods,
    with_lifecycle,
)
from warehouse.publication import PublishPoint
from warehouse.publish import publishing_columns

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


def _peer_rows(flags: dict[date, bool], run_id: str) -> pl.DataFrame:
    """One tested agent's follow-up rows, flagged below peers on the given windows."""
    base = {n: [None] * len(flags) for n in ROLLING_PEERS_SCHEMA.names()}
    base |= {
        "period": ["rolling_28d"] * len(flags),
        "period_start": [rolling_ending(d).start for d in flags],
        "period_end": list(flags),
        "metric": ["follow_up"] * len(flags),
        "comparison": ["centre"] * len(flags),
        "agent_id": ["a1"] * len(flags),
        "is_flagged": list(flags.values()),
        "flag_type": ["below_peers" if f else None for f in flags.values()],
    }
    rows = pl.DataFrame(base, schema=ROLLING_PEERS_SCHEMA)
    return flag_lifecycle(rows.drop(LIFECYCLE_SCHEMA.names()), sorted(flags)).with_columns(
        policy_version=pl.lit(f"policy-of-{run_id}"), run_id=pl.lit(run_id)
    )


def test_a_refreshed_window_relabels_the_runs_after_it(tmp_path: Path) -> None:
    """a1 flagged on four windows in a row; re-auditing the second one clears it there, so the
    third becomes a new run and the fourth its second day: both are rewritten too."""
    days = [D + timedelta(days=i) for i in range(4)]
    settings = load_settings(env="local", warehouse_uri=str(tmp_path / "warehouse"))
    stored = _peer_rows(dict.fromkeys(days, True), "first")
    _commit(settings, "peer_comparison", stored, [rolling_ending(d) for d in days], "first")
    refreshed = _peer_rows({days[1]: False}, "second").drop("status", "first_flagged_on", "consecutive_days")
    computed = refreshed.drop("policy_version", "run_id")
    rows, extra = with_lifecycle(settings, computed, [rolling_ending(days[1])], points(*days))
    assert extra == [rolling_ending(days[2]), rolling_ending(days[3])]
    labels = rows.sort("period_end").select(
        "period_end", "status", "first_flagged_on", "consecutive_days", "policy_version"
    )
    # The relabelled windows keep the version they were computed with; the refreshed one has
    # none yet (publishing sets the refresh's: publishing_columns).
    assert labels.rows() == [
        (days[1], "cleared", days[0], 1, None),
        (days[2], "new", days[2], 1, "policy-of-first"),
        (days[3], "ongoing", days[2], 2, "policy-of-first"),
    ]
    published = rows.with_columns(
        publishing_columns("peer_comparison", rows.columns, run_id="second", policy_version="p2")
    )
    assert published.sort("period_end")["policy_version"].to_list() == [
        "p2",
        "policy-of-first",
        "policy-of-first",
    ]


def test_concession_flags_are_new_ongoing_then_cleared_the_day_after() -> None:
    days = [D + timedelta(days=i) for i in range(4)]
    flags = pl.DataFrame(
        {
            "audit_date": [days[0], days[1], days[1], days[3]],
            "flag_type": [
                "high_concession_rate",
                "high_concession_rate",
                "repeat_beneficiary",
                "amount_outlier",
            ],
            "subject_type": ["agent", "agent", "customer", "concession"],
            "subject_id": ["a1", "a1", "k9", "e7"],
        }
    )
    got = concession_lifecycle(flags, days).select(
        "audit_date", "subject_id", "status", "first_flagged_on", "consecutive_days"
    )
    assert sorted(got.rows()) == sorted(
        [
            (days[0], "a1", "new", days[0], 1),
            (days[1], "a1", "ongoing", days[0], 2),
            (days[2], "a1", "cleared", days[0], 2),
            (days[1], "k9", "new", days[1], 1),
            (days[2], "k9", "cleared", days[1], 1),
            (days[3], "e7", "new", days[3], 1),  # the last published day: nothing after it yet
        ]
    )
    cleared = concession_lifecycle(flags, days).filter(pl.col("status") == "cleared")
    assert cleared["flag_type"].to_list() == ["high_concession_rate", "repeat_beneficiary"]  # what stopped
