"""Agent and team scorecards, daily and over periods (transforms/scorecards.py)."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

import catalogue
from tests.metrics.frames import calls_frame, events_frame, scope_of, solve, tickets_frame
from transforms.contacts import build_contacts
from transforms.parts import COUNTS_SCHEMA, MEASURES_SCHEMA, OBSERVATIONS_SCHEMA, RATE_PARTS_SCHEMA
from transforms.periods import Period, month_of, periods_frame, rolling_ending, week_of
from transforms.scorecards import (
    Level,
    build_scorecards,
    metric_observations,
    period_scorecards,
    scorecard_columns,
)

RATE_METRICS = catalogue.rate_metrics()
COUNTS = tuple(m.name for m in catalogue.metrics("count"))
MEASURE_STATS = {m.name: m.stats for m in catalogue.metrics("measure") if m.stats}

D = date(2026, 3, 2)


def rate_parts(*rows: tuple[Any, ...]) -> pl.LazyFrame:
    """(audit_date, agent_id, team_id, metric, numerator, denominator[, contact_id]) rows."""
    named = [row if len(row) == 7 else (*row, None) for row in rows]
    return pl.LazyFrame(named, schema=RATE_PARTS_SCHEMA, orient="row")


def measure_parts(*rows: tuple[Any, ...]) -> pl.LazyFrame:
    return pl.LazyFrame(list(rows), schema=MEASURES_SCHEMA, orient="row")


def count_parts(*rows: tuple[Any, ...]) -> pl.LazyFrame:
    return pl.LazyFrame(list(rows), schema=COUNTS_SCHEMA, orient="row")


def contact_rows(*rows: tuple[Any, ...]) -> pl.LazyFrame:
    """(audit_date, agent_id, team_id, contact_type) rows."""
    schema = {"audit_date": pl.Date, "agent_id": pl.String, "team_id": pl.String, "contact_type": pl.String}
    return pl.LazyFrame(list(rows), schema=schema, orient="row")


def scorecards(
    rates: pl.LazyFrame | None = None,
    measures: pl.LazyFrame | None = None,
    counts: pl.LazyFrame | None = None,
    contacts: pl.LazyFrame | None = None,
    audit_date: date | None = D,
    min_volume: int = 20,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    agent, team = build_scorecards(
        [rates if rates is not None else rate_parts()],
        [measures if measures is not None else measure_parts()],
        [counts if counts is not None else count_parts()],
        contacts if contacts is not None else contact_rows(),
        audit_date,
        min_volume,
    )
    return agent.collect(), team.collect()


def pick(frame: pl.DataFrame, *columns: str) -> list[tuple[Any, ...]]:
    return frame.select(columns).rows()


# --- daily, hand-worked ---------------------------------------------------------------------------

RATES = rate_parts(
    (D, "a1", "T1", "reopen", 1, 1),
    (D, "a1", "T1", "reopen", 0, 1),
    (D, "a1", "T1", "reopen", 0, 1),
    (D, "a2", "T1", "reopen", 1, 1),
    (D, "a3", "T2", "reopen", 0, 1),
    (D, None, "T1", "abandonment", 1, 1),
    (D, None, "T1", "abandonment", 0, 1),
    (D - timedelta(days=1), "a1", "T1", "reopen", 1, 1),  # another day: ignored
)
MEASURES = measure_parts(
    (D, "a1", "T1", "hold_seconds", 10.0),
    (D, "a1", "T1", "hold_seconds", 20.0),
    (D, "a1", "T1", "hold_seconds", 60.0),
    (D, "a2", "T1", "hold_seconds", 100.0),
    (D, "a1", "T1", "talk_seconds", 600.0),
    (D, "a1", "T1", "agent_interruptions", 2.0),
    (D, "a2", "T1", "talk_seconds", 300.0),
    (D, "a2", "T1", "agent_interruptions", 4.0),
    (D, "a1", "T1", "csat_score", 5.0),
    (D, "a1", "T1", "csat_score", 2.0),
    (D, None, "T1", "queue_wait_seconds", 40.0),
)
COUNT_PARTS = count_parts(
    (D, "a1", "T1", "reply_sla_breaches", 1),
    (D, "a1", "T1", "reply_sla_breaches", 1),
    (D, "a3", "T2", "policy_violations", 2),
)
CONTACTS = contact_rows(
    (D, "a1", "T1", "ticket"),
    (D, "a1", "T1", "ticket"),
    (D, "a1", "T1", "call"),
    (D, "a2", "T1", "call"),
    (D, "a3", "T2", "ticket"),
    (D + timedelta(days=1), "a3", "T2", "ticket"),
)


def test_agent_scorecard_sums_parts_per_agent() -> None:
    agent, _ = scorecards(RATES, MEASURES, COUNT_PARTS, CONTACTS)
    assert pick(agent, "agent_id", "team_id", "contacts", "tickets_solved", "calls_answered") == [
        ("a1", "T1", 3, 2, 1),
        ("a2", "T1", 1, 0, 1),
        ("a3", "T2", 1, 1, 0),
    ]
    assert pick(agent, "reopen_numerator", "reopen_denominator", "reopen_rate", "is_reopen_low_volume") == [
        (1, 3, pytest.approx(1 / 3), True),
        (1, 1, 1.0, True),
        (0, 1, 0.0, True),
    ]
    # hold 10, 20, 60: median 20, p90 = 20 + 0.8 * 40 = 52 (linear); a2 has one value.
    assert pick(agent, "hold_seconds_median", "hold_seconds_p90", "csat_score_mean") == [
        (20.0, pytest.approx(52.0), 3.5),
        (100.0, 100.0, None),
        (None, None, None),
    ]
    # a1: 2 interruptions over 10 talk minutes = 2.0 per 10 min; a2: 4 over 5 min = 8.0.
    assert pick(agent, "agent_interruptions", "talk_minutes", "interruptions_per_10_talk_minutes") == [
        (2, 10.0, 2.0),
        (4, 5.0, 8.0),
        (0, 0.0, None),
    ]
    assert pick(agent, "reply_sla_breaches", "policy_violations", "lost_control") == [
        (2, 0, 0),
        (0, 0, 0),
        (0, 2, 0),
    ]


def test_team_scorecard_sums_the_same_parts_never_averages_rates() -> None:
    _, team = scorecards(RATES, MEASURES, COUNT_PARTS, CONTACTS)
    assert pick(team, "team_id", "contacts", "reopen_numerator", "reopen_denominator") == [
        ("T1", 4, 2, 4),
        ("T2", 1, 0, 1),
    ]
    # T1 reopen 2/4 = 0.5, not the mean of a1's 1/3 and a2's 1/1.
    assert team["reopen_rate"].to_list() == [0.5, 0.0]
    # Team-only parts (no agent) reach the team row: abandonment 1/2 and the queue wait.
    assert pick(team, "abandonment_numerator", "abandonment_denominator", "queue_wait_seconds_median") == [
        (1, 2, 40.0),
        (0, 0, None),
    ]
    # T1 holds 10, 20, 60, 100: median 40 from the observations, not from agents' medians.
    assert team["hold_seconds_median"].to_list() == [40.0, None]
    # Ratio of sums: 6 interruptions over 15 talk minutes = 4.0 (the mean of ratios would be 5.0).
    assert team["interruptions_per_10_talk_minutes"].to_list() == [4.0, None]


def test_day_without_parts_still_has_every_column_zero_filled() -> None:
    agent, team = scorecards(contacts=contact_rows((D, "a1", "T1", "ticket")))
    assert agent.columns == scorecard_columns("agent")
    assert team.columns == scorecard_columns("team")
    row = agent.row(0, named=True)
    for metric in RATE_METRICS:
        assert (row[f"{metric}_numerator"], row[f"{metric}_denominator"]) == (0, 0)
        assert (row[f"{metric}_rate"], row[f"{metric}_ci_low"], row[f"{metric}_ci_high"]) == (
            None,
            None,
            None,
        )
        assert row[f"is_{metric}_low_volume"] is True
    assert all(row[name] == 0 for name in COUNTS)
    assert all(row[f"{m}_{s}"] is None for m, stats in MEASURE_STATS.items() for s in stats)


def test_empty_day_gives_empty_frames_with_the_published_schema() -> None:
    agent, team = scorecards()
    assert (agent.height, team.height) == (0, 0)
    assert agent.columns == scorecard_columns("agent")


@pytest.mark.parametrize(
    ("rates", "measures", "counts", "name"),
    [
        (rate_parts((D, "a1", "T1", "made_up_metric", 1, 1)), None, None, "made_up_metric"),
        (None, measure_parts((D, "a1", "T1", "made_up_measure", 1.0)), None, "made_up_measure"),
        (None, None, count_parts((D, None, "T1", "made_up_count", 1)), "made_up_count"),
    ],
)
def test_unknown_part_name_is_refused(
    rates: pl.LazyFrame | None, measures: pl.LazyFrame | None, counts: pl.LazyFrame | None, name: str
) -> None:
    with pytest.raises(ValueError, match=name):
        scorecards(rates, measures, counts)


def test_rows_without_team_reach_only_the_agent_scorecard() -> None:
    agent, team = scorecards(rate_parts((D, "a1", None, "reopen", 1, 1)))
    assert pick(agent, "agent_id", "team_id", "reopen_numerator") == [("a1", None, 1)]
    assert team.height == 0


def test_agent_team_is_the_team_on_most_of_the_days_rows() -> None:
    contacts = contact_rows((D, "a1", "T2", "ticket"), (D, "a1", "T1", "call"), (D, "a1", "T1", "call"))
    agent, team = scorecards(contacts=contacts)
    assert pick(agent, "agent_id", "team_id", "contacts") == [("a1", "T1", 3)]
    assert pick(team, "team_id", "contacts") == [("T1", 2), ("T2", 1)]


def test_min_volume_marks_low_volume() -> None:
    rows = [(D, "a1", "T1", "reopen", 0, 1)] * 3
    agent, _ = scorecards(rate_parts(*rows), min_volume=3)
    assert agent["is_reopen_low_volume"].to_list() == [False]
    agent, _ = scorecards(rate_parts(*rows), min_volume=4)
    assert agent["is_reopen_low_volume"].to_list() == [True]


def test_audit_date_none_keeps_every_day_sorted() -> None:
    agent, _ = scorecards(RATES, audit_date=None)
    assert pick(agent, "audit_date", "agent_id") == [
        (D - timedelta(days=1), "a1"),
        (D, "a1"),
        (D, "a2"),
        (D, "a3"),
    ]


def test_every_contact_closed_on_the_day_is_counted_exactly_once() -> None:
    """metrics_count_match: the scorecards' contact volumes reconcile with the contact universe."""
    tickets = tickets_frame(*({"ticket_id": f"t{i}"} for i in range(1, 7)))
    events = events_frame(
        solve("t1", "2026-03-02T08:00:00Z", "a1"),
        solve("t2", "2026-03-02T09:00:00Z", "a2"),
        solve("t3", "2026-03-02T23:59:59Z", "a1"),
        solve("t4", "2026-03-03T00:00:00Z", "a1"),  # next day
        solve("t5", "2026-03-02T10:00:00Z", "a1"),
        {**solve("t5", "2026-03-02T11:00:00Z", "a2"), "event_id": "zz"},  # solved twice: first solve counts
    )
    calls = calls_frame(
        {
            "call_id": "k1",
            "initiated_at": "2026-03-02T10:00:00Z",
            "answered_at": "2026-03-02T10:01:00Z",
            "ended_at": "2026-03-02T10:05:00Z",
            "agent_id": "a2",
            "team_id": "T1",
        },
        {"call_id": "k2", "initiated_at": "2026-03-02T10:00:00Z", "ended_at": "2026-03-02T10:05:00Z"},
    )
    contacts = build_contacts(tickets, events, calls, "UTC")
    agent, team = build_scorecards([], [], [], contacts, D, 20)
    agent_df, team_df = agent.collect(), team.collect()
    closed = contacts.filter(pl.col("audit_date") == D).collect()
    assert closed.height == 5  # t1, t2, t3, t5, k1
    assert agent_df["contacts"].sum() == closed.filter(pl.col("agent_id").is_not_null()).height
    assert team_df["contacts"].sum() == closed.filter(pl.col("team_id").is_not_null()).height
    assert pick(agent_df, "agent_id", "contacts", "tickets_solved", "calls_answered") == [
        ("a1", 3, 3, 0),
        ("a2", 2, 1, 1),
    ]
    assert agent_df.select("audit_date", "agent_id").is_unique().all()


# --- periods ---------------------------------------------------------------------------------------


def rolled(daily: pl.LazyFrame, *periods: Period, observations: pl.LazyFrame | None = None) -> pl.DataFrame:
    obs = observations if observations is not None else OBSERVATIONS_SCHEMA.to_frame().lazy()
    return period_scorecards(daily, obs, periods_frame(periods), 20).collect()


def test_week_sums_dailies_and_recomputes_rates() -> None:
    sunday, monday = date(2026, 1, 4), date(2026, 1, 5)
    rates = rate_parts(
        (date(2025, 12, 29), "a1", "T1", "reopen", 1, 1),  # Monday of ISO week 2026-W01
        (sunday, "a1", "T2", "reopen", 0, 1),
        (sunday, "a1", "T2", "reopen", 0, 1),
        (sunday, "a1", "T2", "reopen", 0, 1),
        (monday, "a1", "T2", "reopen", 1, 1),  # ISO week 2026-W02
    )
    agent, _ = build_scorecards([rates], [], [], contact_rows(), None, 20)
    weekly = rolled(agent, week_of(sunday), week_of(monday))
    assert pick(weekly, "period", "period_start", "period_end", "agent_id", "team_id", "active_days") == [
        ("week", date(2025, 12, 29), sunday, "a1", "T2", 2),
        ("week", monday, date(2026, 1, 11), "a1", "T2", 1),
    ]
    # 1/4 = 0.25 over the week, not the mean of the daily rates 1.0 and 0.0.
    assert pick(weekly, "reopen_numerator", "reopen_denominator", "reopen_rate") == [
        (1, 4, 0.25),
        (1, 1, 1.0),
    ]
    low, high = weekly["reopen_ci_low"][0], weekly["reopen_ci_high"][0]
    assert (round(low, 6), round(high, 6)) == (0.045587, 0.699358)
    assert weekly["is_reopen_low_volume"].to_list() == [True, True]


def test_month_and_rolling_window_hold_the_same_days_differently() -> None:
    rates = rate_parts(
        (date(2026, 2, 27), "a1", "T1", "reopen", 1, 1),
        (date(2026, 3, 1), "a1", "T1", "reopen", 0, 1),
        (date(2026, 3, 2), "a1", "T1", "reopen", 1, 1),
        (date(2026, 1, 31), "a1", "T1", "reopen", 1, 1),  # 30 days before 03-02: outside the window
    )
    agent, _ = build_scorecards([rates], [], [], contact_rows(), None, 20)
    frame = rolled(agent, month_of(date(2026, 3, 2)), rolling_ending(date(2026, 3, 2)))
    assert pick(frame, "period", "period_start", "period_end", "reopen_numerator", "reopen_denominator") == [
        ("month", date(2026, 3, 1), date(2026, 3, 31), 1, 2),
        ("rolling_28d", date(2026, 2, 3), date(2026, 3, 2), 2, 3),
    ]


def test_period_quantiles_come_from_the_observations() -> None:
    measures = measure_parts(
        (date(2026, 3, 2), "a1", "T1", "hold_seconds", 10.0),
        (date(2026, 3, 3), "a1", "T1", "hold_seconds", 30.0),
        (date(2026, 3, 4), "a1", "T1", "hold_seconds", 200.0),
    )
    agent, _ = build_scorecards([], [measures], [], contact_rows(), None, 20)
    observations = metric_observations([], [measures], None)
    weekly = rolled(agent, week_of(D), observations=observations)
    # Median of the week's observations is 30 (the median of daily medians would also be 30,
    # but p90 = 30 + 0.8 * 170 = 166 exists only from the observations).
    assert pick(weekly, "hold_seconds_median", "hold_seconds_p90") == [(30.0, pytest.approx(166.0))]
    # Without observations the statistics are null, never a guess from daily values.
    assert pick(rolled(agent, week_of(D)), "hold_seconds_median") == [(None,)]


def test_period_team_scorecard() -> None:
    _, team = scorecards(RATES, MEASURES, COUNT_PARTS, CONTACTS, audit_date=None)
    weekly = rolled(team.lazy(), week_of(D - timedelta(days=1)), week_of(D))
    # D - 1 is a Sunday (ISO week starting 2026-02-23); D and D + 1 are in the next week.
    columns = (
        "period_start",
        "team_id",
        "reopen_numerator",
        "reopen_denominator",
        "contacts",
        "reply_sla_breaches",
    )
    assert pick(weekly, *columns) == [
        (date(2026, 2, 23), "T1", 1, 1, 0, 0),
        (D, "T1", 2, 4, 4, 2),
        (D, "T2", 0, 1, 2, 0),
    ]


def test_observations_keep_numerator_contacts_and_published_measures() -> None:
    rates = rate_parts((D, "a1", "T1", "reopen", 1, 1, "t1"), (D, "a1", "T1", "reopen", 0, 1, "t2"))
    measures = measure_parts((D, "a1", "T1", "hold_seconds", 12.0), (D, "a1", "T1", "talk_seconds", 60.0))
    frame = metric_observations([rates], [measures], D).collect()
    # t2 is in the denominator only; talk_seconds only feeds a ratio (no statistic is published).
    assert pick(frame, "metric", "kind", "contact_id", "value") == [
        ("hold_seconds", "measure", None, 12.0),
        ("reopen", "numerator", "t1", 1.0),
        ("reopen", "denominator", "t2", 0.0),
    ]
    assert metric_observations([rates], [measures], D, {"reopen": "x"}).collect()["metric"].to_list() == [
        "hold_seconds"
    ]


# --- properties -----------------------------------------------------------------------------------

AGENT_TEAMS = {"a1": "T1", "a2": "T1", "a3": "T2", "a4": "T3"}
DAYS = [date(2026, 3, 1) + timedelta(days=i) for i in range(10)]

part_rows = st.lists(
    st.tuples(
        st.sampled_from(DAYS),
        st.sampled_from(sorted(AGENT_TEAMS)),
        st.sampled_from(RATE_METRICS[:-1]),
        st.booleans(),
    ),
    max_size=60,
)


def _parts_frame(rows: list[tuple[date, str, str, bool]]) -> pl.LazyFrame:
    return rate_parts(*((day, a, AGENT_TEAMS[a], m, int(hit), 1) for day, a, m, hit in rows))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(part_rows, st.integers(0, 30))
def test_rates_are_bounded_and_bracketed(rows: list[tuple[date, str, str, bool]], min_volume: int) -> None:
    agent, team = build_scorecards([_parts_frame(rows)], [], [], contact_rows(), None, min_volume)
    for frame in (agent.collect(), team.collect()):
        for m in RATE_METRICS:
            num, den = frame[f"{m}_numerator"], frame[f"{m}_denominator"]
            assert (num <= den).all()
            rated = frame.filter(pl.col(f"{m}_denominator") > 0)
            assert rated[f"{m}_rate"].is_between(0.0, 1.0).all()
            assert (rated[f"{m}_ci_low"] <= rated[f"{m}_rate"] + 1e-12).all()
            assert (rated[f"{m}_rate"] <= rated[f"{m}_ci_high"] + 1e-12).all()
            assert (frame[f"is_{m}_low_volume"] == (den < min_volume)).all()


count_rows = st.lists(
    st.tuples(st.sampled_from(DAYS), st.sampled_from(sorted(AGENT_TEAMS)), st.sampled_from(COUNTS)),
    max_size=20,
)
contact_kinds = st.lists(
    st.tuples(
        st.sampled_from(DAYS), st.sampled_from(sorted(AGENT_TEAMS)), st.sampled_from(["ticket", "call"])
    ),
    max_size=20,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(part_rows, count_rows, contact_kinds)
def test_team_rollup_equals_the_sum_of_its_agents(
    rows: list[tuple[date, str, str, bool]],
    counted: list[tuple[date, str, str]],
    closed: list[tuple[date, str, str]],
) -> None:
    counts = count_parts(*((day, a, AGENT_TEAMS[a], name, 1) for day, a, name in counted))
    contacts = contact_rows(*((day, a, AGENT_TEAMS[a], kind) for day, a, kind in closed))
    agent, team = build_scorecards([_parts_frame(rows)], [], [counts], contacts, None, 20)
    summed_cols = [
        *[f"{m}_{p}" for m in RATE_METRICS for p in ("numerator", "denominator")],
        *COUNTS,
        "contacts",
        "tickets_solved",
        "calls_answered",
    ]
    from_agents = (
        agent.group_by("audit_date", "team_id").agg(pl.col(summed_cols).sum()).sort("audit_date", "team_id")
    )
    assert_frame_equal(from_agents.collect(), team.select("audit_date", "team_id", *summed_cols).collect())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    part_rows,
    count_rows,
    contact_kinds,
    st.sampled_from(DAYS),
    st.sampled_from(["week", "month", "rolling_28d"]),
)
def test_a_period_equals_the_sum_of_its_days(
    rows: list[tuple[date, str, str, bool]],
    counted: list[tuple[date, str, str]],
    closed: list[tuple[date, str, str]],
    day: date,
    kind: str,
) -> None:
    period = {"week": week_of, "month": month_of, "rolling_28d": rolling_ending}[kind](day)
    counts = count_parts(*((d, a, AGENT_TEAMS[a], name, 1) for d, a, name in counted))
    contacts = contact_rows(*((d, a, AGENT_TEAMS[a], k) for d, a, k in closed))
    for daily in build_scorecards([_parts_frame(rows)], [], [counts], contacts, None, 20):
        key = "agent_id" if "agent_id" in daily.collect_schema().names() else "team_id"
        summed_cols = [
            *[f"{m}_{p}" for m in RATE_METRICS for p in ("numerator", "denominator")],
            *COUNTS,
            "contacts",
        ]
        expected = (
            daily.filter(pl.col("audit_date").is_between(period.start, period.end))
            .group_by(key)
            .agg(pl.col(summed_cols).sum(), pl.len().cast(pl.Int64).alias("active_days"))
            .sort(key)
            .collect()
        )
        got = rolled(daily, period).select(key, *summed_cols, "active_days")
        assert_frame_equal(got, expected.select(got.columns))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(part_rows, st.randoms(use_true_random=False))
def test_scorecards_do_not_depend_on_part_order(
    rows: list[tuple[date, str, str, bool]], rnd: random.Random
) -> None:
    shuffled = rows[:]
    rnd.shuffle(shuffled)
    half = len(shuffled) // 2
    first = build_scorecards([_parts_frame(rows)], [], [], contact_rows(), None, 20)
    second = build_scorecards(
        [_parts_frame(shuffled[half:]), _parts_frame(shuffled[:half])], [], [], contact_rows(), None, 20
    )
    for a, b in zip(first, second, strict=True):
        assert_frame_equal(a.collect(), b.collect())


def test_scorecards_from_the_resolution_family_end_to_end() -> None:
    from configs.policy import Policy
    from transforms.contacts import AuditWindow
    from transforms.resolution import audit_resolution

    tickets = tickets_frame(
        {"ticket_id": "t1", "csat_score": 4},
        {"ticket_id": "t2", "csat_score": 1, "created_at": "2026-03-02T10:30:00Z"},
    )
    events = events_frame(solve("t1", "2026-03-02T10:00:00Z"), solve("t2", "2026-03-02T11:00:00Z"))
    scope = scope_of(tickets, events, calls_frame())
    window = AuditWindow(D, "UTC", datetime(2026, 3, 20, tzinfo=UTC))
    result = audit_resolution(scope, window, Policy(version="t"))
    parts = [result.rate_parts], [result.measures], [result.counts]
    agent, _ = build_scorecards(*parts, scope.contacts, D, 20)
    row = agent.collect().row(0, named=True)
    assert (row["agent_id"], row["contacts"], row["tickets_solved"]) == ("a1", 2, 2)
    assert (row["csat_good_numerator"], row["csat_good_denominator"], row["csat_score_mean"]) == (1, 2, 2.5)
    # t2 (solved 11:00, same customer and category) is a new contact 1 h after t1 was solved.
    assert (row["first_contact_resolution_numerator"], row["first_contact_resolution_denominator"]) == (1, 2)


@pytest.mark.parametrize("level", ["agent", "team"])
def test_period_columns_are_the_catalogues(level: Level) -> None:
    agent, team = build_scorecards([], [], [], contact_rows(), None, 20)
    periods = periods_frame([week_of(D)]).with_columns(
        published_days=pl.lit(1, pl.Int64), source_digest=pl.lit("d")
    )
    obs = OBSERVATIONS_SCHEMA.to_frame().lazy()
    got = period_scorecards(agent if level == "agent" else team, obs, periods, 20).collect_schema()
    published = catalogue.TABLES[f"{level}_period_scorecard"].schema
    computed = [(n, t) for n, t in published.items() if n not in catalogue.PUBLISHING_COLUMNS]
    assert list(got.items()) == computed


def test_talk_time_sum_does_not_depend_on_row_order() -> None:
    """Regression: float sums in input order differ in the last bit (0.1 + 0.2 + 0.3 != 0.3 + 0.2 + 0.1)."""
    rows = [(D, "a1", "T1", "talk_seconds", v) for v in (0.1, 0.2, 0.3)]
    rows += [(D, "a1", "T1", "agent_interruptions", 1.0)] * 3
    forward, _ = scorecards(measures=measure_parts(*rows))
    backward, _ = scorecards(measures=measure_parts(*reversed(rows)))
    assert_frame_equal(forward, backward)
    assert forward["talk_minutes"].item() == 0.6 / 60


def test_period_interruption_ratio_is_re_summed_not_averaged() -> None:
    measures = measure_parts(
        (date(2026, 3, 2), "a1", "T1", "talk_seconds", 600.0),
        (date(2026, 3, 2), "a1", "T1", "agent_interruptions", 2.0),
        (date(2026, 3, 3), "a1", "T1", "talk_seconds", 300.0),
        (date(2026, 3, 3), "a1", "T1", "agent_interruptions", 4.0),
    )
    agent, _ = build_scorecards([], [measures], [], contact_rows(), None, 20)
    weekly = rolled(agent, week_of(D))
    # Daily ratios 2.0 and 8.0 (mean 5.0); the week is 6 interruptions over 15 minutes = 4.0.
    assert pick(weekly, "agent_interruptions", "talk_minutes", "interruptions_per_10_talk_minutes") == [
        (6, 15.0, 4.0)
    ]


# --- withheld metrics -----------------------------------------------------------------------------


def test_a_withheld_metric_is_null_with_its_reason_not_zero() -> None:
    rates = rate_parts((D, "a1", "T1", "follow_up", 0, 1), (D, "a1", "T1", "reopen", 1, 2))
    counts = count_parts((D, "a1", "T1", "concessions", 2))
    contacts = contact_rows((D, "a1", "T1", "ticket"), (D, "a1", "T1", "ticket"))
    why = {"follow_up": "zendesk.follow_up is not mapped", "concessions": "no concession mapping"}
    agent, team = build_scorecards([rates], [], [counts], contacts, D, 20, withheld=why)
    row = agent.collect().row(0, named=True)
    follow_up = [c for c in row if c.startswith(("follow_up_", "is_follow_up_"))]
    assert len(follow_up) == 6 and all(row[c] is None for c in follow_up)
    assert row["concessions"] is None  # not 2: the count is withheld too
    assert (row["reopen_numerator"], row["reopen_denominator"], row["reopen_rate"]) == (1, 2, 0.5)
    assert row["withheld_metrics"] == [
        "concessions: no concession mapping",
        "follow_up: zendesk.follow_up is not mapped",
    ]
    assert team.collect()["withheld_metrics"].to_list() == [row["withheld_metrics"]]
    # Nothing withheld: the list is empty, the values are there.
    plain, _ = build_scorecards([rates], [], [counts], contacts, D, 20)
    computed = plain.collect().row(0, named=True)
    assert (computed["follow_up_denominator"], computed["concessions"], computed["withheld_metrics"]) == (
        1,
        2,
        [],
    )


def test_a_metric_withheld_on_any_day_is_withheld_for_its_week() -> None:
    days = (D, D + timedelta(days=1))
    rates = rate_parts(*((d, "a1", "T1", "follow_up", 1, 1) for d in days))
    contacts = contact_rows(*((d, "a1", "T1", "ticket") for d in days))
    first, _ = build_scorecards([rates], [], [], contacts, days[0], 20, withheld={"follow_up": "why"})
    second, _ = build_scorecards([rates], [], [], contacts, days[1], 20)
    weekly = rolled(pl.concat([first, second]), week_of(D)).row(0, named=True)
    assert (weekly["follow_up_numerator"], weekly["follow_up_rate"]) == (None, None)
    assert weekly["withheld_metrics"] == ["follow_up: why"]
    assert weekly["contacts"] == 2
