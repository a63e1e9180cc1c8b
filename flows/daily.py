"""Prefect flows: the daily audit and the backfill.

The flow reads like a table of contents — ingest, compute, validate and publish, report,
summarise — and each step is a task. Only I/O tasks retry (with backoff); computing is
deterministic, so a retry would fail the same way. Tasks that receive DataFrames never
cache on their inputs (NO_CACHE). Rust panics inside tasks become ordinary exceptions
(`panics_as_errors`) so retries and the failure hook see them.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from prefect.tasks import exponential_backoff

from configs.policy import Policy, load_policy
from configs.settings import AuditSettings, load_settings
from flows import summary
from flows.errors import AuditError, panics_as_errors
from flows.windows import data_cutoff, default_audit_date, export_range, lookahead_days
from ingestion.ingest import IngestResult, ingest_all, newest_export_date
from storage import open_storage
from transforms.audit import CanonicalTables, collect_audit, run_audit
from transforms.contacts import AuditWindow
from warehouse.publish import PublishResult, write_audit_publish

IO_RETRIES = 3
IO_RETRY_DELAYS = exponential_backoff(backoff_factor=2)


@dataclass(frozen=True)
class AuditRun:
    """Everything a run needs to know, resolved once from parameters, files and environment."""

    settings: AuditSettings
    policy: Policy
    run_id: str

    @property
    def time_zone(self) -> str:
        return self.settings.time_zone(self.policy)


def resolve_run(
    landing: str | None = None,
    warehouse: str | None = None,
    reports: str | None = None,
    config: str | None = None,
    policy_file: str | None = None,
    env: str | None = None,
) -> AuditRun:
    """Settings and policy for this run; the flow run id is the run id when there is one."""
    settings = load_settings(
        env=env,
        config_file=config,
        landing_uri=landing,
        warehouse_uri=warehouse,
        reports_uri=reports,
        policy_path=policy_file,
    )
    run_id = flow_run.id or str(uuid.uuid4())  # the Prefect flow run id inside a flow
    return AuditRun(settings=settings, policy=load_policy(settings.policy_path), run_id=run_id)


# --- tasks ------------------------------------------------------------------------------------


@task(retries=IO_RETRIES, retry_delay_seconds=IO_RETRY_DELAYS, cache_policy=NO_CACHE)
@panics_as_errors
def find_newest_export(run: AuditRun) -> date | None:
    """Newest export day present in the landing store (any entity)."""
    return newest_export_date(open_storage(run.settings.landing_uri, run.settings.s3))


@task(retries=IO_RETRIES, retry_delay_seconds=IO_RETRY_DELAYS, cache_policy=NO_CACHE)
@panics_as_errors
def ingest_exports(run: AuditRun, audit_date: date, work_dir: Path) -> dict[str, IngestResult]:
    """List, read, stage and de-duplicate the exports the audit day needs; quarantine bad rows.

    The canonical tables are spilled to `work_dir` and handed on as scans (ingestion/ingest.spill).
    """
    days = export_range(audit_date, run.policy)
    return ingest_all(
        open_storage(run.settings.landing_uri, run.settings.s3),
        days.start,
        days.end,
        naive_timestamps_as_utc=run.settings.naive_timestamps_as_utc,
        quarantine_storage_prefix=run.settings.quarantine_prefix,
        run_id=run.run_id,
        spill_dir=work_dir,
    )


@task(cache_policy=NO_CACHE)
@panics_as_errors
def compute_metrics(
    run: AuditRun, audit_date: date, ingested: dict[str, IngestResult]
) -> dict[str, pl.DataFrame]:
    """Every metric table for the day (pure Polars, see transforms/audit.py)."""
    window = audit_window(run, audit_date, ingested)
    inputs = CanonicalTables(
        tickets=ingested["tickets"].canonical,
        ticket_events=ingested["ticket_events"].canonical,
        calls=ingested["calls"].canonical,
    )
    return collect_audit(run_audit(inputs, window, run.policy))


def audit_window(run: AuditRun, audit_date: date, ingested: dict[str, IngestResult]) -> AuditWindow:
    """The day, its time zone and the data cut-off: the end of the newest export day read."""
    export_days = [d for r in ingested.values() for d in r.files["export_date"].drop_nulls().to_list()]
    newest = max(export_days) if export_days else None
    return AuditWindow(audit_date, run.time_zone, data_cutoff(newest, audit_date, run.time_zone))


def _worth_retrying(task: Any, task_run: Any, state: Any) -> bool:
    """Retry I/O errors, never a failed gate or a missing pseudonym key: the same data fails
    the same checks, and a key does not appear between retries."""
    from expectations.gate import ValidationFailed
    from transforms.pseudonym import PseudonymKeyError

    try:
        state.result()
    except (ValidationFailed, PseudonymKeyError):
        return False
    except Exception:
        return True
    return True


@task(
    retries=IO_RETRIES,
    retry_delay_seconds=IO_RETRY_DELAYS,
    retry_condition_fn=_worth_retrying,
    cache_policy=NO_CACHE,
)
@panics_as_errors
def validate_and_publish(
    run: AuditRun,
    audit_date: date,
    ingested: dict[str, IngestResult],
    metrics: dict[str, pl.DataFrame],
) -> PublishResult:
    """Write, audit, publish: stage the day's tables, validate them, publish only if the
    critical checks pass; Data Docs and the manifest are published either way."""
    return write_audit_publish(
        ingested=ingested,
        metrics=metrics,
        audit_date=audit_date,
        run_id=run.run_id,
        settings=run.settings,
        policy=run.policy,
    )


@task(retries=IO_RETRIES, retry_delay_seconds=IO_RETRY_DELAYS, cache_policy=NO_CACHE)
@panics_as_errors
def publish_html_report(run: AuditRun, audit_date: date, data_docs_url: str | None) -> str:
    """Render the day's HTML report from the published tables and put it beside the Data Docs."""
    from report.build import build_report, publish_report

    html = build_report(
        run.settings.warehouse_uri,
        audit_date,
        s3=run.settings.s3,
        data_docs_url=data_docs_url,
        min_volume=run.policy.min_volume,
        reports_uri=run.settings.reports_uri,
    )
    return publish_report(html, run.settings.reports_uri, audit_date, run.settings.s3)


# --- flows ------------------------------------------------------------------------------------


def _data_docs_index(parameters: dict[str, Any]) -> str | None:
    """The runs index of the Data Docs for these parameters (None if the settings are broken)."""
    from catalogue import DATA_DOCS_PREFIX

    try:
        settings = load_settings(config_file=parameters.get("config"), reports_uri=parameters.get("reports"))
    except Exception:  # the failure may be the settings themselves; the message says so
        return None
    return f"{settings.reports_uri.rstrip('/')}/{DATA_DOCS_PREFIX}/index.html"


def _failure_artifact(flow: Any, flow_run: Any, state: Any) -> None:
    """On failure, leave a markdown artifact saying what failed and where the Data Docs are."""
    create_markdown_artifact(
        key="support-audit-failure",
        markdown=summary.failure_markdown(
            flow_run.name,
            flow_run.parameters,
            state.message,
            data_docs_index=_data_docs_index(flow_run.parameters),
        ),
        description="Why this support-audit run failed",
    )


@contextmanager
def scratch_folder(run: AuditRun) -> Iterator[Path]:
    """A local folder for one audit day's canonical tables, removed when the day is done (under
    the configured `work_dir`, created if missing, else the system's temporary folder)."""
    if run.settings.work_dir:
        Path(run.settings.work_dir).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="audit-canonical-", dir=run.settings.work_dir) as folder:
        yield Path(folder)


def audit_day(run: AuditRun, audit_date: date) -> dict[str, Any]:
    """The steps of one audit day, in order (shared by the daily and backfill flows)."""
    logger = get_run_logger()
    logger.info("auditing %s (run %s, policy %s)", audit_date, run.run_id, run.policy.version)
    with scratch_folder(run) as work_dir:
        ingested = ingest_exports(run, audit_date, work_dir)
        metrics = compute_metrics(run, audit_date, ingested)
        published = validate_and_publish(run, audit_date, ingested, metrics)
    report_url = publish_html_report(run, audit_date, published.data_docs_url)
    result = summary.run_summary(
        run.run_id, audit_date, run.policy.version, ingested, metrics, published, report_url
    )
    create_markdown_artifact(
        key=f"support-audit-{audit_date.isoformat()}",
        markdown=summary.run_markdown(result, metrics),
        description=f"support-audit {audit_date}",
    )
    create_table_artifact(
        key=f"agent-scorecard-{audit_date.isoformat()}",
        table=summary.scorecard_table(metrics["agent_scorecard"]),
        description=f"Agent scorecard {audit_date}",
    )
    logger.info("published %s: report %s", audit_date, report_url)
    return result


@flow(name="support-audit-daily", on_failure=[_failure_artifact], log_prints=True)
def daily_audit(
    audit_date: date | None = None,
    landing: str | None = None,
    warehouse: str | None = None,
    reports: str | None = None,
    config: str | None = None,
    policy_file: str | None = None,
    refresh_final_day: bool = True,
) -> dict[str, Any]:
    """Audit one day: by default the newest day whose follow-up window has closed.

    With `refresh_final_day`, the default run also re-audits the day whose longest window
    (repeat contact, came back) has just closed, so its pending contacts become final.
    """
    run = resolve_run(landing, warehouse, reports, config, policy_file)
    if audit_date is None:
        newest = find_newest_export(run)
        if newest is None:
            raise AuditError(f"no exports found under {run.settings.landing_uri}")
        audit_date = default_audit_date(newest, run.policy)
        if refresh_final_day:
            final_day = newest - timedelta(days=lookahead_days(run.policy))
            if final_day < audit_date:
                audit_day(run, final_day)
    return audit_day(run, audit_date)


@flow(name="support-audit-backfill", on_failure=[_failure_artifact], log_prints=True)
def backfill(
    start: date,
    end: date,
    landing: str | None = None,
    warehouse: str | None = None,
    reports: str | None = None,
    config: str | None = None,
    policy_file: str | None = None,
) -> list[dict[str, Any]]:
    """Audit every day from start to end inclusive; each day replaces only its own partitions."""
    if end < start:
        raise AuditError(f"backfill end {end} is before start {start}")
    run = resolve_run(landing, warehouse, reports, config, policy_file)
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    return [audit_day(run, day) for day in days]


def served_daily_deployment(cron: str = "30 6 * * *", time_zone: str = "UTC") -> Any:
    """The daily audit as a deployment served from one host (`audit serve`), same name and
    schedule as the `support-audit-daily` entry of prefect.yaml, one run at a time."""
    from prefect.schedules import Cron

    return daily_audit.to_deployment(
        name="support-audit-daily",
        schedules=[Cron(cron, timezone=time_zone)],
        concurrency_limit=1,
        tags=["support-audit", "audit"],
    )
