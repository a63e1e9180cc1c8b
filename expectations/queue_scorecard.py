"""Suite for `queue_scorecard`: one row per (audit day, queue, team) of queued call legs; the
abandonment rate is checked by the scorecards' rate rules (its own long view)."""

from collections.abc import Sequence

import great_expectations.expectations as gxe
import polars as pl

from catalogue import TABLES
from expectations._outputs import published_row
from expectations._scorecard import rates_view
from expectations._suite import Suite, SuiteParams, at_least, has_columns, is_true, not_above, not_null
from transforms.stats import rate_column

TABLE = TABLES["queue_scorecard"]
KEY = ("audit_date", "queue", "team_id")


def prepare(frame: pl.LazyFrame) -> pl.LazyFrame:
    # Queue and team may both be null (legs whose export names neither): one row per pair still.
    return frame.with_columns(
        (~pl.struct("queue", "team_id").is_duplicated()).alias("check_one_row_per_queue_and_team")
    )


def build(columns: Sequence[str], params: SuiteParams) -> list[gxe.Expectation]:
    legs = rate_column("abandonment", "denominator")
    return [
        *published_row(columns),
        has_columns(TABLE.schema.names()),
        *not_null(legs),
        at_least(legs, 1),  # a row is there because legs were
        is_true("check_one_row_per_queue_and_team"),
        at_least("queue_wait_seconds_median", 0),
        not_above("queue_wait_seconds_median", "queue_wait_seconds_p90"),
    ]


SUITE = Suite(
    name="queue_scorecard", key=KEY, build=build, prepare=prepare, views=(rates_view("queue_scorecard", KEY),)
)
