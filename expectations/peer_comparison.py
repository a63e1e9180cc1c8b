"""Suite for `peer_comparison`: the funnel plot's points, limits and flags."""

from collections.abc import Sequence

import great_expectations.expectations as gxe
import polars as pl

from catalogue import TABLES
from expectations._suite import Suite, SuiteParams, between, in_set, is_true, not_above, not_null, unique_key

TABLE = TABLES["peer_comparison"]
EPS = 1e-9


def prepare(frame: pl.LazyFrame) -> pl.LazyFrame:
    """A row is flagged exactly when q <= fdr, on the side of its rate, with its evidence listed;
    the inner funnel lies within the outer one."""
    flagged = pl.col("is_flagged")
    side = (
        pl.when(pl.col("rate") < pl.col("peer_rate"))
        .then(pl.lit("below_peers"))
        .otherwise(pl.lit("above_peers"))
    )
    return frame.with_columns(
        (flagged == (pl.col("q_value") <= pl.col("fdr") + EPS).fill_null(False))
        .fill_null(False)
        .alias("check_flag_follows_q_value"),
        pl.when(flagged)
        .then((pl.col("flag_type") == side) & pl.col("evidence_ids").is_not_null())
        .otherwise(pl.col("flag_type").is_null())
        .fill_null(False)
        .alias("check_flag_side_and_evidence"),
        pl.when(flagged)
        .then(
            pl.col("status").is_in(["new", "ongoing"])
            & (pl.col("first_flagged_on") <= pl.col("period_end"))
            & (pl.col("consecutive_days") >= 1)
        )
        .otherwise(pl.col("status").is_null() | (pl.col("status") == "cleared"))
        .fill_null(False)
        .alias("check_lifecycle_follows_flag"),
        (
            (pl.col("outer_limit_low") <= pl.col("inner_limit_low") + EPS)
            & (pl.col("inner_limit_high") <= pl.col("outer_limit_high") + EPS)
        )
        .fill_null(False)
        .alias("check_inner_within_outer"),
    )


def build(columns: Sequence[str], params: SuiteParams) -> list[gxe.Expectation]:
    return [
        *not_null(
            "period",
            "period_start",
            "period_end",
            "metric",
            "comparison",
            "agent_id",
            "policy_version",
            "run_id",
        ),
        in_set("period", TABLE.column("period").values),
        in_set("comparison", TABLE.column("comparison").values),
        in_set("flag_type", TABLE.column("flag_type").values),
        unique_key(*TABLE.key),
        not_above("numerator", "denominator"),
        between("rate", 0, 1),
        between("peer_rate", 0, 1),
        between("p_value", 0, 1),
        between("q_value", 0, 1),
        not_above("p_value", "q_value"),
        between("inner_limit_low", 0, 1),
        between("outer_limit_high", 0, 1),
        not_above("period_start", "period_end"),
        is_true("check_flag_follows_q_value"),
        is_true("check_flag_side_and_evidence"),
        is_true("check_inner_within_outer"),
        is_true("check_lifecycle_follows_flag"),
        in_set("status", TABLE.column("status").values),
    ]


SUITE = Suite(
    name="peer_comparison",
    key=("period_end", "metric", "comparison", "agent_id"),
    build=build,
    prepare=prepare,
)
