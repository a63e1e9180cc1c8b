"""Funnel plots of the peer comparison: every tested agent's rate against their denominator.

The limits are drawn as curves, computed here at a grid of denominators from the centre's
pooled rate p0 and over-dispersion phi exactly as the peer test computes each agent's own:
p0 ± z·sqrt(phi·p0(1−p0)/n), z the two-sided normal quantile of the inner (95%) and outer
(99.8%) coverage, clipped to [0, 1]. Only the centre comparison is plotted: a team comparison
has its own p0 and phi per team, one chart each would bury the page.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import polars as pl

CENTRE = "centre"
GRID_POINTS = 60


def limit(p0: float, phi: float, coverage: float, n: float) -> tuple[float, float]:
    """The funnel limits at denominator n: p0 ± z·sqrt(phi·p0(1−p0)/n), clipped to [0, 1]."""
    z = NormalDist().inv_cdf(0.5 + coverage / 2)
    half = z * math.sqrt(phi * p0 * (1 - p0) / n)
    return max(0.0, p0 - half), min(1.0, p0 + half)


def grid(n_min: float, n_max: float, points: int = GRID_POINTS) -> list[float]:
    """Denominators from n_min to n_max, evenly spaced on a log scale (the curves bend most at
    small n)."""
    low, high = max(1.0, n_min), max(1.0, n_max)
    if high <= low:
        return [low]
    step = math.log(high / low) / (points - 1)
    return [low * math.exp(i * step) for i in range(points)]


@dataclass(frozen=True)
class Funnel:
    """One rate metric's funnel: the agents' points and the limit curves."""

    metric: str
    peer_rate: float | None
    overdispersion: float
    inner_coverage: float
    outer_coverage: float
    points: (
        pl.DataFrame
    )  # agent_id, team_id, numerator, denominator, rate, is_flagged, flag_type, outside_outer
    curves: pl.DataFrame  # denominator, limit (inner_low | inner_high | outer_low | outer_high), rate


def curves(p0: float, phi: float, inner: float, outer: float, denominators: list[float]) -> pl.DataFrame:
    """The four limit curves, long (one row per denominator and curve), for the chart."""
    rows = []
    for n in denominators:
        for name, coverage in (("inner", inner), ("outer", outer)):
            low, high = limit(p0, phi, coverage, n)
            rows += [(n, f"{name}_low", low), (n, f"{name}_high", high)]
    return pl.DataFrame(
        rows, schema={"denominator": pl.Float64, "limit": pl.String, "rate": pl.Float64}, orient="row"
    )


def funnels(peer_comparison: pl.DataFrame | None) -> list[Funnel]:
    """One funnel per rate metric with tested agents in the centre comparison, in the table's order."""
    if peer_comparison is None or peer_comparison.is_empty():
        return []
    centre = peer_comparison.filter((pl.col("comparison") == CENTRE) & (pl.col("denominator") > 0))
    metrics = centre.get_column("metric").unique(maintain_order=True).to_list()
    return [_funnel(metric, centre.filter(pl.col("metric") == metric)) for metric in metrics]


def _funnel(metric: str, rows: pl.DataFrame) -> Funnel:
    first = rows.row(0, named=True)
    p0, phi = first["peer_rate"], first["overdispersion"] or 1.0
    inner, outer = first["inner_coverage"], first["outer_coverage"]
    outside = (pl.col("rate") < pl.col("outer_limit_low")) | (pl.col("rate") > pl.col("outer_limit_high"))
    points = rows.select(
        "agent_id",
        "team_id",
        "numerator",
        "denominator",
        "rate",
        "is_flagged",
        "flag_type",
        outside.fill_null(False).alias("outside_outer"),
    ).sort("denominator", "agent_id")
    n = points.get_column("denominator").to_list()
    drawable = p0 is not None and 0 < p0 < 1 and inner is not None and outer is not None
    # p0 of 0 or 1 has no spread: the limits are the line itself, no curve to draw
    denominators = grid(float(min(n)), float(max(n))) if drawable else []
    return Funnel(
        metric,
        p0,
        phi,
        inner,
        outer,
        points,
        curves(p0 or 0.0, phi, inner or 0.0, outer or 0.0, denominators),
    )
