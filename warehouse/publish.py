"""Write, audit, publish: stage the day's tables, validate them, then publish to Delta.

- Staging keeps the publishable frames in memory (pseudonymised, run_id and policy_version
  added, sorted);
  nothing reaches the warehouse before the gate passes.
- Each table of the catalogue's AUDIT_TABLES gets one commit per day (warehouse/delta.py),
  under the day's lease, between an intent row and the publish point in the manifest
  (warehouse/publication.py): a day is published whole or not at all.
- Data Docs are uploaded to the reports URI (warehouse/data_docs.py) whatever the outcome.
- The run manifest gets a row for every run, failed or not.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import polars as pl

from catalogue import AUDIT_TABLES, MANIFEST_TABLE, PARTITION, POLICY_VERSION, RUN_ID, TABLES
from configs.policy import Policy
from configs.settings import AuditSettings
from storage.scratch import scratch_dir
from transforms.pseudonym import key_id, publishable
from warehouse.data_docs import publish_data_docs
from warehouse.delta import append_manifest, publish_day, sort_for_publish, typical_volumes
from warehouse.lock import Lease, hold
from warehouse.manifest import build_manifest, input_files_frame
from warehouse.publication import day_scope, new_attempt, repair_day
from warehouse.secrets import load_pseudonym_key

if TYPE_CHECKING:  # Great Expectations takes seconds to import: only runs that validate load it
    from expectations import SuiteParams
    from expectations.gate import ValidationReport

log = logging.getLogger(__name__)


def suite_params(
    settings: AuditSettings,
    policy: Policy,
    audit_date: dt.date,
    inputs: Mapping[str, pl.DataFrame | pl.LazyFrame] | None = None,
) -> SuiteParams:
    """Warning baselines: recent published volumes; categories the policy names or the
    run's tickets use (the ticket vocabulary is open, so calls and concessions are checked
    against it); the policy's currencies; the policy's min_volume (scorecards' is_<m>_low_volume)."""
    from expectations import SuiteParams

    categories = set(policy.concessions.allowed)
    if policy.follow_up.categories != "all":
        categories |= set(policy.follow_up.categories)
    tickets = (inputs or {}).get("tickets")
    if tickets is not None and "category" in tickets.lazy().collect_schema().names():
        used = tickets.lazy().select(pl.col("category").drop_nulls().unique()).collect()
        categories |= set(used["category"].to_list())
    return SuiteParams(
        typical_rows=typical_volumes(settings.warehouse_uri, audit_date, settings.s3),
        known_categories=sorted(categories),
        known_currencies=sorted(policy.concessions.currencies),
        min_volume=policy.min_volume,
    )


# --- write, audit, publish -------------------------------------------------------------


def publishing_columns(
    name: str, columns: Sequence[str], *, run_id: str, policy_version: str
) -> list[pl.Expr]:
    """The columns publishing sets on table `name`'s rows (`catalogue.PUBLISHING_COLUMNS`): the
    run, and the policy version on tables that depend on the policy where the frame (with
    `columns`) has none (the concession tables carry the version their checks used; a peer window
    relabelled by a later refresh keeps the version it was computed with)."""
    exprs = []
    version = pl.lit(policy_version, dtype=pl.String)
    if POLICY_VERSION.name in TABLES[name].schema:
        kept = pl.col(POLICY_VERSION.name).fill_null(version) if POLICY_VERSION.name in columns else version
        exprs.append(kept.alias(POLICY_VERSION.name))
    return [*exprs, pl.lit(run_id, dtype=pl.String).alias(RUN_ID.name)]


def stage(
    outputs: Mapping[str, pl.DataFrame], *, key: bytes, run_id: str, audit_date: dt.date, policy_version: str
) -> dict[str, pl.DataFrame]:
    """The frames as they would be published: pseudonymised, free text dropped, run_id and the
    policy version set, sorted. Kept in memory; nothing is written before validation."""
    missing = sorted(set(AUDIT_TABLES) - set(outputs))
    if missing:
        raise ValueError(f"cannot stage {audit_date}: missing output frame(s) {missing}")
    staged = {}
    for name in AUDIT_TABLES:
        frame = publishable(outputs[name].lazy(), key)
        if PARTITION not in frame.collect_schema().names():
            frame = frame.with_columns(pl.lit(audit_date).alias(PARTITION))
        columns = frame.collect_schema().names()
        frame = frame.with_columns(
            publishing_columns(name, columns, run_id=run_id, policy_version=policy_version)
        )
        staged[name] = sort_for_publish(name, frame.collect())
    return staged


@dataclass(frozen=True)
class PublishResult:
    run_id: str
    audit_date: dt.date
    status: str  # succeeded | failed
    report: ValidationReport
    table_versions: dict[str, int] = field(default_factory=dict)
    manifest_version: int | None = None
    data_docs_url: str | None = None

    @property
    def critical_passed(self) -> bool:
        return self.report.critical_passed


def write_audit_publish(
    *,
    ingested: Mapping[str, Any],
    metrics: Mapping[str, pl.DataFrame],
    audit_date: dt.date,
    run_id: str,
    settings: AuditSettings,
    policy: Policy,
    started_at: dt.datetime | None = None,
    key: bytes | None = None,
    params: SuiteParams | None = None,
) -> PublishResult:
    """The flow's entry point: ingestion results (objects with `canonical` (lazy), `quarantine`
    and `files` frames, per entity) and the metric tables for the day.

    The quarantine table is the union of every entity's quarantine records of this run.
    """
    entities = sorted(ingested)
    inputs = {name: ingested[name].canonical for name in entities}  # lazy: the gate reads what it checks
    quarantine = pl.concat([ingested[name].quarantine for name in entities], how="diagonal_relaxed")
    outputs = {"quarantine": quarantine, **metrics}
    files = pl.concat([input_files_frame(ingested[name].files) for name in entities], how="vertical")
    return write_audit_publish_frames(
        inputs,
        outputs,
        files,
        settings=settings,
        policy=policy,
        audit_date=audit_date,
        run_id=run_id,
        started_at=started_at,
        key=key,
        params=params,
    )


def write_audit_publish_frames(
    inputs: Mapping[str, pl.DataFrame | pl.LazyFrame],
    outputs: Mapping[str, pl.DataFrame],
    input_files: pl.DataFrame,
    *,
    settings: AuditSettings,
    policy: Policy,
    audit_date: dt.date,
    run_id: str,
    started_at: dt.datetime | None = None,
    key: bytes | None = None,
    params: SuiteParams | None = None,
    store_versions: Mapping[str, int] | None = None,
) -> PublishResult:
    """Stage -> validate -> Data Docs -> publish atomically (or not) -> manifest.

    `inputs` are canonical tickets / ticket_events / calls frames to validate with the input
    suites (never published; a flow run validates them at ingest and passes none here);
    `outputs` the frames the transforms return for each audit table (with raw customer_id;
    pseudonymised here). Raises ValidationFailed after writing the Data Docs and a `failed`
    manifest row when critical expectations fail; no audit table is touched in that case.
    Without a pseudonym key nothing happens (MissingPseudonymKey). Publishing follows the
    protocol of warehouse/publication.py.
    """
    from expectations.gate import ValidationFailed, run_validation

    key = key if key is not None else load_pseudonym_key()
    staged = stage(outputs, key=key, run_id=run_id, audit_date=audit_date, policy_version=policy.version)
    attempt = new_attempt()
    manifest_args: dict[str, Any] = {
        "run_id": run_id,
        "audit_date": audit_date,
        "started_at": started_at or dt.datetime.now(dt.UTC),
        "input_files": input_files_frame(input_files),
        "policy": policy,
        "settings": settings,
        "store_versions": store_versions,
        "attempt": attempt,
        "pseudonym_key_id": key_id(key),
    }
    draft = build_manifest(**manifest_args)
    params = params or suite_params(settings, policy, audit_date, inputs)
    with scratch_dir(settings.work_dir) as tmp:
        docs_dir = tmp / "data_docs"
        report = run_validation(
            {**inputs, **staged, MANIFEST_TABLE: draft},
            run_id=run_id,
            audit_date=audit_date,
            docs_dir=docs_dir,
            params=params,
        )
        docs_url = publish_data_docs(
            docs_dir, reports_uri=settings.reports_uri, audit_date=audit_date, run_id=run_id, s3=settings.s3
        )

    def record(
        status: str,
        failure: Exception | None = None,
        versions: Mapping[str, int] | None = None,
        attempt: int | None = None,
    ) -> int:
        row = build_manifest(
            **{**manifest_args, "attempt": attempt or manifest_args["attempt"]},
            status=status,
            failure_reason=str(failure)[:4000] if failure else None,
            finished_at=dt.datetime.now(dt.UTC) if status != "publishing" else None,
            validation=[asdict(s) for s in report.suites],
            failed_expectations=[f.describe() for f in report.critical_failures],
            tables={name: (version, staged[name].height) for name, version in (versions or {}).items()},
            data_docs_uri=docs_url,
        )
        return append_manifest(row, warehouse_uri=settings.warehouse_uri, s3=settings.s3)

    if not report.critical_passed:
        failure = ValidationFailed(report)
        record("failed", failure)
        raise failure
    versions, manifest_version = _publish_day(staged, settings, policy, audit_date, run_id, attempt, record)
    log.info("run %s published %s (manifest v%s)", run_id, audit_date, manifest_version)
    return PublishResult(run_id, audit_date, "succeeded", report, versions, manifest_version, docs_url)


def _publish_day(
    staged: Mapping[str, pl.DataFrame],
    settings: AuditSettings,
    policy: Policy,
    audit_date: dt.date,
    run_id: str,
    attempt: int,
    record: Callable[..., int],
) -> tuple[dict[str, int], int]:
    """Holding the day's lease: repair what an earlier attempt left, write the intent, commit
    every table with the attempt, write the publish point (tables' versions, manifest version).
    On a failure, record it and undo this attempt's commits."""
    with hold(
        settings.warehouse_uri,
        day_scope(audit_date),
        run_id,
        s3=settings.s3,
        wait_seconds=settings.lock_wait_seconds,
        lease_seconds=settings.lock_lease_seconds,
    ) as lease:
        repair = repair_day(
            settings.warehouse_uri, audit_date, run_id=run_id, s3=settings.s3, before_commit=lease.check
        )
        attempt = new_attempt(after=max(attempt, repair.last_attempt))
        record("publishing", attempt=attempt)
        written: dict[str, int] = {}
        try:
            publish_day(
                staged,
                warehouse_uri=settings.warehouse_uri,
                audit_date=audit_date,
                run_id=run_id,
                policy_version=policy.version,
                s3=settings.s3,
                written=written,
                attempt=attempt,
                before_commit=lease.check,
            )
            lease.check()  # the publish point is ours to write only while the day is
        except Exception as exc:
            record("failed", exc, written, attempt=attempt)
            _undo(settings, audit_date, run_id, lease)
            raise
        return written, record("succeeded", versions=written, attempt=attempt)  # the publish point


def _undo(settings: AuditSettings, audit_date: dt.date, run_id: str, lease: Lease) -> None:
    """Put the day back to its publish point after a failed attempt; if that fails too, the
    next run (or `audit repair`) does it."""
    try:
        repair_day(
            settings.warehouse_uri, audit_date, run_id=run_id, s3=settings.s3, before_commit=lease.check
        )
    except Exception as exc:  # the original failure is the one to report
        log.warning(
            "could not undo the failed attempt on %s now (%s); the next run repairs it", audit_date, exc
        )
