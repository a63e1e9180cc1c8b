"""How rows look on the wire: ISO-8601 text with varied offsets, and the five file formats.

Parquet keeps typed UTC timestamps; text formats (and Parquet parts carrying bad rows) carry
timestamps as strings, each row with an offset drawn from the part's offsets. Output bytes are
deterministic: gzip headers carry no time stamp.
"""

from __future__ import annotations

import gzip
import io

import numpy as np
import polars as pl

from transforms.schemas.base import TIMESTAMP

# (minutes east of UTC, suffix written)
OFFSETS = ((0, "Z"), (0, "+00:00"), (-300, "-05:00"), (120, "+02:00"), (330, "+05:30"), (-480, "-08:00"))
ISO = "%Y-%m-%dT%H:%M:%S"


def timestamp_columns(frame: pl.DataFrame) -> list[str]:
    return [c for c, t in frame.schema.items() if t == TIMESTAMP]


def naive_utc(column: str) -> pl.Expr:
    """The instant as UTC wall-clock text without an offset (a naive timestamp)."""
    return pl.col(column).dt.replace_time_zone(None).dt.strftime(ISO)


def utc_text(expr: pl.Expr) -> pl.Expr:
    return pl.concat_str([expr.dt.replace_time_zone(None).dt.strftime(ISO), pl.lit("+00:00")])


def to_text_timestamps(frame: pl.DataFrame, offsets: np.ndarray) -> pl.DataFrame:
    """Render every timestamp column as ISO-8601 with the per-row offset codes in `offsets`."""
    minutes = pl.Series(np.asarray([m for m, _ in OFFSETS])[offsets], dtype=pl.Int64)
    suffix = pl.Series(np.asarray([s for _, s in OFFSETS])[offsets], dtype=pl.String)
    local = {
        c: pl.col(c).dt.replace_time_zone(None) + pl.duration(minutes=pl.lit(minutes))
        for c in timestamp_columns(frame)
    }
    return frame.with_columns(
        pl.concat_str([expr.dt.strftime(ISO), suffix]).alias(c) for c, expr in local.items()
    )


def part_offsets(rng: np.random.Generator, rows: int) -> np.ndarray:
    """A part uses one to three offsets (a vendor system's zones), mixed row by row."""
    choices = rng.choice(len(OFFSETS), size=rng.integers(1, 4), replace=False)
    return choices[rng.integers(0, choices.size, rows)]


def serialise(frame: pl.DataFrame, fmt: str) -> bytes:
    """File bytes for one of parquet, csv, csv.gz, jsonl, jsonl.gz."""
    if fmt == "parquet":
        buffer = io.BytesIO()
        frame.write_parquet(buffer, compression="zstd", statistics=False)
        return buffer.getvalue()
    text = frame.write_csv() if fmt.startswith("csv") else frame.write_ndjson()
    data = text.encode("utf-8")
    return gzip.compress(data, compresslevel=6, mtime=0) if fmt.endswith(".gz") else data
