"""Rates with Wilson score intervals, as Polars expressions.

Every published rate carries its numerator, denominator, a 95% Wilson interval and a
low-volume marker (docs/metrics.md, "Rates, intervals and low volume"). Wilson rather than the
normal approximation because agent-day denominators are small and often have 0 or all successes, where the
normal interval collapses to a point.
"""

from __future__ import annotations

from typing import Final

import polars as pl

Z_95 = 1.959963984540054  # two-sided 95% standard normal quantile
# Linear interpolation between order statistics (numpy / DuckDB quantile_cont / Excel PERCENTILE.INC).
QUANTILE_METHOD: Final = "linear"

IntoExpr = pl.Expr | str

# The columns of one rate metric m, in publish order: `<m>_<part>`, except the boolean marker,
# which is `is_<m>_low_volume` (published booleans are named is_*; docs/outputs.md lists the
# earlier names).
RATE_PARTS = ("numerator", "denominator", "rate", "ci_low", "ci_high", "low_volume")
_FLAG_PARTS = frozenset({"low_volume"})


def rate_column(metric: str, part: str) -> str:
    """The scorecard column of one part of rate `metric`: follow_up_rate, is_follow_up_low_volume."""
    if part not in RATE_PARTS:
        raise ValueError(f"not a rate part: {part!r}")
    return f"is_{metric}_{part}" if part in _FLAG_PARTS else f"{metric}_{part}"


def _expr(value: IntoExpr) -> pl.Expr:
    return pl.col(value) if isinstance(value, str) else value


def safe_rate(num: IntoExpr, den: IntoExpr) -> pl.Expr:
    """num / den as Float64; null when the denominator is 0 or null (no rate, not 0%)."""
    n, d = _expr(num).cast(pl.Float64), _expr(den).cast(pl.Float64)
    return pl.when(d > 0).then(n / d).otherwise(None)


def wilson_interval(num: IntoExpr, den: IntoExpr, z: float = Z_95) -> tuple[pl.Expr, pl.Expr]:
    """Wilson score interval (low, high) for num successes out of den trials.

    Both bounds are null when den is 0. The interval always contains the observed rate
    (0/n gives a low of exactly 0, n/n a high of exactly 1): the bounds are pinned to the
    rate where floating-point rounding would put them a hair on the wrong side of it.
    """
    n = _expr(den).cast(pl.Float64)
    p = safe_rate(num, den)
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * ((p * (1 - p) / n + z2 / (4 * n * n)).sqrt()) / (1 + z2 / n)
    low = pl.min_horizontal(centre - half, p).clip(0.0, 1.0)
    high = pl.max_horizontal(centre + half, p).clip(0.0, 1.0)
    return low, high


def rate_columns(metric: str, min_volume: int, z: float = Z_95) -> list[pl.Expr]:
    """`<m>_rate`, `<m>_ci_low`, `<m>_ci_high`, `is_<m>_low_volume` from `<m>_numerator`/`<m>_denominator`.

    The low-volume marker is true when the denominator is under `min_volume` (so a 0 denominator is
    low volume too); the rate and interval are null when the denominator is 0.
    """
    num, den = rate_column(metric, "numerator"), rate_column(metric, "denominator")
    low, high = wilson_interval(num, den, z)
    return [
        safe_rate(num, den).alias(rate_column(metric, "rate")),
        low.alias(rate_column(metric, "ci_low")),
        high.alias(rate_column(metric, "ci_high")),
        (pl.col(den).fill_null(0) < min_volume).alias(rate_column(metric, "low_volume")),
    ]
