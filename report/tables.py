"""Reading the published audit tables for the report, through their publish points.

Audit tables are read as each day's latest succeeded run left them
(`warehouse.publication.read_published`): never half of one run and half of another, and a
day no run finished is absent. A table that does not exist yet reads as None, so a day whose
validation failed (no audit tables, only the manifest) still gets a report. The manifest
itself is read whole: every attempt of the day stays on record.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import polars as pl

from catalogue import MANIFEST_TABLE, TABLES
from configs.settings import S3Settings
from transforms.pseudonym import FREE_TEXT_COLUMNS, PERSONAL_COLUMNS
from warehouse.delta import read_table_if_exists
from warehouse.publication import POINT_COLUMNS, PublishPoint, manifest_rows, publish_points, read_published

TREND_DAYS = 28

# Never shown, whatever table they turn up in: a stray customer_id or body cannot be rendered.
NEVER_SHOWN = PERSONAL_COLUMNS | FREE_TEXT_COLUMNS


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
    return column in names if "customer_key" in names else True


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

    @property
    def has_audit_tables(self) -> bool:
        return self.agent_scorecard is not None and self.agent_scorecard.height > 0


def load_audit_day(warehouse_uri: str, audit_date: date, s3: S3Settings | None = None) -> AuditDay:
    """Read the day's partition of every table the report and terminal views use, all against
    the same publish point (a run publishing meanwhile cannot give two tables two runs)."""
    points = publish_points(manifest_rows(warehouse_uri, s3, audit_date, audit_date, POINT_COLUMNS))

    def day(name: str) -> pl.DataFrame | None:
        return visible(read_table(warehouse_uri, name, s3, audit_date, points=points), name)

    return AuditDay(
        audit_date=audit_date,
        agent_scorecard=day("agent_scorecard"),
        team_scorecard=day("team_scorecard"),
        follow_up_audit=day("follow_up_audit"),
        escalation_audit=day("escalation_audit"),
        concession_audit=day("concession_audit"),
        concession_flags=day("concession_flags"),
        run_manifest=day("run_manifest"),
        trend_scorecard=_trend_rows(warehouse_uri, audit_date, s3),
    )


def _trend_rows(warehouse_uri: str, audit_date: date, s3: S3Settings | None) -> pl.DataFrame | None:
    start = audit_date - timedelta(days=TREND_DAYS - 1)
    for name in ("team_scorecard", "agent_scorecard"):
        frame = read_table(warehouse_uri, name, s3, audit_date, since=start)
        if frame is not None:
            return visible(frame, name)
    return None
