"""What needs attention: the flags a QA lead reviews first, new before ongoing.

Two sources, one list: the peer flags of the rolling 28 days ending on the report's day
(`peer_comparison`, flagged rows) and the day's concession flags. Both may carry the flag
lifecycle (`status` new | ongoing | cleared, `first_flagged_on`, `consecutive_days`); a table
written before the lifecycle existed has no status, and its flags are listed after the
ongoing ones, status unknown. Cleared flags are counted, not listed: nothing to review.
Arithmetic on frames already read (no I/O).
"""

from __future__ import annotations

from typing import Any

import polars as pl

from report import views

STATUS_RANK = {"new": 0, "ongoing": 1}  # anything else (no lifecycle yet) after them
CLEARED = "cleared"
CENTRE = "centre"
LIFECYCLE = ("status", "first_flagged_on", "consecutive_days")
EVIDENCE_PREVIEW = 5  # evidence ids shown before the full list is folded away

ATTENTION_SCHEMA = pl.Schema(
    {
        "source": pl.String(),  # peer | concession
        "status": pl.String(),
        "first_flagged_on": pl.Date(),
        "consecutive_days": pl.Int64(),
        "flag": pl.String(),  # below_peers / above_peers, or the concession flag type
        "metric": pl.String(),
        "comparison": pl.String(),
        "subject_type": pl.String(),
        "subject_id": pl.String(),
        "agent_id": pl.String(),
        "team_id": pl.String(),
        "numerator": pl.Int64(),
        "denominator": pl.Int64(),
        "observed": pl.Float64(),
        "expected": pl.Float64(),
        "q_value": pl.Float64(),
        "evidence_ids": pl.List(pl.String()),
        "evidence_count": pl.Int64(),
    }
)


def _with_lifecycle(frame: pl.DataFrame) -> pl.DataFrame:
    """The lifecycle columns, null where the table predates them."""
    missing = [pl.lit(None, dtype=ATTENTION_SCHEMA[c]).alias(c) for c in LIFECYCLE if c not in frame.columns]
    return frame.with_columns(missing) if missing else frame


def peer_attention(peer_comparison: pl.DataFrame | None) -> pl.DataFrame:
    """The flagged, not cleared peer rows, as attention rows (rate vs the peers' pooled rate)."""
    if peer_comparison is None or peer_comparison.is_empty():
        return pl.DataFrame(schema=ATTENTION_SCHEMA)
    flagged = _with_lifecycle(peer_comparison).filter(
        pl.col("is_flagged") & (pl.col("status").is_null() | (pl.col("status") != CLEARED))
    )
    return flagged.select(
        pl.lit("peer").alias("source"),
        *LIFECYCLE,
        pl.col("flag_type").alias("flag"),
        "metric",
        "comparison",
        pl.lit("agent").alias("subject_type"),
        pl.col("agent_id").alias("subject_id"),
        "agent_id",
        "team_id",
        "numerator",
        "denominator",
        pl.col("rate").alias("observed"),
        pl.col("peer_rate").alias("expected"),
        "q_value",
        "evidence_ids",
        "evidence_count",
    ).cast(ATTENTION_SCHEMA)  # type: ignore[arg-type]


def concession_attention(flags: pl.DataFrame | None, scorecard: pl.DataFrame | None) -> pl.DataFrame:
    """The day's concession flags, not cleared, as attention rows. The agent is the subject, or
    for an amount outlier (whose subject is the concession) the agent who granted it; the team
    is the flag's own, else the agent's on the day's scorecard."""
    if flags is None or flags.is_empty():
        return pl.DataFrame(schema=ATTENTION_SCHEMA)
    frame = _with_lifecycle(flags).filter(pl.col("status").is_null() | (pl.col("status") != CLEARED))
    for column in ("agent_id", "team_id"):
        if column not in frame.columns:
            frame = frame.with_columns(pl.lit(None, pl.String()).alias(column))
    is_agent = pl.col("subject_type") == "agent"
    rows = frame.select(
        pl.lit("concession").alias("source"),
        *LIFECYCLE,
        pl.col("flag_type").alias("flag"),
        pl.lit(None, dtype=pl.String()).alias("metric"),
        pl.lit(None, dtype=pl.String()).alias("comparison"),
        "subject_type",
        "subject_id",
        pl.when(is_agent).then(pl.col("subject_id")).otherwise(pl.col("agent_id")).alias("agent_id"),
        pl.col("team_id").alias("_flag_team"),
        pl.lit(None, dtype=pl.Int64()).alias("numerator"),
        pl.lit(None, dtype=pl.Int64()).alias("denominator"),
        "observed",
        "expected",
        "q_value",
        "evidence_ids",
        pl.col("evidence_ids").list.len().cast(pl.Int64()).alias("evidence_count"),
    )
    teams = _agent_teams(scorecard)
    return (
        rows.join(teams, on="agent_id", how="left")
        .with_columns(pl.coalesce("_flag_team", "team_id").alias("team_id"))
        .select(ATTENTION_SCHEMA.names())
        .cast(ATTENTION_SCHEMA)  # type: ignore[arg-type]
    )


def _agent_teams(scorecard: pl.DataFrame | None) -> pl.DataFrame:
    if scorecard is None or not {"agent_id", "team_id"} <= set(scorecard.columns):
        return pl.DataFrame(schema={"agent_id": pl.String(), "team_id": pl.String()})
    return scorecard.select("agent_id", "team_id").unique("agent_id", keep="first")


def attention_list(
    peer_comparison: pl.DataFrame | None, flags: pl.DataFrame | None, scorecard: pl.DataFrame | None
) -> pl.DataFrame:
    """Every flag to review: new, then ongoing, then those without a lifecycle; within a status the
    strongest evidence first (smallest q, missing q last), then by metric and subject."""
    rows = pl.concat([peer_attention(peer_comparison), concession_attention(flags, scorecard)])
    rank = pl.col("status").replace_strict(STATUS_RANK, default=len(STATUS_RANK), return_dtype=pl.Int64)
    return (
        rows.with_columns(rank.alias("_rank"))
        .sort(["_rank", "q_value", "source", "metric", "flag", "subject_id"], nulls_last=True)
        .drop("_rank")
    )


def cleared_count(peer_comparison: pl.DataFrame | None, flags: pl.DataFrame | None) -> int:
    """Flags cleared on this day (shown as a count: nothing left to review): peer rows and
    concession lifecycle rows (`AuditDay.cleared_concession_flags`) whose status is cleared."""
    return sum(
        frame.filter(pl.col("status") == CLEARED).height
        for frame in (peer_comparison, flags)
        if frame is not None and "status" in frame.columns
    )


def outside_outer_limits(peer_comparison: pl.DataFrame | None) -> pl.DataFrame:
    """Agents whose rate lies outside the outer (e.g. 99.8%) funnel limits: far from their peers
    whatever the false-discovery test said (it may not flag them after the BH adjustment)."""
    if peer_comparison is None or peer_comparison.is_empty():
        return pl.DataFrame()
    outside = (pl.col("rate") < pl.col("outer_limit_low")) | (pl.col("rate") > pl.col("outer_limit_high"))
    return peer_comparison.filter(outside).sort("metric", "comparison", "agent_id", nulls_last=True)


def display_rows(attention: pl.DataFrame) -> list[dict[str, Any]]:
    """Attention rows with the texts the page shows: a peer rate as `rate n/d` against the peers'
    pooled rate, a concession flag's observed against expected values."""
    out = []
    for row in attention.to_dicts():
        peer = row["source"] == "peer"
        row["what"] = views.metric_label(row["metric"]) if peer else row["flag"].replace("_", " ")
        row["observed_text"] = _peer_rate(row) if peer else _value(row["observed"])
        row["expected_text"] = _pct(row["expected"]) if peer else _value(row["expected"])
        row["evidence_ids"] = row["evidence_ids"] or []
        out.append(row)
    return out


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


def _value(value: float | None) -> str:
    return "–" if value is None else f"{value:.3g}"


def _peer_rate(row: dict[str, Any]) -> str:
    return f"{_pct(row['observed'])} ({row['numerator']}/{row['denominator']})"
