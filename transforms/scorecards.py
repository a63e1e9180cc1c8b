"""Agent and team scorecards, daily and weekly, summed from the metric families' parts.

Families hand over three long frames (docs/architecture.md, "Scorecard parts"); this module
only sums numerators, denominators and counts and takes quantiles of measures, so a team
or a week is the sum of the same parts and rates are never averaged (metrics.md,
Universe). The catalogue below fixes the published columns: a day with no parts for a
metric still has its columns (0 / null), and a part with an unknown name is refused
rather than silently dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Final, Literal

import polars as pl

from transforms.parts import COUNTS_SCHEMA, MEASURES_SCHEMA, RATE_PARTS_SCHEMA
from transforms.stats import rate_columns

# Rate metrics, in column order. abandonment has team-level parts only (agent_id null).
RATE_METRICS = (
    "follow_up",
    "escalation",
    "missed_escalation",
    "late_escalation",
    "de_escalation",
    "first_contact_resolution",
    "repeat_contact",
    "reopen",
    "satisfaction_confirmed",
    "csat_good",
    "abandonment",
)
# Measures and the statistics published for each: `<measure>_<stat>`.
MEASURE_STATS: dict[str, tuple[str, ...]] = {
    "first_reply_minutes": ("median", "p90"),
    "hours_to_follow_up": ("median", "p90"),
    "hold_seconds": ("median", "p90"),
    "queue_wait_seconds": ("median", "p90"),
    "csat_score": ("mean",),
}
# Measures that are only summed, for the interruption ratio of sums.
SUMMED_MEASURES = ("talk_seconds", "agent_interruptions")
COUNTS = (
    "concessions",
    "policy_violations",
    "concession_flags",
    "lost_control",
    "argumentative",
    "reply_sla_breaches",
    "first_contact_resolution_pending",
    "reopen_pending",
)
VOLUMES = ("contacts", "tickets_solved", "calls_answered")
# Linear interpolation between order statistics (numpy / DuckDB quantile_cont / Excel PERCENTILE.INC).
QUANTILE_METHOD: Final = "linear"

Level = Literal["agent", "team"]
_KEY: dict[str, str] = {"agent": "agent_id", "team": "team_id"}


# --- catalogue checks ---------------------------------------------------------------------------


def _known_names() -> dict[str, frozenset[str]]:
    return {
        "metric": frozenset(RATE_METRICS),
        "measure": frozenset(MEASURE_STATS) | frozenset(SUMMED_MEASURES),
        "count": frozenset(COUNTS),
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
    for metric in RATE_METRICS:
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
    """`<measure>_<stat>` for every measure in MEASURE_STATS, from the individual observations."""
    return [
        _stat(pl.col("value").filter(pl.col("measure") == measure), stat).alias(f"{measure}_{stat}")
        for measure, stats in MEASURE_STATS.items()
        for stat in stats
    ]


def _summed_aggs() -> list[pl.Expr]:
    """Sums behind the interruption ratio: `talk_seconds_sum` and `agent_interruptions`."""
    summed = pl.col("value").filter(pl.col("measure") == "agent_interruptions").sum()
    return [
        # Summed as integer milliseconds: a float sum would depend on the parts' row order.
        (
            (pl.col("value").filter(pl.col("measure") == "talk_seconds") * 1000).round(0).cast(pl.Int64).sum()
            / 1000.0
        ).alias("talk_seconds_sum"),
        summed.round(0).cast(pl.Int64).alias("agent_interruptions"),
    ]


def _count_aggs() -> list[pl.Expr]:
    return [pl.col("value").filter(pl.col("count") == name).sum().alias(name) for name in COUNTS]


def _volume_aggs() -> list[pl.Expr]:
    kind = pl.col("contact_type")
    return [
        pl.len().cast(pl.Int64).alias("contacts"),
        (kind == "ticket").sum().cast(pl.Int64).alias("tickets_solved"),
        (kind == "call").sum().cast(pl.Int64).alias("calls_answered"),
    ]


def interruption_columns() -> list[pl.Expr]:
    """talk_minutes and interruptions per 10 talk minutes: a ratio of sums, null without talk time."""
    minutes = pl.col("talk_seconds_sum") / 60.0
    return [
        minutes.alias("talk_minutes"),
        pl.when(minutes > 0)
        .then(pl.col("agent_interruptions") / minutes * 10.0)
        .otherwise(None)
        .alias("interruptions_per_10_talk_minutes"),
    ]


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
    """The published columns of a daily scorecard, in order."""
    keys = ["audit_date", "agent_id", "team_id"] if level == "agent" else ["audit_date", "team_id"]
    rates = [
        f"{m}_{suffix}"
        for m in RATE_METRICS
        for suffix in ("numerator", "denominator", "rate", "ci_low", "ci_high", "low_volume")
    ]
    measures = [f"{m}_{s}" for m, stats in MEASURE_STATS.items() for s in stats]
    ratio = ["agent_interruptions", "talk_minutes", "interruptions_per_10_talk_minutes"]
    return [*keys, *VOLUMES, *rates, *measures, *ratio, *COUNTS]


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
    zero_filled = [*VOLUMES, *COUNTS, "agent_interruptions", "talk_seconds_sum"] + [
        f"{m}_{part}" for m in RATE_METRICS for part in ("numerator", "denominator")
    ]
    frame = frame.with_columns(pl.col(zero_filled).fill_null(0))
    if level == "agent":
        frame = frame.join(_agent_teams(sources), on=keys, how="left")
    rates = [expr for m in RATE_METRICS for expr in rate_columns(m, min_volume)]
    return (
        frame.with_columns(*rates, *interruption_columns())
        .with_columns(pl.col(*VOLUMES, *COUNTS).cast(pl.Int64))
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
) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """(agent_scorecard, team_scorecard): one row per (audit_date, agent) / (audit_date, team).

    Args:
        rate_parts, measures, counts: every family's parts (RATE_PARTS / MEASURES / COUNTS).
        contacts: the contact universe; `contacts`, `tickets_solved`, `calls_answered` count
            its rows closed on the day (each contact exactly once, to its agent and team).
        audit_date: keep only this day; None keeps every day present (backfills, tests).
        min_volume: denominators under it are marked `<m>_low_volume`.
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
        _daily("agent", rates_, measures_, counts_, universe, min_volume),
        _daily("team", rates_, measures_, counts_, universe, min_volume),
    )


# --- weekly scorecards ----------------------------------------------------------------------------


def _week_columns() -> list[pl.Expr]:
    day = pl.col("audit_date")
    return [
        day.dt.truncate("1w").alias("week_start"),
        day.dt.iso_year().cast(pl.Int32).alias("iso_year"),
        day.dt.week().cast(pl.Int32).alias("iso_week"),
    ]


def weekly_scorecards(
    daily: pl.LazyFrame,
    min_volume: int,
    measures: Sequence[pl.LazyFrame] | None = None,
) -> pl.LazyFrame:
    """ISO-week roll-up of a daily agent or team scorecard (Monday `week_start`, `iso_year`, `iso_week`).

    Volumes, numerators, denominators, counts, interruptions and talk minutes are summed and the
    rates, intervals, low_volume and interruption ratio recomputed. Medians, p90s and means cannot
    be rebuilt from daily ones: they are recomputed from `measures` when given, else omitted.
    An agent's weekly `team_id` is their team on the latest day of the week.
    """
    level: Level = "agent" if "agent_id" in daily.collect_schema().names() else "team"
    key = _KEY[level]
    week_keys = ["week_start", "iso_year", "iso_week", key]
    summed = [*VOLUMES, *COUNTS, "agent_interruptions"] + [
        f"{m}_{part}" for m in RATE_METRICS for part in ("numerator", "denominator")
    ]
    aggs = [
        pl.col(summed).sum(),
        ((pl.col("talk_minutes") * 60_000).round(0).cast(pl.Int64).sum() / 1000.0).alias("talk_seconds_sum"),
        pl.len().cast(pl.Int64).alias("days"),
    ]
    if level == "agent":
        aggs.append(pl.col("team_id").sort_by("audit_date").last())
    weekly = daily.with_columns(_week_columns()).group_by(week_keys).agg(aggs)
    rates = [expr for m in RATE_METRICS for expr in rate_columns(m, min_volume)]
    weekly = weekly.with_columns(*rates, *interruption_columns())
    if measures is not None:
        stats = (
            _concat(measures, MEASURES_SCHEMA, "measure")
            .filter(pl.col(key).is_not_null())
            .with_columns(_week_columns())
            .group_by(week_keys)
            .agg(_stat_aggs())
        )
        weekly = weekly.join(stats, on=week_keys, how="left")
    ids = [key, "team_id"] if level == "agent" else [key]
    present = set(weekly.collect_schema().names())
    body = [c for c in scorecard_columns(level) if c in present and c not in {"audit_date", *ids}]
    return weekly.select("week_start", "iso_year", "iso_week", *ids, "days", *body).sort(
        "week_start", key, nulls_last=True
    )
