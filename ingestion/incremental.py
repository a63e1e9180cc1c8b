"""Incremental ingest: each export object is read, staged, validated and merged into the canonical
store once (warehouse/store.py), and recorded in the ingest ledger.

A run lists the landing, compares it with the ledger and reads only what the ledger does not
have: new objects, and objects whose content changed under the same key (a re-delivery). An
object that disappeared from the landing has its rows removed. Rows are merged by the
contract's de-duplication over whole key groups (`transforms.dedup.merge_rows`), so the store
is the same whatever order objects arrive in, and the same as one built from scratch
(`rebuild`). Objects are merged a few export days at a time (`batch_days`), in export-day
order, to bound memory on a first ingest of a long history.

Every input row ends in one place, per object: accepted (the kept row or a superseded older
version), quarantined (rejected at staging, a whole unreadable file, or a conflicting
duplicate) or a duplicate. The ledger's counts for an object read earlier are updated when a
later object changes what became of its rows (a newer version supersedes one of its rows).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

import polars as pl

from adapters import zendesk
from adapters.layout import VendorLanding
from catalogue import (
    LEDGER_SCHEMA,
    LEDGER_TABLE,
    RECORD_DATE,
    RECORD_TIME,
    REJECTED_TABLE,
    SOURCE_ID,
    STORE_TABLES,
)
from configs.limits import InputRules
from ingestion.ingest import (
    ExportObject,
    LoadedFile,
    is_marker,
    is_partition_folder,
    is_safe_object_key,
    load_export,
    stage_files,
    stray_folders,
    write_quarantine,
)
from ingestion.readers import export_format
from storage import Storage
from transforms import dedup
from transforms.schemas import ENTITIES, EntitySchema
from transforms.schemas import quarantine as q
from transforms.schemas.base import SOURCE_KEY, SOURCE_ROW
from warehouse.store import NOT_CREATED, Store, snapshot_metadata

log = logging.getLogger(__name__)

DEFAULT_BATCH_DAYS = 7
# The calls columns a Contact Lens analysis fills (adapters/connect.py).
# How far before the export days an ingest reads a new transfer or callback leg's stored
# contact is looked for: a transfer follows its contact at once; a queued callback waits at most
# 7 days (Connect's callback timeout), and its record lands when it ends: one day of margin.
LINK_LOOKBACK_DAYS = 8
# Zendesk event objects of this many export days up to the newest are looked at again when
# some of their events were rejected for a user the users export did not list yet.
USERS_LOOKBACK_DAYS = 7
LENS_COLUMNS = ("agent_interruptions", "sentiment_start", "sentiment_end", "supervisor_requested")
COUNTED = ("kept", "superseded", "duplicate", "conflict")


def source_id(object_key: str) -> int:
    """A stable 64-bit id for an object key (its rows' lineage): the same in every run and build."""
    return int.from_bytes(hashlib.sha256(object_key.encode("utf-8")).digest()[:8], "big", signed=True)


# --- what to read ---------------------------------------------------------------------------------


def list_landing(storage: Storage, entity: str) -> list[ExportObject]:
    """Every export object of an entity in its `export_date=` folders, in key order (one listing
    of the entity's prefix; folder files are not hashed)."""
    objects = []
    for info in storage.list(f"{entity}/", hashed=False):
        folder, _, name = info.key.removeprefix(f"{entity}/").partition("/")
        if not name or info.key.endswith("/") or not is_partition_folder(folder):
            continue  # a folder placeholder, or a stray folder (reported by `stray_folders`)
        safe = is_safe_object_key(info.key)
        if safe and is_marker(name):
            continue
        day = date.fromisoformat(folder.removeprefix("export_date="))
        objects.append(
            ExportObject(
                entity, info.key, info.etag, info.size, day, export_format(name), safe, info.fingerprint
            )
        )
    return sorted(objects, key=lambda o: o.key)


class LandingEmptied(ValueError):
    """The landing lists no export of an entity whose objects the store holds.

    Read literally, every one of them was deleted and their rows would go. A wrong
    `landing_uri`, an expired bucket policy or a half-restored bucket looks the same, so the
    ingest refuses; `audit rebuild-store` empties the store on purpose.
    """


@dataclass(frozen=True)
class Plan:
    """One entity's landing against the ledger."""

    entity: str
    to_read: list[ExportObject]  # new objects, and objects whose content changed
    deleted: pl.DataFrame  # ledger rows of objects gone from the landing
    refreshed: pl.DataFrame  # ledger rows whose fingerprint changed but not their content
    unchanged: int
    strays: list[str]  # folders that are not export days: never read, reported each run
    listed: list[ExportObject] = field(default_factory=list)  # every object the listing found


def list_vendor_landing(vendor: VendorLanding, entity: str) -> tuple[list[ExportObject], list[str]]:
    """The vendor objects feeding an entity, in key order, and the keys with no export day in
    them (strays: reported each run, never read)."""
    objects, strays = [], []
    for info, day in vendor.listed(entity):
        if day is None:
            strays.append(info.key)
            continue
        safe = is_safe_object_key(info.key)
        objects.append(
            ExportObject(
                entity, info.key, info.etag, info.size, day, vendor.format(entity), safe, info.fingerprint
            )
        )
    return sorted(objects, key=lambda o: o.key), sorted(strays)


def plan_entity(
    storage: Storage, entity: str, ledger: pl.DataFrame, vendor: VendorLanding | None = None
) -> Plan:
    current = ledger.filter((pl.col("entity") == entity) & (pl.col("status") == "ingested"))
    known = {row["object_key"]: row for row in current.iter_rows(named=True)}
    if vendor is None:
        listed, strays = list_landing(storage, entity), stray_folders(storage, entity)
    else:
        listed, strays = list_vendor_landing(vendor, entity)
    to_read, refreshed, unchanged = [], [], 0
    for obj in listed:
        row = known.get(obj.key)
        if row is None:
            to_read.append(obj)
        elif row["fingerprint"] == obj.fingerprint:
            unchanged += 1
        else:
            etag = obj.etag or (storage.etag(obj.key) if obj.is_safe_key else "")
            if etag and etag == row["etag"]:
                refreshed.append({**row, "fingerprint": obj.fingerprint})
                unchanged += 1
            else:
                to_read.append(replace(obj, etag=etag))
    listed_keys = {o.key for o in listed}
    deleted = current.filter(~pl.col("object_key").is_in(listed_keys))
    return Plan(
        entity,
        to_read,
        deleted,
        pl.DataFrame(refreshed, schema=LEDGER_SCHEMA),
        unchanged,
        strays,
        listed,
    )


# --- merging one entity ---------------------------------------------------------------------------


@dataclass(frozen=True)
class EntityBatch:
    """One entity's part of a batch, computed in memory and not yet written."""

    entity: str
    files: list[LoadedFile]
    removed: pl.DataFrame  # the stored rows of every key touched (with their outcome)
    rows: pl.DataFrame  # every row of those keys now, with its outcome (kept: the canonical one)
    new_rows: pl.DataFrame  # canonical rows that come from this batch's objects (validated)
    rejected: pl.DataFrame  # rejected-row records of this batch's objects
    quarantined_rows: pl.DataFrame  # rejections with source_row, for the raw copies in the landing
    ledger_rows: pl.DataFrame  # this batch's objects
    touched: set[int]  # objects read earlier whose rows were re-decided (their counts may change)


def _record_date(entity: str) -> pl.Expr:
    return pl.col(RECORD_TIME[entity]).dt.date().alias(RECORD_DATE)


def _staged(
    storage: Storage,
    objects: Sequence[ExportObject],
    schema: EntitySchema,
    rules: InputRules,
    vendor: VendorLanding | None = None,
) -> tuple[list[LoadedFile], pl.DataFrame, pl.DataFrame]:
    """Read and stage each object: (files, accepted rows with source_id, rejected rows). The
    objects are staged a group at a time (`stage_files`); each file's raw frame is released once
    its group is staged."""
    files: list[LoadedFile] = []

    def read() -> Iterator[LoadedFile]:
        for obj in objects:
            loaded = load_export(storage, obj, schema, rules.read_limits, vendor)
            if loaded.data is not None and not obj.etag:
                etag = hashlib.md5(loaded.data, usedforsecurity=False).hexdigest()
                loaded = replace(loaded, obj=replace(obj, etag=etag))
            files.append(replace(loaded, raw=None))
            yield loaded

    accepted, rejected = [], []
    for accepted_part, rejected_part in stage_files(read(), schema, rules):
        ids = {key: source_id(key) for key in accepted_part[SOURCE_KEY].unique().to_list()}
        # An empty mapping would leave the column text, and the relaxed concat below would then
        # turn every group's ids into text and back.
        source_ids = (
            pl.col(SOURCE_KEY).replace_strict(ids, return_dtype=pl.Int64) if ids else pl.lit(None, pl.Int64)
        )
        accepted.append(accepted_part.with_columns(source_ids.alias(SOURCE_ID)))
        rejected.append(rejected_part)
    store_schema = pl.Schema(
        {
            **schema.polars_schema,
            "export_date": pl.Date(),
            SOURCE_KEY: pl.String(),
            SOURCE_ROW: pl.Int64(),
            SOURCE_ID: pl.Int64(),
        }
    )
    rows = pl.concat([store_schema.to_frame(), *accepted], how="diagonal_relaxed").cast(store_schema)
    quarantine_schema = pl.Schema({**q.QUARANTINE_SCHEMA, SOURCE_ROW: pl.Int64()})
    out = pl.concat([quarantine_schema.to_frame(), *rejected], how="vertical_relaxed").cast(quarantine_schema)
    return files, rows.with_columns(_record_date(schema.name)), out


def merge_entity(
    store: Store,
    storage: Storage,
    schema: EntitySchema,
    objects: Sequence[ExportObject],
    removed_ids: Iterable[int],
    object_keys: Callable[[pl.Series], pl.Series],
    *,
    rules: InputRules,
    run_id: str,
    now: dt.datetime,
    vendor: VendorLanding | None = None,
) -> EntityBatch:
    """Read this batch's objects of one entity and merge them with the stored rows of their keys.

    `removed_ids` are objects whose stored rows go (replaced by a new version, or deleted);
    `object_keys` maps stored rows' source ids to object keys (the de-duplication ranks by key).
    """
    entity, key = schema.name, schema.key
    files, incoming, staged_out = _staged(storage, objects, schema, rules, vendor)
    batch_ids = {source_id(o.key) for o in objects}
    gone_ids = batch_ids | set(removed_ids)
    stored = store.rows_of(entity, incoming[key].unique(), gone_ids)
    staying = stored.filter(~pl.col(SOURCE_ID).is_in(list(gone_ids)))
    group = pl.concat(
        [
            staying.drop(dedup.OUTCOME, dedup.DETAIL).with_columns(
                object_keys(staying[SOURCE_ID]).alias(SOURCE_KEY)
            ),
            incoming,
        ],
        how="diagonal_relaxed",
    )
    merged = dedup.merge_rows(group, schema)
    identity = [SOURCE_KEY, SOURCE_ROW]
    outcomes = merged.outcomes.join(group.select(*identity, SOURCE_ID), on=identity, how="left")
    conflicts = merged.copies.filter(pl.col(dedup.OUTCOME) == dedup.CONFLICT)
    batch_conflicts = conflicts.filter(pl.col(SOURCE_ID).is_in(list(batch_ids))).select(
        pl.lit(entity, pl.String).alias("entity"),
        pl.col(SOURCE_KEY).alias("object_key"),
        pl.col(SOURCE_ROW).alias("row_number"),
        pl.lit(q.CONFLICTING_DUPLICATE, pl.String).alias("reason"),
        pl.col(dedup.DETAIL).alias("detail"),
        pl.col(SOURCE_ROW),
    )
    rejected = _rejected_records(files, staged_out, entity)
    return EntityBatch(
        entity=entity,
        files=files,
        removed=stored,
        rows=pl.concat(
            [merged.kept.with_columns(pl.lit(dedup.KEPT).alias(dedup.OUTCOME)), merged.copies],
            how="diagonal_relaxed",
        ),
        new_rows=merged.kept.filter(pl.col(SOURCE_ID).is_in(list(batch_ids))),
        rejected=rejected,
        quarantined_rows=pl.concat([staged_out, batch_conflicts], how="vertical_relaxed"),
        ledger_rows=_ledger_rows(files, staged_out, outcomes, incoming, rejected, run_id, now),
        touched=set(staying[SOURCE_ID].unique().to_list()),
    )


def _rejected_records(files: list[LoadedFile], staged_out: pl.DataFrame, entity: str) -> pl.DataFrame:
    """Rows rejected at staging and whole objects rejected, for the store's `rejected_rows`."""
    whole = pl.DataFrame(
        {
            "entity": [entity for f in files if f.error],
            "object_key": [f.obj.key for f in files if f.error],
            "row_number": [None for f in files if f.error],
            "reason": [f.error.reason for f in files if f.error],
            "detail": [f.error.detail for f in files if f.error],
        },
        schema=q.QUARANTINE_SCHEMA,
    )
    rows = pl.concat([whole, staged_out.drop(SOURCE_ROW)], how="vertical_relaxed")
    days = pl.DataFrame(
        {"object_key": [f.obj.key for f in files], "export_date": [f.obj.export_date for f in files]},
        schema={"object_key": pl.String(), "export_date": pl.Date()},
    )
    schema = STORE_TABLES[REJECTED_TABLE].schema
    return (
        rows.join(days, on="object_key", how="left")
        .with_columns(pl.col("object_key").map_elements(source_id, return_dtype=pl.Int64).alias(SOURCE_ID))
        .select(schema.names())
        .cast(schema)
    )


def _ledger_rows(
    files: list[LoadedFile],
    staged_out: pl.DataFrame,
    outcomes: pl.DataFrame,
    incoming: pl.DataFrame,
    rejected: pl.DataFrame,
    run_id: str,
    now: dt.datetime,
) -> pl.DataFrame:
    """One ledger row per object read: its counts from scratch (all its rows were in the group)."""
    if not files:
        return LEDGER_SCHEMA.to_frame()
    by_object = outcomes.group_by(SOURCE_ID).agg(
        *[(pl.col(dedup.OUTCOME) == o).sum().cast(pl.Int64).alias(o) for o in COUNTED]
    )
    # A day reads a ticket from its creation to its latest change (`warehouse.store.audit_inputs`):
    # its days run to the day of its `updated_at`.
    changed = pl.col("updated_at").dt.date() if RECORD_TIME[files[0].obj.entity] == "created_at" else None
    last = pl.max_horizontal(RECORD_DATE, changed) if changed is not None else pl.col(RECORD_DATE)
    days = incoming.group_by(SOURCE_ID).agg(
        pl.col(RECORD_DATE).min().alias("first_record_date"), last.max().alias("last_record_date")
    )
    reasons = (
        rejected.filter(pl.col("row_number").is_not_null())
        .group_by(SOURCE_ID, "reason")
        .agg(pl.len().cast(pl.Int64).alias("rows"))
    )
    rows = []
    for f in files:
        sid = source_id(f.obj.key)
        count = by_object.filter(pl.col(SOURCE_ID) == sid).to_dicts()
        c = count[0] if count else dict.fromkeys(COUNTED, 0)
        staged_rejected = staged_out.filter(pl.col("object_key") == f.obj.key).height
        whole = f.rows_read if f.error else 0
        why = {r["reason"]: r["rows"] for r in reasons.filter(pl.col(SOURCE_ID) == sid).to_dicts()}
        if c["conflict"]:
            why[q.CONFLICTING_DUPLICATE] = c["conflict"]
        if f.error:
            why[f.error.reason] = f.rows_read
        span = days.filter(pl.col(SOURCE_ID) == sid).to_dicts()
        rows.append(
            {
                SOURCE_ID: sid,
                "entity": f.obj.entity,
                "object_key": f.obj.key,
                "export_date": f.obj.export_date,
                "etag": f.obj.etag,
                "fingerprint": f.obj.fingerprint,
                "size_bytes": f.obj.size,
                "status": "ingested",
                "rows_read": f.rows_read,
                "rows_accepted": c["kept"] + c["superseded"],
                "rows_quarantined": staged_rejected + c["conflict"] + whole,
                "rows_duplicate": c["duplicate"],
                "rows_superseded": c["superseded"],
                "schema_drift": list(f.drift),
                "file_error": f.error.reason if f.error else None,
                "reasons": [{"reason": r, "rows": n} for r, n in sorted(why.items())],
                "first_record_date": span[0]["first_record_date"] if span else None,
                "last_record_date": span[0]["last_record_date"] if span else None,
                "ingested_run_id": run_id,
                "ingested_at": now,
                "updated_run_id": run_id,
            }
        )
    return pl.DataFrame(rows, schema=LEDGER_SCHEMA)


def apply_recount(
    ledger: pl.DataFrame, counts: pl.DataFrame, source_ids: Iterable[int], run_id: str
) -> pl.DataFrame:
    """Counts of objects read earlier, as the store holds their rows now (`counts`: source_id,
    dedup_outcome, rows). Absolute, not deltas: a run that died between its writes cannot make
    them drift. Staging rejections and whole-file errors do not change; conflicts can."""
    by_object: dict[int, dict[str, int]] = {sid: dict.fromkeys(COUNTED, 0) for sid in source_ids}
    for sid, outcome, rows in counts.iter_rows():
        by_object.setdefault(sid, dict.fromkeys(COUNTED, 0))[outcome] = rows
    out = []
    for row in ledger.iter_rows(named=True):
        c = by_object.get(row[SOURCE_ID])
        if c is not None and row["status"] == "ingested":
            fixed = sum(r["rows"] for r in row["reasons"] if r["reason"] != q.CONFLICTING_DUPLICATE)
            updated = {
                **row,
                "rows_accepted": c["kept"] + c["superseded"],
                "rows_superseded": c["superseded"],
                "rows_duplicate": c["duplicate"],
                "rows_quarantined": fixed + c["conflict"],
                "reasons": _with_conflicts(row["reasons"], c["conflict"]),
            }
            if updated != row:
                row = {**updated, "updated_run_id": run_id}
        out.append(row)
    return pl.DataFrame(out, schema=LEDGER_SCHEMA)


def _with_conflicts(reasons: list[dict[str, Any]], conflicts: int) -> list[dict[str, Any]]:
    """The reasons with the conflicting-duplicate count set to `conflicts` (none: no entry)."""
    counts = {r["reason"]: r["rows"] for r in reasons}
    counts[q.CONFLICTING_DUPLICATE] = conflicts
    return [{"reason": r, "rows": n} for r, n in sorted(counts.items()) if n > 0]


# --- a run ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IngestReport:
    """What an ingest run did (the flow's summary and the CLI print it)."""

    run_id: str
    objects_read: pl.DataFrame  # ledger rows of the objects read (their counts as read)
    objects_deleted: pl.DataFrame  # ledger rows of objects gone from the landing
    unchanged: int
    late_objects: list[str]  # keys of new objects for an export day older than the newest known
    affected_days: list[date]  # published audit days a late, changed or deleted object can change
    newest_export_date: date | None
    store_versions: dict[str, int]
    ledger_version: int | None
    quarantine: pl.DataFrame  # this run's rejected rows and files, and stray folders
    strays: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return not (self.objects_read.is_empty() and self.objects_deleted.is_empty())


def export_batches(objects: Sequence[ExportObject], batch_days: int) -> list[list[ExportObject]]:
    """Objects grouped by export day, `batch_days` export days per batch, oldest first."""
    days = sorted({o.export_date for o in objects})
    groups = [days[i : i + batch_days] for i in range(0, len(days), max(batch_days, 1))]
    return [[o for o in objects if o.export_date in group] for group in groups]


Validate = Callable[[dict[str, pl.DataFrame], str], None]


def ingest_to_store(
    storage: Storage,
    store: Store,
    *,
    run_id: str,
    quarantine_prefix: str = "_quarantine",
    rules: InputRules | None = None,
    validate: Validate | None = None,
    affected_days: Callable[[date, date], list[date]] | None = None,
    batch_days: int = DEFAULT_BATCH_DAYS,
    now: dt.datetime | None = None,
    progress: Callable[[str], None] | None = None,
) -> IngestReport:
    """Bring the store up to date with the landing: read what the ledger does not have.

    `validate(frames, label)` checks each batch's new canonical rows before anything of the
    batch is written (it raises to stop the run: the store and ledger keep the previous
    batches). `affected_days(first, last)` names the published audit days whose windows read
    record days first..last: they are reported for a late, changed or deleted object.
    `progress(line)` hears of each batch merged (a first ingest of a year is many minutes).
    """
    now = now or dt.datetime.now(dt.UTC)
    rules = rules or InputRules()
    ledger = store.ledger()
    orphans, missing = _out_of_step(store, ledger)
    if not missing.is_empty():  # read again, whatever their fingerprint
        log.warning("ingest %s: %d object(s) of the ledger have no rows in the store", run_id, missing.height)
        ledger = ledger.filter(~pl.col(SOURCE_ID).is_in(missing[SOURCE_ID]))
    current = ledger.filter(pl.col("status") == "ingested")
    newest_before: date | None = current["export_date"].max()  # type: ignore[assignment]
    vendor = (
        VendorLanding(storage, rules.vendor, rules.read_limits, stored_legs=_stored_legs(store))
        if rules.vendor
        else None
    )
    plans = {entity: plan_entity(storage, entity, ledger, vendor) for entity in ENTITIES}
    _refuse_emptied(plans)
    if vendor is not None:
        plans["calls"] = _with_late_analyses(plans["calls"], vendor, store, current)
        plans["calls"] = _with_next_legs(plans["calls"], vendor, store, current)
        plans["ticket_events"] = _with_late_users(plans["ticket_events"], vendor, store, current)
    to_read = [o for p in plans.values() for o in p.to_read]
    deleted = pl.concat([*(p.deleted for p in plans.values()), orphans], how="vertical_relaxed")
    changed_keys = set(current["object_key"].to_list()) & {o.key for o in to_read}
    late = sorted(
        o.key
        for o in to_read
        if o.key not in changed_keys and newest_before and o.export_date < newest_before
    )
    spans = current.filter(
        pl.col("object_key").is_in(changed_keys) | pl.col(SOURCE_ID).is_in(deleted[SOURCE_ID])
    )
    read_rows: list[pl.DataFrame] = []
    quarantine: list[pl.DataFrame] = []
    key_of = dict(zip(current[SOURCE_ID].to_list(), current["object_key"].to_list(), strict=True))

    def object_keys(ids: pl.Series) -> pl.Series:
        return ids.replace_strict(key_of, return_dtype=pl.String)

    batches = export_batches(to_read, batch_days) or ([[]] if deleted.height else [])
    for number, batch in enumerate(batches, start=1):
        removed = deleted if number == 1 else deleted.clear()
        parts: dict[str, EntityBatch] = {}
        for entity, schema in ENTITIES.items():
            objects = [o for o in batch if o.entity == entity]
            gone = removed.filter(pl.col("entity") == entity)[SOURCE_ID].to_list()
            if objects or gone:
                parts[entity] = merge_entity(
                    store,
                    storage,
                    schema,
                    objects,
                    gone,
                    object_keys,
                    rules=rules,
                    run_id=run_id,
                    now=now,
                    vendor=vendor,
                )
        if validate is not None and any(not b.new_rows.is_empty() for b in parts.values()):
            days = sorted({o.export_date for o in batch})
            validate({e: b.new_rows for e, b in parts.items()}, f"{days[0]}..{days[-1]}" if days else "")
        for entity, part in parts.items():
            gone = removed.filter(pl.col("entity") == entity)[SOURCE_ID].to_list()
            ids = {source_id(f.obj.key) for f in part.files} | set(gone)
            store.replace_rows(entity, removed=part.removed, rows=part.rows, run_id=run_id, reread=ids)
            store.replace_rejected(part.rejected, ids, run_id)
            write_quarantine(storage, quarantine_prefix, part.files, part.quarantined_rows, run_id)
            conflicts = part.quarantined_rows.filter(pl.col("reason") == q.CONFLICTING_DUPLICATE)
            quarantine += [part.rejected.select(q.QUARANTINE_SCHEMA.names()), conflicts.drop(SOURCE_ROW)]
        read = (
            pl.concat([b.ledger_rows for b in parts.values()], how="vertical")
            if parts
            else LEDGER_SCHEMA.to_frame()
        )
        touched = {e: b.touched for e, b in parts.items() if b.touched}
        recount = (
            pl.concat([store.outcome_counts(e, ids) for e, ids in touched.items()], how="vertical")
            if touched
            else None
        )
        ledger = _next_ledger(ledger, read, removed, recount, set().union(*touched.values()), run_id)
        key_of.update(zip(read[SOURCE_ID].to_list(), read["object_key"].to_list(), strict=True))
        read_rows.append(read)
        store.write_ledger(ledger, run_id)
        span = sorted({o.export_date for o in batch})
        what = f"export days {span[0]}..{span[-1]}" if span else "deletions"
        line = f"{what} merged: batch {number}/{len(batches)}, {len(batch)} objects"
        log.info("ingest %s: %s", run_id, line)
        if progress is not None:
            progress(line)
    refreshed = pl.concat([p.refreshed for p in plans.values()], how="vertical")
    if not refreshed.is_empty():  # the fingerprint only: the counts may have moved since the plan
        ledger = ledger.update(refreshed.select(SOURCE_ID, "fingerprint"), on=SOURCE_ID)
        store.write_ledger(ledger, run_id)
    objects_read = pl.concat(read_rows, how="vertical") if read_rows else LEDGER_SCHEMA.to_frame()
    stray_entities = [(entity, s) for entity, p in plans.items() for s in p.strays]
    strays = [s for _, s in stray_entities]
    days_hit = _affected(affected_days, [*late, *changed_keys], objects_read, spans)
    final = ledger.filter(pl.col("status") == "ingested")
    return IngestReport(
        run_id=run_id,
        objects_read=objects_read,
        objects_deleted=deleted,
        unchanged=sum(p.unchanged for p in plans.values()),
        late_objects=late,
        affected_days=days_hit,
        newest_export_date=final["export_date"].max(),  # type: ignore[arg-type]
        store_versions=store.versions(),
        ledger_version=store.version("ingest_ledger"),
        quarantine=_run_quarantine(quarantine, stray_entities),
        strays=strays,
    )


def _with_late_analyses(plan: Plan, vendor: VendorLanding, store: Store, current: pl.DataFrame) -> Plan:
    """Read again the contact-record objects whose stored calls lack a Contact Lens analysis
    that has landed since: the row's `updated_at` is before the analysis time, or it has none
    of the values an analysis gives. Contact Lens writes its file minutes after the call,
    sometimes after the ingest that read the record. Only the last
    `connect.lens_lookback_days` day folders are looked at, up to the newest export day (an
    analysis that gives none of those values is read again within them, no longer)."""
    days = [o.export_date for o in plan.listed]
    if not days:
        return plan
    analyses = vendor.recent_lens(max(days), vendor.mapping.connect.lens_lookback_days)
    if not analyses:
        return plan
    times = pl.DataFrame({"call_id": list(analyses), "analysed_at": list(analyses.values())}).with_columns(
        pl.col("analysed_at").str.to_datetime(time_zone="UTC", time_unit="us")
    )
    stale = (
        store.scan("calls", kept=True)
        .select("call_id", "updated_at", *LENS_COLUMNS, SOURCE_ID)
        .join(times.lazy(), on="call_id")
        .filter(
            (pl.col("updated_at") < pl.col("analysed_at"))
            | pl.all_horizontal(pl.col(c).is_null() for c in LENS_COLUMNS)
        )
        .select(SOURCE_ID)
        .unique()
        .collect()
    )
    return _read_again(plan, current, stale[SOURCE_ID], "Contact Lens analyses landed since")[0]


def _with_next_legs(plan: Plan, vendor: VendorLanding, store: Store, current: pl.DataFrame) -> Plan:
    """Read the ingest's transfer and callback legs before any contact record is converted
    (`VendorLanding.preload_legs`), and read again the objects of stored contacts that a new leg
    links to and whose row lacks the link: an escalation transfer (`escalated_to`) or the
    callback an unanswered call asked for (`callback_promised`). Connect writes each leg's record
    when the leg ends, so a contact's next leg often lands in a later object, or a later export
    day, than the contact. Stored contacts are looked for in the record days from
    `LINK_LOOKBACK_DAYS` before the first export day read up to the last."""
    legs = vendor.preload_legs(plan.to_read)
    escalation_queues = set(vendor.mapping.connect.escalation_queues)
    escalated, called_back = [], []
    for leg in legs.values():
        previous, method = leg.get("PreviousContactId"), leg["InitiationMethod"]
        if not isinstance(previous, str):
            continue
        if method == "CALLBACK":
            called_back.append(previous)
        elif leg["Queue"]["Name"] in escalation_queues:
            escalated.append(previous)
    if not (escalated or called_back) or current.is_empty():
        return plan
    days = [o.export_date for o in plan.to_read]
    unlinked = (
        store.scan("calls", kept=True, first=min(days) - timedelta(days=LINK_LOOKBACK_DAYS), last=max(days))
        .filter(
            (pl.col("call_id").is_in(escalated) & pl.col("escalated_to").is_null())
            | (
                pl.col("call_id").is_in(called_back)
                & pl.col("answered_at").is_null()
                & pl.col("outcome").ne_missing(pl.lit("callback_promised"))
            )
        )
        .select(SOURCE_ID)
        .unique()
        .collect()
    )
    plan, again = _read_again(plan, current, unlinked[SOURCE_ID], "their contacts' next legs landed since")
    vendor.preload_legs(again)
    return plan


def _with_late_users(plan: Plan, vendor: VendorLanding, store: Store, current: pl.DataFrame) -> Plan:
    """Read again the Zendesk event objects whose events were rejected because the users export
    did not list their author, once it lists some of them: a users export polled once a day
    often lands after a new agent's or customer's first events. Objects of the last
    `USERS_LOOKBACK_DAYS` export days with such rejections are converted again in memory (the
    users directory is this run's), and only those that now reject fewer are read again."""
    if not plan.listed:
        return plan
    first = max(o.export_date for o in plan.listed) - timedelta(days=USERS_LOOKBACK_DAYS - 1)
    queued = {o.key for o in plan.to_read}
    candidates = current.filter(
        (pl.col("entity") == plan.entity)
        & (pl.col("export_date") >= first)
        & ~pl.col("object_key").is_in(list(queued))
    )
    if candidates.is_empty():
        return plan
    rejected = (
        store.scan(REJECTED_TABLE)
        .filter(
            pl.col(SOURCE_ID).is_in(candidates[SOURCE_ID].implode())
            & pl.col("detail").str.contains(zendesk.UNKNOWN_USER, literal=True)
        )
        .group_by(SOURCE_ID)
        .len()
        .collect()
    )
    key_of = dict(zip(candidates[SOURCE_ID].to_list(), candidates["object_key"].to_list(), strict=True))
    listed = {o.key: o for o in plan.listed}
    better = [
        source
        for source, count in rejected.iter_rows()
        if (obj := listed.get(key_of[source])) is not None
        and (now := vendor.unknown_users(obj)) is not None
        and now < count
    ]
    return _read_again(
        plan, current, pl.Series(better, dtype=pl.Int64), "the users export lists their authors now"
    )[0]


def _read_again(
    plan: Plan, current: pl.DataFrame, source_ids: pl.Series, why: str
) -> tuple[Plan, list[ExportObject]]:
    """The plan reading also the listed objects of these stored source ids (each once), and
    those objects: a later object or page changes how an object already read maps."""
    keys = set(current.filter(pl.col(SOURCE_ID).is_in(source_ids.implode()))["object_key"].to_list())
    queued = {o.key for o in plan.to_read}
    again = [o for o in plan.listed if o.key in keys and o.key not in queued]
    if again:
        log.info("ingest: %d %s object(s) read again: %s", len(again), plan.entity, why)
    return replace(plan, to_read=[*plan.to_read, *again], unchanged=plan.unchanged - len(again)), again


def _stored_legs(store: Store) -> Callable[[list[str], date, date], dict[str, dict[str, Any]]]:
    """For the Connect adapter: the stored calls of these contact ids, as the links it reads
    (only the record days first..last are scanned: a year's store is not read per object)."""
    methods = {"transfer": "TRANSFER", "callback": "CALLBACK", "inbound": "INBOUND", "outbound": "OUTBOUND"}

    def legs(call_ids: list[str], first: date, last: date) -> dict[str, dict[str, Any]]:
        found = (
            store.scan("calls", kept=True, first=first, last=last)
            .filter(pl.col("call_id").is_in(call_ids))
            .select("call_id", "direction", "queue")
            .collect()
        )
        return {
            row["call_id"]: {
                "InitiationMethod": methods.get(row["direction"]),
                "Queue": {"Name": row["queue"]},
            }
            for row in found.iter_rows(named=True)
        }

    return legs


def _refuse_emptied(plans: dict[str, Plan]) -> None:
    """Raise `LandingEmptied` when an entity lists nothing but the ledger holds its objects."""
    for plan in plans.values():
        if not plan.to_read and not plan.unchanged and plan.deleted.height:
            raise LandingEmptied(
                f"the landing lists no {plan.entity} exports but the store holds "
                f"{plan.deleted.height} {plan.entity} object(s): refusing to delete their rows "
                "(check landing_uri; if the exports were removed on purpose, run `audit rebuild-store`)"
            )


def _out_of_step(store: Store, ledger: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Where the store and the ledger disagree, as a run killed between its writes leaves them:
    (rows from objects the ledger does not hold as ingested: removed in the first batch; ledger
    entries whose rows are not in the store: read again). One column of each table is read."""
    current = ledger.filter(pl.col("status") == "ingested")
    orphan_rows, missing_ids = [], []
    for entity in ENTITIES:
        stored = store.source_ids(entity)
        mine = current.filter(pl.col("entity") == entity)
        known = set(mine[SOURCE_ID].to_list())
        orphan_rows += [
            {SOURCE_ID: sid, "entity": entity, "status": "orphan"} for sid in sorted(stored - known)
        ]
        holds_rows = mine.filter(
            pl.col("rows_read")
            > pl.col("rows_quarantined")
            - pl.col("reasons")
            .list.eval(
                pl.element()
                .filter(pl.element().struct.field("reason") == q.CONFLICTING_DUPLICATE)
                .struct.field("rows")
            )
            .list.sum()
            .fill_null(0)
        )
        missing_ids += [sid for sid in holds_rows[SOURCE_ID].to_list() if sid not in stored]
    orphans = pl.DataFrame(orphan_rows, schema=LEDGER_SCHEMA) if orphan_rows else LEDGER_SCHEMA.to_frame()
    return orphans, current.filter(pl.col(SOURCE_ID).is_in(missing_ids))


def _next_ledger(
    ledger: pl.DataFrame,
    read: pl.DataFrame,
    removed: pl.DataFrame,
    recount: pl.DataFrame | None,
    touched: set[int],
    run_id: str,
) -> pl.DataFrame:
    """The ledger after a batch: objects read replace their earlier versions, deleted objects are
    marked, and objects read earlier get their changed counts."""
    replaced = set(read[SOURCE_ID].to_list())
    kept = ledger.filter(~pl.col(SOURCE_ID).is_in(list(replaced)))
    marked = kept.with_columns(
        pl.when(pl.col(SOURCE_ID).is_in(removed[SOURCE_ID]))
        .then(pl.lit("deleted"))
        .otherwise(pl.col("status"))
        .alias("status"),
        pl.when(pl.col(SOURCE_ID).is_in(removed[SOURCE_ID]))
        .then(pl.lit(run_id))
        .otherwise(pl.col("updated_run_id"))
        .alias("updated_run_id"),
    )
    if recount is not None:
        marked = apply_recount(marked, recount, touched, run_id)
    return pl.concat([marked, read], how="vertical").select(LEDGER_SCHEMA.names())


def _affected(
    affected_days: Callable[[date, date], list[date]] | None,
    keys: Iterable[str],
    objects_read: pl.DataFrame,
    spans: pl.DataFrame,
) -> list[date]:
    """Published audit days that a late, changed or deleted object can change: those reading its
    record days (old and new), and those whose export range holds its export day (a day's
    quarantine and inputs are its range's objects: an object whose every row was rejected has
    no record day, yet changes them)."""
    if affected_days is None:
        return []
    wanted = set(keys)
    rows = pl.concat([objects_read.filter(pl.col("object_key").is_in(wanted)), spans], how="vertical")
    days: set[date] = set()
    for row in rows.iter_rows(named=True):
        days.update(affected_days(row["export_date"], row["export_date"]))
        if row["first_record_date"] is not None and row["last_record_date"] is not None:
            days.update(affected_days(row["first_record_date"], row["last_record_date"]))
    return sorted(days)


def _run_quarantine(parts: list[pl.DataFrame], strays: list[tuple[str, str]]) -> pl.DataFrame:
    """This run's rejections, and a row per stray (entity, key): a folder that is not an export
    day, or a vendor object with no day in its key (the entity its prefix feeds)."""
    stray_rows = pl.DataFrame(
        {
            "entity": [entity for entity, _ in strays],
            "object_key": [key for _, key in strays],
            "row_number": [None] * len(strays),
            "reason": [q.UNSUPPORTED_FORMAT] * len(strays),
            "detail": [
                "folder is not export_date=YYYY-MM-DD: its objects are not read"
                if key.endswith("/")
                else "no export day in the key: not read"
                for _, key in strays
            ],
        },
        schema=q.QUARANTINE_SCHEMA,
    )
    return pl.concat([stray_rows, *parts], how="vertical_relaxed").cast(q.QUARANTINE_SCHEMA)


def rebuild(store: Store) -> None:
    """Empty the store and the ledger (their history stays in the Delta logs): the next ingest
    reads every object again, as a first ingest would. `audit rebuild-store`.

    The ledger goes first: killed half way, the next ingest finds rows the ledger does not know
    and removes them (`_out_of_step`), never a ledger that says rows are there when they are not.
    """
    names = [LEDGER_TABLE, *(n for n in STORE_TABLES if n != LEDGER_TABLE)]
    # From the empty ledger on, an audit's snapshot reads every table as empty.
    emptied = snapshot_metadata(dict.fromkeys(names[1:], NOT_CREATED))
    for name in names:
        if store.exists(name):
            metadata = emptied if name == LEDGER_TABLE else None
            empty = STORE_TABLES[name].schema.to_frame()
            store._write(name, empty, "rebuild", mode="overwrite", metadata=metadata)
