"""The `agents` and `teams` dimension tables: who appears in the exports, in which team and role.

A BI user joins the scorecards, the evidence and the peer comparison to these on `agent_id` or
`team_id`. They are computed from the canonical store (every ingested export, audited or not),
so every id a published table names is in them.

An agent *appears* wherever the exports name them as a person doing support work:
- a ticket event they acted in as `agent` or `supervisor` (`actor_id`, the role is the event's);
- an assignment event that gave them a ticket (`assignee_id`, with the assignment's team);
- a concession they approved, on a ticket or a call (`approved_by`: a supervisor);
- a ticket assigned to them (`assignee_id` and the ticket's team, at its `updated_at`);
- a call they handled (`agent_id` and the call's team).

`team_id` is the agent's team now, by the rule every metric attributes teams by
(transforms/contacts.py `with_agent_team`): the team of their latest assignment with a team,
else the team on their latest ticket or call. `role` is the `actor_role` of the latest ticket
event they acted in (`agent` or `supervisor`); `supervisor` for someone who only ever approved
concessions (an agent approving their own concession, a policy violation, stays an agent);
`agent` for someone who only handled calls or held tickets. Days are UTC days of the record's
own time.
"""

from __future__ import annotations

import polars as pl

from transforms.scope import CanonicalTables

ROLES = ("agent", "supervisor")

# One row per person, team, role and source of appearances (see the module docstring): when that
# source first and last named them so. `rank` 1 marks the authoritative source: an assignment for
# a team (the roster wins over a ticket's or a call's own team) and an event's actor_role for a
# role (over an approval).
APPEARANCE_SCHEMA = pl.Schema(
    {
        "agent_id": pl.String(),
        "team_id": pl.String(),
        "role": pl.String(),
        "first_at": pl.Datetime("us", "UTC"),
        "last_at": pl.Datetime("us", "UTC"),
        "rank": pl.Int8(),
    }
)

AGENTS_SCHEMA = pl.Schema(
    {
        "agent_id": pl.String(),
        "team_id": pl.String(),
        "role": pl.String(),
        "first_seen_on": pl.Date(),
        "last_seen_on": pl.Date(),
    }
)

TEAMS_SCHEMA = pl.Schema(
    {
        "team_id": pl.String(),
        "first_seen_on": pl.Date(),
        "last_seen_on": pl.Date(),
        "agents": pl.Int64(),
        "supervisors": pl.Int64(),
    }
)


def _seen(
    frame: pl.LazyFrame, who: str, at: str, *, team: str | None, role: pl.Expr, rank: int
) -> pl.LazyFrame:
    """One source's appearances reduced to one row per person, team and role (APPEARANCE_SCHEMA):
    reduced where the millions of rows are, with nothing but a min and a max, so only a few rows
    per person are left to combine."""
    return (
        frame.filter(pl.col(who).is_not_null())
        .select(
            pl.col(who).alias("agent_id"),
            (pl.col(team) if team else pl.lit(None, pl.String)).alias("team_id"),
            role.cast(pl.String).alias("role"),
            pl.col(at).alias("at"),
        )
        .group_by("agent_id", "team_id", "role")
        .agg(pl.col("at").min().alias("first_at"), pl.col("at").max().alias("last_at"))
        .with_columns(pl.lit(rank, pl.Int8).alias("rank"))
        .select(APPEARANCE_SCHEMA.names())
    )


def appearances(tables: CanonicalTables) -> pl.LazyFrame:
    """Every source naming a support person, summarised per person and source (APPEARANCE_SCHEMA)."""
    events = tables.ticket_events
    acted = events.filter(pl.col("actor_role").is_in(ROLES))
    assigned = events.filter(pl.col("event_type") == "assignment")
    approved = events.filter(pl.col("event_type") == "concession")
    call_approved = tables.calls.filter(pl.col("concession_type").is_not_null())
    none = pl.lit(None, pl.String)
    return pl.concat(
        [
            _seen(acted, "actor_id", "occurred_at", team=None, role=pl.col("actor_role"), rank=1),
            _seen(assigned, "assignee_id", "occurred_at", team="team_id", role=none, rank=1),
            _seen(approved, "approved_by", "occurred_at", team=None, role=pl.lit("supervisor"), rank=0),
            _seen(tables.tickets, "assignee_id", "updated_at", team="team_id", role=none, rank=0),
            _seen(tables.calls, "agent_id", "initiated_at", team="team_id", role=none, rank=0),
            _seen(call_approved, "approved_by", "ended_at", team=None, role=pl.lit("supervisor"), rank=0),
        ],
        how="vertical",
    )


def _last_by(value: str, *keys: str) -> pl.Expr:
    """The `value` of the row that is greatest by `keys` then by the value itself, among rows
    that have one (a handful of rows per person: a sort is cheap here)."""
    known = pl.col(value).is_not_null()
    return (
        pl.col(value)
        .filter(known)
        .sort_by([*(pl.col(k).filter(known) for k in keys), pl.col(value).filter(known)])
        .last()
    )


def agents(seen: pl.LazyFrame) -> pl.LazyFrame:
    """One row per agent (AGENTS_SCHEMA): their team and role now, their first and last day seen."""
    return (
        seen.group_by("agent_id")
        .agg(
            _last_by("team_id", "rank", "last_at"),
            _last_by("role", "rank", "last_at").fill_null("agent"),
            pl.col("first_at").min().dt.date().alias("first_seen_on"),
            pl.col("last_at").max().dt.date().alias("last_seen_on"),
        )
        .select(AGENTS_SCHEMA.names())
        .cast(AGENTS_SCHEMA)
        .sort("agent_id")
    )


def team_mentions(tables: CanonicalTables) -> pl.LazyFrame:
    """Per team: the first and last time an assignment, a ticket or a call named it, whoever
    (if anyone) handled it: a team with only abandoned calls has a team scorecard too."""
    named = [
        frame.filter(pl.col("team_id").is_not_null()).select("team_id", pl.col(at).alias("at"))
        for frame, at in (
            (tables.ticket_events.filter(pl.col("event_type") == "assignment"), "occurred_at"),
            (tables.tickets, "updated_at"),
            (tables.calls, "initiated_at"),
        )
    ]
    return (
        pl.concat(named, how="vertical")
        .group_by("team_id")
        .agg(pl.col("at").min().alias("first_at"), pl.col("at").max().alias("last_at"))
    )


def teams(mentions: pl.LazyFrame, agent_rows: pl.LazyFrame) -> pl.LazyFrame:
    """One row per team (TEAMS_SCHEMA): the days of its `team_mentions`, and how many agents and
    supervisors it has now (those whose current team it is, by `agents`)."""
    members = (
        agent_rows.filter(pl.col("team_id").is_not_null())
        .group_by("team_id")
        .agg(
            (pl.col("role") == "agent").sum().alias("agents"),
            (pl.col("role") == "supervisor").sum().alias("supervisors"),
        )
    )
    return (
        mentions.join(members, on="team_id", how="left")
        .with_columns(
            pl.col("first_at").dt.date().alias("first_seen_on"),
            pl.col("last_at").dt.date().alias("last_seen_on"),
            pl.col("agents", "supervisors").fill_null(0),
        )
        .select(TEAMS_SCHEMA.names())
        .cast(TEAMS_SCHEMA)
        .sort("team_id")
    )


def dimensions(seen: pl.LazyFrame, mentions: pl.LazyFrame) -> dict[str, pl.LazyFrame]:
    """The `agents` and `teams` tables from the `appearances` and the `team_mentions` (collect
    those first: they are small, and the agents are read twice)."""
    agent_rows = agents(seen)
    return {"agents": agent_rows, "teams": teams(mentions, agent_rows)}


__all__ = [
    "AGENTS_SCHEMA",
    "APPEARANCE_SCHEMA",
    "ROLES",
    "TEAMS_SCHEMA",
    "agents",
    "appearances",
    "dimensions",
    "teams",
]
