"""The three long frames every metric family hands the scorecards (docs/architecture.md).

One definition, imported by each family and by transforms/scorecards.py, so a family cannot
drift from what the scorecards sum. The scorecards only sum, count and take quantiles of
these, which is why team and week roll-ups are sums of the same parts.
"""

import polars as pl

# One row per contact per rate metric (0/1 values are fine): the scorecards sum them.
RATE_PARTS_SCHEMA = pl.Schema(
    {
        "audit_date": pl.Date(),
        "agent_id": pl.String(),
        "team_id": pl.String(),
        "metric": pl.String(),
        "numerator": pl.Int64(),
        "denominator": pl.Int64(),
    }
)
# One row per observation of a median / p90 / mean measure.
MEASURES_SCHEMA = pl.Schema(
    {
        "audit_date": pl.Date(),
        "agent_id": pl.String(),
        "team_id": pl.String(),
        "measure": pl.String(),
        "value": pl.Float64(),
    }
)
# Summed counts (lost_control, policy_violations, ...).
COUNTS_SCHEMA = pl.Schema(
    {
        "audit_date": pl.Date(),
        "agent_id": pl.String(),
        "team_id": pl.String(),
        "count": pl.String(),
        "value": pl.Int64(),
    }
)
