"""Write, audit, publish: stage the day's tables, validate them, then publish to Delta.

- Staging keeps the publishable frames in memory (pseudonymised, run_id added, sorted);
  nothing reaches the warehouse before the gate passes.
- Each audit table gets one Delta commit per day: an overwrite with the predicate
  `audit_date = D`, so a re-run replaces that day's partition (an empty frame empties
  it) and never duplicates; other days are untouched. Commit metadata carries run_id,
  policy_version, audit_date and row_count.
- Tables keep ten years of log and deleted files, and this project never vacuums.
- S3 commits rely on conditional writes (If-None-Match on the commit file, which
  delta-rs 1.x uses by default); unsafe rename is never configured.
- Data Docs and sanitised results are uploaded to the reports URI, and a runs index
  at `<reports>/data_docs/index.html` links every run by audit date.
- The run manifest row is appended for every run, failed or not.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
from deltalake import CommitProperties, DeltaTable, write_deltalake
from deltalake.exceptions import TableNotFoundError

from configs.policy import Policy
from configs.settings import AuditSettings, S3Settings
from flows.manifest import build_manifest, input_files_frame
from flows.secrets import load_pseudonym_key
from flows.storage import is_s3, open_storage
from transforms.pseudonym import publishable

if TYPE_CHECKING:  # Great Expectations takes seconds to import: only runs that validate load it
    from expectations import SuiteParams
    from expectations.gate import ValidationReport

log = logging.getLogger(__name__)

AUDIT_TABLES = (
    "agent_scorecard",
    "team_scorecard",
    "follow_up_audit",
    "escalation_audit",
    "concession_audit",
    "concession_flags",
    "quarantine",
)
MANIFEST_TABLE = "run_manifest"
PARTITION = "audit_date"
RETENTION = "interval 3650 days"
TABLE_PROPERTIES = {"delta.logRetentionDuration": RETENTION, "delta.deletedFileRetentionDuration": RETENTION}
# Stable row order per table, so identical inputs give identical files.
SORT_KEYS: dict[str, tuple[str, ...]] = {
    "agent_scorecard": ("audit_date", "agent_id"),
    "team_scorecard": ("audit_date", "team_id"),
    "follow_up_audit": ("audit_date", "contact_type", "contact_id"),
    "escalation_audit": ("audit_date", "contact_type", "contact_id"),
    "concession_audit": ("audit_date", "concession_id"),
    "concession_flags": ("audit_date", "flag_type", "subject_type", "subject_id"),
    "quarantine": ("audit_date", "entity", "object_key", "row_number", "reason"),
    MANIFEST_TABLE: ("audit_date", "run_id"),
}
DATA_DOCS_PREFIX = "data_docs"
SUMMARY_FILE = "summary.json"  # written by expectations.gate for every run
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "application/javascript; charset=utf-8",
    ".json": "application/json",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".gif": "image/gif",
    ".ico": "image/x-icon",
    ".otf": "font/otf",
    ".ttf": "font/ttf",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
}


# --- Delta ------------------------------------------------------------------------------


def storage_options(uri: str, s3: S3Settings | None) -> dict[str, str] | None:
    """delta-rs options for an s3:// URI; credentials come from the default AWS chain.

    Deliberately absent: AWS_S3_ALLOW_UNSAFE_RENAME (commits use conditional puts).
    """
    if not is_s3(uri):
        return None
    s3 = s3 or S3Settings.model_validate({})
    options = {"AWS_REGION": s3.region, "AWS_MAX_RETRIES": str(s3.max_attempts)}
    if s3.endpoint_url:
        options["AWS_ENDPOINT_URL"] = s3.endpoint_url
        if s3.endpoint_url.startswith("http://"):
            options["AWS_ALLOW_HTTP"] = "true"
    return options


def table_uri(warehouse_uri: str, name: str) -> str:
    if is_s3(warehouse_uri):
        return f"{warehouse_uri.rstrip('/')}/{name}"
    return str(Path(warehouse_uri).resolve() / name)


def _open(uri: str, options: dict[str, str] | None) -> DeltaTable | None:
    try:
        return DeltaTable(uri, storage_options=options)
    except TableNotFoundError:
        return None


def _conform(frame: pl.DataFrame, uri: str, options: dict[str, str] | None) -> pl.DataFrame:
    """Cast to the table's types where columns exist; all-null columns get a real type."""
    existing: dict[str, pl.DataType] = {}
    if _open(uri, options) is not None:
        existing = dict(pl.scan_delta(uri, storage_options=options).collect_schema())
    casts = []
    for name, dtype in frame.schema.items():
        if name in existing and existing[name] != dtype:
            casts.append(pl.col(name).cast(existing[name]))
        elif _without_null(dtype) != dtype:
            casts.append(pl.col(name).cast(_without_null(dtype)))
    return frame.with_columns(casts) if casts else frame


def _without_null(dtype: Any) -> pl.DataType:
    """Delta has no Null type: an all-null column (or list of nothing) is written as String."""
    if dtype == pl.Null:
        return pl.String()
    if isinstance(dtype, pl.List):
        return pl.List(_without_null(dtype.inner))
    return dtype


def sort_for_publish(name: str, frame: pl.DataFrame) -> pl.DataFrame:
    keys = [c for c in SORT_KEYS.get(name, ()) if c in frame.columns]
    return frame.sort(keys, nulls_last=True, maintain_order=True) if keys else frame


def publish_table(
    name: str,
    frame: pl.DataFrame,
    *,
    warehouse_uri: str,
    audit_date: dt.date,
    run_id: str,
    policy_version: str,
    s3: S3Settings | None = None,
) -> int:
    """Replace the audit_date partition of one table in one commit; return the new version."""
    wrong_day = frame.filter(pl.col(PARTITION) != audit_date).height
    if wrong_day:
        raise ValueError(f"{name}: {wrong_day} row(s) not on audit_date {audit_date}; refusing to publish")
    uri, options = table_uri(warehouse_uri, name), storage_options(warehouse_uri, s3)
    data = _conform(sort_for_publish(name, frame), uri, options)
    write_deltalake(
        uri,
        data.to_arrow(),
        mode="overwrite",
        predicate=f"{PARTITION} = '{audit_date.isoformat()}'",
        partition_by=[PARTITION],
        schema_mode="merge",
        configuration=TABLE_PROPERTIES,
        storage_options=options,
        commit_properties=CommitProperties(
            custom_metadata=_commit_metadata(run_id, policy_version, audit_date, data)
        ),
    )
    return DeltaTable(uri, storage_options=options).version()


def _commit_metadata(
    run_id: str, policy_version: str, audit_date: dt.date, data: pl.DataFrame
) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "policy_version": policy_version,
        "audit_date": audit_date.isoformat(),
        "row_count": data.height,
    }


def publish_day(
    tables: Mapping[str, pl.DataFrame],
    *,
    warehouse_uri: str,
    audit_date: dt.date,
    run_id: str,
    policy_version: str,
    s3: S3Settings | None = None,
    written: dict[str, int] | None = None,
) -> dict[str, int]:
    """Publish every audit table for one day; returns table -> version written.

    Every table of outputs.md must be present (an empty frame empties the day), so a day
    is never published with a table silently missing. `written`, when given, is filled as
    tables are committed, so a caller can record what an interrupted publish did write.
    """
    missing = sorted(set(AUDIT_TABLES) - set(tables))
    if missing:
        raise ValueError(f"cannot publish {audit_date}: missing table(s) {missing}")
    written = {} if written is None else written
    for name in AUDIT_TABLES:
        written[name] = publish_table(
            name,
            tables[name],
            warehouse_uri=warehouse_uri,
            audit_date=audit_date,
            run_id=run_id,
            policy_version=policy_version,
            s3=s3,
        )
    return dict(written)


def append_manifest(row: pl.DataFrame, *, warehouse_uri: str, s3: S3Settings | None = None) -> int:
    """Append the run's manifest row (never overwritten: every run stays on record)."""
    uri, options = table_uri(warehouse_uri, MANIFEST_TABLE), storage_options(warehouse_uri, s3)
    first = row.row(0, named=True)
    write_deltalake(
        uri,
        row.to_arrow(),
        mode="append",
        partition_by=[PARTITION],
        schema_mode="merge",
        configuration=TABLE_PROPERTIES,
        storage_options=options,
        commit_properties=CommitProperties(
            custom_metadata={
                **_commit_metadata(first["run_id"], first["policy_version"], first[PARTITION], row),
                "status": first["status"],
            }
        ),
    )
    return DeltaTable(uri, storage_options=options).version()


def read_table(
    warehouse_uri: str,
    name: str,
    s3: S3Settings | None = None,
    audit_date: dt.date | None = None,
    version: int | None = None,
) -> pl.DataFrame:
    """A published table (optionally one day, optionally as of a version), in publish order."""
    uri = table_uri(warehouse_uri, name)
    lazy = pl.scan_delta(uri, version=version, storage_options=storage_options(warehouse_uri, s3))
    if audit_date is not None:
        lazy = lazy.filter(pl.col(PARTITION) == audit_date)
    return sort_for_publish(name, lazy.collect())


def table_history(warehouse_uri: str, name: str, s3: S3Settings | None = None) -> pl.DataFrame:
    """One row per table version: when, what operation, and the run that wrote it."""
    table = DeltaTable(table_uri(warehouse_uri, name), storage_options=storage_options(warehouse_uri, s3))
    rows = [
        {
            "version": int(h["version"]),
            "committed_at": dt.datetime.fromtimestamp(h["timestamp"] / 1000, dt.UTC),
            "operation": h.get("operation"),
            "predicate": (h.get("operationParameters") or {}).get("predicate"),
            "run_id": h.get("run_id"),
            "policy_version": h.get("policy_version"),
            "audit_date": h.get("audit_date"),
            "row_count": h.get("row_count"),
        }
        for h in table.history()
    ]
    schema = pl.Schema(
        {
            "version": pl.Int64(),
            "committed_at": pl.Datetime("us", "UTC"),
            "operation": pl.String(),
            "predicate": pl.String(),
            "run_id": pl.String(),
            "policy_version": pl.String(),
            "audit_date": pl.String(),
            "row_count": pl.Int64(),
        }
    )
    return pl.DataFrame(rows, schema=schema).sort("version")


def typical_volumes(
    warehouse_uri: str, before: dt.date, s3: S3Settings | None = None, days: int = 28
) -> dict[str, int]:
    """Median published rows per day of each audit table over the `days` before `before`.

    Days without rows leave no trace in a table, so they do not pull the median down;
    tables without history give no baseline, hence no volume warning.
    """
    start = before - dt.timedelta(days=days)
    out: dict[str, int] = {}
    for name in AUDIT_TABLES:
        uri, options = table_uri(warehouse_uri, name), storage_options(warehouse_uri, s3)
        if _open(uri, options) is None:
            continue
        per_day = (
            pl.scan_delta(uri, storage_options=options)
            .filter(pl.col(PARTITION).is_between(start, before, closed="left"))
            .group_by(PARTITION)
            .agg(rows=pl.len())
            .collect()
        )
        if per_day.height:
            out[name] = int(per_day.select(pl.col("rows").median()).item())
    return out


def suite_params(
    settings: AuditSettings,
    policy: Policy,
    audit_date: dt.date,
    inputs: Mapping[str, pl.DataFrame | pl.LazyFrame] | None = None,
) -> SuiteParams:
    """Warning baselines: recent published volumes; categories the policy names or the
    run's tickets use (the ticket vocabulary is open, so calls and concessions are checked
    against it); the policy's currencies; the policy's min_volume (scorecards' low_volume)."""
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


# --- Data Docs ---------------------------------------------------------------------------


def data_docs_prefix(audit_date: dt.date, run_id: str) -> str:
    return f"{DATA_DOCS_PREFIX}/audit_date={audit_date.isoformat()}/run_id={run_id}"


def publish_data_docs(
    docs_dir: Path, *, reports_uri: str, audit_date: dt.date, run_id: str, s3: S3Settings | None = None
) -> str:
    """Upload one run's Data Docs (with content types) and refresh the runs index.

    Returns the URI of the run's Data Docs index page.
    """
    storage = open_storage(reports_uri, s3)
    prefix = data_docs_prefix(audit_date, run_id)
    for path in sorted(p for p in Path(docs_dir).rglob("*") if p.is_file()):
        key = f"{prefix}/{path.relative_to(docs_dir).as_posix()}"
        storage.write_bytes(key, path.read_bytes(), content_type=content_type(path.name))
    refresh_runs_index(reports_uri, s3)
    return f"{storage.uri.rstrip('/')}/{prefix}/index.html"


def content_type(name: str) -> str:
    return CONTENT_TYPES.get(Path(name).suffix.lower(), "application/octet-stream")


def refresh_runs_index(reports_uri: str, s3: S3Settings | None = None) -> str:
    """Rebuild `<reports>/data_docs/index.html` from every run's summary.json."""
    from expectations.gate import render_runs_index

    storage = open_storage(reports_uri, s3)
    summaries, links = [], {}
    for info in storage.list(DATA_DOCS_PREFIX):
        parts = info.key.split("/")
        if len(parts) == 4 and parts[3] == SUMMARY_FILE:
            summary = json.loads(storage.read_bytes(info.key))
            summaries.append(summary)
            links[summary["run_id"]] = f"{parts[1]}/{parts[2]}/index.html"
    key = f"{DATA_DOCS_PREFIX}/index.html"
    storage.write_bytes(
        key, render_runs_index(summaries, links).encode("utf-8"), content_type=CONTENT_TYPES[".html"]
    )
    return key


# --- write, audit, publish -------------------------------------------------------------


def stage(
    outputs: Mapping[str, pl.DataFrame], *, key: bytes, run_id: str, audit_date: dt.date
) -> dict[str, pl.DataFrame]:
    """The frames as they would be published: pseudonymised, free text dropped, run_id set,
    sorted. Kept in memory; nothing is written before validation."""
    missing = sorted(set(AUDIT_TABLES) - set(outputs))
    if missing:
        raise ValueError(f"cannot stage {audit_date}: missing output frame(s) {missing}")
    staged = {}
    for name in AUDIT_TABLES:
        frame = publishable(outputs[name].lazy(), key)
        if PARTITION not in frame.collect_schema().names():
            frame = frame.with_columns(pl.lit(audit_date).alias(PARTITION))
        frame = frame.with_columns(pl.lit(run_id, dtype=pl.String).alias("run_id"))
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
) -> PublishResult:
    """Stage -> validate -> publish (or not) -> Data Docs -> manifest.

    `inputs` are the canonical tickets / ticket_events / calls frames (validated, never
    published); `outputs` the frames the transforms return for each audit table (with
    raw customer_id; pseudonymised here). Raises ValidationFailed after writing the Data
    Docs and a `failed` manifest row when critical expectations fail; no audit table is
    touched in that case. Without a pseudonym key nothing happens (MissingPseudonymKey).
    """
    from expectations.gate import run_validation

    key = key if key is not None else load_pseudonym_key()
    staged = stage(outputs, key=key, run_id=run_id, audit_date=audit_date)
    manifest_args: dict[str, Any] = {
        "run_id": run_id,
        "audit_date": audit_date,
        "started_at": started_at or dt.datetime.now(dt.UTC),
        "input_files": input_files_frame(input_files),
        "policy": policy,
        "settings": settings,
    }
    draft = build_manifest(**manifest_args)
    params = params or suite_params(settings, policy, audit_date, inputs)
    with tempfile.TemporaryDirectory(prefix="audit-docs-", dir=settings.work_dir) as tmp:
        docs_dir = Path(tmp) / "data_docs"
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
    versions, failure = _publish_if_passed(report, staged, settings, policy, audit_date, run_id)
    status = "failed" if failure else "succeeded"
    row = build_manifest(
        **manifest_args,
        status=status,
        failure_reason=str(failure)[:4000] if failure else None,
        finished_at=dt.datetime.now(dt.UTC),
        validation=[asdict(s) for s in report.suites],
        failed_expectations=[f.describe() for f in report.critical_failures],
        tables={name: (version, staged[name].height) for name, version in versions.items()},
        data_docs_uri=docs_url,
    )
    manifest_version = append_manifest(row, warehouse_uri=settings.warehouse_uri, s3=settings.s3)
    log.info("run %s for %s: %s (manifest v%s)", run_id, audit_date, status, manifest_version)
    if failure:
        raise failure
    return PublishResult(run_id, audit_date, status, report, versions, manifest_version, docs_url)


def _publish_if_passed(
    report: ValidationReport,
    staged: Mapping[str, pl.DataFrame],
    settings: AuditSettings,
    policy: Policy,
    audit_date: dt.date,
    run_id: str,
) -> tuple[dict[str, int], Exception | None]:
    """Versions written and the failure, if any (an interrupted publish keeps what it wrote)."""
    from expectations.gate import ValidationFailed

    if not report.critical_passed:
        return {}, ValidationFailed(report)
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
        )
    except Exception as exc:  # recorded in the manifest, then re-raised
        return written, exc
    return written, None
