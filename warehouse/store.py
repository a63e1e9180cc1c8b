"""The canonical store: Delta tables of de-duplicated tickets, ticket events and calls.

Layout under the store URI (`AuditSettings.canonical_store_uri()`, a folder or `s3://` prefix):

- `tickets`, `ticket_events`, `calls`: one row per key, the contract's columns plus lineage
  (`export_date`, `source_id`, `source_row`), partitioned by `record_date` (the UTC day of the
  row's own time: created_at, occurred_at, initiated_at), so an audit day reads its windows
  by partition;
- `<entity>_copies`: every other accepted row (superseded versions, exact re-deliveries,
  conflicting duplicates) with its outcome, so a later object merges as if every object had
  been read together;
- `rejected_rows`: rows and whole objects rejected at staging (no raw values);
- `ingest_ledger`: one row per export object read.

Every change to an entity table is one Delta commit (a merge that deletes the replaced rows
and inserts the new ones), carrying the run id in its metadata. The schemas are the
catalogue's (`catalogue.STORE_TABLES`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import polars as pl
from deltalake import CommitProperties, DeltaTable, write_deltalake

from catalogue import LEDGER_SCHEMA, LEDGER_TABLE, RECORD_DATE, REJECTED_TABLE, SOURCE_ID, STORE_TABLES
from configs.settings import S3Settings
from transforms.dedup import OUTCOME
from transforms.schemas import ENTITIES
from transforms.schemas import quarantine as q
from transforms.scope import CanonicalTables
from warehouse.delta import TABLE_PROPERTIES, open_table, storage_options, table_uri

_OP = "_op"  # merge source column: delete (a stored row to remove) or insert


def copies_table(entity: str) -> str:
    return f"{entity}_copies"


def entity_schema(entity: str, *, copies: bool = False) -> pl.Schema:
    return STORE_TABLES[copies_table(entity) if copies else entity].schema


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
        """The current version of every store table that exists (what an audit reads)."""
        return {name: v for name in STORE_TABLES if (v := self.version(name)) is not None}

    def scan(self, name: str, version: int | None = None) -> pl.LazyFrame:
        """A table as a lazy scan (an empty frame of its schema when it does not exist yet)."""
        if not self.exists(name):
            return STORE_TABLES[name].schema.to_frame().lazy()
        return pl.scan_delta(self._table(name), version=version, storage_options=self._options)

    # --- the ledger -------------------------------------------------------------------------------

    def ledger(self) -> pl.DataFrame:
        return self.scan(LEDGER_TABLE).collect().select(LEDGER_SCHEMA.names()).cast(LEDGER_SCHEMA)

    def write_ledger(self, ledger: pl.DataFrame, run_id: str) -> int:
        """Replace the ledger (a few rows per export object: rewritten whole, one commit)."""
        frame = ledger.select(LEDGER_SCHEMA.names()).cast(LEDGER_SCHEMA).sort("entity", "object_key")
        return self._write(LEDGER_TABLE, frame, run_id, mode="overwrite")

    # --- rows ---------------------------------------------------------------------------------

    def rows_of(self, entity: str, keys: pl.Series, source_ids: Iterable[int]) -> pl.DataFrame:
        """Every stored row (kept and copies, with `dedup_outcome`) of the keys in `keys` and of
        the keys any row from `source_ids` has: whole key groups, so they can be de-duplicated
        again. Reads the key and source columns of the whole table, then only the partitions
        that hold a match."""
        key = ENTITIES[entity].key
        ids = pl.Series(list(source_ids), dtype=pl.Int64).implode()
        names = (entity, copies_table(entity))
        located = [
            self.scan(n)
            .select(key, SOURCE_ID, RECORD_DATE)
            .filter(pl.col(key).is_in(keys.implode()) | pl.col(SOURCE_ID).is_in(ids))
            for n in names
        ]
        found = pl.collect_all(located)
        of_sources = pl.concat([f.filter(pl.col(SOURCE_ID).is_in(ids)).select(key) for f in found])
        if not of_sources.is_empty():  # their keys' other rows, in any partition
            group_keys = pl.concat([keys.to_frame(key), of_sources]).unique()[key]
            located = [
                self.scan(n)
                .select(key, SOURCE_ID, RECORD_DATE)
                .filter(pl.col(key).is_in(group_keys.implode()))
                for n in names
            ]
            found = pl.collect_all(located)
            keys = group_keys
        frames = []
        for name, where in zip(names, found, strict=True):
            copies = name != entity
            if where.is_empty():
                continue
            days = where[RECORD_DATE].unique().implode()
            match = pl.col(key).is_in(keys.implode())
            rows = self.scan(name).filter(pl.col(RECORD_DATE).is_in(days) & match).collect()
            if not copies:
                rows = rows.with_columns(
                    pl.lit("kept").alias(OUTCOME), pl.lit(None, pl.String).alias("detail")
                )
            frames.append(rows.select(entity_schema(entity, copies=True).names()))
        if not frames:
            return entity_schema(entity, copies=True).to_frame()
        return pl.concat(frames, how="vertical_relaxed").cast(entity_schema(entity, copies=True))

    def replace_rows(
        self,
        entity: str,
        *,
        removed: pl.DataFrame,
        kept: pl.DataFrame,
        copies: pl.DataFrame,
        run_id: str,
    ) -> dict[str, int]:
        """Remove the stored rows in `removed` (kept and copies, with `dedup_outcome`) and insert
        the new `kept` and `copies` rows: one commit per table. Returns the versions written."""
        key = ENTITIES[entity].key
        versions = {}
        gone_kept = removed.filter(pl.col(OUTCOME) == "kept").select(key, RECORD_DATE)
        gone_copies = removed.filter(pl.col(OUTCOME) != "kept").select(SOURCE_ID, "source_row", RECORD_DATE)
        for name, new, gone, match in (
            (entity, kept, gone_kept, f"t.{key} = s.{key}"),
            (
                copies_table(entity),
                copies,
                gone_copies,
                f"t.{SOURCE_ID} = s.{SOURCE_ID} AND t.source_row = s.source_row",
            ),
        ):
            schema = STORE_TABLES[name].schema
            rows = new.select(schema.names()).cast(schema)
            if gone.is_empty():
                if not rows.is_empty():
                    versions[name] = self._write(name, rows, run_id, mode="append")
                continue
            versions[name] = self._merge(name, rows, gone, match, run_id)
        return versions

    def _merge(self, name: str, inserts: pl.DataFrame, deletes: pl.DataFrame, match: str, run_id: str) -> int:
        """Delete `deletes` (identity columns + record_date) and insert `inserts` in one commit.

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
        predicate = f"{match} AND s.{_OP} = 'delete' AND t.{RECORD_DATE} IN ({_sql_list(days)})"
        table = self._open_or_create(name, schema)
        (
            table.merge(
                marked.cast(pl.Schema({**schema, _OP: pl.String()})).to_arrow(),
                predicate=predicate,
                source_alias="s",
                target_alias="t",
                commit_properties=_commit(run_id),
            )
            .when_matched_delete()
            .when_not_matched_insert({c: f"s.{c}" for c in schema.names()}, predicate=f"s.{_OP} = 'insert'")
            .execute()
        )
        return DeltaTable(self._table(name), storage_options=self._options).version()

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
    ) -> int:
        spec = STORE_TABLES[name]
        options: dict[str, Any] = {
            "partition_by": list(spec.partition_by) or None,
            "configuration": TABLE_PROPERTIES,
            "storage_options": self._options,
            "commit_properties": _commit(run_id),
        }
        if mode == "overwrite":
            write_deltalake(
                self._table(name), frame.to_arrow(), mode="overwrite", predicate=predicate, **options
            )
        else:
            write_deltalake(self._table(name), frame.to_arrow(), mode="append", **options)
        return DeltaTable(self._table(name), storage_options=self._options).version()


def _commit(run_id: str) -> CommitProperties:
    return CommitProperties(custom_metadata={"run_id": run_id, "writer": "support-audit ingest"})


# --- what an audit day reads ----------------------------------------------------------------------


def _between(first: dt.date, last: dt.date) -> pl.Expr:
    return pl.col(RECORD_DATE).is_between(first, last)


def audit_inputs(store: Store, first: dt.date, last: dt.date) -> CanonicalTables:
    """The canonical tables an audit day reads, as lazy scans pruned to its windows.

    Events and calls whose own day is in first..last; tickets created then, and the older
    tickets those events and calls refer to (a ticket solved in the window may be weeks old).
    Each family then reads only the columns and rows it needs from the scans.
    """
    events = store.scan("ticket_events").filter(_between(first, last))
    calls = store.scan("calls").filter(_between(first, last))
    referenced = pl.concat(
        [events.select("ticket_id"), calls.select("ticket_id").drop_nulls()], how="vertical"
    ).unique()
    ids = referenced.collect()["ticket_id"]
    tickets = store.scan("tickets").filter(
        (pl.col(RECORD_DATE) <= last) & (_between(first, last) | pl.col("ticket_id").is_in(ids.implode()))
    )
    return CanonicalTables(tickets=tickets, ticket_events=events, calls=calls)


def day_inputs(store: Store, first: dt.date, last: dt.date) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The ledger entries of the objects exported first..last (what a day's manifest lists as its
    inputs) and their quarantined rows: staging rejections, whole objects, conflicting
    duplicates (`QUARANTINE_SCHEMA`)."""
    ledger = store.ledger().filter(
        (pl.col("status") == "ingested") & pl.col("export_date").is_between(first, last)
    )
    ids = ledger[SOURCE_ID].implode()
    rejected = store.scan(REJECTED_TABLE).filter(pl.col(SOURCE_ID).is_in(ids)).collect()
    conflicts = [
        store.scan(copies_table(entity))
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
