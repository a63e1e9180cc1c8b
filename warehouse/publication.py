"""Publishing an audit day atomically across its tables, repairing an interrupted one, and
reading what is published.

Delta commits are atomic per table; a day is several tables. The protocol (docs/auditing.md,
"How a day is published"):

1. The run holds the day's lease (`audit-day-<D>`, warehouse/lock.py): one writer per day.
2. **Repair** (`repair_day`): every table's day is made the last succeeded attempt's, restored
   from the version its manifest row lists; attempts that stopped between their intent and
   their publish point get a `rolled_back` manifest row.
3. **Intent**: a `publishing` manifest row with a new attempt number.
4. One commit per table, each carrying the attempt as the version of the day's Delta app
   transaction (`warehouse.delta.day_app_id`).
5. **Publish point**: the `succeeded` manifest row, listing each table's version.

A reader goes through the publish point (`read_published`): a day is read at the versions its
latest succeeded row lists, so it is one run's day even while another attempt is half way
through, and a day no attempt finished is not published at all. The live table is read
directly where its app transaction shows the day is still that attempt's (the common case:
one scan for any range of days).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from catalogue import AUDIT_TABLES, MANIFEST_TABLE, PARTITION, TABLE_VERSION_SCHEMA
from configs.settings import S3Settings
from warehouse.delta import (
    append_manifest,
    day_attempt,
    open_table,
    publish_table,
    sort_for_publish,
    storage_options,
    table_uri,
)

log = logging.getLogger(__name__)

TERMINAL = ("succeeded", "failed", "rolled_back")
POINT_COLUMNS = (PARTITION, "run_id", "status", "attempt", "finished_at", "tables")
EMPTY_MANIFEST = {
    PARTITION: pl.Date(),
    "run_id": pl.String(),
    "status": pl.String(),
    "attempt": pl.Int64(),
    "finished_at": pl.Datetime("us", "UTC"),
    "tables": pl.List(TABLE_VERSION_SCHEMA),
}


def new_attempt(after: int = 0) -> int:
    """A publish attempt's number: the clock in nanoseconds, but always past `after` (the day's
    highest attempt so far, read under its lease), so a day's attempts increase in the order
    they ran whatever the clocks of their hosts say; never 0, which stands for "no attempt of
    this protocol"."""
    return max(time.time_ns(), after + 1)


def day_scope(audit_date: dt.date) -> str:
    """The lease scope of an audit day."""
    return f"audit-day-{audit_date.isoformat()}"


@dataclass(frozen=True)
class PublishPoint:
    """The latest succeeded attempt of a day: what a reader sees."""

    audit_date: dt.date
    run_id: str
    attempt: int  # 0 for a day published before attempts were recorded
    versions: dict[str, int]


def manifest_rows(
    warehouse_uri: str,
    s3: S3Settings | None,
    first: dt.date | None = None,
    last: dt.date | None = None,
    columns: tuple[str, ...] | None = None,
) -> pl.DataFrame:
    """The manifest's rows (of first..last; only those of `columns` it has, if given), with an
    `attempt` column even for rows written before attempts were recorded."""
    uri, options = table_uri(warehouse_uri, MANIFEST_TABLE), storage_options(warehouse_uri, s3)
    if open_table(uri, options) is None:
        return pl.DataFrame(schema=EMPTY_MANIFEST)
    lazy = pl.scan_delta(uri, storage_options=options)
    present = lazy.collect_schema().names()
    # Rows from before a column existed (attempt, or an older manifest's spelling) read as null.
    lazy = lazy.with_columns(
        pl.lit(None, dtype=dtype).alias(name) for name, dtype in EMPTY_MANIFEST.items() if name not in present
    )
    if first is not None:
        lazy = lazy.filter(pl.col(PARTITION) >= first)
    if last is not None:
        lazy = lazy.filter(pl.col(PARTITION) <= last)
    if columns:  # a column an older manifest never recorded is left out, not an error
        lazy = lazy.select(c for c in columns if c in present or c in EMPTY_MANIFEST)
    return lazy.collect()


def publish_points(manifest: pl.DataFrame) -> dict[dt.date, PublishPoint]:
    """Each day's latest succeeded row (by attempt, then finish time for rows written before
    attempts were recorded), leaving out attempts a repair rolled back (a stalled writer's late
    row never becomes the day's point). Attempts, not finish times, order it: they increase
    under the day's lease (`new_attempt`), and finish times come from hosts' clocks."""
    undone = manifest.filter(pl.col("status") == "rolled_back").select(PARTITION, "run_id", "attempt")
    succeeded = manifest.filter(pl.col("status") == "succeeded").join(
        undone, on=[PARTITION, "run_id", "attempt"], how="anti", nulls_equal=True
    )
    if succeeded.is_empty():
        return {}
    latest = (
        succeeded.with_columns(pl.col("attempt").fill_null(0).alias("__order"))
        .sort("__order", "finished_at", nulls_last=False)
        .group_by(PARTITION)
        .last()
    )
    return {
        row[PARTITION]: PublishPoint(
            row[PARTITION],
            row["run_id"],
            int(row["attempt"] or 0),
            {t["table"]: int(t["version"]) for t in row["tables"] or []},
        )
        for row in latest.iter_rows(named=True)
    }


@dataclass(frozen=True)
class DayInputsKey:
    """What an audit day's published tables are a function of (docs/outputs.md: the same
    inputs, configuration and code give identical table contents), as its manifest row records
    them: the canonical store snapshot its audit read, the configuration hash (settings and
    policy), the code version and the pseudonym key's id (customer_key values)."""

    store_versions: dict[str, int]
    config_hash: str
    code_version: str
    pseudonym_key_id: str


UP_TO_DATE_COLUMNS = (
    *POINT_COLUMNS,
    "store_versions",
    "config_hash",
    "code_version",
    "pseudonym_key_id",
    "data_docs_uri",
)


@dataclass(frozen=True)
class UpToDate:
    """A day whose publish point was made from the inputs, configuration and code a run has now."""

    audit_date: dt.date
    run_id: str  # the run that published it
    attempt: int
    data_docs_uri: str | None


def up_to_date_days(manifest: pl.DataFrame, now: DayInputsKey) -> dict[dt.date, UpToDate]:
    """The days an audit now would publish again unchanged, as far as the manifest tells: each
    day whose publish point (its latest succeeded attempt, `publish_points`) recorded the same
    store snapshot, configuration hash, code version and pseudonym key id as `now`, and that no
    attempt followed but those a repair rolled back (an unfinished or failed attempt after the
    point means the day is audited again, which also repairs it). `whole_at_point` then checks
    the tables themselves. `manifest`: rows with `UP_TO_DATE_COLUMNS`; a manifest from before
    any of them was recorded has no day up to date."""
    if manifest.is_empty() or not set(UP_TO_DATE_COLUMNS) <= set(manifest.columns):
        return {}
    points = publish_points(manifest)
    undone = manifest.filter(pl.col("status") == "rolled_back").select(PARTITION, "run_id", "attempt")
    standing = manifest.join(undone, on=[PARTITION, "run_id", "attempt"], how="anti", nulls_equal=True)
    last_attempt = dict(standing.group_by(PARTITION).agg(pl.col("attempt").fill_null(0).max()).iter_rows())
    out = {}
    for day, point in points.items():
        if point.attempt == 0 or last_attempt[day] != point.attempt:
            continue  # an attempt after the point, or a point from before attempts were recorded
        row = manifest.filter(
            (pl.col(PARTITION) == day)
            & (pl.col("run_id") == point.run_id)
            & (pl.col("attempt") == point.attempt)
            & (pl.col("status") == "succeeded")
        ).row(0, named=True)
        recorded = DayInputsKey(
            {v["table"]: int(v["version"]) for v in row["store_versions"] or []},
            row["config_hash"],
            row["code_version"],
            row["pseudonym_key_id"],
        )
        if recorded == now:
            out[day] = UpToDate(day, point.run_id, point.attempt, row["data_docs_uri"])
    return out


def whole_at_point(
    warehouse_uri: str, s3: S3Settings | None, days: dict[dt.date, UpToDate]
) -> dict[dt.date, UpToDate]:
    """Those of `days` that every audit table holds as their publish point's attempt wrote them
    (the day's app transaction in each table is that attempt). A writer that stalled past its
    lease, was rolled back, then woke and committed leaves a table whose live day is not the
    point's until a repair: such a day is audited again, which repairs it."""
    if not days:
        return {}
    options = storage_options(warehouse_uri, s3)
    tables = [open_table(table_uri(warehouse_uri, name), options) for name in AUDIT_TABLES]
    return {
        day: found
        for day, found in days.items()
        if all(table is not None and day_attempt(table, day) == found.attempt for table in tables)
    }


def unfinished_attempts(manifest: pl.DataFrame, audit_date: dt.date) -> pl.DataFrame:
    """Intent rows of the day whose attempt wrote no succeeded, failed or rolled_back row."""
    day = manifest.filter(pl.col(PARTITION) == audit_date)
    closed = day.filter(pl.col("status").is_in(TERMINAL)).select("run_id", "attempt")
    return day.filter(pl.col("status") == "publishing").join(closed, on=["run_id", "attempt"], how="anti")


@dataclass(frozen=True)
class Repair:
    """What `repair_day` did."""

    audit_date: dt.date
    restored: tuple[str, ...]  # tables whose day was put back to the publish point
    rolled_back: tuple[int, ...]  # attempts marked rolled_back
    last_attempt: int = 0  # the day's highest attempt in the manifest (0: none)

    @property
    def changed(self) -> bool:
        return bool(self.restored or self.rolled_back)

    def describe(self) -> str:
        if not self.changed:
            return f"{self.audit_date}: consistent, nothing to repair"
        return (
            f"{self.audit_date}: restored {', '.join(self.restored) or 'no table'} to the last "
            f"published run; {len(self.rolled_back)} unfinished attempt(s) marked rolled_back"
        )


def repair_day(
    warehouse_uri: str,
    audit_date: dt.date,
    *,
    run_id: str,
    s3: S3Settings | None = None,
    before_commit: Callable[[], None] | None = None,
) -> Repair:
    """Make every table's `audit_date` the day's last succeeded attempt's (empty if none), and
    close unfinished attempts with a `rolled_back` row. Call it holding the day's lease."""
    manifest = manifest_rows(warehouse_uri, s3, audit_date, audit_date)
    point = publish_points(manifest).get(audit_date)
    restored = []
    for name in AUDIT_TABLES:
        uri, options = table_uri(warehouse_uri, name), storage_options(warehouse_uri, s3)
        table = open_table(uri, options)
        expected = point.attempt if point else 0
        if table is None or day_attempt(table, audit_date) == expected:
            continue
        if before_commit is not None:
            before_commit()
        _restore(name, uri, options, audit_date, point, warehouse_uri, s3, run_id)
        restored.append(name)
    rolled_back = []
    for row in unfinished_attempts(manifest, audit_date).iter_rows(named=True):
        reason = "stopped between its intent and its publish point (killed, or its lease was lost); " + (
            f"the day is run {point.run_id}'s" if point else "the day has no published run"
        )
        closed = {
            **row,
            "status": "rolled_back",
            "failure_reason": reason,
            "finished_at": dt.datetime.now(dt.UTC),
        }
        append_manifest(pl.DataFrame([closed], schema=manifest.schema), warehouse_uri=warehouse_uri, s3=s3)
        rolled_back.append(int(row["attempt"] or 0))
    last_attempt = manifest.filter(pl.col(PARTITION) == audit_date)["attempt"].max()
    repair = Repair(audit_date, tuple(restored), tuple(rolled_back), int(last_attempt or 0))  # type: ignore[arg-type]
    if repair.changed:
        log.warning("repair: %s", repair.describe())
    return repair


def _restore(
    name: str,
    uri: str,
    options: dict[str, str] | None,
    audit_date: dt.date,
    point: PublishPoint | None,
    warehouse_uri: str,
    s3: S3Settings | None,
    run_id: str,
) -> None:
    """Rewrite the table's day as the publish point wrote it (its version), or empty."""
    version = point.versions.get(name) if point else None
    if version is None:
        rows = pl.scan_delta(uri, storage_options=options).head(0).collect()
    else:
        lazy = pl.scan_delta(uri, version=version, storage_options=options)
        rows = lazy.filter(pl.col(PARTITION) == audit_date).collect()
    publish_table(
        name,
        rows,
        warehouse_uri=warehouse_uri,
        audit_date=audit_date,
        run_id=point.run_id if point else run_id,
        policy_version=str(rows["policy_version"][0])
        if "policy_version" in rows.columns and rows.height
        else "",
        s3=s3,
        attempt=point.attempt if point else 0,
        extra_metadata={"action": "repair", "repair_run": run_id, "restored_version": str(version)},
    )


def read_published(
    warehouse_uri: str,
    name: str,
    s3: S3Settings | None = None,
    audit_date: dt.date | None = None,
    since: dt.date | None = None,
    points: dict[dt.date, PublishPoint] | None = None,
) -> pl.DataFrame | None:
    """A published table as its days' publish points left it (optionally one day, or
    `since` .. `audit_date`); None when the table does not exist.

    A day is read live when the table's app transaction says the publish point's attempt
    wrote it last (days written before attempts existed: no attempt on either side), else at
    the version the publish point lists; a day that an attempt wrote but none finished is
    absent. The publish points are read first and the table after, at the one snapshot whose
    app transactions were checked; pass `points` to read several tables of a day against the
    same points."""
    uri, options = table_uri(warehouse_uri, name), storage_options(warehouse_uri, s3)
    first = since or audit_date
    if points is None:
        points = publish_points(manifest_rows(warehouse_uri, s3, first, audit_date, POINT_COLUMNS))
    table = open_table(uri, options)
    if table is None:
        return None
    lazy = pl.scan_delta(uri, version=table.version(), storage_options=options)
    if audit_date is not None:
        lazy = lazy.filter(pl.col(PARTITION).is_between(first, audit_date))
    live = lazy.collect()
    days = set(live[PARTITION].unique().to_list()) | set(points)
    stale = [d for d in days if day_attempt(table, d) != (points[d].attempt if d in points else 0)]
    frames = [live.filter(~pl.col(PARTITION).is_in(stale))]
    for day in stale:
        if day in points and name in points[day].versions:
            pinned = pl.scan_delta(uri, version=points[day].versions[name], storage_options=options)
            frames.append(pinned.filter(pl.col(PARTITION) == day).collect())
    return sort_for_publish(name, pl.concat(frames, how="diagonal_relaxed"))
