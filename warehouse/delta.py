"""The one place the project reads and writes Delta tables (published tables and the run manifest).

- Each audit table gets one Delta commit per day: an overwrite with the predicate
  `audit_date = D`, so a re-run replaces that day's partition (an empty frame empties
  it) and never duplicates; other days are untouched. Commit metadata carries run_id,
  policy_version, audit_date and row_count.
- Tables keep ten years of log and deleted files, and this project never vacuums.
- S3 commits rely on conditional writes (If-None-Match on the commit file, which
  delta-rs 1.x uses by default); unsafe rename is never configured.
- Every commit of a publish attempt carries a Delta app transaction (`day_app_id(D)`, the
  attempt number; the manifest's rows one per attempt and status). When a commit's response is
  lost and the retry conflicts with the commit itself, the table's transaction version shows
  the commit is ours, and the run goes on instead of failing or committing twice
  (`_committed_or_raise`). The same numbers let the publish protocol tell, per table, which
  attempt last wrote a day (warehouse/publication.py).

No Great Expectations here: the report and the CLI read tables through this module and
start in well under a second.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
from deltalake import CommitProperties, DeltaTable, Transaction, write_deltalake
from deltalake.exceptions import TableNotFoundError

from catalogue import AUDIT_TABLES, MANIFEST_TABLE, PARTITION, TABLES
from configs.settings import S3Settings
from storage import is_s3

if TYPE_CHECKING:
    import pyarrow as pa  # imported where used: pyarrow pulls numpy in, and the CLI starts without it

RETENTION = "interval 3650 days"
TABLE_PROPERTIES = {"delta.logRetentionDuration": RETENTION, "delta.deletedFileRetentionDuration": RETENTION}


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


def open_table(uri: str, options: dict[str, str] | None) -> DeltaTable | None:
    try:
        return DeltaTable(uri, storage_options=options)
    except TableNotFoundError:
        return None


def conform(frame: pl.DataFrame, uri: str, options: dict[str, str] | None) -> pl.DataFrame:
    """Cast to the table's types where columns exist; all-null columns get a real type."""
    existing: dict[str, pl.DataType] = {}
    if open_table(uri, options) is not None:
        existing = dict(pl.scan_delta(uri, storage_options=options).collect_schema())
    casts = []
    for name, dtype in frame.schema.items():
        if name in existing and existing[name] != dtype:
            casts.append(pl.col(name).cast(existing[name]))
        elif _without_null(dtype) != dtype:
            casts.append(pl.col(name).cast(_without_null(dtype)))
    return frame.with_columns(casts) if casts else frame


def described(name: str, frame: pl.DataFrame, uri: str, options: dict[str, str] | None) -> pa.Table:
    """The frame as Arrow, each column the table does not have yet carrying its catalogue
    description as the Delta column comment (`comment`, as Spark, Databricks and Trino read it).

    Columns the table already has carry none: delta-rs keeps the stored comment, and refuses a
    write whose comment differs from it (`sync_descriptions` updates stored ones)."""
    import pyarrow as pa

    data = frame.to_arrow()
    if name not in TABLES:
        return data
    table = open_table(uri, options)
    existing = set() if table is None else {f.name for f in table.schema().fields}
    text = {c.name: c.description for c in TABLES[name].columns}
    fields = [
        f.with_metadata({"comment": text[f.name]}) if f.name in text and f.name not in existing else f
        for f in data.schema
    ]
    return data.cast(pa.schema(fields))


def table_description(name: str) -> str | None:
    """The Delta description a new table is created with: the catalogue's grain and description."""
    table = TABLES.get(name)
    return f"One row per {table.grain}. {table.description}" if table else None


def sync_descriptions(warehouse_uri: str, s3: S3Settings | None = None) -> dict[str, int]:
    """Make every published table's Delta description and column comments the catalogue's (after
    a release that reworded them); returns the changes made per table. Each change is a metadata
    commit, so run it between runs, not during one."""
    changes: dict[str, int] = {}
    for name, spec in TABLES.items():
        table = open_table(table_uri(warehouse_uri, name), storage_options(warehouse_uri, s3))
        if table is None:
            continue
        made = 0
        wanted = table_description(name)
        if table.metadata().description != wanted and wanted is not None:
            table.alter.set_table_description(wanted)
            made += 1
        text = {c.name: c.description for c in spec.columns}
        for field in table.schema().fields:
            comment = text.get(field.name)
            if comment is not None and dict(field.metadata or {}).get("comment") != comment:
                table.alter.set_column_metadata(
                    field.name, {**dict(field.metadata or {}), "comment": comment}
                )
                made += 1
        changes[name] = made
    return changes


def _without_null(dtype: Any) -> pl.DataType:
    """Delta has no Null type: an all-null column (or list of nothing) is written as String."""
    if dtype == pl.Null:
        return pl.String()
    if isinstance(dtype, pl.List):
        return pl.List(_without_null(dtype.inner))
    return dtype


def sort_for_publish(name: str, frame: pl.DataFrame) -> pl.DataFrame:
    """Rows in the table's key order (catalogue), so identical inputs give identical files."""
    keys = [c for c in TABLES[name].key if c in frame.columns] if name in TABLES else []
    return frame.sort(keys, nulls_last=True, maintain_order=True) if keys else frame


def day_app_id(audit_date: dt.date) -> str:
    """The Delta app transaction id of an audit day's commits: its version is the attempt
    that last wrote the day (0: none of this protocol's)."""
    return f"support-audit/{audit_date.isoformat()}"


def day_attempt(table: DeltaTable, audit_date: dt.date) -> int:
    """The publish attempt that last wrote `audit_date` in this table (0 if none did)."""
    return table.transaction_version(day_app_id(audit_date)) or 0


def publish_table(
    name: str,
    frame: pl.DataFrame,
    *,
    warehouse_uri: str,
    audit_date: dt.date,
    run_id: str,
    policy_version: str,
    s3: S3Settings | None = None,
    attempt: int | None = None,
    extra_metadata: Mapping[str, Any] | None = None,
) -> int:
    """Replace the audit_date partition of one table in one commit; return the new version.

    The commit carries the attempt as the day's app transaction version, so a commit whose
    response was lost is recognised as ours (and the protocol can tell who wrote the day)."""
    wrong_day = frame.filter(pl.col(PARTITION) != audit_date).height
    if wrong_day:
        raise ValueError(f"{name}: {wrong_day} row(s) not on audit_date {audit_date}; refusing to publish")
    uri, options = table_uri(warehouse_uri, name), storage_options(warehouse_uri, s3)
    data = conform(sort_for_publish(name, frame), uri, options)
    metadata = {
        **_commit_metadata(run_id, policy_version, audit_date, data, attempt),
        "app_id": day_app_id(audit_date),
        **(extra_metadata or {}),
    }
    try:
        overwrite(
            name,
            data,
            uri,
            options,
            predicate=f"{PARTITION} = '{audit_date.isoformat()}'",
            commit_properties=CommitProperties(
                custom_metadata=metadata,
                app_transactions=None if attempt is None else [Transaction(day_app_id(audit_date), attempt)],
            ),
        )
    except Exception:
        if attempt is None:
            raise
        return _committed_or_raise(uri, options, day_app_id(audit_date), attempt)
    return DeltaTable(uri, storage_options=options).version()


def overwrite(
    name: str,
    data: pl.DataFrame,
    uri: str,
    options: dict[str, str] | None,
    *,
    predicate: str | None,
    commit_properties: CommitProperties,
) -> None:
    """Replace the rows `predicate` selects with `data` in one commit (a new table is created
    with the catalogue's description and partitioning; new columns get their comments)."""
    write_deltalake(
        uri,
        described(name, data, uri, options),
        name=name,
        description=table_description(name),
        mode="overwrite",
        predicate=predicate,
        partition_by=list(TABLES[name].partition_by) if name in TABLES else [PARTITION],
        schema_mode="merge",
        configuration=TABLE_PROPERTIES,
        storage_options=options,
        commit_properties=commit_properties,
    )


def replace_rows(
    warehouse_uri: str,
    s3: S3Settings | None,
    name: str,
    frame: pl.DataFrame,
    *,
    predicate: str | None,
    metadata: Mapping[str, Any],
) -> int:
    """Replace the rows `predicate` selects (the whole table when None, or when the table does not
    exist yet) with `frame`, in the catalogue's column order, in one commit carrying `metadata`,
    the run id and the row count; returns the new version. The tables a refresh recomputes."""
    uri, options = table_uri(warehouse_uri, name), storage_options(warehouse_uri, s3)
    data = conform(sort_for_publish(name, frame.select(TABLES[name].schema.names())), uri, options)
    overwrite(
        name,
        data,
        uri,
        options,
        predicate=predicate if predicate and open_table(uri, options) is not None else None,
        commit_properties=CommitProperties(custom_metadata={"row_count": data.height, **metadata}),
    )
    table = open_table(uri, options)
    assert table is not None
    return table.version()


def _committed_or_raise(uri: str, options: dict[str, str] | None, app_id: str, attempt: int) -> int:
    """After a failed commit: the version of our own commit if the table holds it (the
    response was lost, the retry met the commit itself), else re-raise the failure."""
    table = open_table(uri, options)
    if table is None or table.transaction_version(app_id) != attempt:
        raise  # called inside the `except` of the failed write: re-raises its exception
    return _own_commit_version(table, app_id, attempt)


def _own_commit_version(table: DeltaTable, app_id: str, attempt: int) -> int:
    """The version of the commit that carried (app_id, attempt), looked up in recent history."""
    for commit in table.history(limit=50):  # newest first; ours is among the latest
        if commit.get("attempt") == str(attempt) and commit.get("app_id") == app_id:
            return int(commit["version"])
    return table.version()


def _commit_metadata(
    run_id: str, policy_version: str, audit_date: dt.date, data: pl.DataFrame, attempt: int | None = None
) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "policy_version": policy_version,
        "audit_date": audit_date.isoformat(),
        "row_count": data.height,
        "attempt": str(attempt or 0),
    }


def append_manifest(row: pl.DataFrame, *, warehouse_uri: str, s3: S3Settings | None = None) -> int:
    """Append a manifest row (never overwritten: every run stays on record), exactly once:
    a row with an attempt carries it as an app transaction of its own (attempt and status),
    so a retried append whose first response was lost is not written twice."""
    uri, options = table_uri(warehouse_uri, MANIFEST_TABLE), storage_options(warehouse_uri, s3)
    first = row.row(0, named=True)
    attempt = int(first.get("attempt") or 0)
    app_id = f"support-audit/manifest/{first[PARTITION]}/{first['status']}"
    try:
        write_deltalake(
            uri,
            described(MANIFEST_TABLE, row, uri, options),
            name=MANIFEST_TABLE,
            description=table_description(MANIFEST_TABLE),
            mode="append",
            partition_by=[PARTITION],
            schema_mode="merge",
            configuration=TABLE_PROPERTIES,
            storage_options=options,
            commit_properties=CommitProperties(
                custom_metadata={
                    **_commit_metadata(
                        first["run_id"], first["policy_version"], first[PARTITION], row, attempt
                    ),
                    "status": first["status"],
                    "app_id": app_id,
                },
                app_transactions=[Transaction(app_id, attempt)] if attempt else None,
            ),
        )
    except Exception:
        if not attempt:
            raise
        return _committed_or_raise(uri, options, app_id, attempt)
    return DeltaTable(uri, storage_options=options).version()


def read_table(
    warehouse_uri: str,
    name: str,
    s3: S3Settings | None = None,
    audit_date: dt.date | None = None,
    version: int | None = None,
    since: dt.date | None = None,
) -> pl.DataFrame:
    """A published table (optionally one day, or `since` .. `audit_date`, optionally as of a
    version), in publish order. Raises TableNotFoundError when the table does not exist."""
    uri = table_uri(warehouse_uri, name)
    lazy = pl.scan_delta(uri, version=version, storage_options=storage_options(warehouse_uri, s3))
    if audit_date is not None:
        lazy = lazy.filter(pl.col(PARTITION).is_between(since or audit_date, audit_date))
    return sort_for_publish(name, lazy.collect())


def scan_table_if_exists(warehouse_uri: str, name: str, s3: S3Settings | None = None) -> pl.LazyFrame | None:
    """A lazy scan of a table's current version (filters push down to its files), or None when
    the table has not been written yet: for tables read by something other than the audit day."""
    uri, options = table_uri(warehouse_uri, name), storage_options(warehouse_uri, s3)
    if open_table(uri, options) is None:
        return None
    return pl.scan_delta(uri, storage_options=options)


def read_table_if_exists(
    warehouse_uri: str,
    name: str,
    s3: S3Settings | None = None,
    audit_date: dt.date | None = None,
    since: dt.date | None = None,
) -> pl.DataFrame | None:
    """`read_table`, or None when the table has not been written yet (a first failed run)."""
    try:
        return read_table(warehouse_uri, name, s3, audit_date, since=since)
    except (FileNotFoundError, TableNotFoundError):
        return None


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
        if open_table(uri, options) is None:
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


def publish_day(
    tables: Mapping[str, pl.DataFrame],
    *,
    warehouse_uri: str,
    audit_date: dt.date,
    run_id: str,
    policy_version: str,
    s3: S3Settings | None = None,
    written: dict[str, int] | None = None,
    attempt: int | None = None,
    before_commit: Callable[[], None] | None = None,
) -> dict[str, int]:
    """Publish every audit table for one day; returns table -> version written.

    Every table of the catalogue's AUDIT_TABLES must be present (an empty frame empties the day), so a day
    is never published with a table silently missing. `written`, when given, is filled as
    tables are committed, so a caller can record what an interrupted publish did write.
    """
    missing = sorted(set(AUDIT_TABLES) - set(tables))
    if missing:
        raise ValueError(f"cannot publish {audit_date}: missing table(s) {missing}")
    written = {} if written is None else written
    for name in AUDIT_TABLES:
        if before_commit is not None:
            before_commit()  # e.g. the lease is still ours
        written[name] = publish_table(
            name,
            tables[name],
            warehouse_uri=warehouse_uri,
            audit_date=audit_date,
            run_id=run_id,
            policy_version=policy_version,
            s3=s3,
            attempt=attempt,
        )
    return dict(written)
