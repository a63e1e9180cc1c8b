"""How runs fail: a transient I/O error is retried and the run completes; a critical
validation failure ends the run failed, publishes its Data Docs and a failed manifest row,
touches no audit table, and is not retried (the same data fails the same checks).

Task run states are read back from the Prefect API, not inferred from our own wrappers.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

import polars as pl
import pytest
from flow_fixtures import (
    DEFAULT_DAY,
    FINAL_DAY,
    AuditPlaces,
    FlowOutcome,
    artifacts_of,
    runs_named,
    settled_task_runs,
    state_names,
)

import flows.daily as daily
from catalogue import AUDIT_TABLES, MANIFEST_TABLE
from warehouse.delta import read_table, table_history

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("prefect-published")]

RETRY_STATES = {"AwaitingRetry", "Retrying"}


def _flow_run_id(state: Any) -> UUID:
    flow_run_id = state.state_details.flow_run_id
    assert flow_run_id is not None
    return flow_run_id


def _no_retry_delay(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """Keep the task's retries but wait 0 s between them (the backoff is not under test)."""
    monkeypatch.setattr(daily, name, getattr(daily, name).with_options(retry_delay_seconds=0))


# --- a transient I/O failure ------------------------------------------------------------
# The published run (conftest.py) is the run whose first listing of the landing store drops
# the connection: these tests read its retried ingest, the tests of test_daily_flow_s3.py the rest.

DAYS = (FINAL_DAY, DEFAULT_DAY)  # the days the scheduled run audits


def test_transient_failure_run_completes(published_run: FlowOutcome) -> None:
    assert published_run.state.is_completed(), published_run.state.message
    assert published_run.ingest_attempts == ("called", "called")
    assert published_run.state.result()["validation_passed"] is True


def test_the_scheduled_run_returns_every_day_it_audited(published_run: FlowOutcome) -> None:
    """`audit run` without --date prints each of them (it printed only the last)."""
    days = published_run.state.result()["days"]
    assert [str(d["audit_date"]) for d in days] == [d.isoformat() for d in DAYS]
    assert all(d["report_url"].endswith("index.html") for d in days)


def test_the_failed_io_task_was_retried_by_prefect(published_run: FlowOutcome) -> None:
    runs = settled_task_runs(published_run.flow_run_id)
    [ingest] = runs_named(runs, "ingest_new_exports")
    assert ingest.run_count == 2
    names = state_names(ingest.id)
    assert RETRY_STATES & set(names), names
    assert names[-1] == "Completed"
    for name in ("read_day_inputs", "compute_metrics", "validate_and_publish", "publish_html_report"):
        day_runs = runs_named(runs, name)
        assert len(day_runs) == len(DAYS), name  # one per audited day, none retried
        for run in day_runs:
            assert (run.run_count, run.state_name) == (1, "Completed"), name


def test_transient_failure_publishes_each_day_once(published_run: FlowOutcome, s3_credentials: None) -> None:
    # Only this run's commits and manifest rows: later runs on its bucket (the re-run of
    # test_daily_flow_s3.py, the failed validation below) add their own.
    places, run = published_run.places, str(published_run.flow_run_id)
    history = table_history(places.warehouse, "agent_scorecard", places.settings)
    history = history.filter(pl.col("run_id") == run)
    assert sorted(history["audit_date"].to_list()) == [d.isoformat() for d in DAYS]  # each day once
    for day in DAYS:
        manifest = read_table(places.warehouse, MANIFEST_TABLE, places.settings, audit_date=day)
        manifest = manifest.filter(pl.col("run_id") == run).sort("finished_at", nulls_last=False)
        assert manifest.select("run_id", "status").rows() == [(run, "publishing"), (run, "succeeded")], day
        assert manifest["attempt"].n_unique() == 1, day  # one attempt: its intent and its publish point


# --- a critical validation failure ------------------------------------------------------


def _impossible_rate(real_collect: Any) -> Any:
    """collect_audit, with the first agent's follow-up rate at 1.5 (a rate above 1)."""

    def collect(tables: Any) -> dict[str, pl.DataFrame]:
        out: dict[str, pl.DataFrame] = real_collect(tables)
        first = pl.int_range(pl.len()) == 0
        out["agent_scorecard"] = out["agent_scorecard"].with_columns(
            pl.when(first).then(1.5).otherwise(pl.col("follow_up_rate")).alias("follow_up_rate")
        )
        return out

    return collect


def _versions(places: AuditPlaces) -> dict[str, int]:
    return {
        name: table_history(places.warehouse, name, places.settings)["version"].to_list()[-1]
        for name in AUDIT_TABLES
    }


@pytest.fixture(scope="module")
def failed_validation_run(
    prefect_harness: None, s3_endpoint: str, published_run: FlowOutcome
) -> tuple[FlowOutcome, dict[str, int], dict[str, int]]:
    """Re-audit the published run's default day with a broken scorecard: versions before and after."""
    from flow_fixtures import audit_environment

    places = published_run.places
    with pytest.MonkeyPatch.context() as mp:
        audit_environment(mp, s3_endpoint)
        before = _versions(places)
        mp.setattr(daily, "collect_audit", _impossible_rate(daily.collect_audit))
        _no_retry_delay(mp, "validate_and_publish")
        state = daily.daily_audit(audit_date=DEFAULT_DAY, **places.flow_kwargs(), return_state=True)
        after = _versions(places)
    return FlowOutcome(places, state, _flow_run_id(state)), before, after


def test_critical_failure_ends_the_run_failed_saying_what_failed(
    failed_validation_run: tuple[FlowOutcome, dict[str, int], dict[str, int]],
) -> None:
    outcome, _, _ = failed_validation_run
    assert outcome.state.is_failed()
    assert "validation failed" in (outcome.state.message or "")
    assert "agent_scorecard.follow_up_rate" in (outcome.state.message or "")


def test_critical_failure_writes_no_audit_table_version(
    failed_validation_run: tuple[FlowOutcome, dict[str, int], dict[str, int]],
    published_run: FlowOutcome,
    s3_credentials: None,
) -> None:
    outcome, before, after = failed_validation_run
    assert after == before
    places = outcome.places
    for name in AUDIT_TABLES:
        day = read_table(places.warehouse, name, places.settings, audit_date=DEFAULT_DAY)
        assert day.height > 0 and str(outcome.flow_run_id) not in set(day["run_id"]), name


def test_critical_failure_publishes_data_docs_and_a_failed_manifest_row(
    failed_validation_run: tuple[FlowOutcome, dict[str, int], dict[str, int]], s3_credentials: None
) -> None:
    outcome, _, _ = failed_validation_run
    places, run_id = outcome.places, str(outcome.flow_run_id)
    reports = places.reports_storage()
    docs = f"data_docs/audit_date={DEFAULT_DAY.isoformat()}/run_id={run_id}"
    assert reports.exists(f"{docs}/index.html")
    assert json.loads(reports.read_bytes(f"{docs}/summary.json"))["critical_passed"] is False
    assert run_id in reports.read_bytes("data_docs/index.html").decode()
    manifest = read_table(places.warehouse, MANIFEST_TABLE, places.settings, audit_date=DEFAULT_DAY)
    [row] = manifest.filter(pl.col("run_id") == run_id).to_dicts()
    assert row["status"] == "failed"
    assert row["tables"] == []
    assert any("agent_scorecard.follow_up_rate" in f for f in row["failed_expectations"])
    assert row["data_docs_uri"] == f"{places.reports}/{docs}/index.html"


def test_critical_failure_leaves_a_failure_artifact_pointing_at_the_data_docs(
    failed_validation_run: tuple[FlowOutcome, dict[str, int], dict[str, int]],
) -> None:
    outcome, _, _ = failed_validation_run
    artifacts = artifacts_of(outcome.flow_run_id)
    failure = artifacts["support-audit-failure"]
    assert failure.type == "markdown"
    text = str(failure.data)
    assert "agent_scorecard.follow_up_rate" in text
    assert f"{outcome.places.reports}/data_docs/index.html" in text
    assert f"support-audit-{DEFAULT_DAY.isoformat()}" not in artifacts  # no success summary


def test_validation_failure_is_not_retried_and_nothing_after_it_runs(
    failed_validation_run: tuple[FlowOutcome, dict[str, int], dict[str, int]],
) -> None:
    outcome, _, _ = failed_validation_run
    runs = settled_task_runs(outcome.flow_run_id)
    [validate] = runs_named(runs, "validate_and_publish")
    assert validate.run_count == 1
    names = state_names(validate.id)
    assert not RETRY_STATES & set(names), names
    assert names[-1] == "Failed"
    assert runs_named(runs, "publish_html_report") == []


# --- a bad backfill range ----------------------------------------------------------------


def test_backfill_with_end_before_start_fails_with_a_failure_artifact(prefect_harness: None) -> None:
    state = daily.backfill(start=DEFAULT_DAY, end=FINAL_DAY, return_state=True)
    assert state.is_failed()
    assert f"backfill end {FINAL_DAY} is before start {DEFAULT_DAY}" in (state.message or "")
    text = str(artifacts_of(_flow_run_id(state))["support-audit-failure"].data)
    assert f"backfill end {FINAL_DAY} is before start {DEFAULT_DAY}" in text
    assert f"start={DEFAULT_DAY}" in text


@pytest.mark.parametrize(
    ("task_name", "error"),
    [
        ("refresh_period_scorecards", "lock"),
        ("ingest_new_exports", "lock"),
        ("ingest_new_exports", "no input"),
    ],
)
def test_a_lock_another_run_holds_or_an_empty_landing_is_not_retried(
    prefect_harness: None, monkeypatch: pytest.MonkeyPatch, task_name: str, error: str
) -> None:
    """A day or store another run holds stops this run at once (exit code 6, auditing.md). Its
    task retries would otherwise publish after the other run, from numbers computed before. A
    landing with no export stops it at once too (exit code 5): none appears between retries."""
    from prefect import flow

    import flows.ingest
    import warehouse.periods
    from flows.errors import NoInput
    from warehouse.lock import LockHeld

    calls: list[str] = []
    raised = LockHeld("day 2026-03-02 is held by run other-run") if error == "lock" else NoInput("no export")

    def busy(*args: Any, **kwargs: Any) -> Any:
        calls.append("called")
        raise raised

    monkeypatch.setattr(warehouse.periods, "refresh_periods", busy)
    monkeypatch.setattr(daily, "ingest_exports", busy)
    monkeypatch.setattr(flows.ingest, "ingest_exports", busy)
    _no_retry_delay(monkeypatch, task_name)

    @flow
    def one_task() -> Any:
        return getattr(daily, task_name)(daily.AuditRun(None, None, "r1"))  # type: ignore[arg-type]

    with pytest.raises(type(raised)):
        one_task()
    assert calls == ["called"]
