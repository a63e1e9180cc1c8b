"""Suite for `run_manifest`: one row per run whose inputs reconcile.

Reconciliation is the contract's: per input file, rows read = rows accepted + rows
quarantined + rows dropped as exact duplicates. The gate validates the draft manifest
(inputs known, tables not yet written), so an unreconciled run publishes nothing.
"""

from collections.abc import Sequence

import great_expectations.expectations as gxe
import polars as pl

from catalogue import MANIFEST_TABLE, ROW_COUNTS, TABLES
from expectations._suite import Suite, SuiteParams, at_least, in_set, is_true, not_null, unique_key

TABLE = TABLES[MANIFEST_TABLE]


def prepare(frame: pl.LazyFrame) -> pl.LazyFrame:
    balanced = pl.element().struct.field("rows_read") == (
        pl.element().struct.field("rows_accepted")
        + pl.element().struct.field("rows_quarantined")
        + pl.element().struct.field("rows_duplicate")
    )
    per_file = pl.col("inputs").list.eval(balanced).list.all()
    totals = pl.col("rows_read") == pl.col("rows_accepted") + pl.col("rows_quarantined") + pl.col(
        "rows_duplicate"
    )
    return frame.with_columns(
        per_file.fill_null(False).alias("check_inputs_reconciled"),
        totals.fill_null(False).alias("check_totals_reconciled"),
    )


def build(columns: Sequence[str], params: SuiteParams) -> list[gxe.Expectation]:
    return [
        *not_null("run_id", "audit_date", "status", "policy_version", "config_hash", "code_version"),
        unique_key("run_id"),
        in_set("status", TABLE.column("status").values),
        *(at_least(c, 0) for c in ROW_COUNTS),
        is_true("check_inputs_reconciled"),
        is_true("check_totals_reconciled"),
    ]


SUITE = Suite(name="run_manifest", key=("run_id",), build=build, prepare=prepare)
