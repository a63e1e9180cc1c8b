"""Reading the published audit tables for the report, through their publish points.

Audit tables are read as each day's latest succeeded run left them
(`warehouse.publication.read_published`): never half of one run and half of another, and a
day no run finished is absent. A table that does not exist yet reads as None, so a day whose
validation failed (no audit tables, only the manifest) still gets a report. The manifest
itself is read whole: every attempt of the day stays on record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import polars as pl

from catalogue import MANIFEST_TABLE, TABLES
from configs.settings import S3Settings
from transforms.periods import Period, month_of, rolling_ending, week_of
from transforms.pseudonym import FREE_TEXT_COLUMNS, PERSONAL_COLUMNS
from warehouse.delta import read_table_if_exists, scan_table_if_exists
from warehouse.publication import POINT_COLUMNS, PublishPoint, manifest_rows, publish_points, read_published

TREND_DAYS = 28
PEER_TABLE = "peer_comparison"

# Never shown, whatever table they turn up in: a stray customer_id or body cannot be rendered.
NEVER_SHOWN = PERSONAL_COLUMNS | FREE_TEXT_COLUMNS
# The flag lifecycle: on peer_comparison rows, and joined onto the day's concession flags from
# concession_flag_lifecycle (with_flag_lifecycle).
FLAG_LIFECYCLE = frozenset({"status", "first_flagged_on", "consecutive_days"})


def read_table(
    warehouse_uri: str,
    name: str,
    s3: S3Settings | None,
    audit_date: date | None = None,
    since: date | None = None,
    points: dict[date, PublishPoint] | None = None,
) -> pl.DataFrame | None:
    """One published table, None when it does not exist yet.

    `audit_date` reads that day's partition; `since` with it reads `since .. audit_date`;
    `points` are the publish points to read them against (read here when not given).
    """
    if name == MANIFEST_TABLE:
        return read_table_if_exists(warehouse_uri, name, s3, audit_date, since)
    return read_published(warehouse_uri, name, s3, audit_date, since, points)


def visible(frame: pl.DataFrame | None, name: str) -> pl.DataFrame | None:
    """Keep only the columns a report may show for this table."""
    if frame is None:
        return None
    return frame.select(c for c in frame.columns if c not in NEVER_SHOWN and _may_show(name, c))


def _may_show(table: str, column: str) -> bool:
    """Tables about customers (a customer_key column) show only their published columns;
    scorecards and the manifest hold agents, teams and runs only, so any column but a raw
    personal or free-text one (older manifests spelled some columns differently)."""
    spec = TABLES.get(table)
    names = {c.name for c in spec.columns} if spec else set()
    if "customer_key" not in names:
        return True
    return column in names


@dataclass(frozen=True)
class PeriodRows:
    """The period scorecards' rows of the week, month or rolling 28 days holding the audit day.
    `refreshed` is False when a day of the period was published (or published again) after the
    rows were computed: the rows leave that publication out until the next period refresh."""

    period: Period
    agents: pl.DataFrame | None
    teams: pl.DataFrame | None
    refreshed: bool = True


@dataclass(frozen=True)
class AuditDay:
    """Everything published for one audit day, reduced to what a report may show."""

    audit_date: date
    agent_scorecard: pl.DataFrame | None
    team_scorecard: pl.DataFrame | None
    follow_up_audit: pl.DataFrame | None
    escalation_audit: pl.DataFrame | None
    concession_audit: pl.DataFrame | None
    concession_flags: pl.DataFrame | None
    run_manifest: pl.DataFrame | None
    trend_scorecard: pl.DataFrame | None  # team (else agent) scorecard rows, D-27 .. D
    queue_scorecard: pl.DataFrame | None = None  # queue wait and abandonment per queue and team
    # Read for the HTML pages only (`load_audit_day(..., pages=True)`); the terminal skips them.
    agent_trend: pl.DataFrame | None = None  # agent scorecard rows, D-27 .. D
    periods: dict[str, PeriodRows] = field(default_factory=dict)  # by kind: week, month, rolling_28d
    peer_comparison: pl.DataFrame | None = None  # the rolling 28 days ending on the day
    # Concession flags held the day before and not on this day (their lifecycle rows).
    cleared_concession_flags: pl.DataFrame | None = None

    @property
    def has_audit_tables(self) -> bool:
        return self.agent_scorecard is not None and self.agent_scorecard.height > 0


def load_audit_day(
    warehouse_uri: str, audit_date: date, s3: S3Settings | None = None, *, pages: bool = False
) -> AuditDay:
    """Read the day's partition of every table the report and terminal views use, all against
    the same publish point (a run publishing meanwhile cannot give two tables two runs).
    `pages` also reads what only the HTML pages show: the agents' 28-day trend, the period
    scorecards and the peer comparison (the terminal views need none of them)."""
    points = publish_points(manifest_rows(warehouse_uri, s3, audit_date, audit_date, POINT_COLUMNS))

    def day(name: str) -> pl.DataFrame | None:
        return visible(read_table(warehouse_uri, name, s3, audit_date, points=points), name)

    lifecycle = read_table_if_exists(warehouse_uri, LIFECYCLE_TABLE, s3, audit_date)

    return AuditDay(
        audit_date=audit_date,
        agent_scorecard=day("agent_scorecard"),
        team_scorecard=day("team_scorecard"),
        follow_up_audit=day("follow_up_audit"),
        escalation_audit=day("escalation_audit"),
        concession_audit=day("concession_audit"),
        concession_flags=with_flag_lifecycle(day("concession_flags"), lifecycle),
        cleared_concession_flags=None
        if lifecycle is None
        else lifecycle.filter(pl.col("status") == "cleared"),
        run_manifest=day("run_manifest"),
        trend_scorecard=_trend_rows(warehouse_uri, audit_date, s3),
        queue_scorecard=day("queue_scorecard"),
        **(_page_tables(warehouse_uri, audit_date, s3) if pages else {}),
    )


LIFECYCLE_TABLE = "concession_flag_lifecycle"
FLAG_KEY = ["audit_date", "flag_type", "subject_type", "subject_id"]


def with_flag_lifecycle(flags: pl.DataFrame | None, lifecycle: pl.DataFrame | None) -> pl.DataFrame | None:
    """The day's concession flags with their lifecycle (status, first_flagged_on,
    consecutive_days) from the day's rows of `concession_flag_lifecycle`, which the refresh after
    each run keeps; null where it has not been computed yet."""
    if flags is None:
        return None
    if lifecycle is None or lifecycle.is_empty():
        return flags
    columns = [*FLAG_KEY, *sorted(FLAG_LIFECYCLE)]
    return flags.drop(FLAG_LIFECYCLE, strict=False).join(
        lifecycle.select(columns), on=FLAG_KEY, how="left", nulls_equal=True
    )


def _page_tables(warehouse_uri: str, audit_date: date, s3: S3Settings | None) -> dict[str, Any]:
    start = audit_date - timedelta(days=TREND_DAYS - 1)
    return {
        "agent_trend": visible(
            read_table(warehouse_uri, "agent_scorecard", s3, audit_date, since=start), "agent_scorecard"
        ),
        "periods": period_rows(warehouse_uri, audit_date, s3),
        "peer_comparison": peer_rows(warehouse_uri, audit_date, s3),
    }


def periods_of(audit_date: date) -> list[Period]:
    """The periods a day's report shows: its ISO week, its month and the 28 days ending on it."""
    return [week_of(audit_date), month_of(audit_date), rolling_ending(audit_date)]


def period_rows(warehouse_uri: str, audit_date: date, s3: S3Settings | None) -> dict[str, PeriodRows]:
    """Each period's agent and team rows as the last refresh published them (None: not refreshed
    yet, e.g. a table older than the period scorecards)."""
    tables = {
        name: scan_table_if_exists(warehouse_uri, name, s3)
        for name in ("agent_period_scorecard", "team_period_scorecard")
    }
    periods = periods_of(audit_date)

    def rows(name: str, period: Period) -> pl.DataFrame | None:
        scan = tables[name]
        if scan is None:
            return None
        wanted = (pl.col("period") == period.kind) & (pl.col("period_start") == period.start)
        return visible(scan.filter(wanted).collect(), name)

    found = {p: (rows("agent_period_scorecard", p), rows("team_period_scorecard", p)) for p in periods}
    digests = {p: row_digests(frames) for p, frames in found.items()}
    points: dict[date, PublishPoint] = {}
    if any(digests.values()):
        first, last = min(p.start for p in periods), max(p.end for p in periods)
        points = publish_points(manifest_rows(warehouse_uri, s3, first, last, POINT_COLUMNS))
    return {p.kind: PeriodRows(p, *found[p], refreshed=refreshed(p, digests[p], points)) for p in periods}


def row_digests(frames: tuple[pl.DataFrame | None, ...]) -> set[str]:
    """The `source_digest` values of a period's rows (none in tables older than the column)."""
    return {
        digest
        for frame in frames
        if frame is not None and "source_digest" in frame.columns
        for digest in frame["source_digest"].drop_nulls().unique()
    }


def refreshed(period: Period, stored: set[str], points: dict[date, PublishPoint]) -> bool:
    """Whether the period's rows were computed from the publications its days have now: their
    `source_digest` is the digest of the days' publish points (warehouse.periods), so a day
    published after the last refresh changes it. Rows without a digest are taken as they are."""
    from warehouse.periods import source_digest

    return not stored or stored == {source_digest(period, points)}


def peer_rows(warehouse_uri: str, audit_date: date, s3: S3Settings | None) -> pl.DataFrame | None:
    """The peer comparison over the rolling 28 days ending on the audit day."""
    scan = scan_table_if_exists(warehouse_uri, PEER_TABLE, s3)
    if scan is None:
        return None
    wanted = (pl.col("period") == "rolling_28d") & (pl.col("period_end") == audit_date)
    return visible(scan.filter(wanted).collect(), PEER_TABLE)


def _trend_rows(warehouse_uri: str, audit_date: date, s3: S3Settings | None) -> pl.DataFrame | None:
    start = audit_date - timedelta(days=TREND_DAYS - 1)
    for name in ("team_scorecard", "agent_scorecard"):
        frame = read_table(warehouse_uri, name, s3, audit_date, since=start)
        if frame is not None:
            return visible(frame, name)
    return None
