"""The scorecards' rules, checked through long views: one row per key and metric (or count).

A scorecard has six columns per rate metric and a dozen counts. GX costs about the same per
expectation whatever the row count, so one expectation per rule and column made ~100 per
table. The long views check each rule once for every metric, with the same precision, and a
failure still names the metric's column (`follow_up_rate`) and the failing agent or team.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import great_expectations.expectations as gxe
import polars as pl

import catalogue
from expectations._outputs import published_row
from expectations._suite import (
    Suite,
    SuiteParams,
    View,
    at_least,
    between,
    has_columns,
    in_set,
    is_true,
    not_above,
    not_null,
    typical_volume,
    unique_key,
)
from transforms import stats
from transforms.scorecards import scorecard_columns

RATE_COLUMNS = tuple(catalogue.RATE_SUFFIXES)


def summed_columns() -> tuple[str, ...]:
    """Whole-number sums of non-negative parts, zero-filled by the scorecard: volumes, counts and
    the ratios' numerators."""
    ratios = tuple(m.numerator for m in catalogue.metrics("ratio"))
    return (*(m.name for m in catalogue.VOLUMES), *(m.name for m in catalogue.metrics("count")), *ratios)


LOW_VOLUME_CHECK = "check_low_volume_matches_min_volume"
NULL_RATE_CHECK = "check_rate_null_iff_no_denominator"

Level = Literal["agent", "team"]


def rate_metrics(columns: Sequence[str]) -> list[str]:
    """Metrics m the frame has: a `<m>_numerator` or `<m>_denominator` column (suffixes used
    by nothing else), so metrics added later are checked without touching the suite."""
    return sorted(
        {c.removesuffix(s) for c in columns for s in ("_numerator", "_denominator") if c.endswith(s)}
    )


def required_columns(level: Level, columns: Sequence[str]) -> list[str]:
    """The published columns of the level's scorecard (the transforms' catalogue and run_id),
    plus all six columns of any other metric the frame has."""
    extra = {stats.rate_column(m, part) for m in rate_metrics(columns) for part in RATE_COLUMNS}
    return sorted({*scorecard_columns(level), *catalogue.PUBLISHING_COLUMNS, *extra})


# --- rates ------------------------------------------------------------------------------------


def _rate_part(metric: str, part: str, columns: Sequence[str]) -> pl.Expr:
    name = stats.rate_column(metric, part)
    return (pl.col(name) if name in columns else pl.lit(None)).alias(part)


def low_volume_check(min_volume: int | None) -> pl.Expr:
    """low_volume is exactly `denominator < min_volume`. Without the policy's min_volume, one
    threshold must explain every row: each low-volume denominator is below each other one."""
    low, den = pl.col("low_volume"), pl.col("denominator")
    if min_volume is not None:
        ok = low == (den < min_volume)
    else:
        highest_low, lowest_other = den.filter(low).max(), den.filter(~low).min()
        ok = (
            pl.when(low)
            .then((den < lowest_other) | lowest_other.is_null())
            .otherwise((den > highest_low) | highest_low.is_null())
        )
    return (ok & low.is_not_null() & den.is_not_null()).fill_null(False).alias(LOW_VOLUME_CHECK)


def null_rate_check() -> pl.Expr:
    """Rate and interval are null exactly when the denominator is 0 (no rate, not 0%)."""
    values = [pl.col(c) for c in ("rate", "ci_low", "ci_high")]
    present = pl.all_horizontal(v.is_not_null() for v in values)
    absent = pl.all_horizontal(v.is_null() for v in values)
    return pl.when(pl.col("denominator") > 0).then(present).otherwise(absent).alias(NULL_RATE_CHECK)


def rates_long(frame: pl.LazyFrame, key: Sequence[str], params: SuiteParams) -> pl.LazyFrame:
    """One row per key and rate metric: `metric` and the six RATE_COLUMNS (null when the
    table lacks that column; the table's suite reports it missing), plus the check columns."""
    columns = frame.collect_schema().names()
    keys = [c for c in key if c in columns]
    parts = [
        frame.select(*keys, pl.lit(m).alias("metric"), *(_rate_part(m, p, columns) for p in RATE_COLUMNS))
        for m in rate_metrics(columns)
    ]
    if not parts:  # no metric at all: an empty view (the table's suite names the missing columns)
        parts = [frame.select(*keys, *(pl.lit(None).alias(c) for c in ("metric", *RATE_COLUMNS))).clear()]
    long = _without_withheld(pl.concat(parts, how="vertical_relaxed"), frame, keys, "metric")
    return long.with_columns(low_volume_check(params.min_volume), null_rate_check())


def _without_withheld(
    long: pl.LazyFrame, frame: pl.LazyFrame, keys: Sequence[str], item: str
) -> pl.LazyFrame:
    """Drop the view rows of metrics a scorecard row withholds (`withheld_metrics`): their
    columns are null on purpose (not computable from the inputs), not broken."""
    if frame.collect_schema().get("withheld_metrics") != pl.List(pl.String()) or not keys:
        return long  # no such column (or a broken one, which the table's suite reports)
    withheld = (
        frame.select(*keys, pl.col("withheld_metrics").list.eval(pl.element().str.split(": ").list.first()))
        .explode("withheld_metrics")
        .drop_nulls("withheld_metrics")
        .rename({"withheld_metrics": item})
    )
    # A rates-view row is a metric; a counts-view row a count column, named as its metric. The
    # view keeps its order (failures list their sample rows in it).
    return long.join(withheld, on=[*keys, item], how="anti", nulls_equal=True, maintain_order="left")


def rate_rules(columns: Sequence[str], params: SuiteParams) -> list[gxe.Expectation]:
    """Every rate: counts present and not negative, numerator <= denominator, rate and
    interval in [0, 1] with ci_low <= rate <= ci_high, low_volume and nulls consistent."""
    return [
        *not_null("numerator", "denominator"),
        at_least("numerator", 0),
        at_least("denominator", 0),
        not_above("numerator", "denominator"),
        between("rate", 0, 1),
        between("ci_low", 0, 1),
        between("ci_high", 0, 1),
        not_above("ci_low", "rate"),
        not_above("rate", "ci_high"),
        is_true(LOW_VOLUME_CHECK),
        is_true(NULL_RATE_CHECK),
    ]


def rate_column(metric: str, column: str) -> str:
    """The scorecard column a rates-view column stands for: rate -> follow_up_rate,
    low_volume -> is_follow_up_low_volume, check_x -> check_follow_up_x."""
    if column.startswith("check_"):
        return f"check_{metric}_{column.removeprefix('check_')}"
    return stats.rate_column(metric, column) if column in RATE_COLUMNS else f"{metric}_{column}"


# --- counts -----------------------------------------------------------------------------------


def counts_long(frame: pl.LazyFrame, key: Sequence[str], params: SuiteParams) -> pl.LazyFrame:
    """One row per key and summed count present in the table: `count`, `value`."""
    columns = frame.collect_schema().names()
    keys = [c for c in key if c in columns]
    parts = [
        frame.select(*keys, pl.lit(c).alias("count"), pl.col(c).alias("value"))
        for c in summed_columns()
        if c in columns
    ]
    if not parts:
        parts = [frame.select(*keys, pl.lit(None).alias("count"), pl.lit(None).alias("value")).clear()]
    return _without_withheld(pl.concat(parts, how="vertical_relaxed"), frame, keys, "count")


def count_rules(columns: Sequence[str], params: SuiteParams) -> list[gxe.Expectation]:
    return [*not_null("value"), at_least("value", 0)]


def count_column(name: str, column: str) -> str:
    return name if column == "value" else f"{name}_{column}"


# --- the views of one scorecard ---------------------------------------------------------------


def rates_view(table: str, key: tuple[str, ...]) -> View:
    """`<table>_rates`: every rate of the table checked once on its long view (Data Docs page)."""
    return View(
        name=f"{table}_rates",
        key=key,
        item="metric",
        derive=lambda frame, params: rates_long(frame, key, params),
        build=rate_rules,
        wide_column=rate_column,
    )


def scorecard_views(table: str, key: tuple[str, ...]) -> tuple[View, ...]:
    """`<table>_rates` and `<table>_counts`: their own validations (Data Docs pages)."""
    return (
        rates_view(table, key),
        View(
            name=f"{table}_counts",
            key=key,
            item="count",
            derive=lambda frame, params: counts_long(frame, key, params),
            build=count_rules,
            wide_column=count_column,
        ),
    )


# --- the suite of one scorecard ---------------------------------------------------------------


def scorecard_suite(level: Level) -> Suite:
    """`<level>_scorecard`: one row per (audit day, agent or team), every published column; the
    rate and count rules run on its long views. An agent row names its agent; a team row may
    have a null team_id (contacts of agents without a team), one such row per day at most."""
    table = f"{level}_scorecard"
    key = ("audit_date", f"{level}_id")

    def build(columns: Sequence[str], params: SuiteParams) -> list[gxe.Expectation]:
        return [
            *published_row(columns),
            *(not_null("agent_id") if level == "agent" else []),
            unique_key(*key),
            has_columns(required_columns(level, columns)),
            *typical_volume(table, params),
        ]

    return Suite(name=table, key=key, build=build, views=scorecard_views(table, key))


def period_scorecard_suite(level: Level) -> Suite:
    """`<level>_period_scorecard`: one row per (period, start, agent or team) with the daily
    scorecard's columns and the same rate and count rules on its long views; an agent is
    active on at least one and at most every published day of its period."""
    table = f"{level}_period_scorecard"
    key = ("period", "period_start", f"{level}_id")
    daily_required = set(required_columns(level, [])) - {"audit_date"}

    def build(columns: Sequence[str], params: SuiteParams) -> list[gxe.Expectation]:
        extra = {stats.rate_column(m, part) for m in rate_metrics(columns) for part in RATE_COLUMNS}
        return [
            *not_null(
                "period",
                "period_start",
                "period_end",
                "policy_version",
                "run_id",
                "published_days",
                "active_days",
            ),
            in_set("period", catalogue.TABLES[table].column("period").values),
            *(not_null("agent_id") if level == "agent" else []),
            unique_key(*key),
            has_columns(
                sorted({*daily_required, *extra, *key, "period_end", "published_days", "active_days"})
            ),
            not_above("period_start", "period_end"),
            at_least("active_days", 1),
            not_above("active_days", "published_days"),
        ]

    return Suite(name=table, key=key, build=build, views=scorecard_views(table, key))
