"""Reading the published audit tables for the report: the one place the report touches Delta.

Tables live at `<warehouse_uri>/<table>` as flows/publish.py writes them. The report
reads them itself rather than through `flows.publish.read_table`, whose module loads
Great Expectations (seconds of start-up for `audit report`). A table that does not
exist yet reads as None, so a day whose validation failed (no audit tables, only the
manifest) still gets a report.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import polars as pl
from deltalake.exceptions import TableNotFoundError

from configs.settings import S3Settings
from flows.storage import is_s3

TREND_DAYS = 28

# Columns a report may show from each evidence table; anything else (a stray raw
# customer_id, free text) is dropped at the boundary so it can never be rendered.
EVIDENCE_COLUMNS: dict[str, tuple[str, ...]] = {
    "follow_up_audit": (
        "audit_date",
        "run_id",
        "contact_id",
        "contact_type",
        "agent_id",
        "team_id",
        "customer_key",
        "status",
        "follow_up_id",
        "hours_to_follow_up",
        "customer_came_back_first",
    ),
    "escalation_audit": (
        "audit_date",
        "run_id",
        "contact_id",
        "contact_type",
        "agent_id",
        "team_id",
        "signals",
        "escalation_class",
        "started_negative",
        "de_escalated",
        "lost_control",
        "argumentative",
    ),
    "concession_audit": (
        "audit_date",
        "run_id",
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
        "policy_version",
    ),
    "concession_flags": (
        "audit_date",
        "run_id",
        "flag_type",
        "subject_type",
        "subject_id",
        "observed",
        "expected",
        "statistic",
        "p_value",
        "q_value",
        "threshold",
        "evidence_ids",
        "window_start",
        "window_end",
    ),
}

# Scorecards hold agents and teams only, so they keep their extra columns (more
# measures); these names are never shown whatever table they turn up in.
PERSONAL_COLUMNS = frozenset({"customer_id", "subject", "body"})


def delta_storage_options(uri: str, s3: S3Settings | None) -> dict[str, str] | None:
    """object_store options for an S3 warehouse (credentials come from the environment)."""
    if not is_s3(uri):
        return None
    s3 = s3 or S3Settings.model_validate({})
    options = {"AWS_REGION": s3.region, "AWS_MAX_RETRIES": str(s3.max_attempts)}
    if s3.endpoint_url:
        options["AWS_ENDPOINT_URL"] = s3.endpoint_url
        options["AWS_ALLOW_HTTP"] = str(s3.endpoint_url.startswith("http://")).lower()
    return options


def read_table(
    warehouse_uri: str,
    name: str,
    s3: S3Settings | None,
    audit_date: date | None = None,
    since: date | None = None,
) -> pl.DataFrame | None:
    """One published table, None when it does not exist yet.

    `audit_date` reads that day's partition; `since` with it reads `since .. audit_date`.
    """
    uri = f"{warehouse_uri.rstrip('/')}/{name}"
    frame = pl.scan_delta(uri, storage_options=delta_storage_options(uri, s3))
    if audit_date is not None:
        frame = frame.filter(pl.col("audit_date").is_between(since or audit_date, audit_date))
    try:
        return frame.collect()
    except (FileNotFoundError, TableNotFoundError):
        return None


def visible(frame: pl.DataFrame | None, name: str) -> pl.DataFrame | None:
    """Keep only the columns a report may show for this table."""
    if frame is None:
        return None
    allowed = EVIDENCE_COLUMNS.get(name)
    keep = [c for c in frame.columns if (c in allowed if allowed else c not in PERSONAL_COLUMNS)]
    return frame.select(keep)


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
    """Read the day's partition of every table the report and terminal views use."""

    def day(name: str) -> pl.DataFrame | None:
        return visible(read_table(warehouse_uri, name, s3, audit_date), name)

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
