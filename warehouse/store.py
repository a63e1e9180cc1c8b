"""The canonical store: Delta tables of de-duplicated tickets, ticket events and calls.

Layout under the store URI (`AuditSettings.canonical_store_uri()`, a folder or `s3://` prefix):

- `tickets`, `ticket_events`, `calls`: every accepted row with the contract's columns, lineage
  (`export_date`, `source_id`, `source_row`) and what became of it (`dedup_outcome`),
  partitioned by `record_date` (the UTC day of the row's own time: created_at, occurred_at,
  initiated_at) and by `dedup_outcome`. The canonical rows, one per key, are the `kept`
  partitions: an audit day reads those of its windows. The other rows (superseded versions,
  exact re-deliveries, conflicting duplicates) let a later object merge as if every object
  had been read together;
- `rejected_rows`: rows and whole objects rejected at staging (no raw values);
- `ingest_ledger`: one row per export object read.

Every change to an entity table is one Delta commit (a merge that deletes the replaced rows
and inserts the new ones), carrying the run id in its metadata, so an entity is never half
changed. The schemas are the catalogue's (`catalogue.STORE_TABLES`).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import polars as pl
from deltalake import CommitProperties, DeltaTable, WriterProperties, write_deltalake

from catalogue import (
    LEDGER_SCHEMA,
    LEDGER_TABLE,
    OUTCOME,
    RECORD_DATE,
    REJECTED_TABLE,
    SOURCE_ID,
    STORE_TABLES,
)
from configs.settings import AuditSettings, S3Settings
from transforms import dedup
from transforms.schemas import ENTITIES
from transforms.schemas import quarantine as q
from transforms.schemas.base import EXPORT_DATE, SOURCE_KEY, SOURCE_ROW
from transforms.scope import CanonicalTables
from warehouse.delta import TABLE_PROPERTIES, open_table, storage_options, table_uri

# The ledger commit's record of the other store tables' versions (`Store.snapshot`); a table
# that did not exist then is NOT_CREATED (read as empty, whatever it holds now).
SNAPSHOT_KEY = "store_versions"
NOT_CREATED = -1
_OP = "_op"  # merge source column: delete (a stored row to remove) or insert
# LZ4: an audit day reads these files many times over; it decodes faster than snappy or zstd.
WRITER = WriterProperties(compression="LZ4_RAW")


def versions_read(snapshot: Mapping[str, int]) -> dict[str, int]:
    """The store tables an audit reads from `snapshot`, with their versions, as its manifest
    records them (`store_versions`): a table not created yet is read as empty and not listed."""
    return {name: version for name, version in snapshot.items() if version != NOT_CREATED}


KEPT = "kept"


def entity_schema(entity: str) -> pl.Schema:
    return STORE_TABLES[entity].schema


def _sql_list(values: Iterable[Any]) -> str:
    return ", ".join(f"'{v.isoformat()}'" if isinstance(v, dt.date) else str(int(v)) for v in values)


@dataclass(frozen=True)
class Store:
    """The canonical store at `uri` (a folder or an s3:// prefix)."""

    uri: str
    s3: S3Settings | None = None

    def _table(self, name: str) -> str:
        return table_uri(self.uri, name)

    @property
    def _options(self) -> dict[str, str] | None:
        return storage_options(self.uri, self.s3)

    def exists(self, name: str) -> bool:
        return open_table(self._table(name), self._options) is not None

    def version(self, name: str) -> int | None:
        table = open_table(self._table(name), self._options)
        return None if table is None else table.version()

    def versions(self) -> dict[str, int]:
        """The current version of every store table that exists."""
        return {name: v for name in STORE_TABLES if (v := self.version(name)) is not None}

    def snapshot(self) -> dict[str, int]:
        """The versions of the store's tables as the last finished ingest batch left them:
        what an audit reads, so an ingest running meanwhile (between its entity commits and
        its ledger) is never half seen. Each ledger commit records the other tables' versions
        (`write_ledger`); a ledger written before that was recorded: the current versions."""
        for _ in range(10):
            ledger = open_table(self._table(LEDGER_TABLE), self._options)
            if ledger is None:
                return self.versions()
            info = ledger.history(1)[0]  # the newest commit in the log, whatever was loaded
            again = open_table(self._table(LEDGER_TABLE), self._options)
            if again is not None and again.version() == ledger.version():  # no commit in between
                recorded = info.get(SNAPSHOT_KEY)
                if recorded is None:  # a ledger written before snapshots were recorded
                    return self.versions()
                return {**json.loads(recorded), LEDGER_TABLE: ledger.version()}
        raise RuntimeError("the ingest ledger kept changing while its snapshot was read")

    def files(
        self,
        name: str,
        version: int | None = None,
        *,
        first: dt.date | None = None,
        last: dt.date | None = None,
        kept: bool | None = None,
    ) -> list[tuple[str, dict[str, Any]]]:
        """The table's current Parquet files and each one's partition values, from its Delta log,
        optionally only the partitions whose record day is in first..last, and only the kept
        (`kept=True`) or only the other (`kept=False`) rows."""
        table = open_table(self._table(name), self._options)
        if table is None or version == NOT_CREATED:
            return []
        if version is not None:
            table.load_as_version(version)
        found = [(f, _partition_values(f)) for f in table.file_uris()]
        if not STORE_TABLES[name].partition_by:
            return found
        return [
            (f, values)
            for f, values in found
            if (first is None or values[RECORD_DATE] >= first)
            and (last is None or values[RECORD_DATE] <= last)
            and (kept is None or (values[OUTCOME] == KEPT) == kept)
        ]

    def scan(
        self,
        name: str,
        version: int | None = None,
        *,
        first: dt.date | None = None,
        last: dt.date | None = None,
        kept: bool | None = None,
    ) -> pl.LazyFrame:
        """A table as a lazy scan (an empty frame of its schema when it does not exist yet),
        optionally pruned by partition (see `files`).

        The files are resolved from the Delta log once, here, pruned by their partition, and
        scanned as Parquet with the partition values as constants: an audit day collects many
        plans over the same tables, and filtering every row on a partition column for each of
        them cost a third of the day (bench: 15 s -> 11 s)."""
        spec = STORE_TABLES[name]
        schema = spec.schema
        files = self.files(name, version, first=first, last=last, kept=kept)
        if not files:
            return schema.to_frame().lazy()
        stored = [c for c in schema.names() if c not in spec.partition_by]
        scans = [
            pl.scan_parquet(f, storage_options=self._options)
            .select(stored)
            .with_columns(pl.lit(v, schema[c]).alias(c) for c, v in values.items())
            for f, values in files
        ]
        return pl.concat(scans, how="vertical").select(schema.names())

    def canonical(
        self,
        entity: str,
        *,
        first: dt.date | None = None,
        last: dt.date | None = None,
        version: int | None = None,
    ) -> pl.LazyFrame:
        """The canonical rows of an entity (one per key), optionally of record days first..last."""
        return self.scan(entity, version, first=first, last=last, kept=True)

    # --- the ledger -------------------------------------------------------------------------------

    def ledger(self, version: int | None = None) -> pl.DataFrame:
        return self.scan(LEDGER_TABLE, version).collect().select(LEDGER_SCHEMA.names()).cast(LEDGER_SCHEMA)

    def write_ledger(self, ledger: pl.DataFrame, run_id: str) -> int:
        """Replace the ledger (a few rows per export object: rewritten whole, one commit). The
        ledger is written last in a batch; its commit records the other tables' versions
        (`snapshot`)."""
        frame = ledger.select(LEDGER_SCHEMA.names()).cast(LEDGER_SCHEMA).sort("entity", "object_key")
        current = self.versions()
        others = {name: current.get(name, NOT_CREATED) for name in STORE_TABLES if name != LEDGER_TABLE}
        return self._write(LEDGER_TABLE, frame, run_id, mode="overwrite", metadata=snapshot_metadata(others))

    # --- rows ---------------------------------------------------------------------------------

    def rows_of(self, entity: str, keys: pl.Series, source_ids: Iterable[int]) -> pl.DataFrame:
        """Every stored row (any outcome) of the keys in `keys` and of the keys any row from
        `source_ids` has: whole key groups, so they can be de-duplicated again. Reads the key and
        source columns (a semi-join: the keys are hashed once), then only the partitions that
        hold a match; the other rows of a key are looked for only where its kept row exists,
        since every key with rows has one."""
        key = ENTITIES[entity].key
        ids = pl.Series(list(source_ids), dtype=pl.Int64)
        wanted = keys.unique().to_frame(key).lazy()

        def located(kept: bool | None) -> pl.LazyFrame:
            return self.scan(entity, kept=kept).select(key, SOURCE_ID, RECORD_DATE, OUTCOME)

        of_sources = located(None).filter(pl.col(SOURCE_ID).is_in(ids.implode())).select(key).collect()
        if not of_sources.is_empty():  # the other rows of their keys, in any partition
            wanted = pl.concat([wanted, of_sources.lazy()]).unique()
        kept_rows = located(True).join(wanted.collect().lazy(), on=key, how="semi").collect()
        # The rows of keys with no kept row (left by a run that died between its writes, which
        # is now one commit per entity) are still found through their source ids above.
        others = (
            located(False)
            .join(pl.concat([kept_rows.select(key), of_sources]).unique().lazy(), on=key, how="semi")
            .collect()
        )
        where = pl.concat([kept_rows, others])
        if where.is_empty():
            return entity_schema(entity).to_frame()
        parts = where.select(RECORD_DATE, OUTCOME).unique().sort(RECORD_DATE, OUTCOME).rows()
        group = where.select(key).unique().lazy()
        frames = [
            self.scan(entity, first=day, last=day, kept=outcome == KEPT)
            .filter(pl.col(OUTCOME) == outcome)
            .join(group, on=key, how="semi")
            for day, outcome in parts
        ]
        return pl.concat(pl.collect_all(frames), how="vertical_relaxed").cast(entity_schema(entity))

    def replace_rows(
        self,
        entity: str,
        *,
        removed: pl.DataFrame,
        rows: pl.DataFrame,
        run_id: str,
        reread: Iterable[int] = (),
    ) -> int | None:
        """Make the stored rows of some keys `rows` (each with its `dedup_outcome`), where
        `removed` is what the store held for them. Only rows whose outcome changed, and every
        row of an object read again (`reread`: the same row number now has other content), are
        written: one commit. Returns the version written (None: nothing changed)."""
        schema = entity_schema(entity)
        identity = [SOURCE_ID, "source_row"]
        state = [*identity, OUTCOME, "detail"]
        again = pl.col(SOURCE_ID).is_in(pl.Series(list(reread), dtype=pl.Int64).implode())
        new = rows.select(schema.names()).cast(schema)
        old = removed.select(schema.names()).cast(schema)
        inserts = new.join(old.filter(~again).select(state), on=state, how="anti", nulls_equal=True)
        deletes = old.join(new.filter(~again).select(state), on=state, how="anti", nulls_equal=True)
        if deletes.is_empty():
            return self._write(entity, inserts, run_id, mode="append") if not inserts.is_empty() else None
        match = f"t.{SOURCE_ID} = s.{SOURCE_ID} AND t.source_row = s.source_row"
        return self._merge(entity, inserts, deletes.select(*identity, RECORD_DATE, OUTCOME), match, run_id)

    def _merge(self, name: str, inserts: pl.DataFrame, deletes: pl.DataFrame, match: str, run_id: str) -> int:
        """Delete `deletes` (identity and partition columns) and insert `inserts` in one commit.

        The delete rows are the only ones the predicate can match (`_op`), and the target is
        read only in the partitions that hold them."""
        schema = STORE_TABLES[name].schema
        marked = pl.concat(
            [
                inserts.with_columns(pl.lit("insert").alias(_OP)),
                deletes.with_columns(pl.lit("delete").alias(_OP)),
            ],
            how="diagonal_relaxed",
        ).select(*schema.names(), _OP)
        days = deletes[RECORD_DATE].unique().sort().to_list()
        outcomes = ", ".join(f"'{o}'" for o in sorted(deletes[OUTCOME].unique().to_list()))
        predicate = (
            f"{match} AND s.{_OP} = 'delete' AND t.{RECORD_DATE} IN ({_sql_list(days)})"
            f" AND t.{OUTCOME} IN ({outcomes})"
        )
        table = self._open_or_create(name, schema)
        (
            table.merge(
                marked.cast(pl.Schema({**schema, _OP: pl.String()})).to_arrow(),
                predicate=predicate,
                source_alias="s",
                target_alias="t",
                writer_properties=WRITER,
                commit_properties=_commit(run_id),
            )
            .when_matched_delete()
            .when_not_matched_insert({c: f"s.{c}" for c in schema.names()}, predicate=f"s.{_OP} = 'insert'")
            .execute()
        )
        return DeltaTable(self._table(name), storage_options=self._options).version()

    def source_ids(self, entity: str) -> set[int]:
        """The objects the entity's stored rows come from."""
        return set(self.scan(entity).select(SOURCE_ID).unique().collect()[SOURCE_ID].to_list())

    def outcome_counts(self, entity: str, source_ids: Iterable[int]) -> pl.DataFrame:
        """source_id, dedup_outcome, rows: what became of these objects' rows, as stored now."""
        ids = pl.Series(list(source_ids), dtype=pl.Int64).implode()
        return (
            self.scan(entity)
            .select(SOURCE_ID, OUTCOME)
            .filter(pl.col(SOURCE_ID).is_in(ids))
            .group_by(SOURCE_ID, OUTCOME)
            .agg(pl.len().cast(pl.Int64).alias("rows"))
            .collect()
        )

    def _open_or_create(self, name: str, schema: pl.Schema) -> DeltaTable:
        table = open_table(self._table(name), self._options)
        if table is None:
            self._write(name, schema.to_frame(), "", mode="append")
            table = DeltaTable(self._table(name), storage_options=self._options)
        return table

    # --- rejected rows ------------------------------------------------------------------------

    def replace_rejected(self, rows: pl.DataFrame, source_ids: Iterable[int], run_id: str) -> int | None:
        """The rejected-row records of these objects, replacing any stored for them (one commit)."""
        ids = sorted(set(source_ids))
        if not ids:
            return None
        schema = STORE_TABLES[REJECTED_TABLE].schema
        frame = rows.select(schema.names()).cast(schema)
        if not self.exists(REJECTED_TABLE):
            return self._write(REJECTED_TABLE, frame, run_id, mode="append")
        predicate = f"{SOURCE_ID} IN ({_sql_list(ids)})"
        return self._write(REJECTED_TABLE, frame, run_id, mode="overwrite", predicate=predicate)

    # --- writing ------------------------------------------------------------------------------

    def _write(
        self,
        name: str,
        frame: pl.DataFrame,
        run_id: str,
        *,
        mode: Literal["append", "overwrite"],
        predicate: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> int:
        spec = STORE_TABLES[name]
        options: dict[str, Any] = {
            "partition_by": list(spec.partition_by) or None,
            "configuration": TABLE_PROPERTIES,
            "storage_options": self._options,
            "commit_properties": _commit(run_id, metadata),
            "writer_properties": WRITER,
        }
        if mode == "overwrite":
            write_deltalake(
                self._table(name), frame.to_arrow(), mode="overwrite", predicate=predicate, **options
            )
        else:
            write_deltalake(self._table(name), frame.to_arrow(), mode="append", **options)
        return DeltaTable(self._table(name), storage_options=self._options).version()


def _partition_values(uri: str) -> dict[str, Any]:
    """A file's partition values from its path (`.../record_date=2026-10-01/dedup_outcome=kept/...`)."""
    values: dict[str, Any] = {}
    for part in uri.split("/"):
        name, sep, value = part.partition("=")
        if not sep:
            continue
        if name == RECORD_DATE:
            values[name] = dt.date.fromisoformat(value)
        elif name == OUTCOME:
            values[name] = value
    return values


def snapshot_metadata(versions: Mapping[str, int]) -> dict[str, str]:
    """The ledger commit's metadata recording the other store tables' versions."""
    return {SNAPSHOT_KEY: json.dumps(dict(versions))}


def _commit(run_id: str, metadata: dict[str, str] | None = None) -> CommitProperties:
    return CommitProperties(
        custom_metadata={"run_id": run_id, "writer": "support-audit ingest", **(metadata or {})}
    )


def store_of(settings: AuditSettings) -> Store:
    """The canonical store the settings point at (`store_uri`, else beside the warehouse)."""
    return Store(settings.canonical_store_uri(), settings.s3)


# --- what an audit day reads ----------------------------------------------------------------------


def audit_inputs(
    store: Store,
    first: dt.date,
    last: dt.date,
    versions: Mapping[str, int] | None = None,
    *,
    delivered: tuple[dt.date, dt.date] | None = None,
) -> CanonicalTables:
    """The canonical tables an audit day reads, as lazy scans pruned to its windows.

    Events and calls whose own day is in first..last; tickets created by `last`. With
    `delivered` (the day's export range, first..last export day), each key's row is the one the
    objects exported in that range give by the contract's de-duplication, as if the day had
    read those exports alone (docs/metrics.md: a day reads the exports D - look-back ..
    D + look-ahead): a ticket changed again after the range is read in its version of the
    range, and a key no object of the range delivered is not read. Without it, every key's
    current row (tickets: those changed on or after `first`). Each family then reads only the
    columns and rows it needs. `versions` (a `Store.snapshot`) pins each table; None: current.
    """
    at = dict(versions or {})
    if delivered is None:
        since = dt.datetime.combine(first, dt.time(0), tzinfo=dt.UTC)
        return CanonicalTables(
            tickets=store.canonical("tickets", last=last, version=at.get("tickets")).filter(
                pl.col("updated_at") >= since
            ),
            ticket_events=store.canonical(
                "ticket_events", first=first, last=last, version=at.get("ticket_events")
            ),
            calls=store.canonical("calls", first=first, last=last, version=at.get("calls")),
        )
    ledger = store.ledger(at.get(LEDGER_TABLE))
    object_keys = ledger.select(SOURCE_ID, "object_key")
    in_range = ledger.filter(pl.col("export_date").is_between(*delivered))
    windows = {"tickets": (None, last), "ticket_events": (first, last), "calls": (first, last)}
    read = {
        entity: _as_delivered(
            store,
            entity,
            _Window(*windows[entity], in_range.filter(pl.col("entity") == entity)),
            delivered,
            at.get(entity),
            object_keys,
        )
        for entity in ENTITIES
    }
    return CanonicalTables(**read)


@dataclass(frozen=True)
class _Window:
    """The record days an audit day reads of one entity (`first` None: from the beginning), and the
    ledger entries of the objects its export range delivered: their rows are read wherever their
    own day falls (a history re-export, an old event delivered late), so the day reads every row
    its exports hold, not only those near their export day."""

    first: dt.date | None
    last: dt.date
    delivered: pl.DataFrame  # ledger rows: source_id, first_record_date, last_record_date

    def scan(self, store: Store, entity: str, version: int | None, kept: bool) -> pl.LazyFrame:
        """The window's partitions, plus those outside it that hold rows of the range's objects
        (only those objects' rows: the ledger says which objects reach that far)."""
        scans = [store.scan(entity, version, first=self.first, last=self.last, kept=kept)]
        day = dt.timedelta(days=1)
        early = self.delivered.filter(pl.col("first_record_date") < self.first) if self.first else None
        if self.first is not None and early is not None and early.height:
            lo: dt.date = early["first_record_date"].min()  # type: ignore[assignment]
            scans.append(
                _rows_of(store.scan(entity, version, first=lo, last=self.first - day, kept=kept), early)
            )
        late = self.delivered.filter(pl.col("last_record_date") > self.last)
        if late.height:
            hi: dt.date = late["last_record_date"].max()  # type: ignore[assignment]
            scans.append(
                _rows_of(store.scan(entity, version, first=self.last + day, last=hi, kept=kept), late)
            )
        return pl.concat(scans, how="vertical") if len(scans) > 1 else scans[0]


def _rows_of(scan: pl.LazyFrame, objects: pl.DataFrame) -> pl.LazyFrame:
    """These objects' rows in `scan`, collected once: few rows, but `source_id` is a hash, so no
    file can be skipped, and each family's plan would scan the partitions again."""
    return scan.filter(pl.col(SOURCE_ID).is_in(objects[SOURCE_ID].implode())).collect().lazy()


def _as_delivered(
    store: Store,
    entity: str,
    window: _Window,
    delivered: tuple[dt.date, dt.date],
    version: int | None,
    object_keys: pl.DataFrame,
) -> pl.LazyFrame:
    """One row per key of `entity`, as the objects exported in `delivered` alone give it.

    A key's kept row is the best of all its stored rows, so where it was exported in the range
    it is the range's best too: those are read straight from the kept partitions. The other
    keys the range delivered (a ticket or call changed again after the range, an event first
    delivered before it) take their best row of the range among the stored copies, ranked as
    de-duplication ranks them (`transforms.dedup.rank_columns`); that set is small for a recent
    day and is computed once here, not in every family's plan.
    """
    schema = ENTITIES[entity]
    in_range = pl.col(EXPORT_DATE).is_between(*delivered)
    kept = window.scan(store, entity, version, kept=True).filter(in_range)
    # Conflicting copies are quarantined (the day's quarantine lists them): never a day's row.
    copies = window.scan(store, entity, version, kept=False).filter(
        in_range & (pl.col(OUTCOME) != dedup.CONFLICT)
    )
    ranks = dedup.rank_columns(schema)
    identity = [SOURCE_ID, SOURCE_ROW]
    # The keys and ranks first (a few columns of every copy in the range), whole rows only for
    # the copies that win: most copies are older versions of keys kept in the range.
    winners = (
        copies.select(schema.key, *(c for c in ranks if c != SOURCE_KEY), SOURCE_ID)
        .join(kept.select(schema.key), on=schema.key, how="anti")
        .join(object_keys.lazy().rename({"object_key": SOURCE_KEY}), on=SOURCE_ID, how="left")
        .sort(
            [schema.key, *ranks],
            descending=[False] + [dedup.rank_descending(schema)] * len(ranks),
            nulls_last=True,
        )
        .unique(schema.key, keep="first", maintain_order=True)
        .select(identity)
        .collect()
    )
    if winners.is_empty():
        return kept
    best = (
        copies.join(winners.lazy(), on=identity, how="semi")
        .with_columns(pl.lit(KEPT).alias(OUTCOME))
        .collect()
    )
    return pl.concat([kept, best.lazy()], how="vertical")


def day_inputs(
    store: Store, first: dt.date, last: dt.date, versions: Mapping[str, int] | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The ledger entries of the objects exported first..last (what a day's manifest lists as its
    inputs) and their quarantined rows: staging rejections, whole objects, conflicting
    duplicates (`QUARANTINE_SCHEMA`). `versions` pins each table as in `audit_inputs`."""
    at = dict(versions or {})
    ledger = store.ledger(at.get(LEDGER_TABLE)).filter(
        (pl.col("status") == "ingested") & pl.col("export_date").is_between(first, last)
    )
    ids = ledger[SOURCE_ID].implode()
    rejected = (
        store.scan(REJECTED_TABLE, at.get(REJECTED_TABLE)).filter(pl.col(SOURCE_ID).is_in(ids)).collect()
    )
    conflicts = [
        store.scan(entity, at.get(entity), kept=False)
        .filter(pl.col(SOURCE_ID).is_in(ids) & (pl.col(OUTCOME) == "conflict"))
        .select(
            pl.lit(entity, pl.String).alias("entity"),
            SOURCE_ID,
            pl.col("source_row").alias("row_number"),
            pl.lit(q.CONFLICTING_DUPLICATE, pl.String).alias("reason"),
            "detail",
        )
        for entity in ENTITIES
    ]
    keys = ledger.select(SOURCE_ID, "object_key")
    conflict_rows = pl.concat(pl.collect_all(conflicts), how="vertical").join(keys, on=SOURCE_ID, how="left")
    quarantine = pl.concat(
        [rejected.select(q.QUARANTINE_SCHEMA.names()), conflict_rows.select(q.QUARANTINE_SCHEMA.names())],
        how="vertical_relaxed",
    ).cast(q.QUARANTINE_SCHEMA)
    return ledger, quarantine.sort("object_key", "row_number", nulls_last=False)
