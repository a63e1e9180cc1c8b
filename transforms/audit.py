"""One audit day, end to end in Polars: canonical tables in, every audit table out.

The order reads like the metric definitions: the day's scope (contact universe) first, then
each metric family of the catalogue, then the scorecards that sum their parts. Pure: the flow
(flows/daily.py) and the benchmark (bench/) both call `run_audit`.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

import catalogue
from configs.policy import Policy
from transforms.contacts import AuditWindow
from transforms.parts import FamilyResult
from transforms.scope import CanonicalTables, day_scope
from transforms.scorecards import build_scorecards, metric_observations

__all__ = ["CanonicalTables", "collect_audit", "run_audit"]


def run_audit(
    inputs: CanonicalTables,
    window: AuditWindow,
    policy: Policy,
    withheld: Mapping[str, str] | None = None,
) -> dict[str, pl.LazyFrame]:
    """Every metric table for `window.audit_date`, keyed by published table name (catalogue order).

    Evidence tables still carry `customer_id`; publishing pseudonymises it. Each family gets only
    the rows it can use (`transforms.scope.day_scope`), so a day does not attribute the whole history.
    `withheld` names the metrics the inputs cannot support (a vendor mapping's gaps) and why: the
    scorecards publish them as null with the reason.
    """
    scope = day_scope(inputs, window, policy)
    # Each family is computed as soon as it is built: its tables and its scorecard parts share one
    # plan, and the scorecards read the parts again (see `_computed`).
    results = [
        _computed(getattr(module, f"audit_{name}")(scope, window, policy))
        for name, module in catalogue.FAMILIES.items()
    ]
    agent_scorecard, team_scorecard = build_scorecards(
        rate_parts=[r.rate_parts for r in results],
        measures=[r.measures for r in results],
        counts=[r.counts for r in results],
        contacts=scope.contacts,
        audit_date=window.audit_date,
        min_volume=policy.min_volume,
        withheld=withheld,
    )
    observations = metric_observations(
        [r.rate_parts for r in results], [r.measures for r in results], window.audit_date, withheld
    )
    tables = {
        "agent_scorecard": agent_scorecard,
        "team_scorecard": team_scorecard,
        "metric_observations": observations,
    }
    for result in results:
        tables.update(result.tables)
    if set(tables) != set(catalogue.METRIC_TABLES):
        raise ValueError(
            f"families computed {sorted(tables)}, the catalogue publishes {catalogue.METRIC_TABLES}"
        )
    return {name: tables[name] for name in catalogue.METRIC_TABLES}


def _computed(result: FamilyResult) -> FamilyResult:
    """A family's frames computed in one pass and handed on in memory.

    A family's evidence and its scorecard parts share most of their plan; collecting them together
    computes it once, where one collect of every table and scorecard rebuilt parts of it per output
    (bench: 15 s -> 11 s for the audit day).
    """
    frames = result.frames()
    collected = pl.collect_all(list(frames.values()))
    return FamilyResult.from_frames(
        {name: frame.lazy() for name, frame in zip(frames, collected, strict=True)}
    )


def collect_audit(tables: dict[str, pl.LazyFrame]) -> dict[str, pl.DataFrame]:
    """Collect every table in one pass so shared sub-plans (contacts) are computed once."""
    names = list(tables)
    return dict(zip(names, pl.collect_all([tables[n] for n in names]), strict=True))
