"""Suite for `escalation_audit`: one row per classified contact."""

from collections.abc import Sequence

import great_expectations.expectations as gxe
import polars as pl

from catalogue import TABLES
from expectations._outputs import published_row
from expectations._suite import Suite, SuiteParams, in_set, is_true, not_null, unique_key

TABLE = TABLES["escalation_audit"]


def prepare(frame: pl.LazyFrame) -> pl.LazyFrame:
    # Only `unprompted` contacts were escalated without any signal.
    has_signal = pl.col("signals").list.len().fill_null(0) > 0
    return frame.with_columns(
        ((pl.col("escalation_class") == "unprompted") != has_signal)
        .fill_null(False)
        .alias("check_class_matches_signals")
    )


def build(columns: Sequence[str], params: SuiteParams) -> list[gxe.Expectation]:
    return [
        *published_row(columns),
        *not_null("contact_id", "contact_type", "escalation_class"),
        unique_key("contact_type", "contact_id"),
        in_set("contact_type", TABLE.column("contact_type").values),
        in_set("escalation_class", TABLE.column("escalation_class").values),
        is_true("check_class_matches_signals"),
    ]


SUITE = Suite(name="escalation_audit", key=("contact_type", "contact_id"), build=build, prepare=prepare)
