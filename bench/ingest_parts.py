"""Per-file cost of the ingest's checks on the bench centre's Parquet exports.

    .venv/bin/python -m bench.ingest_parts     (after `make bench` generated the workload)

For one export day's file of each entity: reading it (`read_export`), the read limits checked on
Parquet (the footer's decoded-size bound, value lengths), and staging with and without the
`implausible_timestamp` upper bound. Prints seconds per step and the box's load.
"""

from __future__ import annotations

import glob
import os
import time
from datetime import date

import polars as pl

from configs.limits import ReadLimits, TimestampBounds
from ingestion import readers
from transforms.schemas import ENTITIES
from transforms.staging import conform_columns, stage

DAY = "2026-10-21"


def seconds(step) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    step()
    return time.perf_counter() - started


def measure(entity: str, path: str) -> dict[str, float]:
    """Seconds of each step on one file (each after one untimed read, so nothing is cold)."""
    schema, limits = ENTITIES[entity], ReadLimits()
    no_upper = TimestampBounds(latest_days_after_export=None)
    with open(path, "rb") as file:
        data = file.read()
    frame = readers.read_export(data, path, keep_types=True).collect()
    raw = conform_columns(frame.lazy(), schema, export_date=date.fromisoformat(DAY), source_key=path)
    return {
        "read": seconds(lambda: readers.read_export(data, path, keep_types=True).collect()),
        "parquet bound": seconds(lambda: readers._refuse_large_parquet(data, limits)),
        "value lengths": seconds(lambda: readers._refuse_long_values(frame, limits)),
        "stage": seconds(lambda: pl.collect_all(stage(raw, schema, naive_timestamps_as_utc=False))),
        "stage without the upper bound": seconds(
            lambda: pl.collect_all(
                stage(raw, schema, naive_timestamps_as_utc=False, timestamp_bounds=no_upper)
            )
        ),
    }


def main() -> None:
    for entity in ENTITIES:
        path = sorted(glob.glob(f".bench-cache/large/landing/{entity}/export_date={DAY}/*.parquet"))[0]
        timings = measure(entity, path)
        print(f"{entity}: " + ", ".join(f"{k} {v:.3f} s" for k, v in timings.items()))
    print("load average", " ".join(f"{x:.2f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
