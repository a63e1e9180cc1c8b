"""Prefect flows: the daily audit and the backfill.

The flow reads like a table of contents — ingest, compute, validate and publish, report,
summarise — and each step is a task. Only I/O tasks retry (with backoff); computing is
deterministic, so a retry would fail the same way. Tasks that receive DataFrames never
cache on their inputs (NO_CACHE). Rust panics inside tasks become ordinary exceptions
(`panics_as_errors`) so retries and the failure hook see them.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from time import monotonic
from typing import Any

import polars as pl
from prefect import flow, get_run_logger, task
from prefect.artifacts import (
    create_link_artifact,
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.cache_policies import NO_CACHE
from prefect.concurrency.sync import concurrency
from prefect.futures import as_completed, wait
from prefect.runtime import flow_run
from prefect.tasks import exponential_backoff

from catalogue import LEDGER_TABLE
from configs.policy import Policy, load_policy
from configs.settings import AuditSettings, load_settings
from configs.vendors import CONTACT_LENS_METRICS
from flows import summary
from flows.cluster import parse_cluster, task_runner
from flows.errors import AuditError, NoInput, panics_as_errors
from flows.ingest import ingest_exports, store_of
from flows.preflight import check_setup
from flows.windows import data_cutoff, default_audit_date, export_range, final_days
from ingestion.incremental import IngestReport
from transforms.audit import CanonicalTables, collect_audit, run_audit
from transforms.contacts import AuditWindow
from transforms.escalation import analysed_calls
from warehouse.manifest import code_version, config_hash, input_files_frame
from warehouse.publication import (
    POINT_COLUMNS,
    UP_TO_DATE_COLUMNS,
    DayInputsKey,
    UpToDate,
    manifest_rows,
    publish_points,
    up_to_date_days,
    whole_at_point,
)
from warehouse.publish import PublishResult, suite_params, write_audit_publish_frames
from warehouse.store import audit_inputs, day_inputs, versions_read

IO_RETRIES = 3
IO_RETRY_DELAYS = exponential_backoff(backoff_factor=2)
# One Prefect global concurrency limit shared by the daily, backfill and ingest flows (create it
# with `prefect gcl create support-audit-warehouse --limit 1`; `audit serve` does): their ingests
# and audit days queue instead of meeting at the store's or a day's lease. Without it they run,
# and the leases still guard every write.
WAREHOUSE_CONCURRENCY = "support-audit-warehouse"
# The slot's lease, renewed while a run holds it: a run that dies holding it (killed, its
# machine lost) frees it within about this long. Prefect's default, 5 minutes, kept the next
# runs waiting that long after a crash.
WAREHOUSE_SLOT_LEASE_SECONDS = 60
SERVED_DEPLOYMENT = "support-audit-daily-served"  # `audit serve`'s name, never prefect.yaml's


def _worth_retrying(task: Any, task_run: Any, state: Any) -> bool:
    """Retry I/O errors, never a failed gate, a missing pseudonym key, a landing with no input or
    a lock another run holds. The same data fails the same checks; a key or an export does not
    appear between retries (exit code 5 at once); a run that finds a day or the store busy stops
    at once (exit code 6) or waits only `lock_wait_seconds`: retried, it would publish after the
    other run, from numbers computed before that run published."""
    from expectations.gate import ValidationFailed
    from transforms.pseudonym import PseudonymKeyError
    from warehouse.lock import LockHeld

    try:
        state.result()
    except (ValidationFailed, PseudonymKeyError, LockHeld, NoInput):
        return False
    except Exception:
        return True
    return True


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


@task(
    retries=IO_RETRIES,
    retry_delay_seconds=IO_RETRY_DELAYS,
    retry_condition_fn=_worth_retrying,
    cache_policy=NO_CACHE,
)
@panics_as_errors
def ingest_new_exports(run: AuditRun, rebuild_store: bool = False) -> IngestReport:
    """Read the export objects the ledger does not have into the canonical store, validated
    with the input suites once; objects gone from the landing leave it (flows/ingest.py)."""
    logger = get_run_logger()
    report = ingest_exports(
        run.settings, run.policy, run.run_id, rebuild_store=rebuild_store, progress=logger.info
    )
    logger.info(
        "ingest: %d object(s) read, %d deleted, %d unchanged; newest export day %s",
        report.objects_read.height,
        report.objects_deleted.height,
        report.unchanged,
        report.newest_export_date,
    )
    for stray in report.strays:
        logger.warning("%s has no export day (not export_date=YYYY-MM-DD): nothing in it is read", stray)
    if report.affected_days:
        logger.warning(
            "late, changed or deleted exports can change published day(s) %s: re-audit them "
            "(audit backfill --start %s --end %s)",
            ", ".join(d.isoformat() for d in report.affected_days),
            report.affected_days[0],
            report.affected_days[-1],
        )
    return report


@dataclass(frozen=True)
class DayInputs:
    """What one audit day reads from the store, and what its manifest lists."""

    tables: CanonicalTables  # lazy scans pruned to the day's windows
    files: pl.DataFrame  # ledger entries of the objects exported in the day's range
    quarantine: pl.DataFrame  # quarantined rows of the objects exported on the audit day itself
    store_versions: dict[str, int]
    cutoff_day: date | None  # newest export day the day's windows can see


@task(
    retries=IO_RETRIES,
    retry_delay_seconds=IO_RETRY_DELAYS,
    retry_condition_fn=_worth_retrying,
    cache_policy=NO_CACHE,
)
@panics_as_errors
def read_day_inputs(run: AuditRun, audit_date: date) -> DayInputs:
    """The day's windows of the canonical store (look-back and look-ahead by the records' own
    days), the ledger entries it relies on, and the store versions read."""
    store = store_of(run.settings)
    versions = store.snapshot()  # as the last finished ingest batch left it: never half an ingest
    days = export_range(audit_date, run.policy, run.time_zone)
    margin = timedelta(days=1)  # record days are UTC days; the business day may straddle two
    files, quarantine = day_inputs(store, days.start, days.end, versions)
    quarantine = own_exports_only(quarantine, files, audit_date)
    ledger = store.ledger(versions.get(LEDGER_TABLE)).filter(pl.col("status") == "ingested")
    _refuse_without_input(audit_date, days.start, days.end, files, set(ledger["entity"].unique()))
    tables = audit_inputs(
        store, days.start - margin, days.end + margin, versions, delivered=(days.start, days.end)
    )
    newest = ledger["export_date"].max()
    cutoff_day = min(newest, days.end) if isinstance(newest, date) else None
    return DayInputs(tables, files, quarantine, versions_read(versions), cutoff_day)


def own_exports_only(quarantine: pl.DataFrame, files: pl.DataFrame, audit_date: date) -> pl.DataFrame:
    """The rejected rows of the objects exported on `audit_date`: each rejected row is published
    once, in its export day's partition, not in every day whose export range reads its object
    (which made sums across days count one rejection up to 49 times). Every object the day read,
    with its quarantined-row count, is still in the day's manifest."""
    own = files.filter(pl.col("export_date") == audit_date).select("object_key")
    return quarantine.join(own, on="object_key", how="semi")


def _refuse_without_input(
    audit_date: date, first: date, last: date, files: pl.DataFrame, held: set[str]
) -> None:
    """No input, no publish: a day whose export range holds no object, or none of an entity
    the store holds, stops before anything is written (its published tables stay)."""
    present = set(files["entity"].unique()) if files.height else set()
    if not present:
        raise NoInput(
            f"no export objects for {audit_date} in the store (its export range is {first}..{last}): "
            "nothing to audit; ingest its exports first, or check the date"
        )
    missing = sorted(held - present)
    if missing:
        raise NoInput(
            f"no {', '.join(missing)} exports for {audit_date} in the store (export range {first}..{last}) "
            "though the store holds them for other days: refusing to publish a day without them"
        )


@task(cache_policy=NO_CACHE)
@panics_as_errors
def compute_metrics(run: AuditRun, audit_date: date, inputs: DayInputs) -> dict[str, pl.DataFrame]:
    """Every metric table for the day (pure Polars, see transforms/audit.py)."""
    window = audit_window(run, audit_date, inputs.cutoff_day)
    return collect_audit(
        run_audit(
            inputs.tables,
            window,
            run.policy,
            withheld=withheld_metrics(run.settings, inputs.tables.calls, window, run.policy.min_volume),
        )
    )


def withheld_metrics(
    settings: AuditSettings,
    calls: pl.LazyFrame | None = None,
    window: AuditWindow | None = None,
    min_calls: int = 1,
) -> dict[str, str]:
    """The metrics a vendor landing cannot support on this day (none for a contract landing):
    the mapping's gaps (those about calls only when a call was answered on the day), and the
    Contact Lens metrics when at least `min_calls` calls were answered
    on the day and none has an analysis (Contact Lens not writing where connect.contact_lens_prefix
    says, or not enabled). Below `min_calls` (the policy's min_volume) a day without analyses is
    not evidence enough to withhold the metrics for every period holding it. The reason is the
    same text every day, so a period lists it once."""
    mapping = settings.vendor_mapping()
    if mapping is None:
        return {}
    if calls is None or window is None:
        return mapping.withheld()
    answered, analysed = analysed_calls(calls, window).collect().row(0)
    gaps = mapping.withheld(calls=answered > 0)
    if mapping.connect.contact_lens and answered >= min_calls and not analysed:
        why = (
            "no Contact Lens analysis for any answered call of the day (is Contact Lens writing "
            f"under {mapping.connect.contact_lens_prefix!r}? if it is not enabled, set "
            "connect.contact_lens = false)"
        )
        gaps |= {name: why for name in CONTACT_LENS_METRICS if name not in gaps}
    return gaps


def audit_window(run: AuditRun, audit_date: date, newest_export: date | None) -> AuditWindow:
    """The day, its time zone and the data cut-off: the end of the newest export day its
    windows read (the newest ingested, or the end of its look-ahead if that is earlier)."""
    return AuditWindow(audit_date, run.time_zone, data_cutoff(newest_export, audit_date, run.time_zone))


@task(
    retries=IO_RETRIES,
    retry_delay_seconds=IO_RETRY_DELAYS,
    retry_condition_fn=_worth_retrying,
    cache_policy=NO_CACHE,
)
@panics_as_errors
def validate_and_publish(
    run: AuditRun, audit_date: date, inputs: DayInputs, metrics: dict[str, pl.DataFrame]
) -> PublishResult:
    """Write, audit, publish: stage the day's tables, validate them, publish only if the
    critical checks pass; Data Docs and the manifest are published either way. The inputs were
    validated when they were ingested."""
    settings, policy = run.settings, run.policy
    return write_audit_publish_frames(
        {},
        {**metrics, "quarantine": inputs.quarantine},
        input_files_frame(inputs.files),
        settings=settings,
        policy=policy,
        audit_date=audit_date,
        run_id=run.run_id,
        params=suite_params(settings, policy, audit_date, {"tickets": inputs.tables.tickets}),
        store_versions=inputs.store_versions,
    )


@task(
    retries=IO_RETRIES,
    retry_delay_seconds=IO_RETRY_DELAYS,
    retry_condition_fn=_worth_retrying,
    cache_policy=NO_CACHE,
)
@panics_as_errors
def refresh_period_scorecards(run: AuditRun) -> dict[str, Any]:
    """Recompute every week, month and rolling 28 days holding a day published since the last
    refresh (warehouse/periods.py): once per flow run, after its days, so a backfill refreshes
    each period once. A run that stopped before this step is healed by the next one."""
    from warehouse.periods import refresh_periods

    refreshed = refresh_periods(run.settings, run.policy, run.run_id)
    if refreshed.periods:
        get_run_logger().info(
            "period scorecards: %d period(s) refreshed, %s", len(refreshed.periods), dict(refreshed.rows)
        )
    return {"periods": len(refreshed.periods), "versions": dict(refreshed.versions)}


@task(
    retries=IO_RETRIES,
    retry_delay_seconds=IO_RETRY_DELAYS,
    retry_condition_fn=_worth_retrying,
    cache_policy=NO_CACHE,
)
@panics_as_errors
def publish_html_report(run: AuditRun, audit_date: date, data_docs_url: str | None) -> str:
    """Render the day's report folder (day, period and agent pages) from the published tables and
    put it beside the Data Docs; returns the location of its index.html. Runs after the period
    refresh, so the period pages and the peer flags include the day."""
    from report.workers import ReportJob, publish_folder

    job = ReportJob(
        warehouse_uri=run.settings.warehouse_uri,
        reports_uri=run.settings.reports_uri,
        audit_date=audit_date,
        s3=run.settings.s3,
        data_docs_url=data_docs_url,
        min_volume=run.policy.min_volume,
    )
    return publish_folder(job)


def _logger() -> Any:
    """The flow run's logger; the module's outside a run (the steps called from tests)."""
    from prefect.exceptions import MissingContextError

    try:
        return get_run_logger()
    except MissingContextError:
        return logging.getLogger(__name__)


def _outcome(future: Any) -> str:
    try:
        future.result()
    except Exception:
        return "failed"
    return "rendered"


def publish_html_reports(run: AuditRun, days: list[AuditedDay]) -> list[str | BaseException]:
    """Each day's report folder (`publish_html_report`, a task per day), the days side by side
    in worker processes when there are several (report/workers.py; on a Dask cluster, its
    workers); waits for every day, and gives each day's location or what it failed with."""
    from report.workers import rendering_pool

    with rendering_pool(len(days)) as processes:
        futures = [publish_html_report.submit(run, day.audit_date, day.data_docs_url) for day in days]
        if len(days) > 1:  # a backfill's last phase: say where it is (a year is minutes of pages)
            logger = _logger()
            logger.info("rendering %d day reports (%d at a time)", len(days), max(processes, 1))
            day_of = {id(f): day.audit_date for f, day in zip(futures, days, strict=True)}
            for done, future in enumerate(as_completed(futures), start=1):
                logger.info("report of %s %s: %d/%d", day_of[id(future)], _outcome(future), done, len(days))
        wait(futures)
    out: list[str | BaseException] = []
    for future in futures:
        try:
            out.append(future.result())
        except Exception as exc:
            out.append(exc)
    return out


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


@dataclass(frozen=True)
class AuditedDay:
    """A day audited and published, waiting for its report (built after the period refresh):
    its run summary and the little its artifacts list, never the day's full tables."""

    audit_date: date
    result: dict[str, Any]  # summary.run_summary, report_url still None
    review: dict[str, pl.DataFrame]  # summary.review_frames: what the markdown artifact lists
    scorecard: list[dict[str, Any]]  # summary.scorecard_table
    data_docs_url: str | None


@dataclass(frozen=True)
class ComputedDay:
    """A day's inputs and metric tables, computed and not yet validated or published."""

    audit_date: date
    inputs: DayInputs
    metrics: dict[str, pl.DataFrame]


def compute_day(run: AuditRun, audit_date: date, ingest: IngestReport | None = None) -> ComputedDay:
    """Read the day's windows of the store and compute its metric tables."""
    logger = get_run_logger()
    logger.info("auditing %s (run %s, policy %s)", audit_date, run.run_id, run.policy.version)
    inputs = with_strays(read_day_inputs(run, audit_date), ingest)
    last_export = export_range(audit_date, run.policy, run.time_zone).end
    if inputs.cutoff_day is None or inputs.cutoff_day < last_export:
        logger.warning(
            "%s: its windows are still open (they need exports up to %s; the newest is %s): outcomes "
            "after the cut-off are pending, and re-auditing the day later can change them",
            audit_date,
            last_export,
            inputs.cutoff_day,
        )
    return ComputedDay(audit_date, inputs, compute_metrics(run, audit_date, inputs))


def with_strays(inputs: DayInputs, ingest: IngestReport | None) -> DayInputs:
    """A folder under an entity that is not an export day (`export_date=2026-3-5/`) has no day
    of its own and nothing in it is read: each day a run that ingested publishes lists it in its
    quarantine (`unsupported_format`), so it is reported until it is renamed or removed."""
    if ingest is None or not ingest.strays:
        return inputs
    strays = ingest.quarantine.filter(pl.col("object_key").is_in(ingest.strays))
    columns = inputs.quarantine.columns
    quarantine = pl.concat([inputs.quarantine, strays.select(columns)], how="vertical_relaxed")
    return replace(inputs, quarantine=quarantine)


def published_day(
    run: AuditRun, day: ComputedDay, published: PublishResult, ingest: IngestReport | None
) -> AuditedDay:
    """What a published day keeps for its report: its summary and the little its artifacts list."""
    result = summary.run_summary(
        run.run_id, day.audit_date, run.policy.version, day.inputs.files, day.metrics, published, None, ingest
    )
    return AuditedDay(
        day.audit_date,
        result,
        summary.review_frames(day.metrics),
        summary.scorecard_table(day.metrics["agent_scorecard"]),
        published.data_docs_url,
    )


def audit_day(run: AuditRun, audit_date: date, ingest: IngestReport | None = None) -> AuditedDay:
    """The steps of one audit day from the canonical store up to its publication, in order (a
    cluster's day task); `report_days` then reports it."""
    day = compute_day(run, audit_date, ingest)
    published = validate_and_publish(run, audit_date, day.inputs, day.metrics)
    return published_day(run, day, published, ingest)


def report_day(run: AuditRun, day: AuditedDay, report_url: str) -> dict[str, Any]:
    """The day's markdown and table artifacts, which link its published report."""
    result = {**day.result, "report_url": report_url}
    create_markdown_artifact(
        key=f"support-audit-{day.audit_date.isoformat()}",
        markdown=summary.run_markdown(result, day.review),
        description=f"support-audit {day.audit_date}",
    )
    create_table_artifact(
        key=f"agent-scorecard-{day.audit_date.isoformat()}",
        table=day.scorecard,
        description=f"Agent scorecard {day.audit_date}",
    )
    links = summary.web_links(
        run.settings.reports_uri, run.settings.reports_web_url, report_url, day.data_docs_url
    )
    for name, link in links.items():
        create_link_artifact(
            link=link,
            link_text=f"{name} {day.audit_date.isoformat()}",
            key=f"support-audit-{name.replace(' ', '-').lower()}-{day.audit_date.isoformat()}",
            description=f"support-audit {name} for {day.audit_date}",
        )
    get_run_logger().info("published %s: report %s", day.audit_date, report_url)
    return result


def report_days(run: AuditRun, days: list[AuditedDay]) -> list[dict[str, Any]]:
    """Refresh the period scorecards (once, for every period the days fall in), then publish
    every day's report and its artifacts: its period pages and peer flags must see the day. A
    day whose report failed raises, in day order, after the earlier days' artifacts."""
    if len(days) > 1:
        _logger().info("refreshing the period scorecards of the %d days audited", len(days))
    refresh_period_scorecards(run)
    results = []
    for day, report_url in zip(days, publish_html_reports(run, days), strict=True):
        if isinstance(report_url, BaseException):
            raise report_url
        results.append(report_day(run, day, report_url))
    return results


def audit_and_report(
    run: AuditRun,
    days: list[date],
    ingest: IngestReport | None,
    progress: BackfillProgress | None = None,
) -> list[dict[str, Any]]:
    """Audit the days in order, then refresh the periods and report them. A day is validated and
    published while the next day is computed (`PipelinedAudits`: the output suites are mostly
    single-threaded Python, the transforms mostly Polars threads), one publication at a time,
    in day order. A failed day stops the audits: a day computed after it is never published;
    the days published before it are still refreshed and reported, then the earliest failure is
    raised."""
    audits = PipelinedAudits(run, ingest, progress)
    for day in days:
        if not audits.add(day):
            break
    audited, failure = audits.finish()
    if failure is None:
        return report_days(run, audited)
    report_before_failure(run, audited)
    raise failure


class PipelinedAudits:
    """Days computed in this thread while the day before is validated and published in a task
    (`validate_and_publish.submit`). Only one publication runs at a time and each waits for the
    one before it, so days publish in order and a day after a failure is never published."""

    def __init__(self, run: AuditRun, ingest: IngestReport | None, progress: BackfillProgress | None) -> None:
        self.run, self.ingest, self.progress = run, ingest, progress
        self.audited: list[AuditedDay] = []
        self.failure: Exception | None = None
        self._publishing: tuple[ComputedDay, Any] | None = None  # the day and its future

    def add(self, audit_date: date) -> bool:
        """Compute the day, wait for the day before to be published, then start publishing this
        one; False once a day has failed (add no more)."""
        computed: ComputedDay | None = None
        try:
            computed = compute_day(self.run, audit_date, self.ingest)
        except Exception as exc:
            self._settle()
            self._failed(audit_date, exc)
            return False
        self._settle()
        if self.failure is not None:
            return False
        future = validate_and_publish.submit(self.run, audit_date, computed.inputs, computed.metrics)
        self._publishing = (computed, future)
        return True

    def finish(self) -> tuple[list[AuditedDay], Exception | None]:
        """Wait for the last publication; the published days and the earliest failure."""
        self._settle()
        return self.audited, self.failure

    def _settle(self) -> None:
        if self._publishing is None:
            return
        day, future = self._publishing
        self._publishing = None
        try:
            self.audited.append(published_day(self.run, day, future.result(), self.ingest))
        except Exception as exc:
            self._failed(day.audit_date, exc)
            return
        if self.progress is not None:
            self.progress.after(day.audit_date)

    def _failed(self, audit_date: date, exc: Exception) -> None:
        if self.progress is not None:
            self.progress.after(audit_date, failed=True)
        if self.failure is None:  # the earliest day's failure is the one raised
            self.failure = exc


def report_before_failure(run: AuditRun, audited: list[AuditedDay]) -> None:
    """Refresh and report the days published before a failure (`after_failure`)."""
    if audited:
        after_failure("the days published before the failure", lambda: report_days(run, audited))


def after_failure(days: str, report: Callable[[], object]) -> None:
    """Report `days` after a day failed: a failure here is logged, never raised, so the run
    fails with the day's own error."""
    try:
        report()
    except Exception as exc:
        get_run_logger().error("%s were not all reported: %s", days, exc)


def newest_published_day(run: AuditRun) -> date | None:
    """The newest audit day a run has published (its publish point), if any."""
    points = publish_points(manifest_rows(run.settings.warehouse_uri, run.settings.s3, columns=POINT_COLUMNS))
    return max(points) if points else None


def refresh_newest_report(run: AuditRun, end: date) -> str | None:
    """After a backfill or a run of an older day, rebuild the newest published day's report when
    it lies after the audited days: its 28-day trend, periods and peer flags include them."""
    newest = newest_published_day(run)
    if newest is None or newest <= end:
        return None
    return publish_html_report(run, newest, None)


def newest_ingested(run: AuditRun) -> date:
    """The newest export day in the store; a run with nothing ingested stops here."""
    newest = store_of(run.settings).ledger().filter(pl.col("status") == "ingested")["export_date"].max()
    if not isinstance(newest, date):
        raise NoInput(f"no exports found under {run.settings.landing_uri} (nothing ingested)")
    return newest


def refuse_days_after(newest: date, day: date) -> date:
    """`day`, unless it is after the newest export day ingested: such a day has no contacts
    of its own (a mistyped --date or --end), and publishing it would put an empty scorecard
    beside the real ones, with flags carried over from the days before."""
    if day > newest:
        raise NoInput(
            f"{day} is after the newest export day ingested, {newest}: there is nothing to audit "
            "for it yet (check --date or --end)"
        )
    return day


def scheduled_days(
    newest: date, policy: Policy, refresh_final_day: bool, time_zone: str = "UTC"
) -> list[date]:
    """The days a run without a date audits: the day whose day-after windows (follow-up) have
    just closed, and, with `refresh_final_day`, the earlier days whose longest window (repeat
    contact, came back) has just closed, so their pending contacts become final (two days
    when a spring-forward day lengthens the earlier one's range, `flows.windows.final_days`)."""
    day = default_audit_date(newest, policy)
    finals = [d for d in final_days(newest, policy, time_zone) if d < day] if refresh_final_day else []
    return [*finals, day]


@flow(name="support-audit-daily", on_failure=[_failure_artifact], log_prints=True)
def daily_audit(
    audit_date: date | None = None,
    landing: str | None = None,
    warehouse: str | None = None,
    reports: str | None = None,
    config: str | None = None,
    policy_file: str | None = None,
    refresh_final_day: bool = True,
    ingest: bool = True,
) -> dict[str, Any]:
    """Ingest what is new (once), then audit one day: by default the newest day whose
    follow-up window has closed, and the day whose longest window has just closed.

    Returns the summary of the last day audited (the given or the newest mature one), with
    `days`: each audited day and its report.
    """
    run = resolve_run(landing, warehouse, reports, config, policy_file)
    check_setup(run.settings)
    with warehouse_slot():
        report = ingest_new_exports(run) if ingest else None
        newest = newest_ingested(run)
        if audit_date:
            days = [refuse_days_after(newest, audit_date)]
        else:
            check_freshness(run.settings, newest, datetime.now(UTC), get_run_logger())
            days = scheduled_days(newest, run.policy, refresh_final_day, run.time_zone)
        results = audit_and_report(run, days, report)
        refresh_newest_report(run, max(days))  # re-auditing an older day: as a backfill does
    audited = [{"audit_date": r["audit_date"], "report_url": r["report_url"]} for r in results]
    return {**results[-1], "days": audited}


def check_freshness(settings: AuditSettings, newest: date, now: datetime, logger: Any) -> float:
    """Source freshness, as dbt checks it: hours since the newest ingested export day ended;
    a warning past `freshness_warn_hours`, NoInput past `freshness_error_hours`."""
    age = (now - datetime.combine(newest + timedelta(days=1), time(), UTC)).total_seconds() / 3600
    message = f"the newest export day ingested is {newest}, {age:.0f} h old"
    if settings.freshness_error_hours is not None and age > settings.freshness_error_hours:
        raise NoInput(
            f"{message} (error after {settings.freshness_error_hours:g} h): are the exports still landing?"
        )
    if settings.freshness_warn_hours is not None and age > settings.freshness_warn_hours:
        logger.warning("%s (warning after %g h)", message, settings.freshness_warn_hours)
    return age


@flow(name="support-audit-backfill", on_failure=[_failure_artifact], log_prints=True)
def backfill(
    start: date,
    end: date,
    landing: str | None = None,
    warehouse: str | None = None,
    reports: str | None = None,
    config: str | None = None,
    policy_file: str | None = None,
    ingest: bool = True,
    cluster: str | None = None,
    resume: bool = False,
) -> list[dict[str, Any]]:
    """Ingest what is new (once), then audit every day from start to end inclusive from the
    store; each day replaces only its own partitions. With `cluster` (or the setting
    `backfill_cluster`: `local`, `local:N`, `tcp://host:port`) the days run as tasks on a Dask
    cluster (flows/cluster.py), the ingest still once, before them. With `resume`, a day whose
    publication was made from the store snapshot, configuration, code and pseudonym key the run
    has now is not audited again (`resumable_days`), only reported: a killed backfill goes on
    where it stopped."""
    if end < start:
        raise AuditError(f"backfill end {end} is before start {start}")
    run = resolve_run(landing, warehouse, reports, config, policy_file)
    where = cluster or run.settings.backfill_cluster
    spec = parse_cluster(where) if where else None  # a bad value fails before the ingest
    check_setup(run.settings)
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    with warehouse_slot():
        report = ingest_new_exports(run) if ingest else None
        refuse_days_after(newest_ingested(run), end)
        done = resumable_days(run, days, report) if resume else {}
        days = [day for day in days if day not in done]
        results: list[dict[str, Any]] = []
        try:
            if days and spec is None:
                results = audit_and_report(run, days, report, BackfillProgress(len(days)))
            elif days and spec is not None:
                get_run_logger().info("auditing %d day(s) on %s", len(days), spec.describe())
                fan_out = audit_days_on_cluster.with_options(task_runner=task_runner(spec))
                results = fan_out(run, days, report)
        except Exception:  # a failure that repeats must not leave the days left alone unreported
            if done:
                after_failure("the days left alone", lambda: report_up_to_date(run, list(done.values())))
            raise
        if done:
            kept = report_up_to_date(run, list(done.values()), refresh=not days)
            results = sorted([*results, *kept], key=_day_of)
            if report is not None and not days:  # what the ingest found, as an audited day says
                results[0]["ingest"] = summary.ingest_summary(report)
        refresh_newest_report(run, end)
    return results


def resumable_days(run: AuditRun, days: list[date], ingest: IngestReport | None) -> dict[date, UpToDate]:
    """The days of `days` an audit now would publish again unchanged, each logged with the run
    that published it: the manifest's publish point recorded this run's store snapshot,
    configuration, code and pseudonym key (`up_to_date_days`), every audit table holds the
    day as that attempt wrote it (`whole_at_point`), and, when this run ingested, its quarantine
    lists the stray folders this run's ingest found (`with_strays`). The one exception to
    "publish again unchanged": a run that did not ingest (`--no-ingest`) has not listed the
    landing, so a day it leaves alone keeps the stray folders it lists (as last seen), while a
    day it audits is published without them, as any run without an ingest publishes it."""
    from transforms.pseudonym import key_id
    from warehouse.secrets import load_pseudonym_key

    settings = run.settings
    now = DayInputsKey(
        versions_read(store_of(settings).snapshot()),
        config_hash(settings, run.policy),
        code_version()[2],
        key_id(load_pseudonym_key()),
    )
    manifest = manifest_rows(settings.warehouse_uri, settings.s3, days[0], days[-1], UP_TO_DATE_COLUMNS)
    done = whole_at_point(settings.warehouse_uri, settings.s3, up_to_date_days(manifest, now))
    if ingest is not None:  # without an ingest the run lists no folder: a day keeps those it lists
        listed, strays = _listed_strays(run, days), set(ingest.strays)
        done = {day: found for day, found in done.items() if listed.get(day, set()) == strays}
    logger = get_run_logger()
    logger.info(
        "resuming: %d of %d day(s) already published from this store snapshot, configuration, code "
        "and pseudonym key; auditing the other %d",
        len(done),
        len(days),
        len(days) - len(done),
    )
    for day in sorted(done):
        logger.info("%s is up to date (published by run %s): not audited again", day, done[day].run_id)
    return done


def _listed_strays(run: AuditRun, days: list[date]) -> dict[date, set[str]]:
    """The stray folders each day's published quarantine lists (rows `with_strays` adds)."""
    from ingestion.ingest import is_folder_record
    from warehouse.delta import read_table_if_exists

    rows = read_table_if_exists(run.settings.warehouse_uri, "quarantine", run.settings.s3, days[-1], days[0])
    if rows is None:
        return {}
    strays = rows.filter(is_folder_record())
    out: dict[date, set[str]] = {}
    for day, key in strays.select("audit_date", "object_key").iter_rows():
        out.setdefault(day, set()).add(key)
    return out


def report_up_to_date(run: AuditRun, days: list[UpToDate], *, refresh: bool = True) -> list[dict[str, Any]]:
    """The reports of the days a resumed backfill did not audit, rendered from their published
    tables as a backfill renders every day's report at its end (a backfill killed before then
    rendered none). First the period refresh (`refresh`, unless the audited days' reporting
    just did it), which also heals the periods a killed run never refreshed."""
    if refresh:
        refresh_period_scorecards(run)
    stand_ins = [AuditedDay(day.audit_date, {}, {}, [], day.data_docs_uri) for day in days]
    results = []
    for day, report_url in zip(days, publish_html_reports(run, stand_ins), strict=True):
        if isinstance(report_url, BaseException):
            raise report_url
        results.append(
            {
                "audit_date": day.audit_date.isoformat(),
                "up_to_date": True,
                "run_id": day.run_id,
                "report_url": report_url,
            }
        )
    return results


def _day_of(result: dict[str, Any]) -> str:
    return str(result["audit_date"])


class BackfillProgress:
    """A backfill's progress: a line in the log per finished day (n/N, elapsed, about how long
    is left) and a Prefect progress artifact the UI shows as a bar. The bar is a courtesy: if
    the API refuses it, the backfill logs a warning and goes on (its days are what counts)."""

    def __init__(self, total: int) -> None:
        self.total, self.done, self.started = total, 0, monotonic()
        self.artifact: Any = self._try(
            create_progress_artifact,
            progress=0.0,
            key="support-audit-backfill-progress",
            description=f"{total} audit day(s)",
        )

    def after(self, day: date, result: Any = None, failed: bool = False) -> Any:
        """Count a finished day; returns `result` so a loop can collect it."""
        self.done += 1
        line = summary.progress_line(day, self.done, self.total, monotonic() - self.started, failed)
        get_run_logger().info(line)
        if self.artifact is not None:
            progress = 100.0 * self.done / self.total
            self._try(update_progress_artifact, self.artifact, progress=progress, description=line)
        return result

    @staticmethod
    def _try(call: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return call(*args, **kwargs)
        except Exception as exc:  # a progress bar never fails a backfill
            get_run_logger().warning("backfill progress artifact not updated: %s", exc)
            return None


@task(name="audit-day", cache_policy=NO_CACHE)
def audit_day_task(run: AuditRun, audit_date: date, ingest: IngestReport | None) -> AuditedDay:
    """One audit day as one task, so a Dask worker runs it whole (its steps are tasks too); its
    report is built by the flow once every day is in and the periods are refreshed."""
    return audit_day(run, audit_date, ingest)


@flow(name="support-audit-backfill-days", log_prints=True)
def audit_days_on_cluster(
    run: AuditRun, days: list[date], ingest: IngestReport | None
) -> list[dict[str, Any]]:
    """Submit every day at once to the flow's task runner (a `DaskTaskRunner`); wait for all of
    them, so one failed day never leaves the others unfinished; refresh the periods and report the
    days that published, then raise the earliest day's failure (after logging every one). The Data
    Docs runs index is rebuilt once at the end: days finishing together each rebuilt it from what
    they saw."""
    from warehouse.data_docs import refresh_runs_index

    progress = BackfillProgress(len(days))
    futures = {audit_day_task.submit(run, day, ingest): day for day in days}
    results, failures = {}, []
    for future in as_completed(list(futures)):  # in the order days finish, for the progress
        day = futures[future]
        try:
            results[day] = future.result()
        except Exception as exc:
            failures.append((day, exc))
        progress.after(day, failed=day not in results)
    refresh_runs_index(run.settings.reports_uri, run.settings.s3)
    published = [results[day] for day in days if day in results]
    if failures:
        report_before_failure(run, published)
        logger = get_run_logger()
        for day, failure in failures:
            logger.error("%s failed: %s", day, failure)
        raise min(failures, key=lambda failure: failure[0])[1]  # the earliest day's
    return report_days(run, published)


@flow(name="support-audit-ingest", on_failure=[_failure_artifact], log_prints=True)
def ingest_flow(
    landing: str | None = None,
    warehouse: str | None = None,
    reports: str | None = None,
    config: str | None = None,
    policy_file: str | None = None,
    rebuild_store: bool = False,
) -> dict[str, Any]:
    """Bring the canonical store up to date with the landing (`audit ingest`); with
    `rebuild_store`, empty it first and read every object again (`audit rebuild-store`)."""
    run = resolve_run(landing, warehouse, reports, config, policy_file)
    check_setup(run.settings)
    with warehouse_slot():
        report = ingest_new_exports(run, rebuild_store=rebuild_store)
    result = summary.ingest_summary(report)
    create_markdown_artifact(
        key="support-audit-ingest",
        markdown=summary.ingest_markdown(result),
        description="support-audit ingest",
    )
    return result


@contextmanager
def warehouse_slot() -> Iterator[None]:
    """Hold the slot of the shared limit `support-audit-warehouse` for the ingest and the audits
    of a flow run, so a daily, a backfill and an ingest queue behind each other instead of one
    failing at the store's or a day's lease. A run that has to wait says so in its log, and
    again when it gets the slot. Without the limit on the server it runs at once."""
    logger = get_run_logger()
    logger.info("taking the shared slot %s (another support-audit run may hold it)", WAREHOUSE_CONCURRENCY)
    asked = monotonic()
    with concurrency(WAREHOUSE_CONCURRENCY, strict=False, lease_duration=WAREHOUSE_SLOT_LEASE_SECONDS):
        waited = monotonic() - asked
        if waited >= 1:
            logger.info("got the shared slot %s after %.0f s", WAREHOUSE_CONCURRENCY, waited)
        yield


def ensure_warehouse_concurrency_limit() -> bool:
    """Create the global concurrency limit the daily and backfill flows share, if the Prefect
    server lacks it; True when it was created."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(WAREHOUSE_CONCURRENCY)
            return False
        except ObjectNotFound:
            client.create_global_concurrency_limit(
                GlobalConcurrencyLimitCreate(name=WAREHOUSE_CONCURRENCY, limit=1)
            )
            return True


def served_daily_deployment(cron: str = "30 6 * * *", time_zone: str = "UTC") -> Any:
    """The daily audit as a deployment served from one host (`audit serve`): the schedule of
    the `support-audit-daily` entry of prefect.yaml under a name of its own, so serving never
    replaces the worker deployment `prefect deploy` registered; one run at a time."""
    from prefect.schedules import Cron

    return daily_audit.to_deployment(
        name=SERVED_DEPLOYMENT,
        schedules=[Cron(cron, timezone=time_zone)],
        concurrency_limit=1,
        tags=["support-audit", "audit"],
    )
