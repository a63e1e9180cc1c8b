"""Integrity of the golden run, in the spirit of dbt_zendesk's `metrics_count_match`.

Every contact closed on D is counted once in the scorecards, every eligible follow-up contact
has one evidence row, the scorecards agree with their evidence, team roll-ups are sums of their
agents, and every ingested row is accounted for. Contacts closed on D are re-derived here from
the canonical frames with the documented rules (docs/metrics.md), not with transforms/contacts.
"""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from golden_pipeline import GoldenRun, audit_days

from configs.policy import load_policy

# The golden run is a session fixture: one worker builds it once and runs every test that reads it.
pytestmark = pytest.mark.xdist_group("golden")

DAYS = audit_days(load_policy())
# abandonment's parts have no agent (abandoned calls): they reach the team scorecard only.
TEAM_ONLY_METRICS = {"abandonment"}
TEAM_SUMMED_COUNTS = ("contacts", "tickets_solved", "calls_answered", "policy_violations")


def local_day(column: str, run: GoldenRun) -> pl.Expr:
    return pl.col(column).dt.convert_time_zone(run.policy.business_time_zone).dt.date()


def closed_on(run: GoldenRun, day: date) -> pl.DataFrame:
    """Contacts closed on D: tickets whose first move to solved is on D, answered calls ending on D."""
    events = run.ingested["ticket_events"].canonical.collect()
    first_solve = (
        events.filter((pl.col("event_type") == "status_change") & (pl.col("new_status") == "solved"))
        .group_by("ticket_id")
        .agg(pl.col("occurred_at").min().alias("closed_at"))
    )
    tickets = first_solve.join(
        run.ingested["tickets"].canonical.collect().select("ticket_id", "priority", "category"),
        on="ticket_id",
    ).select(
        pl.col("ticket_id").alias("contact_id"),
        pl.lit("ticket").alias("contact_type"),
        "closed_at",
        pl.lit(None, dtype=pl.String).alias("outcome"),
    )
    calls = (
        run.ingested["calls"]
        .canonical.collect()
        .filter(pl.col("answered_at").is_not_null())
        .select(
            pl.col("call_id").alias("contact_id"),
            pl.lit("call").alias("contact_type"),
            pl.col("ended_at").alias("closed_at"),
            "outcome",
        )
    )
    return pl.concat([tickets, calls]).filter(local_day("closed_at", run) == day)


@pytest.mark.parametrize("day", DAYS, ids=str)
def test_every_contact_closed_on_the_day_is_counted_once(run: GoldenRun, day: date) -> None:
    closed = closed_on(run, day)
    agents = run.tables[day]["agent_scorecard"]
    teams = run.tables[day]["team_scorecard"]
    assert closed.height > 100
    assert agents["contacts"].sum() == closed.height  # every solved ticket / answered call has an agent
    assert teams["contacts"].sum() == closed.height
    assert agents["tickets_solved"].sum() == closed.filter(pl.col("contact_type") == "ticket").height
    assert agents["calls_answered"].sum() == closed.filter(pl.col("contact_type") == "call").height


@pytest.mark.parametrize("day", DAYS, ids=str)
def test_every_eligible_follow_up_contact_has_one_evidence_row(run: GoldenRun, day: date) -> None:
    """Default policy (all categories): every ticket closed on D, and calls that ended resolved or
    with a callback promised."""
    assert run.policy.follow_up.categories == "all"
    closed = closed_on(run, day)
    eligible = closed.filter(
        (pl.col("contact_type") == "ticket") | pl.col("outcome").is_in(["resolved", "callback_promised"])
    )
    evidence = run.tables[day]["follow_up_audit"]
    assert evidence["contact_id"].is_unique().all()
    assert sorted(evidence["contact_id"]) == sorted(eligible["contact_id"])
    assert (evidence["audit_date"] == day).all()


@pytest.mark.parametrize("day", DAYS, ids=str)
def test_scorecard_follow_up_and_missed_escalations_match_their_evidence(run: GoldenRun, day: date) -> None:
    tables = run.tables[day]
    follow_up = (
        tables["follow_up_audit"]
        .group_by("agent_id")
        .agg(
            (pl.col("status") == "met").sum().cast(pl.Int64).alias("follow_up_numerator"),
            pl.col("status").is_in(["met", "missed"]).sum().cast(pl.Int64).alias("follow_up_denominator"),
        )
    )
    missed = (
        tables["escalation_audit"]
        .group_by("agent_id")
        .agg(
            (pl.col("escalation_class") == "missed").sum().cast(pl.Int64).alias("missed_escalation_numerator")
        )
    )
    card = tables["agent_scorecard"].select(
        "agent_id", "follow_up_numerator", "follow_up_denominator", "missed_escalation_numerator"
    )
    expected = (
        card.select("agent_id")
        .join(follow_up, on="agent_id", how="left")
        .join(missed, on="agent_id", how="left")
        .fill_null(0)
    )
    assert card.sort("agent_id").to_dicts() == expected.select(card.columns).sort("agent_id").to_dicts()


@pytest.mark.parametrize("day", DAYS, ids=str)
def test_team_scorecards_are_sums_of_their_agents(run: GoldenRun, day: date) -> None:
    agents = run.tables[day]["agent_scorecard"]
    teams = run.tables[day]["team_scorecard"]
    parts = [c for c in teams.columns if c.endswith(("_numerator", "_denominator"))]
    summed = [c for c in parts if c.rsplit("_", 1)[0] not in TEAM_ONLY_METRICS] + list(TEAM_SUMMED_COUNTS)
    assert len(summed) >= 20
    rolled = agents.group_by("team_id").agg(pl.col(summed).sum()).sort("team_id")
    team_rows = teams.select("team_id", *summed).sort("team_id")
    assert rolled.cast(team_rows.schema).to_dicts() == team_rows.to_dicts()


def test_every_ingested_row_is_accounted_for(run: GoldenRun) -> None:
    """rows read = accepted + quarantined + duplicate for every file; a rejected file quarantines
    all it read; canonical rows are the kept (accepted, not superseded) rows."""
    for result in run.ingested.values():
        files = result.files
        total = pl.col("rows_accepted") + pl.col("rows_quarantined") + pl.col("rows_duplicate")
        assert files.filter(pl.col("rows_read") != total).is_empty(), result.entity
        kept = int(files["rows_accepted"].sum()) - int(files["rows_superseded"].sum())
        assert result.canonical.collect().height == kept, result.entity


@pytest.mark.parametrize("day", DAYS)
def test_each_tables_documented_key_holds_and_only_where_it_is_declared_unique(
    run: GoldenRun, day: date
) -> None:
    """docs/outputs.md calls a table's key unique unless the catalogue says otherwise; a reader
    de-duplicating on a key that is not one loses rows (metric_observations holds equal
    observations: it is declared `unique=False`)."""
    from catalogue import TABLES

    checked = 0
    for name, frame in run.tables[day].items():
        table = TABLES.get(name)
        key = [c for c in table.key if c in frame.columns] if table else []
        if not key or frame.is_empty():
            continue
        repeated = frame.select(key).is_duplicated().any()
        assert repeated != table.unique, f"{name}: key {key} {'repeats' if repeated else 'never repeats'}"
        checked += 1
    assert checked >= 8
