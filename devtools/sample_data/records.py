"""From coded frames to contract rows: ids, enum names, UTC timestamps, ticket and call versions.

The output of every `*_records` function has exactly the contract columns of its entity
(transforms/schemas), typed as the canonical schema, timestamps `Datetime("us", "UTC")`.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from devtools.sample_data.arrivals import DAY
from devtools.sample_data.calls import DIRECTIONS, OUTCOMES
from devtools.sample_data.config import CATEGORIES, CHANNELS, PRIORITIES, TIERS
from devtools.sample_data.population import Population
from devtools.sample_data.tickets import BODIES, KIND, ROLE, STATUS, event_order
from transforms.schemas import CALLS, TICKET_EVENTS, TICKETS
from transforms.schemas.base import STATUSES, TIMESTAMP
from transforms.schemas.ticket_events import EVENT_TYPES

SUBJECTS = (
    "Question about my bill",
    "Service is down",
    "Device not working",
    "Cannot log in to my account",
    "Where is my parcel?",
    "General question",
)


def prefixed(column: str, prefix: str, width: int, offset: int = 0) -> pl.Expr:
    """`<prefix><zero-padded number>`, null when the code is null."""
    return pl.concat_str([pl.lit(prefix), (pl.col(column) + offset).cast(pl.String).str.zfill(width)])


def agent(column: str) -> pl.Expr:
    return prefixed(column, "agent-", 4)


def supervisor(column: str) -> pl.Expr:
    return prefixed(column, "sup-", 2)


def customer(column: str) -> pl.Expr:
    return prefixed(column, "cust-", 7)


def ticket_id(column: str) -> pl.Expr:
    return prefixed(column, "T-", 8, offset=1)


def event_id(column: str) -> pl.Expr:
    return prefixed(column, "E-", 10, offset=1)


def call_id(column: str) -> pl.Expr:
    return prefixed(column, "C-", 8, offset=1)


def timestamp(column: str) -> pl.Expr:
    return pl.from_epoch(pl.col(column), time_unit="s").dt.replace_time_zone("UTC").cast(TIMESTAMP)


def name(column: str, names: tuple[str, ...]) -> pl.Expr:
    """Enum code -> its name (null stays null)."""
    return pl.col(column).replace_strict(dict(enumerate(names)), default=None, return_dtype=pl.String)


def number_events(events: pl.DataFrame, cutoff: int, start: int) -> pl.DataFrame:
    """Events exported by the cutoff, numbered in time order, with their export `day`.

    `events` is in (ticket, at, step) order and stays so.
    """
    exported = events.filter(pl.col("at") < cutoff)
    key = event_order(exported, "at", "ticket")
    chronological = pl.struct(key).rank("ordinal") if isinstance(key, list) else key.rank("ordinal")
    return exported.with_columns(
        event_no=(chronological - 1).cast(pl.Int64),
        day=((pl.col("at") - start) // DAY).cast(pl.Int32),
    )


def _fill_within_ticket(column: pl.Expr, sentinel: int) -> pl.Expr:
    """Forward fill inside each ticket's run of rows (the frame is sorted by ticket): a sentinel
    on each run's first row stops values leaking from the previous ticket."""
    first = (pl.col("ticket") != pl.col("ticket").shift(1)).fill_null(True)
    filled = pl.when(first & column.is_null()).then(pl.lit(sentinel)).otherwise(column).forward_fill()
    return pl.when(filled != sentinel).then(filled)


def ticket_versions(events: pl.DataFrame) -> pl.DataFrame:
    """One ticket row per (ticket, export day): the state after the day's last change."""
    solved = STATUS["solved"]
    state = events.with_columns(
        solved_at=_fill_within_ticket(pl.when(pl.col("status") == solved).then(pl.col("at")), -1),
        status=_fill_within_ticket(pl.col("status"), -1),
        assignee=_fill_within_ticket(pl.col("assignee"), -1),
        csat=_fill_within_ticket(pl.col("csat"), -1),
    )
    last_of_day = (pl.col("ticket") != pl.col("ticket").shift(-1)) | (
        pl.col("day") != pl.col("day").shift(-1)
    )
    return state.filter(last_of_day.fill_null(True)).select(
        "ticket",
        "day",
        pl.col("at").alias("updated"),
        "status",
        pl.when(pl.col("status").is_in([solved, STATUS["closed"]])).then(pl.col("solved_at")).alias("solved"),
        "assignee",
        "csat",
    )


def team_expr(code: pl.Expr) -> pl.Expr:
    """Team id from a team code; an agent's team is `agent % n_teams` (dealt round-robin)."""
    return pl.concat_str([pl.lit("team-"), code.cast(pl.String).str.zfill(2)])


def ticket_records(versions: pl.DataFrame, plan: pl.DataFrame, pop: Population) -> pl.DataFrame:
    """Contract `tickets` rows for some ticket versions."""
    static = plan.select("ticket", "customer", "created", "channel", "category", "priority")
    frame = versions.join(static, on="ticket", how="left", maintain_order="left")
    frame = frame.with_columns(tier=pl.Series(pop.customer_tier[frame["customer"].to_numpy()]))
    return frame.select(
        ticket_id("ticket").alias("ticket_id"),
        customer("customer").alias("customer_id"),
        timestamp("created").alias("created_at"),
        timestamp("updated").alias("updated_at"),
        name("status", STATUSES).alias("status"),
        timestamp("solved").alias("solved_at"),
        name("channel", CHANNELS).alias("channel"),
        name("category", CATEGORIES).alias("category"),
        # One normal-priority ticket in 20 leaves the optional priority out (default normal).
        pl.when((pl.col("priority") != PRIORITIES.index("normal")) | (pl.col("ticket") % 20 != 0))
        .then(name("priority", PRIORITIES))
        .alias("priority"),
        agent("assignee").alias("assignee_id"),
        team_expr(pl.col("assignee") % pop.n_teams).alias("team_id"),
        name("tier", TIERS).alias("customer_tier"),
        pl.col("csat").cast(pl.Int64).alias("csat_score"),
        name("category", SUBJECTS).alias("subject"),
    ).cast(TICKETS.polars_schema)


def event_records(
    events: pl.DataFrame, plan: pl.DataFrame, table: pl.DataFrame, pop: Population
) -> pl.DataFrame:
    """Contract `ticket_events` rows for some coded events (the internal survey rows are dropped)."""
    terms = table.filter(pl.col("contact_type") == "ticket").select(
        pl.col("index").alias("ticket"),
        pl.lit(KIND["concession"], dtype=pl.Int8).alias("kind"),
        "concession_type",
        "concession_amount",
        "currency",
        "approved_by",
        "reason_code",
    )
    frame = (
        events.filter(pl.col("kind") != KIND["survey"])
        .join(plan.select("ticket", "customer", "asked"), on="ticket", how="left", maintain_order="left")
        .join(terms, on=["ticket", "kind"], how="left", maintain_order="left")
    )
    role = pl.col("role")
    return frame.select(
        event_id("event_no").alias("event_id"),
        ticket_id("ticket").alias("ticket_id"),
        timestamp("at").alias("occurred_at"),
        name("kind", EVENT_TYPES).alias("event_type"),
        name("role", tuple(ROLE)).alias("actor_role"),
        pl.when(role == ROLE["agent"])
        .then(agent("actor"))
        .when(role == ROLE["supervisor"])
        .then(supervisor("actor"))
        .when(role == ROLE["customer"])
        .then(customer("customer"))
        .alias("actor_id"),
        "public",
        name("status", STATUSES).alias("new_status"),
        agent("assignee").alias("assignee_id"),
        team_expr(pl.col("assignee") % pop.n_teams).alias("team_id"),
        pl.col("level").cast(pl.Int64).alias("escalation_level"),
        "concession_type",
        "concession_amount",
        "currency",
        "approved_by",
        pl.when(pl.col("kind") != KIND["escalation"])
        .then(pl.col("reason_code"))
        .when(pl.col("asked"))
        .then(pl.lit("customer_request"))
        .otherwise(pl.lit("urgent_priority"))
        .alias("reason_code"),
        name("body", BODIES).alias("body"),
    ).cast(TICKET_EVENTS.polars_schema)


def number_calls(legs: pl.DataFrame, cutoff: int) -> pl.DataFrame:
    """Legs that started by the cutoff, numbered by start time, with the previous leg's number."""
    numbered = legs.filter(pl.col("initiated") < cutoff).sort("initiated", "leg").with_row_index("call_no")
    previous = numbered.select(pl.col("leg").alias("prev_leg"), pl.col("call_no").alias("prev_call_no"))
    return numbered.join(previous, on="prev_leg", how="left", maintain_order="left")


def call_versions(calls: pl.DataFrame, revision_share: float, rng: np.random.Generator) -> pl.DataFrame:
    """A row per call version: exported shortly after it ends; some again when analytics complete.

    A revised call's first version has no sentiment yet (post-call analytics pending).
    """
    n = calls.height
    first = calls["ended"].to_numpy() + rng.integers(60, 1200, n)
    revised = rng.random(n) < revision_share
    later = first + rng.integers(3600, 30 * 3600, n)
    base = calls.with_columns(updated=pl.Series(first, dtype=pl.Int64))
    early = base.filter(pl.Series(revised)).with_columns(
        pl.lit(None, dtype=pl.Float64).alias("sentiment_start"),
        pl.lit(None, dtype=pl.Float64).alias("sentiment_end"),
    )
    final = base.with_columns(updated=pl.Series(np.where(revised, later, first), dtype=pl.Int64))
    return pl.concat([early, final]).sort("updated", "call_no")


def call_records(versions: pl.DataFrame, table: pl.DataFrame, pop: Population) -> pl.DataFrame:
    """Contract `calls` rows for some call versions."""
    terms = table.filter(pl.col("contact_type") == "call").select(
        pl.col("index").alias("leg"), "concession_type", "concession_amount", "currency", "approved_by"
    )
    frame = versions.join(terms, on="leg", how="left", maintain_order="left")
    agent_initiated = pl.col("direction").is_in([DIRECTIONS.index("outbound"), DIRECTIONS.index("callback")])
    return frame.select(
        call_id("call_no").alias("call_id"),
        customer("customer").alias("customer_id"),
        timestamp("updated").alias("updated_at"),
        name("direction", DIRECTIONS).alias("direction"),
        timestamp("initiated").alias("initiated_at"),
        timestamp("answered").alias("answered_at"),
        timestamp("ended").alias("ended_at"),
        agent("agent").alias("agent_id"),
        team_expr(pl.col("agent") % pop.n_teams).alias("team_id"),
        pl.when(agent_initiated)
        .then(pl.lit("outbound"))
        .otherwise(pl.concat_str([name("category", CATEGORIES), pl.lit("-line")]))
        .alias("queue"),
        name("category", CATEGORIES).alias("category"),
        ticket_id("ticket").alias("ticket_id"),
        call_id("prev_call_no").alias("previous_call_id"),
        "hold_seconds",
        "hold_count",
        "talk_seconds",
        "agent_interruptions",
        "sentiment_start",
        "sentiment_end",
        "supervisor_requested",
        pl.when(pl.col("escalated")).then(supervisor_of("agent", pop)).alias("escalated_to"),
        "satisfaction_confirmed",
        name("outcome", OUTCOMES).alias("outcome"),
        "concession_type",
        "concession_amount",
        "currency",
        "approved_by",
    ).cast(CALLS.polars_schema)


def supervisor_of(column: str, pop: Population) -> pl.Expr:
    return pl.concat_str([pl.lit("sup-"), (pl.col(column) % pop.n_teams).cast(pl.String).str.zfill(2)])
