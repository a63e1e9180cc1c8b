"""Keeping the `agents` and `teams` dimension tables in step with the canonical store.

They describe everyone the ingested exports name (transforms/dimensions.py), so they change
only when an ingest changes the store's tickets, events or calls. Each write records the store
snapshot it was computed from (`store_versions` in the commit's metadata, the same snapshot an
audit reads); the period refresh at the end of every audit flow run (warehouse/periods.py)
recomputes them, under its lease and with its validation, when those three tables' versions
differ, and leaves them alone otherwise. Both are small (a row per
person or team) and are replaced whole, one commit each.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import polars as pl

from catalogue import DIMENSION_TABLES, ENTITIES
from configs.settings import AuditSettings
from transforms.dimensions import appearances, dimensions, team_mentions
from transforms.scope import CanonicalTables
from warehouse.delta import open_table, replace_rows, storage_options, table_uri
from warehouse.store import SNAPSHOT_KEY, store_of
from warehouse.store import snapshot_metadata as store_metadata


def stored_snapshot(settings: AuditSettings) -> dict[str, int] | None:
    """The store snapshot every dimension table was last computed from (None when one was never
    written, or they disagree: a refresh stopped between the two commits)."""
    found = []
    for name in DIMENSION_TABLES:
        table = open_table(
            table_uri(settings.warehouse_uri, name), storage_options(settings.warehouse_uri, settings.s3)
        )
        recorded = None if table is None else table.history(1)[0].get(SNAPSHOT_KEY)
        found.append(None if recorded is None else json.loads(recorded))
    first = found[0]
    return first if first is not None and all(f == first for f in found) else None


def _entities(snapshot: Mapping[str, int]) -> dict[str, int | None]:
    """The versions the tables are computed from: an ingest that only rewrote the ledger (an
    object seen again, a fingerprint) changes nothing they show."""
    return {entity: snapshot.get(entity) for entity in ENTITIES}


def stale_dimensions(settings: AuditSettings) -> tuple[dict[str, int], dict[str, pl.DataFrame]]:
    """The store's snapshot and, when the dimension tables were computed from another one, both
    tables recomputed from it (without `run_id`); no frames when they are up to date."""
    store = store_of(settings)
    snapshot = store.snapshot()
    stored = stored_snapshot(settings)
    if stored is not None and _entities(stored) == _entities(snapshot):
        return snapshot, {}
    tables = CanonicalTables(
        **{entity: store.canonical(entity, version=snapshot.get(entity)) for entity in ENTITIES}
    )
    seen, mentions = pl.collect_all([appearances(tables), team_mentions(tables)])  # a few rows each
    frames = dimensions(seen.lazy(), mentions.lazy())
    collected = pl.collect_all([frames[name] for name in DIMENSION_TABLES])
    return snapshot, dict(zip(DIMENSION_TABLES, collected, strict=True))


def write_dimension(
    settings: AuditSettings, name: str, frame: pl.DataFrame, snapshot: Mapping[str, int], run_id: str
) -> int:
    """Replace the whole table with `frame` in one commit recording `snapshot`; the new version."""
    metadata = {"run_id": run_id, **store_metadata(snapshot)}
    return replace_rows(settings.warehouse_uri, settings.s3, name, frame, predicate=None, metadata=metadata)


__all__ = ["stale_dimensions", "stored_snapshot", "write_dimension"]
