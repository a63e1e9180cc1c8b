"""The report's figures, shaped from the published tables with Polars.

Everything here is arithmetic on frames already read (no I/O). Roll-ups (all teams,
the daily trend) add numerators and denominators and recompute the rate and its
Wilson interval with the scorecards' own `transforms.stats.rate_columns`; published
rates are never averaged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import polars as pl

import catalogue
from transforms.stats import RATE_PARTS, rate_column, rate_columns

ALL_TEAMS = "All teams"

VOLUME_COLUMNS = tuple(m.name for m in catalogue.VOLUMES)
# The counts shown beside the rates: what a QA lead acts on for concessions.
COUNT_COLUMNS = ("policy_violations", "concession_flags")
# Classes a contact ends in; `pending` contacts are not classified yet, so not charted.
ESCALATION_CLASSES = tuple(
    c for c in catalogue.TABLES["escalation_audit"].column("escalation_class").values if c != "pending"
)


# The concession-flag columns a QA lead reviews, in reading order (HTML report and terminal).
FLAG_COLUMNS = (
    "flag_type",
    "subject_type",
    "subject_id",
    "agent_id",  # the flagged or granting agent (an amount outlier's subject is the concession)
    "team_id",
    "status",  # new, ongoing (concession_flag_lifecycle)
    "first_flagged_on",
    "consecutive_days",
    "observed",
    "expected",
    "statistic",
    "threshold",
    "p_value",
    "q_value",
    "evidence_ids",
    "window_start",
    "window_end",
)
# The peer flags a QA lead reviews (peer_comparison rows flagged on the day), in reading order.
PEER_FLAG_COLUMNS = (
    "metric",
    "comparison",
    "agent_id",
    "team_id",
    "flag_type",
    "status",
    "first_flagged_on",
    "consecutive_days",
    "numerator",
    "denominator",
    "rate",
    "peer_rate",
    "z",
    "q_value",
    "evidence_count",
    "evidence_ids",
)


def peer_flags(peer_comparison: pl.DataFrame | None, agents: list[str] | None = None) -> pl.DataFrame:
    """The agents flagged against their peers over the 28 days ending on the day (of `agents`
    when given), strongest evidence first."""
    if peer_comparison is None or peer_comparison.is_empty() or "is_flagged" not in peer_comparison.columns:
        return pl.DataFrame(schema={c: pl.String() for c in PEER_FLAG_COLUMNS})
    flagged = peer_comparison.filter(pl.col("is_flagged").fill_null(False))
    if agents is not None:
        flagged = flagged.filter(pl.col("agent_id").is_in(agents))
    present = [c for c in PEER_FLAG_COLUMNS if c in flagged.columns]
    order = [c for c in ("q_value", "metric", "comparison", "agent_id") if c in flagged.columns]
    return flagged.sort(order, nulls_last=True).select(present)


# A queue's row: the queued legs, those abandoned, the rate and its interval, the waits.
QUEUE_COLUMNS = (
    "queue",
    "team_id",
    "abandonment_denominator",
    "abandonment_numerator",
    "abandonment_rate",
    "abandonment_ci_low",
    "abandonment_ci_high",
    "is_abandonment_low_volume",
    "queue_wait_seconds_median",
    "queue_wait_seconds_p90",
)


def queue_rows(queue_scorecard: pl.DataFrame | None) -> pl.DataFrame:
    """The day's queues, the most abandoned legs first (a queue with no name last)."""
    if queue_scorecard is None or queue_scorecard.is_empty():
        return pl.DataFrame()
    present = [c for c in QUEUE_COLUMNS if c in queue_scorecard.columns]
    order = ["abandonment_numerator", "queue", "team_id"]
    return queue_scorecard.sort(order, descending=[True, False, False], nulls_last=True).select(present)


# The concession columns shown beside each policy violation.
VIOLATION_COLUMNS = (
    "concession_id",
    "contact_id",
    "agent_id",
    "customer_key",
    "category",
    "concession_type",
    "amount",
    "currency",
    "amount_policy_currency",
    "violations",
)


def rate_labels() -> dict[str, str]:
    """Rate metrics in reading order (the catalogue's), with the label QA leads see."""
    return {m.name: m.label for m in catalogue.metrics("rate")}


def metric_label(metric: str) -> str:
    return rate_labels().get(metric, metric.replace("_", " ").capitalize())


def rate_metrics(frame: pl.DataFrame | None) -> list[str]:
    """Rate metrics present in a scorecard (numerator and denominator both published), known ones first."""
    if frame is None:
        return []
    columns = set(frame.columns)
    found = [c.removesuffix("_denominator") for c in frame.columns if c.endswith("_denominator")]
    found = [m for m in found if f"{m}_numerator" in columns]
    known = rate_labels()
    return [m for m in known if m in found] + sorted(m for m in found if m not in known)


def agent_columns(names: list[str]) -> list[str]:
    """Rate metrics or measure columns without those measured per team only (abandonment, queue
    wait): on an agent's row they are always empty."""
    team_only = [m.name for m in catalogue.metrics() if m.team_only]
    return [n for n in names if not any(n == t or n.startswith(f"{t}_") for t in team_only)]


def complete_rates(frame: pl.DataFrame, min_volume: int) -> pl.DataFrame:
    """Fill in any rate, interval or marker column a scorecard lacks; published values win."""
    missing: list[pl.Expr] = []
    for metric in rate_metrics(frame):
        missing += [e for e in rate_columns(metric, min_volume) if e.meta.output_name() not in frame.columns]
    return frame.with_columns(missing) if missing else frame


def rollup(frame: pl.DataFrame, by: list[str], min_volume: int) -> pl.DataFrame:
    """Sum numerators, denominators and counts per group, then recompute rates and intervals.
    A column null in every row of a group (a metric withheld: the mapping cannot support it)
    stays null, not a sum of 0 over 0."""
    metrics = rate_metrics(frame)
    summed = [f"{m}_{part}" for m in metrics for part in ("numerator", "denominator")]
    summed += [c for c in (*VOLUME_COLUMNS, *COUNT_COLUMNS) if c in frame.columns]
    sums = [pl.when(pl.col(c).count() > 0).then(pl.col(c).sum()).alias(c) for c in summed]
    out = frame.group_by(by).agg(sums).sort(by)
    return out.with_columns([e for m in metrics for e in rate_columns(m, min_volume)])


_NOT_MEASURES = {"audit_date", "run_id", "agent_id", "team_id", *VOLUME_COLUMNS, *COUNT_COLUMNS}


def other_measures(scorecard: pl.DataFrame | None) -> list[str]:
    """Numeric scorecard columns that are not rates, volumes or the shown counts (medians, p90s, conduct)."""
    if scorecard is None:
        return []
    rates = {rate_column(m, part) for m in rate_metrics(scorecard) for part in RATE_PARTS}
    return [
        c
        for c, dtype in scorecard.schema.items()
        if dtype.is_numeric() and c not in rates and c not in _NOT_MEASURES
    ]


def headline(
    team_scorecard: pl.DataFrame | None, agent_scorecard: pl.DataFrame | None, min_volume: int
) -> pl.DataFrame:
    """One row per team as published, plus an all-teams row summed from them."""
    if team_scorecard is None or team_scorecard.is_empty():
        if agent_scorecard is None or agent_scorecard.is_empty():
            return pl.DataFrame()
        team_scorecard = rollup(agent_scorecard, ["team_id"], min_volume)
    teams = complete_rates(team_scorecard, min_volume).sort("team_id")
    total = rollup(teams.with_columns(pl.lit(ALL_TEAMS).alias("team_id")), ["team_id"], min_volume)
    return pl.concat([teams, total], how="diagonal_relaxed")


def daily_trend(trend_rows: pl.DataFrame | None, min_volume: int) -> pl.DataFrame:
    """Headline rates per day over the trend window, all teams summed."""
    if trend_rows is None or trend_rows.is_empty():
        return pl.DataFrame()
    return rollup(trend_rows, ["audit_date"], min_volume)


def trend_long(
    trend: pl.DataFrame, metrics: tuple[str, ...] | None = None, keep: tuple[str, ...] = ()
) -> pl.DataFrame:
    """The daily trend as one row per (day, metric), for the chart (the headline rates by
    default); `keep` columns (an agent id) are carried along."""
    metrics = catalogue.headline_metrics() if metrics is None else metrics
    rows = [
        trend.select(
            *keep,
            pl.col("audit_date"),
            pl.lit(metric_label(m)).alias("metric"),
            pl.col(f"{m}_rate").alias("rate"),
            pl.col(f"{m}_numerator").alias("numerator"),
            pl.col(f"{m}_denominator").alias("denominator"),
            pl.col(rate_column(m, "low_volume")).alias("low_volume"),
        )
        for m in metrics
        if f"{m}_rate" in trend.columns
    ]
    return pl.concat(rows) if rows else pl.DataFrame()


def missed_follow_ups(follow_up_audit: pl.DataFrame | None) -> pl.DataFrame:
    if follow_up_audit is None or "status" not in follow_up_audit.columns:
        return pl.DataFrame()
    return follow_up_audit.filter(pl.col("status") == "missed").sort(
        "agent_id", "contact_id", nulls_last=True
    )


def escalation_classes_by_agent(escalation_audit: pl.DataFrame | None) -> pl.DataFrame:
    """Count of classified contacts per agent and class (every class a column, zeros kept)."""
    if escalation_audit is None or "escalation_class" not in escalation_audit.columns:
        return pl.DataFrame()
    return (
        escalation_audit.group_by("agent_id", "team_id")
        .agg(
            [
                (pl.col("escalation_class") == cls).sum().cast(pl.Int64).alias(cls)
                for cls in ESCALATION_CLASSES
            ]
        )
        .sort("agent_id", nulls_last=True)
    )


def escalations_to_review(escalation_audit: pl.DataFrame | None) -> pl.DataFrame:
    """Missed and late escalations, the ones a QA lead opens."""
    if escalation_audit is None or "escalation_class" not in escalation_audit.columns:
        return pl.DataFrame()
    return escalation_audit.filter(pl.col("escalation_class").is_in(["missed", "late"])).sort(
        "escalation_class", "agent_id", "contact_id", nulls_last=True
    )


def policy_violations(concession_audit: pl.DataFrame | None) -> pl.DataFrame:
    if concession_audit is None or "violations" not in concession_audit.columns:
        return pl.DataFrame()
    return concession_audit.filter(pl.col("violations").list.len() > 0).sort(
        "agent_id", "concession_id", nulls_last=True
    )


def sorted_flags(concession_flags: pl.DataFrame | None) -> pl.DataFrame:
    if concession_flags is None or concession_flags.is_empty():
        return pl.DataFrame()
    order = [c for c in ("flag_type", "subject_type", "subject_id") if c in concession_flags.columns]
    return concession_flags.sort(order, nulls_last=True)


@dataclass(frozen=True)
class RunInfo:
    run_id: str | None
    policy_version: str | None
    validation: str | None  # "passed", "failed" or the manifest's own word
    failure_reason: str | None = None
    data_docs_uri: str | None = None


# The manifest's gate result (warehouse/manifest.py: is_critical_passed), then tolerated spellings.
_VALIDATION_COLUMNS = (
    "is_critical_passed",
    "validation_success",
    "validation_passed",
    "validation_result",
    "validation_status",
)
_ORDER_COLUMNS = ("finished_at", "ended_at", "completed_at", "started_at", "created_at")


def run_info(run_manifest: pl.DataFrame | None, agent_scorecard: pl.DataFrame | None) -> RunInfo:
    """The run that published the day: the scorecard's run, else the manifest's latest run."""
    published_run = _text(agent_scorecard, "run_id")
    manifest = run_manifest if run_manifest is not None and not run_manifest.is_empty() else None
    if manifest is not None:
        if published_run is not None and "run_id" in manifest.columns:
            same = manifest.filter(pl.col("run_id") == published_run)
            manifest = same if not same.is_empty() else manifest
        order = next((c for c in _ORDER_COLUMNS if c in manifest.columns), None)
        # Nulls first: a draft row with no finish time never hides the finished one.
        latest = manifest.sort(order, nulls_last=False).tail(1) if order else manifest.tail(1)
        return RunInfo(
            run_id=_text(latest, "run_id") or published_run,
            policy_version=_text(latest, "policy_version") or _text(agent_scorecard, "policy_version"),
            validation=_validation_word(latest),
            failure_reason=_text(latest, "failure_reason"),
            data_docs_uri=_text(latest, "data_docs_uri"),
        )
    return RunInfo(published_run, _text(agent_scorecard, "policy_version"), None)


def _validation_word(row: pl.DataFrame) -> str | None:
    column = next((c for c in _VALIDATION_COLUMNS if c in row.columns), None)
    value = _first(row, column) if column else None
    if isinstance(value, bool):
        return "passed" if value else "failed"
    return None if value is None else str(value)


def _first(frame: pl.DataFrame | None, column: str) -> object | None:
    if frame is None or column not in frame.columns or frame.is_empty():
        return None
    value = frame.get_column(column).drop_nulls()
    return value.item(0) if len(value) else None


def _text(frame: pl.DataFrame | None, column: str) -> str | None:
    value = _first(frame, column)
    return None if value is None else str(value)


def is_finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class DataQuality:
    """What the validation of the day's run warned about, for a one-line summary on the page
    (the detail is in the Data Docs)."""

    warning_suites: tuple[tuple[str, int], ...]  # (suite, failed expectations) passed with warnings
    quarantined_rows: int | None

    @property
    def any(self) -> bool:
        return bool(self.warning_suites or self.quarantined_rows)


def data_quality(run_manifest: pl.DataFrame | None, run_id: str | None) -> DataQuality:
    """Suites that passed their critical checks but failed warnings, and the quarantined rows, of
    the run that published the day (the manifest's `validation` and `rows_quarantined`)."""
    if run_manifest is None or run_manifest.is_empty():
        return DataQuality((), None)
    rows = run_manifest
    if run_id is not None and "run_id" in rows.columns:
        rows = (
            rows.filter(pl.col("run_id") == run_id)
            if rows.filter(pl.col("run_id") == run_id).height
            else rows
        )
    row = rows.tail(1).to_dicts()[0]
    suites = tuple(
        (str(v["suite"]), int(v.get("unsuccessful") or 0))
        for v in row.get("validation") or []
        if v.get("success") is False and v.get("critical_passed") is not False
    )
    quarantined = row.get("rows_quarantined")
    return DataQuality(suites, int(quarantined) if isinstance(quarantined, int) else None)
