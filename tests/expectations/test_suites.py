"""Each suite passes clean data and catches one planted violation at a time."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
import sample_frames as s

from expectations import INPUT_SUITES, OUTPUT_SUITES, SUITES
from expectations.gate import ValidationReport, run_validation

Mutation = Callable[[pl.DataFrame], pl.DataFrame]


def validate(name: str, frame: pl.DataFrame, docs: Path, **kwargs) -> ValidationReport:
    return run_validation({name: frame}, run_id=s.RUN, audit_date=s.DAY, docs_dir=docs, **kwargs)


def clean(name: str) -> pl.DataFrame:
    return {**s.inputs(), **s.published_outputs()}[name]


def set_row(column: str, row: int, value, dtype=None) -> Mutation:
    def mutate(frame: pl.DataFrame) -> pl.DataFrame:
        values = frame[column].to_list()
        values[row] = value
        return frame.with_columns(pl.Series(column, values, dtype=dtype or frame.schema[column]))

    return mutate


def duplicate_first_row(frame: pl.DataFrame) -> pl.DataFrame:
    return pl.concat([frame, frame.head(1)])


def test_every_suite_is_registered():
    assert set(SUITES) == set(INPUT_SUITES) | set(OUTPUT_SUITES)


@pytest.mark.parametrize("name", sorted(set(SUITES) - {"run_manifest"}))
def test_clean_frame_passes(name, tmp_path):
    report = validate(name, clean(name), tmp_path)
    assert report.critical_passed, [f.describe() for f in report.failures]
    assert report.failures == ()
    assert report.suite(name).rows == clean(name).height


LATE = s.at(7)  # before every created_at / initiated_at in the samples

PLANTED = [
    ("tickets", duplicate_first_row, "expect_column_values_to_be_unique", "ticket_id"),
    ("tickets", set_row("customer_id", 1, None), "expect_column_values_to_not_be_null", "customer_id"),
    ("tickets", set_row("status", 0, "archived"), "expect_column_values_to_be_in_set", "status"),
    ("tickets", set_row("csat_score", 0, 6), "expect_column_values_to_be_between", "csat_score"),
    (
        "tickets",
        set_row("updated_at", 0, LATE),
        "expect_column_pair_values_a_to_be_greater_than_b",
        "created_at<=updated_at",
    ),
    (
        "ticket_events",
        set_row("concession_amount", 3, None),
        "expect_column_values_to_be_in_set",
        "check_conditional_required",
    ),
    ("ticket_events", set_row("event_type", 0, "chat"), "expect_column_values_to_be_in_set", "event_type"),
    (
        "ticket_events",
        set_row("concession_amount", 3, -5.0),
        "expect_column_values_to_be_between",
        "concession_amount",
    ),
    (
        "calls",
        set_row("ended_at", 0, LATE),
        "expect_column_pair_values_a_to_be_greater_than_b",
        "initiated_at<=ended_at",
    ),
    ("calls", set_row("sentiment_start", 0, -6.0), "expect_column_values_to_be_between", "sentiment_start"),
    ("calls", set_row("direction", 0, "sideways"), "expect_column_values_to_be_in_set", "direction"),
    (
        "agent_scorecard",
        set_row("follow_up_numerator", 0, 3),
        "expect_column_pair_values_a_to_be_greater_than_b",
        "follow_up_numerator<=follow_up_denominator",
    ),
    (
        "agent_scorecard",
        set_row("follow_up_rate", 1, 1.2),
        "expect_column_values_to_be_between",
        "follow_up_rate",
    ),
    (
        "agent_scorecard",
        set_row("follow_up_ci_low", 0, 0.6),
        "expect_column_pair_values_a_to_be_greater_than_b",
        "follow_up_ci_low<=follow_up_rate",
    ),
    ("agent_scorecard", duplicate_first_row, "expect_compound_columns_to_be_unique", "audit_date,agent_id"),
    ("agent_scorecard", set_row("agent_id", 0, None), "expect_column_values_to_not_be_null", "agent_id"),
    (
        "team_scorecard",
        set_row("follow_up_ci_high", 0, 0.4),
        "expect_column_pair_values_a_to_be_greater_than_b",
        "follow_up_rate<=follow_up_ci_high",
    ),
    ("team_scorecard", set_row("contacts", 0, -1), "expect_column_values_to_be_between", "contacts"),
    ("follow_up_audit", set_row("status", 0, "done"), "expect_column_values_to_be_in_set", "status"),
    (
        "follow_up_audit",
        set_row("follow_up_id", 0, None),
        "expect_column_values_to_be_in_set",
        "check_met_has_follow_up",
    ),
    (  # a missed contact that names a follow-up
        "follow_up_audit",
        set_row("follow_up_id", 1, "E7"),
        "expect_column_values_to_be_in_set",
        "check_met_has_follow_up",
    ),
    (
        "follow_up_audit",
        set_row("customer_key", 0, s.CUSTOMERS[0]),
        "expect_column_values_to_match_regex",
        "customer_key",
    ),
    ("follow_up_audit", set_row("run_id", 2, None), "expect_column_values_to_not_be_null", "run_id"),
    (
        "escalation_audit",
        set_row("escalation_class", 0, "ignored"),
        "expect_column_values_to_be_in_set",
        "escalation_class",
    ),
    (
        "escalation_audit",
        set_row("signals", 1, ["urgent"]),
        "expect_column_values_to_be_in_set",
        "check_class_matches_signals",
    ),
    ("concession_audit", set_row("amount", 0, -1.0), "expect_column_values_to_be_between", "amount"),
    (
        "concession_audit",
        set_row("violations", 0, ["too_generous"]),
        "expect_column_values_to_be_in_set",
        "check_violations_known",
    ),
    ("concession_audit", duplicate_first_row, "expect_column_values_to_be_unique", "concession_id"),
    (  # a concession event always has an amount (the contract requires it; a call's is optional)
        "concession_audit",
        set_row("amount", 0, None),
        "expect_column_values_to_be_in_set",
        "check_ticket_concession_has_amount_and_currency",
    ),
    ("concession_flags", set_row("p_value", 0, 1.5), "expect_column_values_to_be_between", "p_value"),
    (
        "concession_flags",
        set_row("q_value", 0, 0.0001),
        "expect_column_pair_values_a_to_be_greater_than_b",
        "p_value<=q_value",
    ),
    (  # an amount outlier granted after the day it was tested on
        "concession_flags",
        set_row("granted_on", 0, s.DAY + dt.timedelta(days=1)),
        "expect_column_pair_values_a_to_be_greater_than_b",
        "granted_on<=audit_date",
    ),
    (  # ... or before the window it was tested in
        "concession_flags",
        set_row("granted_on", 0, s.DAY - dt.timedelta(days=28)),
        "expect_column_pair_values_a_to_be_greater_than_b",
        "window_start<=granted_on",
    ),
    (
        "concession_flags",
        set_row("evidence_ids", 0, []),
        "expect_column_values_to_be_in_set",
        "check_has_evidence",
    ),
    (
        "concession_flags",
        set_row("subject_id", 1, s.CUSTOMERS[1]),
        "expect_column_values_to_be_in_set",
        "check_customer_pseudonymised",
    ),
    ("quarantine", set_row("entity", 0, "orders"), "expect_column_values_to_be_in_set", "entity"),
    ("quarantine", set_row("row_number", 0, 0), "expect_column_values_to_be_between", "row_number"),
    ("agents", set_row("role", 0, "manager"), "expect_column_values_to_be_in_set", "role"),
    ("agents", duplicate_first_row, "expect_column_values_to_be_unique", "agent_id"),
    (
        "agents",
        set_row("first_seen_on", 0, s.DAY + dt.timedelta(days=30)),
        "expect_column_pair_values_a_to_be_greater_than_b",
        "first_seen_on<=last_seen_on",
    ),
    ("teams", set_row("agents", 0, -1), "expect_column_values_to_be_between", "agents"),
    ("teams", set_row("team_id", 0, None), "expect_column_values_to_not_be_null", "team_id"),
]


@pytest.mark.parametrize(("name", "mutate", "expectation_type", "column"), PLANTED)
def test_planted_violation_is_critical(name, mutate, expectation_type, column, tmp_path):
    report = validate(name, mutate(clean(name)), tmp_path)
    assert not report.critical_passed
    failed = {(f.expectation_type, f.column) for f in report.critical_failures}
    assert (expectation_type, column) in failed
    # Only the planted row's neighbours in the same rule family may also fail.
    assert len(failed) <= 2


def test_a_call_concession_without_amount_or_currency_publishes(tmp_path):
    """The contract makes a call's concession_amount and currency optional: such a row is
    published (its cap unchecked, its currency a violation), not a reason to hold the day."""
    frame = set_row("currency", 1, None)(set_row("amount", 1, None)(clean("concession_audit")))
    frame = set_row("amount_policy_currency", 1, None)(frame)
    assert validate("concession_audit", frame, tmp_path).critical_passed


def test_failing_rows_are_reported_by_key(tmp_path):
    report = validate("tickets", set_row("status", 1, "archived")(clean("tickets")), tmp_path)
    (failure,) = report.critical_failures
    assert failure.unexpected_count == 1
    assert failure.sample_keys == ({"ticket_id": "T2"},)


def test_compound_key_samples(tmp_path):
    report = validate("follow_up_audit", set_row("status", 1, "done")(clean("follow_up_audit")), tmp_path)
    (failure,) = report.critical_failures
    assert failure.sample_keys == ({"contact_type": "call", "contact_id": "C1"},)


def test_missing_published_column_is_critical(tmp_path):
    report = validate("follow_up_audit", clean("follow_up_audit").drop("status"), tmp_path)
    assert not report.critical_passed
    assert ("expect_column_values_to_be_in_set", "status") in {
        (f.expectation_type, f.column) for f in report.critical_failures
    }


@pytest.mark.parametrize(("typical", "is_warned"), [(6, False), (7, True), (8, True)])
def test_low_volume_day_is_a_warning_not_a_failure(typical, is_warned, tmp_path):
    # 3 ticket rows: warned when under half the typical volume, i.e. 3 < ceil(typical / 2).
    params = SUITE_PARAMS(typical_rows={"tickets": typical})
    report = validate("tickets", clean("tickets"), tmp_path, params=params)
    assert report.critical_passed
    warned = [f for f in report.warnings if f.expectation_type == "expect_table_row_count_to_be_between"]
    assert bool(warned) == is_warned
    if warned:
        assert warned[0].observed == "3"


def test_unknown_category_is_a_warning(tmp_path):
    params = SUITE_PARAMS(known_categories=("billing",))
    report = validate("tickets", clean("tickets"), tmp_path, params=params)
    assert report.critical_passed
    (warned,) = report.warnings
    assert (warned.column, warned.unexpected_count, warned.sample_keys) == (
        "category",
        1,
        ({"ticket_id": "T3"},),
    )


def test_unknown_frame_is_refused(tmp_path):
    with pytest.raises(ValueError, match="no expectation suite for frame"):
        run_validation(
            {"orders": pl.DataFrame()}, run_id="r", audit_date=dt.date(2026, 1, 1), docs_dir=tmp_path
        )


def test_raw_personal_values_never_reach_results(tmp_path):
    # Plant raw personal data where it fails a check: the result names the key only.
    outputs = s.published_outputs()
    frames = {
        **s.inputs(),
        "follow_up_audit": set_row("customer_key", 0, s.CUSTOMERS[0])(outputs["follow_up_audit"]),
        "concession_flags": set_row("subject_id", 1, s.CUSTOMERS[1])(outputs["concession_flags"]),
        "tickets": set_row("customer_id", 1, None)(s.tickets()),
    }
    report = run_validation(frames, run_id=s.RUN, audit_date=s.DAY, docs_dir=tmp_path)
    assert not report.critical_passed
    texts = [p.read_text(errors="ignore") for p in tmp_path.rglob("*") if p.suffix in (".json", ".html")]
    assert texts
    for secret in (*s.CUSTOMERS, *s.FREE_TEXT, "We are on it"):
        assert not any(secret in t for t in texts), secret
    detail = json.loads((tmp_path / "results" / "follow_up_audit.json").read_text())
    regex = next(r for r in detail["results"] if r["expectation_config"]["type"].endswith("match_regex"))
    assert regex["result"]["unexpected_index_list"] == [{"contact_type": ["ticket"], "contact_id": ["T1"]}]


from expectations import SuiteParams as SUITE_PARAMS  # noqa: E402


def test_a_lazy_input_is_validated_like_the_same_frame_in_memory(tmp_path):
    """A lazy frame (a scan of Parquet files, as the store's tables are) is validated like the
    same frame in memory: same checks, same rows, same failing keys (here a concession without
    its currency)."""
    events = s.ticket_events()
    broken = events.with_columns(
        pl.when(pl.col("event_type") == "concession")
        .then(None)
        .otherwise(pl.col("currency"))
        .alias("currency")
    )
    path = tmp_path / "ticket_events.parquet"
    broken.write_parquet(path)
    eager = validate("ticket_events", broken, tmp_path / "eager")
    lazy = validate("ticket_events", pl.scan_parquet(path), tmp_path / "lazy")
    assert lazy.suites == eager.suites
    assert [f.describe() for f in lazy.critical_failures] == [f.describe() for f in eager.critical_failures]
    assert not lazy.critical_passed


def test_a_pending_follow_up_may_already_name_the_follow_up_seen(tmp_path):
    """Pending while the window is open, even with a follow-up seen (docs/metrics.md, Pending): the
    gate must not block such a day."""
    frame = set_row("follow_up_id", 2, "E8")(clean("follow_up_audit"))
    assert frame["status"][2] == "pending"
    assert validate("follow_up_audit", frame, tmp_path).critical_passed
