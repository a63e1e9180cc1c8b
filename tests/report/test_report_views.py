"""The report's arithmetic: roll-ups sum numerators and denominators, never average rates."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal
from report_fixtures import wilson

from report import views

D = date(2026, 11, 20)


def test_trend_sums_numerators_and_denominators_instead_of_averaging_rates() -> None:
    # t1 1/2 = 50%, t2 9/10 = 90%: the mean of rates is 70%, the day's rate is 10/12.
    rows = pl.DataFrame(
        {
            "audit_date": [D, D],
            "team_id": ["t1", "t2"],
            "follow_up_numerator": [1, 9],
            "follow_up_denominator": [2, 10],
            "follow_up_rate": [0.5, 0.9],
        }
    )
    trend = views.daily_trend(rows, min_volume=20)
    low, high = wilson(10, 12)
    expected = pl.DataFrame(
        {
            "audit_date": [D],
            "follow_up_numerator": [10],
            "follow_up_denominator": [12],
            "follow_up_rate": [10 / 12],
            "follow_up_ci_low": [low],
            "follow_up_ci_high": [high],
            "is_follow_up_low_volume": [True],
        }
    )
    assert_frame_equal(trend, expected, check_exact=False, rel_tol=1e-12)


@pytest.mark.parametrize(("denominator", "low_volume"), [(0, True), (19, True), (20, False), (21, False)])
def test_low_volume_marks_denominators_under_min_volume(denominator: int, low_volume: bool) -> None:
    frame = pl.DataFrame({"reopen_numerator": [0], "reopen_denominator": [denominator]})
    assert views.complete_rates(frame, min_volume=20)["is_reopen_low_volume"].to_list() == [low_volume]


def test_complete_rates_keeps_published_values() -> None:
    # A published marker wins over the recomputed one (the publisher's min_volume may differ).
    frame = pl.DataFrame(
        {
            "reopen_numerator": [1],
            "reopen_denominator": [4],
            "is_reopen_low_volume": [False],
            "reopen_rate": [0.3],
        }
    )
    out = views.complete_rates(frame, min_volume=20)
    assert out["is_reopen_low_volume"].to_list() == [False]
    assert out["reopen_rate"].to_list() == [0.3]
    assert out["reopen_ci_low"].to_list() == [pytest.approx(wilson(1, 4)[0])]


def test_rate_metrics_tolerates_missing_and_extra_metrics() -> None:
    frame = pl.DataFrame(
        {
            "agent_id": ["a"],
            "reopen_numerator": [1],
            "reopen_denominator": [2],
            "follow_up_numerator": [1],
            "follow_up_denominator": [2],
            "zz_new_numerator": [1],
            "zz_new_denominator": [3],
            "orphan_denominator": [3],  # no numerator: not a rate
        }
    )
    assert views.rate_metrics(frame) == ["follow_up", "reopen", "zz_new"]


def test_headline_adds_an_all_teams_row_summed_from_teams() -> None:
    teams = pl.DataFrame(
        {
            "team_id": ["t2", "t1"],
            "contacts": [5, 40],
            "follow_up_numerator": [0, 30],
            "follow_up_denominator": [4, 36],
        }
    )
    out = views.headline(teams, None, min_volume=20)
    assert out["team_id"].to_list() == ["t1", "t2", views.ALL_TEAMS]
    assert out["contacts"].to_list() == [40, 5, 45]
    assert out["follow_up_numerator"].to_list() == [30, 0, 30]
    assert out["follow_up_denominator"].to_list() == [36, 4, 40]
    assert out["follow_up_rate"].to_list() == [pytest.approx(30 / 36), 0.0, 0.75]
    assert out["is_follow_up_low_volume"].to_list() == [False, True, False]


def test_headline_rolls_up_agents_when_no_team_scorecard() -> None:
    agents = pl.DataFrame(
        {"agent_id": ["a", "b", "c"], "team_id": ["t1", "t1", "t2"], "reopen_numerator": [1, 2, 0]}
    ).with_columns(reopen_denominator=pl.Series([3, 3, 1]))
    out = views.headline(None, agents, min_volume=2)
    assert out.select("team_id", "reopen_numerator", "reopen_denominator").rows() == [
        ("t1", 3, 6),
        ("t2", 0, 1),
        (views.ALL_TEAMS, 3, 7),
    ]
    assert out["is_reopen_low_volume"].to_list() == [False, True, False]


def test_escalation_classes_by_agent_counts_every_class() -> None:
    audit = pl.DataFrame(
        {
            "agent_id": ["a", "a", "a", "b"],
            "team_id": ["t", "t", "t", "t"],
            "escalation_class": ["missed", "missed", "timely", "unprompted"],
        }
    )
    out = views.escalation_classes_by_agent(audit)
    expected = pl.DataFrame(
        {
            "agent_id": ["a", "b"],
            "team_id": ["t", "t"],
            "timely": [1, 0],
            "late": [0, 0],
            "missed": [2, 0],
            "handled": [0, 0],
            "unprompted": [0, 1],
        }
    )
    assert_frame_equal(out, expected)


def test_escalations_to_review_are_missed_and_late_only() -> None:
    audit = pl.DataFrame(
        {
            "agent_id": ["a", "b", "c", "d"],
            "contact_id": ["1", "2", "3", "4"],
            "escalation_class": ["late", "handled", "missed", "timely"],
        }
    )
    out = views.escalations_to_review(audit)
    assert out.select("escalation_class", "contact_id").rows() == [("late", "1"), ("missed", "3")]


def test_policy_violations_are_concessions_with_a_violation() -> None:
    audit = pl.DataFrame(
        {"agent_id": ["a", "a"], "concession_id": ["E1", "E2"], "violations": [[], ["over_cap"]]}
    )
    assert views.policy_violations(audit)["concession_id"].to_list() == ["E2"]


@pytest.mark.parametrize(
    ("manifest", "expected"),
    [
        (None, views.RunInfo("r2", None, None)),
        (
            pl.DataFrame(
                {
                    "run_id": ["r1", "r2"],
                    "policy_version": ["p1", "p2"],
                    "validation_success": [False, True],
                }
            ),
            views.RunInfo("r2", "p2", "passed"),
        ),
        (
            # The scorecard's run is absent from the manifest: the latest run is shown.
            pl.DataFrame(
                {
                    "run_id": ["r9", "r8"],
                    "policy_version": ["p", "p"],
                    "validation_status": ["failed", "passed"],
                    "started_at": ["2026-11-21T03:00", "2026-11-21T02:00"],
                }
            ),
            views.RunInfo("r9", "p", "failed"),
        ),
        (
            # warehouse/manifest.py: a draft row (no finish time yet) and the finished row of one run.
            pl.DataFrame(
                {
                    "run_id": ["r2", "r2"],
                    "status": ["failed", "pending"],
                    "policy_version": ["p", "p"],
                    "is_critical_passed": [False, None],
                    "failure_reason": ["critical checks failed", None],
                    "finished_at": ["2026-11-21T02:05", None],
                    "data_docs_uri": ["/r/data_docs/x/index.html", None],
                }
            ),
            views.RunInfo("r2", "p", "failed", "critical checks failed", "/r/data_docs/x/index.html"),
        ),
    ],
)
def test_run_info_prefers_the_run_that_published_the_scorecard(
    manifest: pl.DataFrame | None, expected: views.RunInfo
) -> None:
    scorecard = pl.DataFrame({"run_id": ["r2"], "agent_id": ["a"]})
    if expected.run_id == "r9":
        scorecard = scorecard.with_columns(run_id=pl.lit("r-unknown"))
    assert views.run_info(manifest, scorecard) == expected


def test_a_withheld_metric_rolls_up_to_nothing_not_to_zero_over_zero() -> None:
    """follow_up withheld (null in every team's row, the mapping cannot see follow-ups) stays
    null in the all-teams row; a metric with values in some rows sums those."""
    frame = pl.DataFrame(
        {
            "team_id": ["t1", "t2"],
            "follow_up_numerator": [None, None],
            "follow_up_denominator": [None, None],
            "escalation_numerator": [3, None],
            "escalation_denominator": [4, 2],
        },
        schema_overrides={"follow_up_numerator": pl.Int64, "follow_up_denominator": pl.Int64},
    )
    total = views.rollup(frame.with_columns(pl.lit("All").alias("team_id")), ["team_id"], min_volume=1)
    row = total.row(0, named=True)
    assert (row["follow_up_numerator"], row["follow_up_denominator"], row["follow_up_rate"]) == (
        None,
        None,
        None,
    )
    assert (row["escalation_numerator"], row["escalation_denominator"]) == (3, 6)


counts = st.lists(
    st.tuples(st.integers(0, 60), st.integers(0, 60)).map(lambda t: (min(t), max(t))), min_size=1, max_size=8
)


@settings(max_examples=60, deadline=None)
@given(counts)
def test_rollup_is_additive_and_rates_stay_in_their_interval(parts: list[tuple[int, int]]) -> None:
    frame = pl.DataFrame(
        {
            "audit_date": [D] * len(parts),
            "team_id": [f"t{i % 2}" for i in range(len(parts))],
            "follow_up_numerator": [k for k, _ in parts],
            "follow_up_denominator": [n for _, n in parts],
        }
    )
    whole = views.rollup(frame, ["audit_date"], min_volume=20)
    k, n = sum(p[0] for p in parts), sum(p[1] for p in parts)
    assert whole.select("follow_up_numerator", "follow_up_denominator").row(0) == (k, n)
    # Rolling up the team roll-ups gives the same day as rolling up the rows.
    by_team = views.rollup(frame, ["audit_date", "team_id"], min_volume=20)
    again = views.rollup(by_team, ["audit_date"], min_volume=20)
    assert_frame_equal(again, whole)
    row = whole.row(0, named=True)
    if n == 0:
        assert row["follow_up_rate"] is None and row["follow_up_ci_low"] is None
    else:
        assert row["follow_up_ci_low"] <= row["follow_up_rate"] <= row["follow_up_ci_high"]
        assert row["follow_up_rate"] == pytest.approx(k / n)
    assert row["is_follow_up_low_volume"] == (n < 20)
