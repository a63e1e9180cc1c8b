"""Ingestion: list an entity's export objects in a date range, read, stage, de-duplicate, reconcile.

Plain functions (the Prefect tasks wrap them). Every input row ends in exactly one place
(accepted, quarantined, or dropped as an exact duplicate) and the per-file report says
how many went where: rows_read = rows_accepted + rows_quarantined + rows_duplicate.
Quarantined raw rows and whole bad files are copied under the quarantine prefix of the
landing store (restricted, never published) so nothing is lost.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import cast

import polars as pl

from adapters.layout import VENDOR_FORMATS, VendorLanding
from configs.limits import InputRules, ReadLimits
from ingestion.readers import LIMIT_REASONS, UnreadableFile, as_text, export_format, read_export
from storage import Storage, StorageError, safe_key
from transforms import dedup
from transforms.schemas import ENTITIES, EntitySchema
from transforms.schemas import quarantine as q
from transforms.schemas.base import SOURCE_KEY, SOURCE_ROW
from transforms.staging import check_columns, conform_columns, empty_raw, is_typed_match, stage

FILE_REPORT_SCHEMA = pl.Schema(
    {
        "entity": pl.String(),
        "object_key": pl.String(),
        "etag": pl.String(),
        "size": pl.Int64(),
        "export_date": pl.Date(),
        "rows_read": pl.Int64(),
        "rows_accepted": pl.Int64(),  # includes superseded versions
        "rows_quarantined": pl.Int64(),
        "rows_duplicate": pl.Int64(),
        "rows_superseded": pl.Int64(),
        "schema_drift": pl.List(pl.String()),
        "file_error": pl.String(),  # quarantine reason of a whole-file rejection, else null
    }
)
_COUNTS = ("rows_accepted", "rows_quarantined", "rows_duplicate", "rows_superseded")
QUARANTINED_ROWS_SUFFIX = ".quarantined-rows.jsonl"
# Consecutive files staged in one query (`stage_files`): at most this many rows, and this much
# raw data held (a few files of long text rows reach the bytes first).
STAGE_TOGETHER_ROWS = 200_000
STAGE_TOGETHER_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class ExportObject:
    """One listed export object that is not a marker file."""

    entity: str
    key: str
    etag: str
    size: int
    export_date: date
    format: str | None  # None: unsupported extension
    is_safe_key: bool
    fingerprint: str = ""  # the listing's change signature (storage.ObjectInfo.fingerprint)


@dataclass(frozen=True)
class FileError:
    reason: str  # a quarantine reason code
    detail: str


@dataclass(frozen=True)
class LoadedFile:
    """One export object after reading and the column check.

    `raw` is released once the file is staged (see `ingest_entity`); `rows_read` stays.
    """

    obj: ExportObject
    raw: pl.DataFrame | None = None  # the file's own columns (typed Parquet kept typed) + source_row
    drift: tuple[str, ...] = ()
    error: FileError | None = None
    data: bytes | None = field(default=None, repr=False)  # to copy a rejected file or its rejected rows
    rows_read: int = 0
    limits: ReadLimits | None = field(default=None, repr=False)  # as read: `raw_text` reads again
    vendor: VendorLanding | None = field(default=None, repr=False)  # a vendor object's adapter


@dataclass(frozen=True)
class IngestResult:
    entity: str
    # Contract columns + lineage, one row per key (in memory).
    canonical: pl.LazyFrame
    quarantine: pl.DataFrame  # QUARANTINE_SCHEMA, rows and whole files
    files: pl.DataFrame  # FILE_REPORT_SCHEMA, one row per listed object


# --- listing ----------------------------------------------------------------------------------


def export_days(start: date, end: date) -> Iterator[date]:
    day = start
    while day <= end:
        yield day
        day += timedelta(days=1)


def partition_prefix(entity: str, day: date) -> str:
    return f"{entity}/export_date={day.isoformat()}/"


def is_marker(name: str) -> bool:
    """Markers (`_SUCCESS`, `.crc`, `_temporary/...`) are not exports: any path part starting
    with `_` or `.` below the partition folder."""
    return any(part.startswith(("_", ".")) for part in name.split("/"))


def is_safe_object_key(key: str) -> bool:
    try:
        return safe_key(key) == key
    except StorageError:
        return False


def is_partition_folder(name: str) -> bool:
    """`export_date=YYYY-MM-DD` with a real date."""
    day = name.removeprefix("export_date=")
    if name == day or len(day) != 10:
        return False
    try:
        date.fromisoformat(day)
    except ValueError:
        return False
    return True


def stray_folders(storage: Storage, entity: str) -> list[str]:
    """Folders under the entity that are not day partitions (nor markers): nothing in them is
    ever read, so each run reports them (e.g. `export_date=2026-3-2`)."""
    # cast: inside the Storage protocol `list[str]` resolves to its own `list` method for mypy
    names = cast("Sequence[str]", storage.folders(entity))
    return [f"{entity}/{n}/" for n in names if not n.startswith(("_", ".")) and not is_partition_folder(n)]


def newest_export_date(storage: Storage) -> date | None:
    """The newest `export_date=` folder of any entity (folder names only; nothing is read)."""
    days: list[date] = []
    for entity in ENTITIES:
        for name in storage.folders(entity):
            if name.startswith("export_date="):
                try:
                    days.append(date.fromisoformat(name.removeprefix("export_date=")))
                except ValueError:
                    continue  # not a partition folder; ingestion reports stray objects
    return max(days, default=None)


def list_exports(storage: Storage, entity: str, start: date, end: date) -> list[ExportObject]:
    """Export objects of one entity with start <= export_date <= end, in key order."""
    objects: list[ExportObject] = []
    for day in export_days(start, end):
        prefix = partition_prefix(entity, day)
        for info in storage.list(prefix):
            if not info.key.startswith(prefix) or info.key.endswith("/"):
                continue  # another folder, or a folder placeholder object (S3 consoles make them)
            name = info.key.removeprefix(prefix)
            safe = is_safe_object_key(info.key)
            if safe and is_marker(name):
                continue
            objects.append(
                ExportObject(entity, info.key, info.etag, info.size, day, export_format(name), safe)
            )
    return sorted(objects, key=lambda o: o.key)


# --- reading one object -----------------------------------------------------------------------


def load_export(
    storage: Storage,
    obj: ExportObject,
    schema: EntitySchema,
    limits: ReadLimits | None = None,
    vendor: VendorLanding | None = None,
) -> LoadedFile:
    """Read one object and check its columns; whole-file problems become a `FileError`.

    An object larger than `limits.max_decompressed_bytes` is not read at all (nor copied to the
    quarantine: the copy would hold it in memory); it stays in the landing. A vendor object
    (`vendor`, its format one of `VENDOR_FORMATS`) is read by its adapter into contract rows."""
    limits = limits or ReadLimits()
    if not obj.is_safe_key:
        return LoadedFile(obj, error=FileError(q.UNREADABLE_FILE, "unsafe object key: not read"))
    if obj.format is None:
        detail = "extension is not one of parquet, csv, csv.gz, jsonl, jsonl.gz"
        return LoadedFile(
            obj, error=FileError(q.UNSUPPORTED_FORMAT, detail), data=storage.read_bytes(obj.key)
        )
    if obj.size > limits.max_decompressed_bytes:
        detail = f"object_too_large: {obj.size} bytes, the limit is {limits.max_decompressed_bytes}; not read"
        return LoadedFile(obj, error=FileError(q.INPUT_LIMIT, detail), limits=limits)
    data = storage.read_bytes(obj.key)
    try:
        raw = _read(data, obj, limits, vendor, keep_types=True)
    except UnreadableFile as exc:
        reason = q.INPUT_LIMIT if exc.reason in LIMIT_REASONS else q.UNREADABLE_FILE
        return LoadedFile(
            obj,
            error=FileError(reason, f"{exc.reason}: {exc.detail}"),
            data=data,
            limits=limits,
            vendor=vendor,
        )
    columns = [c for c in raw.columns if c != SOURCE_ROW]
    if not columns:  # an empty file: no header, no rows
        return LoadedFile(obj, raw=raw, data=data, rows_read=raw.height, limits=limits, vendor=vendor)
    check = check_columns(columns, schema)
    error = None
    if check.missing_required:
        detail = f"missing required columns: {', '.join(check.missing_required)}"
        error = FileError(q.MISSING_COLUMN, detail)
    return LoadedFile(
        obj,
        raw=raw,
        drift=check.drift,
        error=error,
        data=data,
        rows_read=raw.height,
        limits=limits,
        vendor=vendor,
    )


def _read(
    data: bytes, obj: ExportObject, limits: ReadLimits, vendor: VendorLanding | None, keep_types: bool = False
) -> pl.DataFrame:
    if obj.format in VENDOR_FORMATS:
        if vendor is None:
            raise ValueError(f"{obj.key}: a {obj.format} object needs the vendor mapping")
        return vendor.rows(obj.format, data)
    return read_export(data, obj.key, keep_types=keep_types, limits=limits).collect()


def raw_text(loaded: LoadedFile) -> pl.DataFrame:
    """The file's rows as text, as quarantine records show them (parsed again from its bytes)."""
    if loaded.data is None:
        raise ValueError(f"no bytes kept for {loaded.obj.key}")
    return _read(loaded.data, loaded.obj, loaded.limits or ReadLimits(), loaded.vendor)


def conformed(loaded: LoadedFile, schema: EntitySchema) -> pl.LazyFrame | None:
    """The file's rows ready for staging, or None when the file is rejected as a whole."""
    if loaded.raw is None or loaded.error is not None:
        return None
    # Typed columns the contract types differently are parsed from their text, as read.
    mismatched = [
        as_text(f.name, dtype)
        for f in schema.fields
        if (dtype := loaded.raw.schema.get(f.name)) is not None
        and dtype != pl.String()
        and not is_typed_match(f, dtype)
    ]
    return conform_columns(
        loaded.raw.lazy().with_columns(mismatched),
        schema,
        export_date=loaded.obj.export_date,
        source_key=loaded.obj.key,
    )


def stage_file(
    loaded: LoadedFile, schema: EntitySchema, rules: InputRules
) -> tuple[pl.DataFrame, pl.DataFrame] | None:
    """Accepted and quarantined rows of one file (None when it is rejected as a whole).

    Staged file by file: each file's columns keep their own types (typed Parquet, text CSV).
    """
    raw = conformed(loaded, schema)
    return None if raw is None else _stage_group([raw], schema, rules)


def stage_files(
    loaded_files: Iterable[LoadedFile], schema: EntitySchema, rules: InputRules
) -> Iterator[tuple[pl.DataFrame, pl.DataFrame]]:
    """Accepted and quarantined rows of these files, staged a group of files at a time.

    A staging query has a fixed cost (20-50 ms) whatever its size, and Firehose writes hundreds
    of small objects a day (a vendor day of the benchmark centre is 708 objects), so consecutive
    files whose conformed columns have the same types are staged in one query, up to
    `STAGE_TOGETHER_ROWS` rows and `STAGE_TOGETHER_BYTES` of raw data (what is held meanwhile
    stays bounded). Staging judges each row by itself (its export day and object key are
    columns), so a group gives the rows its files give one by one, in the same order. Files
    rejected as a whole give nothing."""
    pending: list[pl.LazyFrame] = []
    kind: pl.Schema | None = None
    rows = held = 0
    for loaded in loaded_files:
        raw = conformed(loaded, schema)
        if raw is None or loaded.raw is None:
            continue
        columns, size = raw.collect_schema(), int(loaded.raw.estimated_size())
        full = rows + loaded.rows_read > STAGE_TOGETHER_ROWS or held + size > STAGE_TOGETHER_BYTES
        if pending and (columns != kind or full):
            yield _stage_group(pending, schema, rules)
            pending, rows, held = [], 0, 0
        pending.append(raw)
        kind, rows, held = columns, rows + loaded.rows_read, held + size
    if pending:
        yield _stage_group(pending, schema, rules)


def _stage_group(
    raws: list[pl.LazyFrame], schema: EntitySchema, rules: InputRules
) -> tuple[pl.DataFrame, pl.DataFrame]:
    accepted, quarantined = pl.collect_all(
        stage(
            pl.concat(raws, how="vertical"),
            schema,
            naive_timestamps_as_utc=rules.naive_timestamps_as_utc,
            timestamp_bounds=rules.timestamp_bounds,
        )
    )
    return accepted, quarantined


# --- one entity -------------------------------------------------------------------------------


def ingest_entity(
    storage: Storage,
    schema: EntitySchema,
    start: date,
    end: date,
    *,
    rules: InputRules | None = None,
    quarantine_storage_prefix: str = "_quarantine",
    run_id: str = "",
) -> IngestResult:
    """Ingest one entity's exports for export days start..end (inclusive), in memory: the
    reference the canonical store's incremental ingest is checked against (tests, golden runs);
    flow runs use `ingestion.incremental`."""
    files: list[LoadedFile] = []
    accepted_parts: list[pl.DataFrame] = []
    staged_out_parts: list[pl.DataFrame] = []
    staged_rows: dict[str, int] = {}
    rules = rules or InputRules()
    for obj in list_exports(storage, schema.name, start, end):
        loaded = load_export(storage, obj, schema, rules.read_limits)
        staged = stage_file(loaded, schema, rules)
        if staged is not None:
            staged_rows[obj.key] = staged[0].height
            accepted_parts.append(staged[0])
            staged_out_parts.append(staged[1])
        files.append(replace(loaded, raw=None))  # release the raw frame; the bytes stay
    empty_accepted, empty_out = pl.collect_all(stage(empty_raw(schema), schema, naive_timestamps_as_utc=True))
    accepted = pl.concat([empty_accepted, *accepted_parts], how="vertical", rechunk=False)
    staged_out = pl.concat([empty_out, *staged_out_parts], how="vertical")
    del accepted_parts
    deduped = dedup.deduplicate(accepted, schema)
    # Only rows that are not kept change a file's counts: the kept ones are never materialised.
    not_kept = deduped.outcomes.filter(pl.col(dedup.OUTCOME) != dedup.KEPT)
    canonical, changed, conflicts = pl.collect_all([deduped.canonical, not_kept, deduped.quarantined])
    del accepted
    rejected_rows = pl.concat([staged_out, conflicts], how="vertical")
    strays = folder_quarantine(stray_folders(storage, schema.name), schema.name)
    quarantine = pl.concat(
        [strays, file_quarantine(files, schema.name), rejected_rows.drop(SOURCE_ROW)]
    ).sort("object_key", "row_number", nulls_last=False)
    write_quarantine(storage, quarantine_storage_prefix, files, rejected_rows, run_id)
    return IngestResult(
        entity=schema.name,
        canonical=canonical.lazy(),
        quarantine=quarantine,
        files=file_report(files, rejected_rows, changed, staged_rows),
    )


def ingest_all(
    storage: Storage,
    start: date,
    end: date,
    *,
    rules: InputRules | None = None,
    quarantine_storage_prefix: str = "_quarantine",
    run_id: str = "",
) -> dict[str, IngestResult]:
    """`ingest_entity` for tickets, ticket_events and calls."""
    return {
        name: ingest_entity(
            storage,
            schema,
            start,
            end,
            rules=rules,
            quarantine_storage_prefix=quarantine_storage_prefix,
            run_id=run_id,
        )
        for name, schema in ENTITIES.items()
    }


# --- reports ----------------------------------------------------------------------------------


def file_quarantine(files: list[LoadedFile], entity: str) -> pl.DataFrame:
    """One quarantine record (row_number null) per file rejected as a whole."""
    rejected = [f for f in files if f.error is not None]
    return pl.DataFrame(
        {
            "entity": [entity] * len(rejected),
            "object_key": [f.obj.key for f in rejected],
            "row_number": [None] * len(rejected),
            "reason": [f.error.reason for f in rejected if f.error],
            "detail": [f.error.detail for f in rejected if f.error],
        },
        schema=q.QUARANTINE_SCHEMA,
    )


def is_folder_record() -> pl.Expr:
    """True for the quarantine records `folder_quarantine` writes (where a published day lists
    them, a resumed backfill compares them with the stray folders its ingest found)."""
    return (
        pl.col("object_key").str.ends_with("/")
        & pl.col("row_number").is_null()
        & (pl.col("reason") == q.UNSUPPORTED_FORMAT)
    )


def folder_quarantine(folders: list[str], entity: str) -> pl.DataFrame:
    """One record per stray folder (object_key is the folder, ending in '/'; `is_folder_record`)."""
    return pl.DataFrame(
        {
            "entity": [entity] * len(folders),
            "object_key": folders,
            "row_number": [None] * len(folders),
            "reason": [q.UNSUPPORTED_FORMAT] * len(folders),
            "detail": ["folder is not export_date=YYYY-MM-DD: its objects are not read"] * len(folders),
        },
        schema=q.QUARANTINE_SCHEMA,
    )


def file_report(
    files: list[LoadedFile], rejected_rows: pl.DataFrame, not_kept: pl.DataFrame, staged_rows: dict[str, int]
) -> pl.DataFrame:
    """Per-file reconciliation: rows read, accepted, quarantined, duplicate, superseded.

    `not_kept` holds the de-duplication outcomes other than kept; `staged_rows` the rows of each
    file that passed staging (kept + superseded + duplicate + conflict)."""
    listed = pl.DataFrame(
        {
            "entity": [f.obj.entity for f in files],
            "object_key": [f.obj.key for f in files],
            "etag": [f.obj.etag for f in files],
            "size": [f.obj.size for f in files],
            "export_date": [f.obj.export_date for f in files],
            "rows_read": [f.rows_read for f in files],
            "schema_drift": [list(f.drift) for f in files],
            "file_error": [f.error.reason if f.error else None for f in files],
        },
        schema={k: v for k, v in FILE_REPORT_SCHEMA.items() if k not in _COUNTS},
    )
    staged = pl.DataFrame(
        {SOURCE_KEY: list(staged_rows), "staged": list(staged_rows.values())},
        schema={SOURCE_KEY: pl.String(), "staged": pl.Int64()},
    )
    changed = not_kept.group_by(SOURCE_KEY).agg(
        rows_duplicate=(pl.col(dedup.OUTCOME) == dedup.DUPLICATE).sum(),
        rows_superseded=(pl.col(dedup.OUTCOME) == dedup.SUPERSEDED).sum(),
        conflicts=(pl.col(dedup.OUTCOME) == dedup.CONFLICT).sum(),
    )
    counts = (
        staged.join(changed, on=SOURCE_KEY, how="left")
        .with_columns(pl.col("rows_duplicate", "rows_superseded", "conflicts").cast(pl.Int64).fill_null(0))
        .select(
            SOURCE_KEY,
            "rows_duplicate",
            "rows_superseded",
            rows_accepted=pl.col("staged") - pl.col("rows_duplicate") - pl.col("conflicts"),
        )
    )
    quarantined = rejected_rows.group_by("object_key").agg(rows_quarantined=pl.len())
    report = (
        listed.join(counts, left_on="object_key", right_on=SOURCE_KEY, how="left")
        .join(quarantined, on="object_key", how="left")
        .with_columns(pl.col(c).cast(pl.Int64).fill_null(0) for c in _COUNTS)
        .with_columns(  # a file rejected as a whole quarantines every row it has
            rows_quarantined=pl.when(pl.col("file_error").is_not_null())
            .then(pl.col("rows_read"))
            .otherwise(pl.col("rows_quarantined"))
        )
    )
    return report.select(FILE_REPORT_SCHEMA.names()).cast(FILE_REPORT_SCHEMA).sort("object_key")


# --- quarantine store -------------------------------------------------------------------------


def quarantine_key(prefix: str, object_key: str, *, rows: bool) -> str:
    """`<prefix>/<entity>/export_date=.../<file>`, plus a suffix for the rejected-rows file."""
    return f"{prefix.strip('/')}/{object_key}{QUARANTINED_ROWS_SUFFIX if rows else ''}"


def write_quarantine(
    storage: Storage, prefix: str, files: list[LoadedFile], rejected_rows: pl.DataFrame, run_id: str
) -> None:
    """Copy rejected files verbatim and rejected rows (raw text, as read) as JSON lines."""
    by_key = rejected_rows.partition_by("object_key", as_dict=True) if rejected_rows.height else {}
    for loaded in files:
        if loaded.error is not None and loaded.data is not None:
            storage.write_bytes(quarantine_key(prefix, loaded.obj.key, rows=False), loaded.data)
        rows = by_key.get((loaded.obj.key,))
        if rows is not None and loaded.data is not None:
            body = rejected_raw_rows(raw_text(loaded), rows, run_id)
            storage.write_bytes(
                quarantine_key(prefix, loaded.obj.key, rows=True), body, content_type="application/x-ndjson"
            )


def rejected_raw_rows(raw: pl.DataFrame, rejected: pl.DataFrame, run_id: str) -> bytes:
    """JSON lines: run_id, object_key, row_number, reason, detail and the raw values as read."""
    values = [c for c in raw.columns if c != SOURCE_ROW]
    records = (
        rejected.select("object_key", "row_number", "reason", "detail")
        .join(raw, left_on="row_number", right_on=SOURCE_ROW, how="left")
        .select(
            pl.lit(run_id).alias("run_id"),
            "object_key",
            "row_number",
            "reason",
            "detail",
            pl.struct(values).alias("raw") if values else pl.lit(None).alias("raw"),
        )
        .sort("row_number")
    )
    buffer = io.BytesIO()
    records.write_ndjson(buffer)
    return buffer.getvalue()
