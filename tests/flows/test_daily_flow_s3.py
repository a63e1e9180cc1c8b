"""The scheduled deployment's run end to end: `daily_audit()` without a date, on generated
exports in the local S3 endpoint, with every store an s3:// URI.

Without a date the flow audits the newest mature day (newest export - 3 days) and, first,
the day whose longest window has just closed (newest export - 7 days). The published
tables are compared with the same pure transforms run here on a local copy of the exports.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import shutil
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from flow_fixtures import DEFAULT_DAY, FINAL_DAY, NEWEST_EXPORT, PSEUDONYM_KEY, FlowOutcome, artifacts_of

from catalogue import AUDIT_TABLES, MANIFEST_TABLE
from configs.policy import load_policy
from flows.summary import headline
from flows.windows import data_cutoff, default_audit_date, export_range, lookahead_days
from ingestion.ingest import IngestResult, ingest_all
from report.build import report_key
from storage import LocalStorage
from transforms.audit import CanonicalTables, collect_audit, run_audit
from transforms.contacts import AuditWindow, build_contacts
from warehouse.delta import read_table, table_history

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("prefect-published")]

DAYS = (FINAL_DAY, DEFAULT_DAY)
METRIC_TABLES = [t for t in AUDIT_TABLES if t != "quarantine"]


def test_the_audited_days_follow_the_policy_windows() -> None:
    """The two dates the tests expect are the policy's, not numbers picked to match."""
    policy = load_policy(None)
    assert default_audit_date(NEWEST_EXPORT, policy) == DEFAULT_DAY
    assert date.fromordinal(NEWEST_EXPORT.toordinal() - lookahead_days(policy)) == FINAL_DAY


@pytest.fixture(scope="module")
def expected(flow_exports: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[date, dict]:
    """Per day: the pure pipeline's frames, the day's contacts and the ingestion results,
    computed from a local copy (ingestion writes quarantine copies beside the exports)."""
    root = tmp_path_factory.mktemp("expected") / "landing"
    shutil.copytree(flow_exports, root)
    policy = load_policy(None)
    zone = policy.business_time_zone
    out: dict[date, dict] = {}
    for day in DAYS:
        days = export_range(day, policy)
        ingested = ingest_all(LocalStorage(root), days.start, days.end)
        newest = max(d for r in ingested.values() for d in r.files["export_date"].drop_nulls().to_list())
        window = AuditWindow(day, zone, data_cutoff(newest, day, zone))
        canonical = CanonicalTables(
            tickets=ingested["tickets"].canonical,
            ticket_events=ingested["ticket_events"].canonical,
            calls=ingested["calls"].canonical,
        )
        contacts = build_contacts(canonical.tickets, canonical.ticket_events, canonical.calls, zone)
        out[day] = {
            "metrics": collect_audit(run_audit(canonical, window, policy)),
            "contacts": contacts.filter(pl.col("audit_date") == day).collect(),
            "ingested": ingested,
        }
    return out


def test_nothing_raw_is_left_outside_the_stores(published_run: FlowOutcome, s3_credentials: None) -> None:
    """The audit days read the canonical store in the warehouse bucket (no per-run spill of
    canonical tables any more): the work folder, where only Data Docs are built, is empty after
    the run, and the store holds the three entities and the ledger."""
    work_dir = published_run.work_dir
    assert work_dir is not None
    assert list(work_dir.iterdir()) == []
    from warehouse.store import Store

    store = Store(f"{published_run.places.warehouse}/_canonical", published_run.places.settings)
    assert {"tickets", "ticket_events", "calls", "ingest_ledger"} <= set(store.versions())
    assert store.ledger().height > 0


def test_the_scheduled_run_ingests_once_and_audits_both_days(published_run: FlowOutcome) -> None:
    from flow_fixtures import runs_named, settled_task_runs

    runs = settled_task_runs(published_run.flow_run_id)
    assert len(runs_named(runs, "ingest_new_exports")) == 1
    assert len(runs_named(runs, "compute_metrics")) == len(DAYS)


def test_the_flow_run_completed(published_run: FlowOutcome) -> None:
    assert published_run.state.is_completed(), published_run.state.message
    result = published_run.state.result()
    assert result["audit_date"] == DEFAULT_DAY.isoformat()
    assert result["validation_passed"] is True
    assert result["run_id"] == str(published_run.flow_run_id)


@pytest.mark.parametrize("day", DAYS, ids=str)
def test_published_tables_hold_the_computed_rows(
    published_run: FlowOutcome, expected: dict[date, dict], day: date, s3_credentials: None
) -> None:
    places, metrics = published_run.places, expected[day]["metrics"]
    for name in METRIC_TABLES:
        published = read_table(places.warehouse, name, places.settings, audit_date=day)
        assert published.height == metrics[name].height, name
        assert set(published["run_id"]) <= {str(published_run.flow_run_id)}, name
        assert "customer_id" not in published.columns, name
    # Only the rejections of the objects exported on the day itself (each rejection once).
    own = [
        r.quarantine.join(
            r.files.filter(pl.col("export_date") == day).select("object_key"), on="object_key", how="semi"
        )
        for r in expected[day]["ingested"].values()
    ]
    quarantined = sum(frame.height for frame in own)
    assert quarantined > 0  # the sample plants bad rows every day
    assert read_table(places.warehouse, "quarantine", places.settings, audit_date=day).height == quarantined


@pytest.mark.parametrize("day", DAYS, ids=str)
def test_agent_scorecard_has_one_row_per_agent_active_that_day(
    published_run: FlowOutcome, expected: dict[date, dict], day: date, s3_credentials: None
) -> None:
    places, contacts = published_run.places, expected[day]["contacts"]
    scorecard = read_table(places.warehouse, "agent_scorecard", places.settings, audit_date=day)
    active = contacts.filter(pl.col("agent_id").is_not_null())
    assert scorecard["agent_id"].to_list() == sorted(active["agent_id"].unique().to_list())
    assert scorecard["contacts"].sum() == active.height


def test_customer_ids_are_published_as_keyed_pseudonyms(
    published_run: FlowOutcome, expected: dict[date, dict], s3_credentials: None
) -> None:
    places = published_run.places
    published = read_table(places.warehouse, "follow_up_audit", places.settings, audit_date=DEFAULT_DAY)
    raw = expected[DEFAULT_DAY]["metrics"]["follow_up_audit"]["customer_id"].drop_nulls().unique()
    key = PSEUDONYM_KEY.encode()
    pseudonyms = {hmac.new(key, c.encode(), hashlib.sha256).hexdigest() for c in raw}
    assert set(published["customer_key"].drop_nulls()) == pseudonyms
    assert not set(raw) & set(published["customer_key"].drop_nulls())


def test_each_table_got_one_commit_per_audited_day(published_run: FlowOutcome, s3_credentials: None) -> None:
    places = published_run.places
    for name in AUDIT_TABLES:
        history = table_history(places.warehouse, name, places.settings)
        writes = history.filter(pl.col("run_id") == str(published_run.flow_run_id))
        assert sorted(writes["audit_date"].to_list()) == [d.isoformat() for d in DAYS], name


@pytest.mark.parametrize("day", DAYS, ids=str)
def test_run_manifest_row_succeeded_and_reconciles(
    published_run: FlowOutcome, expected: dict[date, dict], day: date, s3_credentials: None
) -> None:
    places = published_run.places
    manifest = read_table(places.warehouse, MANIFEST_TABLE, places.settings, audit_date=day)
    rows = manifest.filter(pl.col("run_id") == str(published_run.flow_run_id))
    assert sorted(rows["status"]) == ["publishing", "succeeded"]  # its intent, then its publish point
    row = rows.filter(pl.col("status") == "succeeded").row(0, named=True)
    assert row["rows_read"] == row["rows_accepted"] + row["rows_quarantined"] + row["rows_duplicate"]
    for entry in row["inputs"]:
        parts = entry["rows_accepted"] + entry["rows_quarantined"] + entry["rows_duplicate"]
        assert entry["rows_read"] == parts, entry["object_key"]
    ingested: dict[str, IngestResult] = expected[day]["ingested"]
    assert row["rows_read"] == sum(int(r.files["rows_read"].sum()) for r in ingested.values())
    assert row["rows_duplicate"] > 0  # the re-delivered file
    assert row["rows_quarantined"] > 0  # bad rows
    written = {t["table"]: t["rows"] for t in row["tables"]}
    assert written["agent_scorecard"] == expected[day]["metrics"]["agent_scorecard"].height
    read = {v["table"] for v in row["store_versions"]}  # the store versions the audit read
    assert {"tickets", "ticket_events", "calls", "ingest_ledger"} <= read


@pytest.fixture(scope="module")
def rerun(published_run: FlowOutcome, s3_endpoint: str) -> dict:
    """The same scheduled run again, nothing new in the landing."""
    from flow_fixtures import audit_environment

    from flows.daily import daily_audit

    with pytest.MonkeyPatch.context() as mp:
        audit_environment(mp, s3_endpoint)
        state = daily_audit(**published_run.places.flow_kwargs(), return_state=True)
    assert state.is_completed(), state.message
    return state.result()


def test_a_rerun_with_nothing_new_ingests_nothing_and_publishes_the_same_tables(
    published_run: FlowOutcome, rerun: dict, s3_credentials: None
) -> None:
    assert rerun["ingest"]["objects_read"] == 0 and rerun["ingest"]["objects_deleted"] == 0
    assert rerun["ingest"]["objects_unchanged"] > 0
    places = published_run.places
    for name in AUDIT_TABLES:
        history = table_history(places.warehouse, name, places.settings)
        first = history.filter(pl.col("run_id") == str(published_run.flow_run_id))["version"].max()
        again = read_table(places.warehouse, name, places.settings, audit_date=DEFAULT_DAY).drop("run_id")
        before = read_table(places.warehouse, name, places.settings, audit_date=DEFAULT_DAY, version=first)
        assert again.equals(before.drop("run_id")), name


@pytest.mark.parametrize("day", DAYS, ids=str)
def test_html_report_and_data_docs_are_under_the_reports_uri(
    published_run: FlowOutcome, day: date, s3_credentials: None
) -> None:
    reports = published_run.places.reports_storage()
    assert reports.exists(report_key(day))
    # The report is built after the period refresh: its period pages and peer section see the day.
    for page in ("week.html", "month.html", "rolling.html"):
        html = reports.read_bytes(report_key(day, page)).decode()
        assert 'id="period-agent-table"' in html, page
    assert "No peer comparison published" not in reports.read_bytes(report_key(day)).decode()
    docs = f"data_docs/audit_date={day.isoformat()}/run_id={published_run.flow_run_id}"
    assert reports.exists(f"{docs}/index.html")
    summary = json.loads(reports.read_bytes(f"{docs}/summary.json"))
    assert summary["critical_passed"] is True
    assert reports.exists("data_docs/index.html")


@pytest.mark.parametrize("day", DAYS, ids=str)
def test_markdown_artifact_links_the_report_and_data_docs(
    published_run: FlowOutcome, expected: dict[date, dict], day: date
) -> None:
    artifacts = artifacts_of(published_run.flow_run_id)
    markdown = artifacts[f"support-audit-{day.isoformat()}"]
    assert markdown.type == "markdown"
    text = str(markdown.data)
    reports = published_run.places.reports
    assert f"HTML report: {reports}/{report_key(day)}" in text
    docs = f"{reports}/data_docs/audit_date={day.isoformat()}/run_id={published_run.flow_run_id}/index.html"
    assert f"Data Docs: {docs}" in text
    assert "validation **passed**" in text
    rate = headline(expected[day]["metrics"]["agent_scorecard"])["follow_up"]
    assert rate is not None
    assert f"- Follow-up: {rate:.1%}" in text


@pytest.mark.parametrize("day", DAYS, ids=str)
def test_table_artifact_is_the_agent_scorecard(
    published_run: FlowOutcome, expected: dict[date, dict], day: date
) -> None:
    table = artifacts_of(published_run.flow_run_id)[f"agent-scorecard-{day.isoformat()}"]
    assert table.type == "table"
    rows = json.loads(table.data) if isinstance(table.data, str) else table.data
    scorecard = expected[day]["metrics"]["agent_scorecard"].sort("agent_id")
    assert [r["agent_id"] for r in rows] == scorecard["agent_id"].to_list()
    assert [r["follow_up_denominator"] for r in rows] == scorecard["follow_up_denominator"].to_list()


def test_a_completed_run_leaves_no_failure_artifact(published_run: FlowOutcome) -> None:
    assert "support-audit-failure" not in artifacts_of(published_run.flow_run_id)
