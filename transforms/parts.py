"""What every metric family declares and hands the scorecards (docs/architecture.md).

A family module (`transforms/<family>.py`) has the same shape as every other:

- `METRICS`: its scorecard metrics (`Metric`), next to the code that computes them; the
  catalogue (catalogue/) gathers them, so the scorecards, the suites, the report and
  docs/outputs.md follow from the declaration.
- `audit_<family>(scope, window, policy) -> FamilyResult`: its published evidence tables by
  name, and three long frames of scorecard parts.

The parts' schemas and the helpers that build them are defined once here, so a family cannot
drift from what the scorecards sum. The scorecards only sum, count and take quantiles of the
parts, which is why team and week roll-ups are sums of the same parts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import polars as pl

# One row per contact per rate metric (0/1 values are fine): the scorecards sum them; the
# contact_id is the evidence behind a numerator (metric_observations, the peer comparison).
RATE_PARTS_SCHEMA = pl.Schema(
    {
        "audit_date": pl.Date(),
        "agent_id": pl.String(),
        "team_id": pl.String(),
        "metric": pl.String(),
        "numerator": pl.Int64(),
        "denominator": pl.Int64(),
        "contact_id": pl.String(),
    }
)
# The columns a contact is named by in the frames rate parts are built from, in preference order.
CONTACT_ID_COLUMNS = ("contact_id", "call_id", "ticket_id")
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

# What a day's scorecard rows cannot be summed back into (transforms/scorecards.py,
# `metric_observations`): the contacts in each rate's numerator and each measure's observations.
OBSERVATIONS_SCHEMA = pl.Schema(
    {
        "audit_date": pl.Date(),
        "agent_id": pl.String(),
        "team_id": pl.String(),
        "metric": pl.String(),
        "kind": pl.String(),  # numerator | denominator | measure
        "contact_id": pl.String(),
        "value": pl.Float64(),
    }
)
OBSERVATION_KINDS = ("numerator", "denominator", "measure")


MetricKind = Literal["rate", "measure", "count", "ratio"]
Stat = Literal["median", "p90", "mean"]


@dataclass(frozen=True)
class Metric:
    """One scorecard metric, as its family declares it.

    - `rate`: six columns `<name>_numerator/_denominator/_rate/_ci_low/_ci_high` and
      `is_<name>_low_volume` from the family's RATE_PARTS rows named `name`.
    - `measure`: `<name>_<stat>` for each of `stats`, from MEASURES rows named `name`; a measure
      with no stats is only an input of a ratio (summed, not published on its own).
    - `count`: one summed column `name` from COUNTS rows named `name`.
    - `ratio`: `name` = sum of the `numerator` measure / sum of the `denominator` measure,
      published with both sums (see transforms/scorecards.py, `ratio_columns`).
    """

    name: str
    kind: MetricKind
    label: str  # what a QA lead reads in the report
    description: str  # one sentence: what is counted or measured (docs/outputs.md)
    anchor: str  # the section of docs/metrics.md that defines it
    short_label: str = ""  # narrow terminal columns; the label when empty
    headline: bool = False  # shown first: report headline, run summary, quickstart
    stats: tuple[Stat, ...] = ()  # measures: the statistics published
    numerator: str = ""  # ratios: the summed measures
    denominator: str = ""
    family: str = ""  # set by the catalogue from the declaring module
    team_only: bool = False  # measured per team (queues): 0/0 or null on every agent row

    @property
    def short(self) -> str:
        return self.short_label or self.label


def empty_parts(schema: pl.Schema) -> pl.LazyFrame:
    return schema.to_frame().lazy()


@dataclass(frozen=True)
class FamilyResult:
    """What every family returns: its published tables (by catalogue name) and scorecard parts.

    Evidence frames carry `customer_id` (publishing pseudonymises it) and no `run_id`.
    """

    tables: Mapping[str, pl.LazyFrame] = field(default_factory=dict)
    rate_parts: pl.LazyFrame = field(default_factory=lambda: empty_parts(RATE_PARTS_SCHEMA))
    measures: pl.LazyFrame = field(default_factory=lambda: empty_parts(MEASURES_SCHEMA))
    counts: pl.LazyFrame = field(default_factory=lambda: empty_parts(COUNTS_SCHEMA))

    def frames(self) -> dict[str, pl.LazyFrame]:
        """Every frame by a unique name: the tables, then `rate_parts`, `measures`, `counts`."""
        return {
            **self.tables,
            "rate_parts": self.rate_parts,
            "measures": self.measures,
            "counts": self.counts,
        }

    @classmethod
    def from_frames(cls, frames: Mapping[str, pl.LazyFrame]) -> FamilyResult:
        parts = ("rate_parts", "measures", "counts")
        return cls(
            tables={name: frame for name, frame in frames.items() if name not in parts},
            **{name: frames[name] for name in parts},
        )


# --- building parts -----------------------------------------------------------------------------

_ATTRIBUTION = ("audit_date", "agent_id", "team_id")


def as_parts(frame: pl.LazyFrame, schema: pl.Schema) -> pl.LazyFrame:
    """The schema's columns, in its order and types (parts built by a family's own aggregation)."""
    return frame.select([pl.col(n).cast(t) for n, t in schema.items()])


def rate_part(frame: pl.LazyFrame, metric: str, hit: pl.Expr) -> pl.LazyFrame:
    """One RATE_PARTS row per row of `frame` (the metric's denominator members): numerator 1
    where `hit` is true (null counts as a miss), denominator 1; the contact from the frame's
    first id column of CONTACT_ID_COLUMNS."""
    return as_parts(
        frame.select(
            *_ATTRIBUTION,
            metric=pl.lit(metric),
            contact_id=_contact_id(frame),
            numerator=hit.fill_null(False).cast(pl.Int64),
            denominator=pl.lit(1, dtype=pl.Int64),
        ),
        RATE_PARTS_SCHEMA,
    )


def _contact_id(frame: pl.LazyFrame) -> pl.Expr:
    names = frame.collect_schema().names()
    for column in CONTACT_ID_COLUMNS:
        if column in names:
            return pl.col(column).cast(pl.String)
    raise ValueError(f"rate parts need a contact id column ({', '.join(CONTACT_ID_COLUMNS)}); got {names}")


def measure_part(frame: pl.LazyFrame, measure: str, value: pl.Expr) -> pl.LazyFrame:
    """One MEASURES row per row of `frame` with a non-null `value`."""
    return as_parts(
        frame.select(*_ATTRIBUTION, measure=pl.lit(measure), value=value.cast(pl.Float64)).filter(
            pl.col("value").is_not_null()
        ),
        MEASURES_SCHEMA,
    )


def count_part(frame: pl.LazyFrame, count: str, value: pl.Expr | None = None) -> pl.LazyFrame:
    """One COUNTS row per row of `frame`: `value` (1 per row when not given)."""
    amount = pl.lit(1, dtype=pl.Int64) if value is None else value.cast(pl.Int64)
    return as_parts(frame.select(*_ATTRIBUTION, count=pl.lit(count), value=amount), COUNTS_SCHEMA)
