"""Suite for `follow_up_audit`: one row per eligible contact, status consistent with evidence."""

from collections.abc import Sequence

import great_expectations.expectations as gxe
import polars as pl

from catalogue import TABLES
from expectations._outputs import published_row
from expectations._suite import (
    Suite,
    SuiteParams,
    at_least,
    in_set,
    is_true,
    not_null,
    pseudonymised,
    unique_key,
)

TABLE = TABLES["follow_up_audit"]


def prepare(frame: pl.LazyFrame) -> pl.LazyFrame:
    # A met follow-up names the follow-up that met it and a missed one names none; a pending one
    # may already show a follow-up seen while its window is still open.
    has_follow_up = pl.col("follow_up_id").is_not_null()
    status = pl.col("status")
    return frame.with_columns(
        pl.when(status == "met")
        .then(has_follow_up)
        .when(status == "missed")
        .then(~has_follow_up)
        .otherwise(True)  # pending may; an unknown status fails the status check itself
        .fill_null(False)
        .alias("check_met_has_follow_up")
    )


def build(columns: Sequence[str], params: SuiteParams) -> list[gxe.Expectation]:
    return [
        *published_row(columns),
        *not_null("contact_id", "contact_type", "status", "customer_key"),
        unique_key("contact_type", "contact_id"),
        in_set("contact_type", TABLE.column("contact_type").values),
        in_set("status", TABLE.column("status").values),
        at_least("hours_to_follow_up", 0),
        pseudonymised("customer_key"),
        is_true("check_met_has_follow_up"),
    ]


SUITE = Suite(name="follow_up_audit", key=("contact_type", "contact_id"), build=build, prepare=prepare)
