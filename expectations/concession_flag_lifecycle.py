"""Suite for `concession_flag_lifecycle`: every flag's status, and the day after it stops."""

from collections.abc import Sequence

import great_expectations.expectations as gxe
import polars as pl

from catalogue import TABLES
from expectations._outputs import published_row
from expectations._suite import Suite, SuiteParams, at_least, in_set, is_true, not_null, unique_key

TABLE = TABLES["concession_flag_lifecycle"]


def prepare(frame: pl.LazyFrame) -> pl.LazyFrame:
    """A run starts on or before its day, and a first day is a run of one."""
    first, day, days = pl.col("first_flagged_on"), pl.col("audit_date"), pl.col("consecutive_days")
    return frame.with_columns(
        (
            (first <= day)
            & pl.when(pl.col("status") == "new").then((first == day) & (days == 1)).otherwise(True)
        )
        .fill_null(False)
        .alias("check_run_before_day")
    )


def build(columns: Sequence[str], params: SuiteParams) -> list[gxe.Expectation]:
    return [
        *published_row(columns),
        *not_null(
            "flag_type", "subject_type", "subject_id", "status", "first_flagged_on", "consecutive_days"
        ),
        in_set("status", TABLE.column("status").values),
        in_set("flag_type", TABLE.column("flag_type").values),
        unique_key(*TABLE.key),
        at_least("consecutive_days", 1),
        is_true("check_run_before_day"),
    ]


SUITE = Suite(name="concession_flag_lifecycle", key=TABLE.key, build=build, prepare=prepare)
