"""Reading generated exports back with plain Polars (no ingestion code), for the generator tests.

Values that do not parse as their contract type become null, so a bad row never equals a good one.
"""

from __future__ import annotations

import gzip
import io
import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from devtools.sample_data import GeneratorConfig
from transforms.schemas import ENTITIES
from transforms.schemas.base import TIMESTAMP

# The centre most tests read: 42 days of the defaults, seed 7, no faults.
BASE = GeneratorConfig(end_date=date(2026, 11, 22), days=42, seed=7, bad_row_share=0.0)

EXPORT_KEY = re.compile(
    r"^(tickets|ticket_events|calls)/export_date=(\d{4}-\d{2}-\d{2})/([^/_.][^/]*)\.(parquet|csv\.gz|csv|jsonl\.gz|jsonl)$"
)


def export_keys(root: Path) -> list[str]:
    """Every data file key under a landing folder (markers and `_generator/` excluded)."""
    keys = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    return [k for k in keys if not k.startswith("_") and not k.rsplit("/", 1)[-1].startswith("_")]


def plants(root: Path) -> dict[str, Any]:
    return json.loads((root / "_generator" / "plants.json").read_text())


def read_raw(path: Path) -> pl.DataFrame:
    """A file as Polars reads it; raises on a corrupt file."""
    name = path.name
    if name.endswith(".parquet"):
        return pl.read_parquet(path)
    data = path.read_bytes()
    if name.endswith(".gz"):
        data = gzip.decompress(data)
    if ".csv" in name:
        return pl.read_csv(io.BytesIO(data), infer_schema=False)
    return pl.read_ndjson(io.BytesIO(data), infer_schema_length=None)


def _parse(column: str, kind: str, dtype: pl.DataType) -> pl.Expr:
    col = pl.col(column)
    if kind == "timestamp":
        if isinstance(dtype, pl.Datetime):
            return col.dt.convert_time_zone("UTC").cast(TIMESTAMP)
        text = col.cast(pl.String).str.replace(r"Z$", "+00:00")
        return text.str.to_datetime("%Y-%m-%dT%H:%M:%S%:z", strict=False, time_zone="UTC")
    if kind == "bool":
        return (
            col
            if dtype == pl.Boolean
            else col.cast(pl.String).replace_strict(
                {"true": True, "false": False}, default=None, return_dtype=pl.Boolean
            )
        )
    if kind == "int":
        return col.cast(pl.String).cast(pl.Int64, strict=False)
    if kind == "float":
        return col.cast(pl.String).cast(pl.Float64, strict=False)
    return col.cast(pl.String)


def read_entity(root: Path, entity: str, skip: tuple[str, ...] = ()) -> pl.DataFrame:
    """All rows of an entity in contract types, with `export_date` and `source_key`."""
    schema = ENTITIES[entity]
    frames = []
    for key in export_keys(root):
        match = EXPORT_KEY.match(key)
        if not match or match.group(1) != entity or key in skip:
            continue
        raw = read_raw(root / key)
        frames.append(
            raw.select(
                _parse(f.name, f.kind, raw.schema[f.name]).alias(f.name) for f in schema.fields
            ).with_columns(
                export_date=pl.lit(match.group(2)).str.to_date(),
                source_key=pl.lit(key),
            )
        )
    return pl.concat(frames, how="vertical_relaxed")


def latest(frame: pl.DataFrame, key: str) -> pl.DataFrame:
    """The contract's de-duplication for versioned entities: greatest updated_at wins."""
    return (
        frame.sort(key, "updated_at", "export_date", "source_key").group_by(key, maintain_order=True).last()
    )
