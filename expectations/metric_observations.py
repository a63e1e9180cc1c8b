"""Suite for `metric_observations`: what the period scorecards and the peer flags are built from."""

from collections.abc import Sequence

import great_expectations.expectations as gxe
import polars as pl

import catalogue
from catalogue import TABLES
from expectations._outputs import published_row
from expectations._suite import Suite, SuiteParams, in_set, is_true, not_null, warning

TABLE = TABLES["metric_observations"]


def prepare(frame: pl.LazyFrame) -> pl.LazyFrame:
    """A numerator row names its contact and adds 1, a denominator row names its contact and
    adds 0; a measure row names no contact; the metric is a rate (numerator and denominator
    rows) or a published measure (measure rows)."""
    numerator = pl.col("kind") == "numerator"
    denominator = pl.col("kind") == "denominator"
    rates = list(catalogue.rate_metrics())
    measures = [m.name for m in catalogue.metrics("measure") if m.stats]
    return frame.with_columns(
        pl.when(numerator)
        .then(pl.col("contact_id").is_not_null() & (pl.col("value") == 1.0))
        .when(denominator)
        .then(pl.col("contact_id").is_not_null() & (pl.col("value") == 0.0))
        .otherwise(pl.col("contact_id").is_null())
        .fill_null(False)
        .alias("check_contact_matches_kind"),
        pl.when(numerator | denominator)
        .then(pl.col("metric").is_in(rates))
        .otherwise(pl.col("metric").is_in(measures))
        .fill_null(False)
        .alias("check_metric_in_catalogue"),
    )


def build(columns: Sequence[str], params: SuiteParams) -> list[gxe.Expectation]:
    return [
        *published_row(columns),
        *not_null("metric", "kind", "value"),
        in_set("kind", TABLE.column("kind").values),
        is_true("check_contact_matches_kind"),
        is_true("check_metric_in_catalogue"),
        # Every published measure is a duration, a count or a 1-5 score.
        warning(gxe.ExpectColumnValuesToBeBetween, column="value", min_value=0),
    ]


SUITE = Suite(
    name="metric_observations",
    key=("audit_date", "metric", "agent_id", "team_id"),
    build=build,
    prepare=prepare,
)
