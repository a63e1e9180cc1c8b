"""One entity-day of rows -> the files of that day's export folder.

A day is split into 1..max_files_per_day parts, each in a format drawn from the configured ones.
Bad rows go to text parts when the day has one (a Parquet column cannot hold a malformed
timestamp); a Parquet part that receives bad rows carries its timestamps as text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from devtools.sample_data.config import GeneratorConfig
from devtools.sample_data.faults import bad_rows, drift_start, with_schema_drift
from devtools.sample_data.wire import part_offsets, serialise, to_text_timestamps


@dataclass(frozen=True)
class ExportFile:
    key: str  # relative to the landing root
    data: bytes
    rows: int  # good rows in the file
    bad_rows: int


def folder(entity: str, day: date) -> str:
    return f"{entity}/export_date={day.isoformat()}"


def day_files(
    entity: str, day: date, typed: pl.DataFrame, config: GeneratorConfig, rng: np.random.Generator
) -> tuple[list[ExportFile], dict[str, int]]:
    """The files of one export folder, and the bad rows planted in them per reason."""
    if config.has_faults and entity == "tickets" and day >= drift_start(config.start_date, config.days):
        typed = with_schema_drift(typed)
    typed = typed.with_row_index("_pos").with_columns(pl.col("_pos").cast(pl.Float64))
    bad, counts = (
        bad_rows(typed, entity, config.bad_row_share, rng) if config.has_faults else (typed.clear(), {})
    )
    n_parts = min(int(rng.integers(1, config.max_files_per_day + 1)), max(1, typed.height))
    formats = [str(f) for f in rng.choice(np.asarray(config.formats), size=n_parts)]
    bounds = np.linspace(0, typed.height, n_parts + 1).astype(int)
    text_parts = [i for i, f in enumerate(formats) if f != "parquet"] or list(range(n_parts))
    bad_part = np.asarray(text_parts)[rng.integers(0, len(text_parts), bad.height)]
    files = []
    for i, fmt in enumerate(formats):  # a few parts per day
        rows = typed[bounds[i] : bounds[i + 1]]
        extra = bad.filter(pl.Series(bad_part == i, dtype=pl.Boolean))
        if fmt == "parquet" and extra.is_empty():
            frame = rows.drop("_pos")
        else:
            text = to_text_timestamps(rows, part_offsets(rng, rows.height))
            frame = (
                pl.concat([text, extra], how="vertical_relaxed")
                .sort("_pos", maintain_order=True)
                .drop("_pos")
            )
        key = f"{folder(entity, day)}/{entity}_{day:%Y%m%d}_{i + 1:02d}.{fmt}"
        files.append(ExportFile(key, serialise(frame, fmt), rows.height, extra.height))
    return files, counts
