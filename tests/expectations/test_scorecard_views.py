"""The scorecards' long views: the checks they run, and failures named by agent and metric."""

from __future__ import annotations

import json

import polars as pl
import pytest
import sample_frames as s
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from expectations import SuiteParams
from expectations._scorecard import (
    LOW_VOLUME_CHECK,
    NULL_RATE_CHECK,
    counts_long,
    low_volume_check,
    rate_metrics,
    rates_long,
    required_columns,
)
from expectations.gate import ValidationFailed, ValidationReport, run_validation
from transforms.stats import rate_columns

KEY = ("audit_date", "agent_id")


def validate(name: str, frame: pl.DataFrame, docs, **params) -> ValidationReport:
    suite_params = SuiteParams(**params)
    return run_validation({name: frame}, run_id=s.RUN, audit_date=s.DAY, docs_dir=docs, params=suite_params)


def set_cell(frame: pl.DataFrame, column: str, row: int, value) -> pl.DataFrame:
    values = frame[column].to_list()
    values[row] = value
    return frame.with_columns(pl.Series(column, values, dtype=frame.schema[column]))


def failed(report: ValidationReport) -> dict[tuple[str, str | None], tuple]:
    """(expectation type, column) -> (rows, sample keys, validation) of every critical failure."""
    return {
        (f.expectation_type, f.column): (f.unexpected_count, f.sample_keys, f.validation)
        for f in report.critical_failures
    }


DAY = f"{s.DAY.isoformat()}T00:00:00"  # as GX reports a date key (pandas turns it into a timestamp)
A1, A2 = {"audit_date": DAY, "agent_id": "A1"}, {"audit_date": DAY, "agent_id": "A2"}
PAIR = "expect_column_pair_values_a_to_be_greater_than_b"
IN_SET = "expect_column_values_to_be_in_set"


# --- through Great Expectations ---------------------------------------------------------------


@pytest.mark.parametrize("min_volume", [None, 0, 5, 20])
def test_clean_scorecards_pass_with_or_without_min_volume(min_volume, tmp_path):
    # Sample denominators are 0, 2 and 2, all marked low volume: any min_volume above 2 fits,
    # and without one, one threshold explains them. min_volume 0 marks nothing low: see below.
    frames = {"agent_scorecard": s.agent_scorecard(), "team_scorecard": s.team_scorecard()}
    report = run_validation(
        frames, run_id=s.RUN, audit_date=s.DAY, docs_dir=tmp_path, params=SuiteParams(min_volume=min_volume)
    )
    assert report.critical_passed == (min_volume != 0), [f.describe() for f in report.failures]


def test_every_rule_runs_once_for_all_metrics(tmp_path):
    # Wide suite: audit_date, run_id, policy_version and agent_id not null, unique key, columns
    # present (6); rates view: 12 rules; counts view: 2. Independent of the number of metrics.
    report = validate("agent_scorecard", s.agent_scorecard(), tmp_path)
    assert report.suite("agent_scorecard").evaluated == 20
    assert report.suite("agent_scorecard").rows == 2
    assert [s_.suite for s_ in report.suites] == ["agent_scorecard"]
    results = sorted(p.name for p in (tmp_path / "results").iterdir())
    assert results == ["agent_scorecard.json", "agent_scorecard_counts.json", "agent_scorecard_rates.json"]
    index = (tmp_path / "index.html").read_text()
    assert "agent_scorecard_rates" in index and "agent_scorecard_counts" in index


def test_ci_high_below_rate_names_the_agent_and_the_metric(tmp_path):
    frame = set_cell(s.agent_scorecard(), "follow_up_ci_high", 1, 0.9)  # A2: rate 1.0
    report = validate("agent_scorecard", frame, tmp_path)
    assert failed(report) == {
        (PAIR, "follow_up_rate<=follow_up_ci_high"): (1, (A2,), "agent_scorecard_rates"),
    }
    with pytest.raises(ValidationFailed) as info:
        report.raise_for_critical()
    assert (
        "agent_scorecard.follow_up_rate<=follow_up_ci_high [agent_scorecard_rates]: "
        f"{PAIR} (1 rows) e.g. [{A2}]"
    ) in str(info.value)
    results = json.loads((tmp_path / "results" / "agent_scorecard_rates.json").read_text())
    [pair] = [r for r in results["results"] if not r["success"]]
    assert pair["result"]["unexpected_index_column_names"] == ["audit_date", "agent_id", "metric"]
    assert [(r["agent_id"], r["metric"]) for r in pair["result"]["unexpected_index_list"]] == [
        ("A2", "follow_up")
    ]


def test_one_rule_failing_in_two_metrics_is_reported_per_metric(tmp_path):
    frame = set_cell(s.agent_scorecard(), "follow_up_numerator", 0, 3)  # A1: 3 of 2
    frame = set_cell(frame, "escalation_numerator", 1, 1)  # A2: 1 of 0
    frame = set_cell(frame, "escalation_rate", 1, 0.5)  # (a rate, so only the ratio is wrong)
    frame = set_cell(frame, "escalation_ci_low", 1, 0.1)
    frame = set_cell(frame, "escalation_ci_high", 1, 0.9)
    report = validate("agent_scorecard", frame, tmp_path)
    assert failed(report) == {
        (PAIR, "follow_up_numerator<=follow_up_denominator"): (1, (A1,), "agent_scorecard_rates"),
        (PAIR, "escalation_numerator<=escalation_denominator"): (1, (A2,), "agent_scorecard_rates"),
        (IN_SET, "check_escalation_rate_null_iff_no_denominator"): (1, (A2,), "agent_scorecard_rates"),
    }
    assert report.suite("agent_scorecard").unsuccessful == 2  # two GX expectations failed


@pytest.mark.parametrize(
    ("denominator", "low_volume", "is_ok"),
    [(1, True, True), (2, True, False), (2, False, True), (3, False, True), (1, False, False)],
)
def test_low_volume_must_match_min_volume(denominator, low_volume, is_ok, tmp_path):
    # min_volume 2: a denominator of 1 is low volume, 2 is not. A1 is right, A2 as given.
    frame = s.agent_scorecard().with_columns(
        follow_up_numerator=pl.lit(1, pl.Int64), follow_up_denominator=pl.lit(denominator, pl.Int64)
    )
    frame = frame.with_columns(rate_columns("follow_up", 2)[:3]).with_columns(
        is_follow_up_low_volume=pl.Series([denominator < 2, low_volume])
    )
    report = validate("agent_scorecard", frame, tmp_path, min_volume=2)
    check = (IN_SET, "check_follow_up_low_volume_matches_min_volume")
    assert failed(report) == ({} if is_ok else {check: (1, (A2,), "agent_scorecard_rates")})


def test_low_volume_without_min_volume_must_follow_one_threshold(tmp_path):
    # A1 (denominator 2) is not low volume, A2 (denominator 2) is: no threshold explains both.
    frame = set_cell(s.agent_scorecard(), "is_follow_up_low_volume", 0, False)
    report = validate("agent_scorecard", frame, tmp_path)
    check = (IN_SET, "check_follow_up_low_volume_matches_min_volume")
    assert failed(report) == {check: (2, (A1, A2), "agent_scorecard_rates")}


@pytest.mark.parametrize(
    ("column", "row", "value", "metric"),
    [("follow_up_rate", 0, None, "follow_up"), ("reopen_rate", 1, 0.0, "reopen")],
)
def test_rate_is_null_exactly_when_the_denominator_is_zero(column, row, value, metric, tmp_path):
    frame = set_cell(s.agent_scorecard(), column, row, value)
    report = validate("agent_scorecard", frame, tmp_path)
    keys = (A1,) if row == 0 else (A2,)
    assert failed(report) == {
        (IN_SET, f"check_{metric}_rate_null_iff_no_denominator"): (1, keys, "agent_scorecard_rates")
    }


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda f: set_cell(f, "calls_answered", 0, None),
            ("expect_column_values_to_not_be_null", "calls_answered"),
        ),
        (
            lambda f: set_cell(f, "lost_control", 1, -2),
            ("expect_column_values_to_be_between", "lost_control"),
        ),
        (
            lambda f: set_cell(f, "reopen_denominator", 0, None),
            ("expect_column_values_to_not_be_null", "reopen_denominator"),
        ),
        (
            lambda f: set_cell(f, "de_escalation_ci_low", 1, -0.1),
            ("expect_column_values_to_be_between", "de_escalation_ci_low"),
        ),
    ],
)
def test_counts_and_rate_parts_are_checked_per_column(mutate, expected, tmp_path):
    report = validate("agent_scorecard", mutate(s.agent_scorecard()), tmp_path)
    assert expected in failed(report)


@pytest.mark.parametrize(
    "dropped",
    [["follow_up_ci_low"], ["contacts"], [c for c in s.agent_scorecard().columns if "csat_good" in c]],
)
def test_a_missing_published_column_fails_by_name(dropped, tmp_path):
    report = validate("agent_scorecard", s.agent_scorecard().drop(dropped), tmp_path)
    structure = [
        f for f in report.critical_failures if f.expectation_type == "expect_table_columns_to_match_set"
    ]
    assert [(f.suite, f.validation, f.observed) for f in structure] == [
        ("agent_scorecard", "agent_scorecard", f"missing columns {sorted(dropped)}")
    ]


def test_a_new_metric_is_checked_without_touching_the_suite(tmp_path):
    frame = s.team_scorecard().with_columns(
        zz_new_numerator=pl.Series([5, 0]),
        zz_new_denominator=pl.Series([4, 0]),
        zz_new_rate=pl.Series([1.25, None]),
    )
    report = validate("team_scorecard", frame, tmp_path)
    found = failed(report)
    team1 = ({"audit_date": DAY, "team_id": "TEAM1"},)
    assert found[(PAIR, "zz_new_numerator<=zz_new_denominator")] == (1, team1, "team_scorecard_rates")
    assert found[("expect_column_values_to_be_between", "zz_new_rate")] == (1, team1, "team_scorecard_rates")
    structure = found[("expect_table_columns_to_match_set", None)]
    assert structure[2] == "team_scorecard"
    missing = [f.observed for f in report.critical_failures if f.column is None]
    assert missing == ["missing columns ['is_zz_new_low_volume', 'zz_new_ci_high', 'zz_new_ci_low']"]


# --- the views in Polars ----------------------------------------------------------------------


def wide(rows: list[tuple]) -> pl.LazyFrame:
    """(agent_id, numerator, denominator, low_volume) of metric `m`, with Wilson columns."""
    frame = pl.DataFrame(
        rows, schema=["agent_id", "m_numerator", "m_denominator", "is_m_low_volume"], orient="row"
    ).with_columns(audit_date=pl.lit(s.DAY))
    return frame.with_columns(rate_columns("m", 1)[:3]).lazy()


def test_rates_long_has_one_row_per_agent_and_metric():
    frame = pl.LazyFrame(
        {
            "audit_date": [s.DAY] * 2,
            "agent_id": ["A1", "A2"],
            "b_numerator": [1, 0],
            "b_denominator": [2, 0],
            "b_rate": [0.5, None],
            "b_ci_low": [0.1, None],
            "b_ci_high": [0.9, None],
            "is_b_low_volume": [True, True],
            "a_numerator": [3, 1],
            "a_denominator": [3, 1],
            "a_rate": [1.0, 1.0],
            "contacts": [9, 9],
        }
    )
    got = rates_long(frame, KEY, SuiteParams(min_volume=3)).collect()
    expected = pl.DataFrame(
        {
            "audit_date": [s.DAY] * 4,
            "agent_id": ["A1", "A2", "A1", "A2"],
            "metric": ["a", "a", "b", "b"],
            "numerator": [3, 1, 1, 0],
            "denominator": [3, 1, 2, 0],
            "rate": [1.0, 1.0, 0.5, None],
            "ci_low": pl.Series([None, None, 0.1, None], dtype=pl.Float64),
            "ci_high": pl.Series([None, None, 0.9, None], dtype=pl.Float64),
            "low_volume": pl.Series([None, None, True, True], dtype=pl.Boolean),
            # a has no interval nor low_volume column: both checks fail (and the suite names them)
            LOW_VOLUME_CHECK: [False, False, True, True],
            NULL_RATE_CHECK: [False, False, True, True],
        }
    )
    assert_frame_equal(got, expected)


def test_counts_long_has_one_row_per_key_and_count():
    frame = pl.LazyFrame({"audit_date": [s.DAY], "agent_id": ["A1"], "contacts": [4], "lost_control": [1]})
    got = counts_long(frame, KEY, SuiteParams()).collect()
    expected = pl.DataFrame(
        {
            "audit_date": [s.DAY] * 2,
            "agent_id": ["A1"] * 2,
            "count": ["contacts", "lost_control"],
            "value": [4, 1],
        }
    )
    assert_frame_equal(got, expected)


def test_an_empty_scorecard_gives_empty_views():
    empty = s.agent_scorecard().clear().lazy()
    assert rates_long(empty, KEY, SuiteParams()).collect().height == 0
    assert counts_long(empty, KEY, SuiteParams()).collect().height == 0


def test_metrics_are_discovered_by_numerator_or_denominator():
    columns = ["a_numerator", "b_denominator", "c_rate", "follow_up_rate", "contacts"]
    assert rate_metrics(columns) == ["a", "b"]
    assert {"b_numerator", "is_b_low_volume", "run_id", "follow_up_rate"} <= set(
        required_columns("agent", columns)
    )


rows = st.lists(
    st.tuples(st.integers(0, 30), st.integers(0, 30)).map(lambda t: (min(t), max(t))), min_size=1, max_size=8
)


@settings(deadline=None)  # a shared machine: no timing in tests
@given(rows, st.integers(0, 40))
def test_wilson_scorecards_always_pass_the_checks(counts, min_volume):
    frame = wide([(f"A{i}", n, d, d < min_volume) for i, (n, d) in enumerate(counts)])
    for params in (SuiteParams(min_volume=min_volume), SuiteParams()):
        checks = rates_long(frame, KEY, params).select(LOW_VOLUME_CHECK, NULL_RATE_CHECK).collect()
        assert checks.select(pl.all().all()).row(0) == (True, True)


@settings(deadline=None)
@given(st.lists(st.tuples(st.integers(0, 10), st.booleans()), min_size=1, max_size=8))
def test_without_min_volume_low_volume_passes_iff_one_threshold_explains_it(marks):
    frame = pl.DataFrame(marks, schema=["denominator", "low_volume"], orient="row")
    checked = frame.select(low_volume_check(None)).to_series()
    explained = any(all(low == (d < t) for d, low in marks) for t in range(0, 12))
    assert checked.all() == explained


def test_a_withheld_metric_passes_null_and_an_unexplained_null_fails(tmp_path):
    frame = s.agent_scorecard()
    follow_up = [c for c in frame.columns if c.startswith(("follow_up_", "is_follow_up_"))]
    nulled = frame.with_columns(pl.lit(None, frame.schema[c]).alias(c) for c in follow_up)
    notes = [["follow_up: zendesk.follow_up is not mapped"]] * nulled.height
    withheld = nulled.with_columns(pl.Series("withheld_metrics", notes, dtype=pl.List(pl.String())))
    assert validate("agent_scorecard", withheld, tmp_path / "withheld").critical_passed
    unexplained = failed(validate("agent_scorecard", nulled, tmp_path / "unexplained"))
    assert unexplained[("expect_column_values_to_not_be_null", "follow_up_numerator")][:2] == (2, (A1, A2))
