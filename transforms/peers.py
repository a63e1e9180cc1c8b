"""Peers: every rate of every agent against the centre and their team, as a funnel plot.

The method is Spiegelhalter's funnel plot for comparing institutions ("Funnel plots for comparing
institutional performance", Stat Med 2005), with agents as the institutions: over the rolling
window, each agent's rate is set against the pooled rate of their peers, with control limits that
narrow as the agent's denominator grows, and a multiplicative over-dispersion factor estimated from
the data so that the ordinary variation between agents is not flagged. Flags are chosen with
Benjamini-Hochberg across the agents compared. The method, a worked example and the policy keys are
in docs/metrics.md (Peers); why each comparison group estimates its own over-dispersion is in
docs/decisions/peer-comparison.md.

Pure: LazyFrames in, LazyFrame out, no I/O. The per-agent table (one row per agent, metric and
comparison) is collected once inside `peer_comparison`: winsorising and the q-values need each
group whole, and the table is small.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from datetime import date

import polars as pl

from configs.policy import PeerPolicy
from transforms.concessions import _benjamini_hochberg

SUBJECT = ("metric", "comparison", "agent_id")
LIFECYCLE_SCHEMA = pl.Schema(
    {"status": pl.String(), "first_flagged_on": pl.Date(), "consecutive_days": pl.Int64()}
)
STATUSES = ("new", "ongoing", "cleared")
LIFECYCLE_DESCRIPTIONS = {
    "status": "new: flagged on this window and not on the previous published one (or on the other "
    "side); ongoing: flagged on the same side on the previous one too; cleared: flagged on the "
    "previous window, not on this one (the day after it stops). Null otherwise.",
    "first_flagged_on": "First window end (audit day) of the unbroken run of flags this row belongs "
    "to; for a cleared row, the run that just ended.",
    "consecutive_days": "How many consecutive published windows, this one included, the flag has "
    "held on the same side; for a cleared row, how long the run that ended lasted.",
}

EPS = 1e-9  # float noise guard for the q <= fdr comparison, as in the concession flags

CENTRE, TEAM = "centre", "team"
COMPARISONS = (CENTRE, TEAM)
BELOW, ABOVE = "below_peers", "above_peers"
FLAG_TYPES = (BELOW, ABOVE)

# A comparison group: the whole centre (peer_group null) or one team, for one metric.
_GROUP = ("metric", "comparison", "peer_group")
_AGENT_METRIC = ["agent_id", "metric"]

RATES_SCHEMA = pl.Schema(
    {
        "agent_id": pl.String(),
        "team_id": pl.String(),
        "metric": pl.String(),
        "numerator": pl.Int64(),
        "denominator": pl.Int64(),
    }
)
# A contact of the agent's denominator in the window; `counted`: also in the numerator.
EVIDENCE_SCHEMA = pl.Schema(
    {"agent_id": pl.String(), "metric": pl.String(), "contact_id": pl.String(), "counted": pl.Boolean()}
)

PEER_FLAG_DESCRIPTIONS = {
    "window_start": "First day of the rolling window the numerator and denominator are summed over.",
    "window_end": "Last day of the rolling window (the audit day), included.",
    "metric": "The rate compared, by its scorecard name (e.g. follow_up).",
    "comparison": (
        "Who the agent is compared with: 'centre' (every tested agent) or 'team' (the tested agents of "
        "their team)."
    ),
    "team_id": (
        "The agent's team on the last day of the window; for a team comparison, the team compared within."
    ),
    "agent_id": "The agent compared.",
    "flag_type": "'below_peers' or 'above_peers' when the agent is flagged, null otherwise.",
    "numerator": "The agent's numerator summed over the window.",
    "denominator": "The agent's denominator summed over the window.",
    "rate": "numerator / denominator.",
    "peer_rate": (
        "Pooled rate of the comparison group: its numerators summed over its denominators, the agent "
        "included."
    ),
    "peer_agents": "Agents tested in the comparison group (denominator at least peers.min_denominator).",
    "overdispersion_estimate": (
        "Spiegelhalter's phi for the comparison group: the mean of its winsorised z_unadjusted squared; "
        "null when peer_rate is 0 or 1."
    ),
    "overdispersion": (
        "The factor the binomial variance is multiplied by: overdispersion_estimate when above 1, else 1.0."
    ),
    "z_unadjusted": (
        "(rate - peer_rate) / sqrt(peer_rate (1 - peer_rate) / denominator); null when peer_rate is 0 or 1."
    ),
    "z": "z_unadjusted / sqrt(overdispersion): the over-dispersion-adjusted z-score the test uses.",
    "p_value": "Two-sided normal p-value of z.",
    "q_value": (
        "Benjamini-Hochberg q-value across the agents tested for this metric in this comparison group."
    ),
    "fdr": "The false-discovery rate q_value is compared with (peers.fdr); flagged when q_value <= fdr.",
    "inner_coverage": "Two-sided coverage of the inner funnel limits (first of peers.limits, e.g. 0.95).",
    "inner_limit_low": (
        "Lower inner funnel limit at this denominator: peer_rate - z sqrt(overdispersion peer_rate (1 - "
        "peer_rate) / denominator), clipped to [0, 1]."
    ),
    "inner_limit_high": "Upper inner funnel limit at this denominator, clipped to [0, 1].",
    "outer_coverage": "Two-sided coverage of the outer funnel limits (second of peers.limits, e.g. 0.998).",
    "outer_limit_low": "Lower outer funnel limit at this denominator, clipped to [0, 1].",
    "outer_limit_high": "Upper outer funnel limit at this denominator, clipped to [0, 1].",
    "evidence_ids": (
        "The contacts that put the agent on the flagged side, sorted, at most peers.max_evidence_ids of "
        "them: above_peers, those counted in the numerator (e.g. the reopened tickets); below_peers, "
        "those in the denominator only (e.g. the contacts not followed up). Null when not flagged."
    ),
    "evidence_count": (
        "How many distinct contacts that evidence holds (the list may be capped); null when not flagged."
    ),
}

PEER_FLAGS_SCHEMA = pl.Schema(
    {
        "window_start": pl.Date(),
        "window_end": pl.Date(),
        "metric": pl.String(),
        "comparison": pl.String(),
        "team_id": pl.String(),
        "agent_id": pl.String(),
        "flag_type": pl.String(),
        "numerator": pl.Int64(),
        "denominator": pl.Int64(),
        "rate": pl.Float64(),
        "peer_rate": pl.Float64(),
        "peer_agents": pl.Int64(),
        "overdispersion_estimate": pl.Float64(),
        "overdispersion": pl.Float64(),
        "z_unadjusted": pl.Float64(),
        "z": pl.Float64(),
        "p_value": pl.Float64(),
        "q_value": pl.Float64(),
        "fdr": pl.Float64(),
        "inner_coverage": pl.Float64(),
        "inner_limit_low": pl.Float64(),
        "inner_limit_high": pl.Float64(),
        "outer_coverage": pl.Float64(),
        "outer_limit_low": pl.Float64(),
        "outer_limit_high": pl.Float64(),
        "evidence_ids": pl.List(pl.String()),
        "evidence_count": pl.Int64(),
    }
)
PEER_COMPARISON_DESCRIPTIONS = {
    **PEER_FLAG_DESCRIPTIONS,
    "is_flagged": "True when q_value <= fdr: the agent is flagged below or above peers on this metric.",
}
PEER_COMPARISON_SCHEMA = pl.Schema({**PEER_FLAGS_SCHEMA, "is_flagged": pl.Boolean()})


def peer_comparison(
    rates: pl.LazyFrame,
    evidence: pl.LazyFrame,
    policy: PeerPolicy,
    window_start: date,
    window_end: date,
) -> pl.LazyFrame:
    """One row per (metric, comparison, agent) tested: the funnel's points and limits, the test and
    whether it flags (`PEER_COMPARISON_SCHEMA`), sorted by metric, comparison, team and agent.

    `rates` (`RATES_SCHEMA`): one row per agent and metric, numerator and denominator summed over
    the window, the agent's team on its last day. `evidence` (`EVIDENCE_SCHEMA`): the contacts
    counted in each agent's numerator in the window; listed on flagged rows only. Agents with no
    id or a denominator under `min_denominator`, and groups of fewer than `min_agents` such agents,
    are not tested and have no row.
    """
    if window_start > window_end:
        raise ValueError(f"window_start {window_start} is after window_end {window_end}")
    tested = funnel(comparison_groups(rates, policy).collect(), policy)
    inner, outer = policy.limits
    return (
        _with_evidence(tested.lazy(), evidence, policy)
        .with_columns(
            pl.lit(window_start).alias("window_start"),
            pl.lit(window_end).alias("window_end"),
            pl.lit(policy.fdr).alias("fdr"),
            pl.lit(inner).alias("inner_coverage"),
            pl.lit(outer).alias("outer_coverage"),
        )
        .select(PEER_COMPARISON_SCHEMA.names())
        .cast(PEER_COMPARISON_SCHEMA)
        .sort("metric", "comparison", "team_id", "agent_id", nulls_last=True)
    )


def peer_flags(comparison: pl.LazyFrame) -> pl.LazyFrame:
    """The flagged rows of `peer_comparison`, in `PEER_FLAGS_SCHEMA`: what a QA lead reviews."""
    return comparison.filter(pl.col("is_flagged")).select(PEER_FLAGS_SCHEMA.names())


def comparison_groups(rates: pl.LazyFrame, policy: PeerPolicy) -> pl.LazyFrame:
    """Every tested (metric, comparison, agent) with its group's size (`peer_agents`) and pooled
    rate (`peer_rate`).

    An agent is tested when their denominator is at least `min_denominator`: below it the binomial
    variance is too rough for a normal z and a handful of contacts would dominate the flags. The
    pooled rate is over the tested agents only, so an agent who is not tested does not move the
    funnel either. A team with no id is compared with the centre only.
    """
    eligible = (
        rates.select(RATES_SCHEMA.names())
        .cast(RATES_SCHEMA)
        .filter(pl.col("agent_id").is_not_null() & (pl.col("denominator") >= policy.min_denominator))
    )
    centre = eligible.with_columns(
        pl.lit(CENTRE).alias("comparison"), pl.lit(None, dtype=pl.String()).alias("peer_group")
    )
    team = eligible.filter(pl.col("team_id").is_not_null()).with_columns(
        pl.lit(TEAM).alias("comparison"), pl.col("team_id").alias("peer_group")
    )
    keys = list(_GROUP)
    pooled = pl.col("numerator").sum().over(keys) / pl.col("denominator").sum().over(keys)
    return (
        pl.concat([centre, team])
        .with_columns(pl.len().over(keys).cast(pl.Int64).alias("peer_agents"), pooled.alias("peer_rate"))
        .filter(pl.col("peer_agents") >= policy.min_agents)
    )


def funnel(groups: pl.DataFrame, policy: PeerPolicy) -> pl.DataFrame:
    """The statistics of every row of `comparison_groups`: z, over-dispersion, limits, p, q, flag.

    Rows are put in a fixed order first (group, then agent), and the only float sum (phi) is
    exactly rounded, so the answer does not depend on the order the rates arrived in.
    """
    _check_counts(groups)
    rows = (
        groups.sort(*_GROUP, "agent_id", nulls_last=True)
        .with_columns((pl.col("numerator") / pl.col("denominator")).alias("rate"))
        .with_columns(_unadjusted_z().alias("z_unadjusted"))
    )
    rows = (
        _with_overdispersion(rows, policy)
        .with_columns((pl.col("z_unadjusted") / pl.col("overdispersion").sqrt()).alias("z"))
        .with_columns(*_limits("inner", policy.limits[0]), *_limits("outer", policy.limits[1]))
    )
    p_values = two_sided_p(rows["z"])
    rows = rows.with_columns(p_values, _q_values(rows, p_values)).fill_nan(None)
    flagged = (pl.col("q_value") <= policy.fdr + EPS).fill_null(False)
    side = pl.when(pl.col("rate") < pl.col("peer_rate")).then(pl.lit(BELOW)).otherwise(pl.lit(ABOVE))
    return rows.with_columns(flagged.alias("is_flagged")).with_columns(
        pl.when(pl.col("is_flagged")).then(side).alias("flag_type")
    )


def _check_counts(groups: pl.DataFrame) -> None:
    """A numerator outside 0..denominator, or an agent twice for a metric, is a bug upstream:
    refuse it rather than test a rate above 1 or count an agent twice in the pool."""
    twice = groups.filter(pl.struct(*_GROUP, "agent_id").is_duplicated())
    if twice.height:
        first = twice.row(0, named=True)
        raise ValueError(f"agent {first['agent_id']} has more than one {first['metric']} rate")
    bad = groups.filter((pl.col("numerator") < 0) | (pl.col("numerator") > pl.col("denominator")))
    if bad.height:
        first = bad.row(0, named=True)
        raise ValueError(
            f"{bad.height} rates have a numerator outside 0..denominator, e.g. agent "
            f"{first['agent_id']} on {first['metric']}: {first['numerator']}/{first['denominator']}"
        )


def _unadjusted_z() -> pl.Expr:
    """(y - p0) / sqrt(p0 (1 - p0) / n); null when p0 is 0 or 1 (no binomial variance to test)."""
    p0, n = pl.col("peer_rate"), pl.col("denominator")
    has_variance = (p0 > 0) & (p0 < 1)
    return pl.when(has_variance).then((pl.col("rate") - p0) / (p0 * (1 - p0) / n).sqrt())


def winsorised_phi(z_scores: Sequence[float], fraction: float) -> float:
    """Spiegelhalter's multiplicative over-dispersion: the mean of the squared z-scores after the
    k = ceil(fraction * m) most extreme at each tail are pulled in to the next value.

    Winsorising keeps the agents we are looking for (a planted outlier has a huge z) from inflating
    phi and so hiding themselves. k rounds up so that a team of five still pulls in its most extreme
    member (rounded down, it would trim nobody below ten agents). The sum is exactly rounded
    (math.fsum): the same bits in any order.
    """
    ordered = sorted(z_scores)
    m = len(ordered)
    k = min(math.ceil(fraction * m - EPS), (m - 1) // 2)  # never past the middle
    low, high = ordered[k], ordered[m - 1 - k]
    return math.fsum(min(max(z, low), high) ** 2 for z in ordered) / m


def overdispersion_estimates(rows: pl.DataFrame, policy: PeerPolicy) -> pl.DataFrame:
    """Per comparison group: phi from its agents' z-scores (`overdispersion_estimate`); a group
    whose pooled rate is 0 or 1 has no z-scores and no estimate."""
    z_by_group = (
        rows.filter(pl.col("z_unadjusted").is_not_null())
        .group_by(*_GROUP, maintain_order=True)
        .agg(pl.col("z_unadjusted"))
    )
    phi = [winsorised_phi(z, policy.winsor_fraction) for z in z_by_group["z_unadjusted"].to_list()]
    return z_by_group.drop("z_unadjusted").with_columns(
        pl.Series("overdispersion_estimate", phi, dtype=pl.Float64())
    )


def _with_overdispersion(rows: pl.DataFrame, policy: PeerPolicy) -> pl.DataFrame:
    """`overdispersion_estimate` (the group's phi) and `overdispersion`: phi when above 1, else 1.

    Each comparison group estimates its own, from the z-scores against its own pooled rate: one
    extreme member drags a team's pooled rate, so every teammate looks off it by the same amount,
    and only that team's phi sees the shift; a centre-wide phi also holds the differences between
    teams, which a team comparison has taken out (docs/decisions/peer-comparison.md).
    """
    factor = pl.max_horizontal(pl.col("overdispersion_estimate").fill_null(1.0), pl.lit(1.0))
    return rows.join(
        overdispersion_estimates(rows, policy),
        on=list(_GROUP),
        how="left",
        nulls_equal=True,
        maintain_order="left",
    ).with_columns(factor.alias("overdispersion"))


def normal_quantile(coverage: float) -> float:
    """The two-sided standard normal quantile for `coverage` (0.95 -> 1.959963984540054 = Z_95)."""
    from scipy.stats import norm  # scipy.stats only when comparing: every `audit` command imports us

    return float(norm.ppf(0.5 + coverage / 2))


def _limits(name: str, coverage: float) -> list[pl.Expr]:
    """p0 -/+ z_alpha sqrt(phi p0 (1 - p0) / n), clipped to [0, 1]; exactly p0 when p0 is 0 or 1."""
    p0 = pl.col("peer_rate")
    half = (
        normal_quantile(coverage) * (pl.col("overdispersion") * p0 * (1 - p0) / pl.col("denominator")).sqrt()
    )
    return [
        (p0 - half).clip(0.0, 1.0).alias(f"{name}_limit_low"),
        (p0 + half).clip(0.0, 1.0).alias(f"{name}_limit_high"),
    ]


def two_sided_p(z: pl.Series) -> pl.Series:
    """2 P(Z > |z|), from the normal's survival function (no 1 - cdf cancellation in the tail)."""
    import numpy as np
    from scipy.stats import norm

    values = z.to_numpy(allow_copy=True).astype(float)
    return pl.Series("p_value", 2 * norm.sf(np.abs(values)), dtype=pl.Float64())


def _q_values(rows: pl.DataFrame, p_values: pl.Series) -> pl.Series:
    """Benjamini-Hochberg within each comparison group, over its agents with a p-value."""
    import numpy as np

    p = p_values.to_numpy(allow_copy=True).astype(float)
    q = np.full(p.shape, np.nan)
    members = rows.with_row_index().group_by(*_GROUP, maintain_order=True).agg(pl.col("index"))
    for index in members["index"].to_list():
        at = np.asarray(index, dtype=np.int64)
        q[at] = _benjamini_hochberg(p[at], ~np.isnan(p[at]))
    return pl.Series("q_value", q, dtype=pl.Float64())


def _with_evidence(tested: pl.LazyFrame, evidence: pl.LazyFrame, policy: PeerPolicy) -> pl.LazyFrame:
    """`evidence_ids` (sorted, distinct, capped) and `evidence_count` (all of them) on flagged rows:
    the contacts on the side the agent deviates to. An agent above peers on reopen is shown the
    reopened tickets; one below peers on follow-up the contacts nobody followed up, which the
    numerator (the met follow-ups) would not show.

    Only the flagged agents' contacts are gathered: a month of contacts is large, the flags few.
    """
    keys = [*_AGENT_METRIC, "counted"]
    flagged = (
        tested.filter(pl.col("is_flagged"))
        .select(*_AGENT_METRIC, (pl.col("flag_type") == ABOVE).alias("counted"))
        .unique()
    )
    ids = (
        evidence.select(EVIDENCE_SCHEMA.names())
        .cast(EVIDENCE_SCHEMA)
        .drop_nulls()
        .join(flagged, on=keys, how="semi")
        .unique()
        .group_by(keys)
        .agg(
            pl.col("contact_id").sort().head(policy.max_evidence_ids).alias("evidence_ids"),
            pl.len().cast(pl.Int64).alias("evidence_count"),
        )
    )
    none: pl.Expr = pl.lit([], dtype=pl.List(pl.String()))
    on_flag = pl.when(pl.col("is_flagged"))
    sides = tested.with_columns((pl.col("flag_type") == ABOVE).fill_null(False).alias("counted"))
    return (
        sides.join(ids, on=keys, how="left", maintain_order="left")
        .drop("counted")
        .with_columns(
            on_flag.then(pl.col("evidence_ids").fill_null(none)).alias("evidence_ids"),
            on_flag.then(pl.col("evidence_count").fill_null(0)).alias("evidence_count"),
        )
    )


# --- over the rolling periods ---------------------------------------------------------------------


def rates_of_period(agent_period: pl.LazyFrame) -> pl.LazyFrame:
    """An agent period scorecard's rows as `RATES_SCHEMA` (one per agent and rate metric); a
    metric withheld for the period (null sums) is not compared."""
    import catalogue

    columns = agent_period.collect_schema().names()
    parts = [
        agent_period.select(
            "agent_id",
            "team_id",
            pl.lit(m).alias("metric"),
            pl.col(f"{m}_numerator").alias("numerator"),
            pl.col(f"{m}_denominator").alias("denominator"),
        )
        for m in catalogue.rate_metrics()
        if f"{m}_numerator" in columns
    ]
    if not parts:
        return pl.LazyFrame(schema=RATES_SCHEMA)
    return pl.concat(parts).drop_nulls(["numerator", "denominator"]).cast(RATES_SCHEMA)


def evidence_of_period(observations: pl.LazyFrame, start: date, end: date) -> pl.LazyFrame:
    """The rate contacts of `metric_observations` in start..end as `EVIDENCE_SCHEMA`."""
    return observations.filter(
        pl.col("kind").is_in(["numerator", "denominator"])
        & pl.col("audit_date").is_between(start, end)
        & pl.col("agent_id").is_not_null()
    ).select(*EVIDENCE_SCHEMA.names()[:3], counted=pl.col("kind") == "numerator")


def rolling_peer_comparison(
    agent_periods: pl.DataFrame, observations: pl.LazyFrame, policy: PeerPolicy
) -> pl.DataFrame:
    """`peer_comparison` for every `rolling_28d` period of an agent period scorecard, each with
    its `period`, `period_start` and `period_end` in place of the window columns."""
    rolling = agent_periods.filter(pl.col("period") == "rolling_28d")
    windows = rolling.select("period_start", "period_end").unique().sort("period_end").iter_rows()
    frames = [
        peer_comparison(
            rates_of_period(rolling.lazy().filter(pl.col("period_end") == end)),
            evidence_of_period(observations, start, end),
            policy,
            start,
            end,
        )
        .rename({"window_start": "period_start", "window_end": "period_end"})
        .with_columns(pl.lit("rolling_28d").alias("period"))
        .collect()
        for start, end in windows
    ]
    if not frames:
        return pl.DataFrame(schema=ROLLING_PEERS_SCHEMA)
    compared = pl.concat(frames)
    ends = compared["period_end"].unique().to_list()
    return flag_lifecycle(compared, ends).select(ROLLING_PEERS_SCHEMA.names())


# The published `peer_comparison` table: each rolling 28 days named as the period scorecards name it.
ROLLING_PEERS_SCHEMA = pl.Schema(
    {
        "period": pl.String(),
        "period_start": pl.Date(),
        "period_end": pl.Date(),
        **{n: t for n, t in PEER_COMPARISON_SCHEMA.items() if n not in ("window_start", "window_end")},
        **LIFECYCLE_SCHEMA,
    }
)


# --- flag lifecycle -------------------------------------------------------------------------------


def flag_lifecycle(
    rows: pl.DataFrame, window_ends: Sequence[date], subject: Sequence[str] = SUBJECT, day: str = "period_end"
) -> pl.DataFrame:
    """`status`, `first_flagged_on` and `consecutive_days` for every row of `rows` (peer rows of
    any windows: `subject`, `day`, is_flagged, flag_type), from the flags of the windows before.
    The concession flags use it too (subject_type, subject_id by audit_date).

    A run is a subject flagged on the same side on consecutive published windows (`window_ends`,
    every published window end: a day with no window does not break a run, a window where the
    subject was not flagged, or not tested, does). `rows` must hold, for each row to be labelled,
    the subject's flagged rows of every earlier window of its run (flagged rows suffice for that).
    """
    order = pl.DataFrame({day: sorted(set(window_ends))}, schema={day: pl.Date()})
    order = order.with_row_index("window").with_columns(pl.col("window").cast(pl.Int64))
    keyed = rows.join(order, on=day, how="left").sort(*subject, "window", nulls_last=True)
    flagged = pl.col("is_flagged").fill_null(False)
    previous = [pl.col(c).shift(1).over(subject) for c in ("window", "is_flagged", "flag_type")]
    follows = (previous[0] == pl.col("window") - 1).fill_null(False) & previous[1].fill_null(False)
    keyed = keyed.with_columns(
        (flagged & follows & (previous[2] == pl.col("flag_type"))).fill_null(False).alias("_continues"),
        (~flagged & follows).alias("_cleared"),
    )
    # A new run starts at every flagged row that does not continue one; a cleared row belongs to
    # the run just before it.
    keyed = keyed.with_columns(
        (flagged & ~pl.col("_continues")).cast(pl.Int64).cum_sum().over(subject).alias("_run")
    )
    in_run = flagged | pl.col("_cleared")
    runs = (
        keyed.filter(flagged)
        .group_by(*subject, "_run")
        .agg(pl.col(day).min().alias("_first"), pl.len().cast(pl.Int64).alias("_length"))
    )
    keyed = keyed.join(runs, on=[*subject, "_run"], how="left", nulls_equal=True)
    position = pl.col(day).cum_count().over(*subject, "_run").cast(pl.Int64)
    return keyed.with_columns(
        pl.when(pl.col("_cleared"))
        .then(pl.lit("cleared"))
        .when(flagged & pl.col("_continues"))
        .then(pl.lit("ongoing"))
        .when(flagged)
        .then(pl.lit("new"))
        .alias("status"),
        pl.when(in_run).then(pl.col("_first")).alias("first_flagged_on"),
        pl.when(pl.col("_cleared"))
        .then(pl.col("_length"))
        .when(flagged)
        .then(position)
        .alias("consecutive_days"),
    ).drop("window", "_continues", "_cleared", "_run", "_first", "_length")


def cleared_rows(
    flags: pl.DataFrame, window_ends: Sequence[date], subject: Sequence[str], day: str
) -> pl.DataFrame:
    """For a table holding flags only (every row flagged), a row `is_flagged` false on the next
    published window after each flag that did not go on, so `flag_lifecycle` can mark it cleared."""
    ends = sorted(set(window_ends))
    following = dict(itertools.pairwise(ends))
    held = flags.select(*subject, day).unique()
    nexts = flags.select(
        *subject, "flag_type", pl.col(day).replace_strict(following, default=None, return_dtype=pl.Date())
    )
    # The cleared row keeps the flag_type that stopped (what was cleared).
    return (
        nexts.drop_nulls(day)
        .unique()
        .join(held, on=[*subject, day], how="anti", nulls_equal=True)
        .with_columns(pl.lit(False).alias("is_flagged"))
    )
