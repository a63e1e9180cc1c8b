"""Agent and team scorecards, daily and over periods, summed from the metric families' parts.

Families hand over three long frames (docs/architecture.md, "Scorecard parts"); this module
only sums numerators, denominators and counts and takes quantiles of measures, so a team
or a week is the sum of the same parts and rates are never averaged (docs/metrics.md,
"Rates, intervals and low volume"). The catalogue (catalogue/, from each family's `METRICS`)
fixes the published columns: a day with no parts for a metric still has its columns
(0 / null), and a part with an unknown name is refused rather than silently dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Literal

import polars as pl

import catalogue
from transforms.parts import COUNTS_SCHEMA, MEASURES_SCHEMA, OBSERVATIONS_SCHEMA, RATE_PARTS_SCHEMA, Metric
from transforms.stats import QUANTILE_METHOD, rate_columns

Level = Literal["agent", "team"]
_KEY: dict[str, str] = {"agent": "agent_id", "team": "team_id"}


# --- what the catalogue publishes ---------------------------------------------------------------


def _rates() -> tuple[str, ...]:
    return catalogue.rate_metrics()


def _measures() -> tuple[Metric, ...]:
    """Measures published as statistics (`<measure>_<stat>`)."""
    return tuple(m for m in catalogue.metrics("measure") if m.stats)


def _ratios() -> tuple[Metric, ...]:
    return catalogue.metrics("ratio")


def _counts() -> tuple[str, ...]:
    return tuple(m.name for m in catalogue.metrics("count"))


def _volumes() -> tuple[str, ...]:
    return tuple(m.name for m in catalogue.VOLUMES)


def _summed() -> list[str]:
    """Columns that are sums of non-negative parts: zero-filled, and summed again by roll-ups."""
    ratio_sums = [r.numerator for r in _ratios()]
    fractions = [f"{m}_{part}" for m in _rates() for part in ("numerator", "denominator")]
    return [*_volumes(), *_counts(), *ratio_sums, *fractions]


def _known_names() -> dict[str, frozenset[str]]:
    return {
        "metric": frozenset(_rates()),
        "measure": frozenset(m.name for m in catalogue.metrics("measure")),
        "count": frozenset(_counts()),
    }


def _refuse_unknown(column: str) -> Callable[[pl.Series], pl.Series]:
    """A batch check that raises ValueError, when the plan runs, on a name outside the catalogue.

    Lazy on purpose: checking eagerly would compute every family's parts twice.
    """
    known = _known_names()[column]

    def check(names: pl.Series) -> pl.Series:
        unknown = sorted(set(names.drop_nulls().unique().to_list()) - known)
        if unknown:
            raise ValueError(f"scorecard parts with {column} names not in the catalogue: {unknown}")
        return names

    return check


def _concat(frames: Sequence[pl.LazyFrame], schema: pl.Schema, name_column: str) -> pl.LazyFrame:
    typed = [f.select([pl.col(n).cast(t) for n, t in schema.items()]) for f in frames]
    joined = pl.concat(typed) if typed else schema.to_frame().lazy()
    return joined.with_columns(
        pl.col(name_column).map_batches(_refuse_unknown(name_column), return_dtype=pl.String)
    )


# --- aggregation expressions --------------------------------------------------------------------


def _rate_aggs() -> list[pl.Expr]:
    aggs = []
    for metric in _rates():
        mine = pl.col("metric") == metric
        aggs += [
            pl.col("numerator").filter(mine).sum().alias(f"{metric}_numerator"),
            pl.col("denominator").filter(mine).sum().alias(f"{metric}_denominator"),
        ]
    return aggs


def _stat(values: pl.Expr, stat: str) -> pl.Expr:
    return {
        "median": values.median(),
        "p90": values.quantile(0.9, QUANTILE_METHOD),
        "mean": values.mean(),
    }[stat]


def _stat_aggs() -> list[pl.Expr]:
    """`<measure>_<stat>` for every published measure, from the individual observations."""
    return [
        _stat(pl.col("value").filter(pl.col("measure") == m.name), stat).alias(f"{m.name}_{stat}")
        for m in _measures()
        for stat in m.stats
    ]


def _summed_aggs() -> list[pl.Expr]:
    """Sums behind each ratio: `<denominator>_sum` (talk_seconds_sum) and the numerator's sum."""
    aggs = []
    for ratio in _ratios():
        numerator = pl.col("value").filter(pl.col("measure") == ratio.numerator).sum()
        denominator = pl.col("value").filter(pl.col("measure") == ratio.denominator)
        aggs += [
            # Summed as integer milliseconds: a float sum would depend on the parts' row order.
            ((denominator * 1000).round(0).cast(pl.Int64).sum() / 1000.0).alias(f"{ratio.denominator}_sum"),
            numerator.round(0).cast(pl.Int64).alias(ratio.numerator),
        ]
    return aggs


def _count_aggs() -> list[pl.Expr]:
    return [pl.col("value").filter(pl.col("count") == name).sum().alias(name) for name in _counts()]


def _volume_aggs() -> list[pl.Expr]:
    kind = pl.col("contact_type")
    return [
        pl.len().cast(pl.Int64).alias("contacts"),
        (kind == "ticket").sum().cast(pl.Int64).alias("tickets_solved"),
        (kind == "call").sum().cast(pl.Int64).alias("calls_answered"),
    ]


def ratio_columns() -> list[pl.Expr]:
    """Each ratio from its sums; today the one ratio, interruptions per 10 talk minutes, with
    talk_minutes beside it: a ratio of sums, null without talk time."""
    exprs = []
    for ratio in _ratios():
        minutes = pl.col(f"{ratio.denominator}_sum") / 60.0
        exprs += [
            minutes.alias("talk_minutes"),
            pl.when(minutes > 0)
            .then(pl.col(ratio.numerator) / minutes * 10.0)
            .otherwise(None)
            .alias(ratio.name),
        ]
    return exprs


# --- daily scorecards -----------------------------------------------------------------------------


def _agent_teams(sources: Sequence[pl.LazyFrame]) -> pl.LazyFrame:
    """The agent's team on the day: the team on most of their rows (ties: smallest team_id)."""
    rows = pl.concat([s.select("audit_date", "agent_id", "team_id") for s in sources])
    return (
        rows.filter(pl.col("agent_id").is_not_null() & pl.col("team_id").is_not_null())
        .group_by("audit_date", "agent_id", "team_id")
        .agg(pl.len().alias("rows"))
        .sort("audit_date", "agent_id", "rows", "team_id", descending=[False, False, True, False])
        .group_by("audit_date", "agent_id", maintain_order=True)
        .first()
        .select("audit_date", "agent_id", "team_id")
    )


def scorecard_columns(level: Level) -> list[str]:
    """The columns a daily scorecard is computed with, in order (the catalogue's, without
    policy_version and run_id, which publishing adds)."""
    return [c.name for c in catalogue.scorecard_columns(level) if c.name not in catalogue.PUBLISHING_COLUMNS]


def _daily(
    level: Level,
    rate_parts: pl.LazyFrame,
    measures: pl.LazyFrame,
    counts: pl.LazyFrame,
    contacts: pl.LazyFrame,
    min_volume: int,
) -> pl.LazyFrame:
    keys = ["audit_date", _KEY[level]]
    attributed = pl.col(_KEY[level]).is_not_null()
    sources = [f.filter(attributed) for f in (contacts, rate_parts, measures, counts)]
    contacts_, rates_, measures_, counts_ = sources
    frame = (
        pl.concat([s.select(keys) for s in sources])
        .unique()
        .join(contacts_.group_by(keys).agg(_volume_aggs()), on=keys, how="left")
        .join(rates_.group_by(keys).agg(_rate_aggs()), on=keys, how="left")
        .join(measures_.group_by(keys).agg(*_stat_aggs(), *_summed_aggs()), on=keys, how="left")
        .join(counts_.group_by(keys).agg(_count_aggs()), on=keys, how="left")
    )
    zero_filled = [*_summed(), *(f"{r.denominator}_sum" for r in _ratios())]
    frame = frame.with_columns(pl.col(zero_filled).fill_null(0))
    if level == "agent":
        frame = frame.join(_agent_teams(sources), on=keys, how="left")
    rates = [expr for m in _rates() for expr in rate_columns(m, min_volume)]
    return (
        frame.with_columns(*rates, *ratio_columns())
        .with_columns(
            pl.col(*_volumes(), *_counts()).cast(pl.Int64),
            pl.lit(pl.Series([[]], dtype=pl.List(pl.String()))).alias("withheld_metrics"),
        )
        .select(scorecard_columns(level))
        .sort(keys, nulls_last=True)
    )


def build_scorecards(
    rate_parts: Sequence[pl.LazyFrame],
    measures: Sequence[pl.LazyFrame],
    counts: Sequence[pl.LazyFrame],
    contacts: pl.LazyFrame,
    audit_date: date | None,
    min_volume: int,
    withheld: Mapping[str, str] | None = None,
) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """(agent_scorecard, team_scorecard): one row per (audit_date, agent) / (audit_date, team).

    Args:
        rate_parts, measures, counts: every family's parts (RATE_PARTS / MEASURES / COUNTS).
        contacts: the contact universe; `contacts`, `tickets_solved`, `calls_answered` count
            its rows closed on the day (each contact exactly once, to its agent and team).
        audit_date: keep only this day; None keeps every day present (backfills, tests).
        min_volume: denominators under it are marked `is_<m>_low_volume`.
        withheld: metric name -> why the inputs cannot support it: its columns are null (not
            zero) and the reason is listed in `withheld_metrics`.
    Rows without an agent reach only the team scorecard; rows without a team only the agent
    scorecard. Collecting raises ValueError for a part name the catalogue does not publish.
    """
    rates_ = _concat(rate_parts, RATE_PARTS_SCHEMA, "metric")
    measures_ = _concat(measures, MEASURES_SCHEMA, "measure")
    counts_ = _concat(counts, COUNTS_SCHEMA, "count")
    universe = contacts.select("audit_date", "agent_id", "team_id", "contact_type")
    if audit_date is not None:
        on_day = pl.col("audit_date") == pl.lit(audit_date, dtype=pl.Date())
        rates_, measures_, counts_, universe = (
            f.filter(on_day) for f in (rates_, measures_, counts_, universe)
        )
    return (
        _withhold(_daily("agent", rates_, measures_, counts_, universe, min_volume), withheld or {}),
        _withhold(_daily("team", rates_, measures_, counts_, universe, min_volume), withheld or {}),
    )


def _withhold(scorecard: pl.LazyFrame, withheld: Mapping[str, str]) -> pl.LazyFrame:
    """Null every column of the withheld metrics and list them, with why, in `withheld_metrics`.

    A follow-up rate computed without the follow-up events is not a low rate, it is unknown:
    publishing it as 0 % would flag every agent."""
    schema = scorecard.collect_schema()
    nulls = [
        pl.lit(None, schema[column]).alias(column)
        for name in sorted(withheld)
        for column in catalogue.metric_column_names(name)
    ]
    notes = sorted(f"{name}: {why}" for name, why in withheld.items())
    listed = pl.lit(pl.Series([notes], dtype=pl.List(pl.String()))).alias("withheld_metrics")
    return scorecard.with_columns(*nulls, listed).select(schema.names())


# --- what the period scorecards need from each day -----------------------------------------------


def metric_observations(
    rate_parts: Sequence[pl.LazyFrame],
    measures: Sequence[pl.LazyFrame],
    audit_date: date | None,
    withheld: Mapping[str, str] | None = None,
) -> pl.LazyFrame:
    """What a day's scorecard rows cannot be summed back into: every contact of a rate's
    denominator, marked `numerator` when it is counted in the numerator too and `denominator`
    when not (value: what it adds to the numerator), and every observation of a published
    median / p90 / mean.

    A week's median is not a median of daily medians, and a peer flag names the contacts on
    the side it deviates to (the reopened tickets; the contacts nobody followed up), so the day
    keeps both (published as `metric_observations`). Withheld metrics keep nothing.
    """
    rates = _concat(rate_parts, RATE_PARTS_SCHEMA, "metric")
    values = _concat(measures, MEASURES_SCHEMA, "measure").filter(
        pl.col("measure").is_in([m.name for m in _measures()])
    )
    frame = pl.concat(
        [
            rates.select(
                "audit_date",
                "agent_id",
                "team_id",
                "metric",
                kind=pl.when(pl.col("numerator") > 0)
                .then(pl.lit("numerator"))
                .otherwise(pl.lit("denominator")),
                contact_id="contact_id",
                value=pl.col("numerator").cast(pl.Float64),
            ),
            values.select(
                "audit_date",
                "agent_id",
                "team_id",
                metric="measure",
                kind=pl.lit("measure"),
                contact_id=pl.lit(None, pl.String),
                value="value",
            ),
        ]
    ).filter(~pl.col("metric").is_in(sorted(withheld or {})))
    if audit_date is not None:
        frame = frame.filter(pl.col("audit_date") == pl.lit(audit_date, dtype=pl.Date()))
    return frame.select([pl.col(n).cast(t) for n, t in OBSERVATIONS_SCHEMA.items()]).sort(
        "audit_date", "metric", "agent_id", "team_id", "contact_id", "value", nulls_last=True
    )


# --- period scorecards ----------------------------------------------------------------------------

PERIOD_KEYS = ("period", "period_start", "period_end")


def _withheld_in_period(rolled: pl.LazyFrame) -> pl.LazyFrame:
    """A metric withheld on any day of a period is withheld for the period (its sums would
    count the days it was computed only)."""
    names = pl.col("withheld_metrics").list.eval(pl.element().str.split(": ").list.first())
    present = set(rolled.collect_schema().names())
    return rolled.with_columns(
        pl.when(names.list.contains(m.name)).then(None).otherwise(pl.col(column)).alias(column)
        for m in catalogue.METRICS
        for column in catalogue.metric_column_names(m.name)
        if column in present
    )


def _period_days(periods: pl.LazyFrame) -> pl.LazyFrame:
    """One row per period and audit day in it."""
    return periods.with_columns(
        pl.date_ranges("period_start", "period_end", "1d").alias("audit_date")
    ).explode("audit_date")


def _period_stats(
    observations: pl.LazyFrame, calendar: pl.LazyFrame, keys: list[str], key: str
) -> pl.LazyFrame:
    """Each published measure's statistics over the period, from the days' observations."""
    measured = (
        observations.filter((pl.col("kind") == "measure") & pl.col(key).is_not_null())
        .select("audit_date", key, measure="metric", value="value")
        .join(calendar.select(*PERIOD_KEYS, "audit_date"), on="audit_date")
    )
    return measured.group_by(keys).agg(_stat_aggs())


def period_scorecards(
    daily: pl.LazyFrame,
    observations: pl.LazyFrame,
    periods: pl.LazyFrame,
    min_volume: int,
) -> pl.LazyFrame:
    """A daily agent or team scorecard rolled up over periods (weeks, months, rolling windows).

    Args:
        daily: published daily scorecard rows (any days; those outside every period are ignored).
        observations: the days' `metric_observations` (measures give the medians and p90s).
        periods: one row per period: `period`, `period_start`, `period_end` (inclusive), and
            any further columns to carry onto its rows (published_days, source_digest).
    Volumes, numerators, denominators, counts, interruptions and talk minutes are summed and
    every rate, interval, low_volume marker and the interruption ratio recomputed from the
    sums (never an average of daily rates); medians, p90s and means come from the period's
    observations. `active_days` counts the days with a row; an agent's `team_id` is their team
    on the latest of those days. A metric withheld on any day is withheld for the period.
    """
    level: Level = "agent" if "agent_id" in daily.collect_schema().names() else "team"
    key = _KEY[level]
    keys = [*PERIOD_KEYS, key]
    calendar = _period_days(periods)
    aggs = [
        pl.col(_summed()).sum(),
        ((pl.col("talk_minutes") * 60_000).round(0).cast(pl.Int64).sum() / 1000.0).alias("talk_seconds_sum"),
        pl.len().cast(pl.Int64).alias("active_days"),
        pl.col("withheld_metrics").list.explode(keep_nulls=False, empty_as_null=False).unique().sort(),
    ]
    if level == "agent":
        aggs.append(pl.col("team_id").sort_by("audit_date").last())
    rolled = daily.join(calendar.select(*PERIOD_KEYS, "audit_date"), on="audit_date").group_by(keys).agg(aggs)
    rates = [expr for m in _rates() for expr in rate_columns(m, min_volume)]
    rolled = rolled.with_columns(*rates, *ratio_columns())
    stats = _period_stats(observations, calendar, keys, key)
    rolled = rolled.join(stats, on=keys, how="left", nulls_equal=True)
    rolled = rolled.join(periods, on=list(PERIOD_KEYS), how="left")
    carried = [c for c in periods.collect_schema().names() if c not in PERIOD_KEYS]
    ids = [key, "team_id"] if level == "agent" else [key]
    body = [c for c in scorecard_columns(level) if c not in {"audit_date", *ids}]
    return _withheld_in_period(rolled.select(*PERIOD_KEYS, *ids, *carried, "active_days", *body)).sort(
        *PERIOD_KEYS, key, nulls_last=True
    )
