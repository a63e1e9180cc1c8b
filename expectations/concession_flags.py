"""Suite for `concession_flags`: one row per flag, with statistics and evidence."""

from collections.abc import Sequence

import great_expectations.expectations as gxe
import polars as pl

from catalogue import TABLES
from expectations._outputs import published_row
from expectations._suite import (
    Suite,
    SuiteParams,
    between,
    in_set,
    is_true,
    not_above,
    not_null,
    unique_key,
)
from transforms.pseudonym import HEX_DIGEST

TABLE = TABLES["concession_flags"]
KEY = TABLE.key


def prepare(frame: pl.LazyFrame) -> pl.LazyFrame:
    is_customer = pl.col("subject_type") == "customer"
    return frame.with_columns(
        (pl.col("evidence_ids").list.len().fill_null(0) > 0).alias("check_has_evidence"),
        (~is_customer | pl.col("subject_id").str.contains(HEX_DIGEST))
        .fill_null(False)
        .alias("check_customer_pseudonymised"),
    )


def build(columns: Sequence[str], params: SuiteParams) -> list[gxe.Expectation]:
    return [
        *published_row(columns),
        *not_null("flag_type", "subject_type", "subject_id"),
        in_set("flag_type", TABLE.column("flag_type").values),
        in_set("subject_type", TABLE.column("subject_type").values),
        unique_key(*KEY),
        between("p_value", 0, 1),
        between("q_value", 0, 1),
        not_above("p_value", "q_value"),
        not_above("window_start", "window_end"),
        # amount_outlier: granted in the window, on D or (a late test) before it
        not_above("window_start", "granted_on"),
        not_above("granted_on", "audit_date"),
        is_true("check_has_evidence"),
        is_true("check_customer_pseudonymised"),
    ]


SUITE = Suite(name="concession_flags", key=KEY, build=build, prepare=prepare)
