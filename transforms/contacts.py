"""Contact universe: which tickets and calls count as contacts, when they closed, and whose they are.

Every metric family reads the same universe so that a contact is attributed once, to one
agent and team, on one audit day (docs/metrics.md, "Audit day and contacts").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import polars as pl

from transforms.schemas.base import SOLVED_STATUSES

TIMESTAMP = pl.Datetime("us", "UTC")


CONTACTS_SCHEMA = pl.Schema(
    {
        "contact_id": pl.String(),
        "contact_type": pl.String(),
        "customer_id": pl.String(),
        "category": pl.String(),
        "priority": pl.String(),
        "customer_tier": pl.String(),
        "channel": pl.String(),
        "ticket_id": pl.String(),
        "agent_id": pl.String(),
        "team_id": pl.String(),
        "opened_at": TIMESTAMP,
        "closed_at": TIMESTAMP,
        "audit_date": pl.Date(),
        "is_resolved": pl.Boolean(),
        "outcome": pl.String(),
    }
)

# The columns every per-contact evidence table starts with (follow_up_audit, escalation_audit).
CONTACT_EVIDENCE_COLUMNS: dict[str, pl.DataType] = {
    "audit_date": pl.Date(),
    "contact_id": pl.String(),
    "contact_type": pl.String(),
    "agent_id": pl.String(),
    "team_id": pl.String(),
    "customer_id": pl.String(),
    "category": pl.String(),
}

CUSTOMER_CONTACTS_SCHEMA = pl.Schema(
    {
        "contact_id": pl.String(),
        "contact_type": pl.String(),
        "customer_id": pl.String(),
        "category": pl.String(),
        "opened_at": TIMESTAMP,
    }
)


@dataclass(frozen=True)
class AuditWindow:
    """The audit day D and what is known about it."""

    audit_date: date  # D, in the business time zone
    time_zone: str  # IANA
    data_cutoff: datetime  # UTC; nothing after this is known yet (pending windows)

    @property
    def day_start_at(self) -> datetime:
        """Midnight starting D in the business time zone, as UTC."""
        return _local_midnight_utc(self.audit_date, self.time_zone)

    @property
    def day_end_at(self) -> datetime:
        """Midnight ending D (exclusive), as UTC; 23 or 25 h after the start on DST days."""
        return _local_midnight_utc(self.audit_date + timedelta(days=1), self.time_zone)


def _local_midnight_utc(day: date, time_zone: str) -> datetime:
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(time_zone)).astimezone(ZoneInfo("UTC"))


def local_date(expr: pl.Expr, time_zone: str) -> pl.Expr:
    """Calendar day of a UTC timestamp in the business time zone (the audit day it belongs to)."""
    return expr.dt.convert_time_zone(time_zone).dt.date()


def closed_on(window: AuditWindow) -> pl.Expr:
    """Filter for contacts closed on the audit day (on a frame with `audit_date`)."""
    return pl.col("audit_date") == pl.lit(window.audit_date, dtype=pl.Date())


def first_solved_at(
    tickets: pl.LazyFrame, events: pl.LazyFrame, solved_between: tuple[datetime, datetime] | None = None
) -> pl.LazyFrame:
    """First transition to solved per ticket: `ticket_id`, `solved_at`, `solver_role`, `solver_id`.

    The first `status_change` into solved (or straight into closed) wins; ties on the same
    instant go to the smallest event_id. A ticket that is solved/closed with a `solved_at` but
    has no such event (events missing from the export) falls back to the ticket's `solved_at`,
    with an unknown solver, so it is attributed to its assignee. `solved_between` = [from, to)
    keeps only tickets first solved then.
    """
    solves = events.filter(
        (pl.col("event_type") == "status_change") & pl.col("new_status").is_in(SOLVED_STATUSES)
    ).select("ticket_id", "occurred_at", "event_id", "actor_role", "actor_id")
    candidates, fallbacks = solves, tickets
    if solved_between is not None:
        # A first solve in [from, to) is a solve there on a ticket with none before `from`: only
        # those solves need ordering.
        earlier = solves.filter(pl.col("occurred_at") < solved_between[0]).select("ticket_id")
        candidates = solves.filter(pl.col("occurred_at").is_between(*solved_between, closed="left")).join(
            earlier, on="ticket_id", how="anti"
        )
        fallbacks = tickets.filter(pl.col("solved_at").is_between(*solved_between, closed="left"))
    from_events = _first_per_key(
        candidates, key="ticket_id", at="occurred_at", tie="event_id", latest=False
    ).select(
        "ticket_id",
        pl.col("occurred_at").alias("solved_at"),
        pl.col("actor_role").alias("solver_role"),
        pl.col("actor_id").alias("solver_id"),
    )
    from_tickets = (
        fallbacks.filter(pl.col("status").is_in(SOLVED_STATUSES) & pl.col("solved_at").is_not_null())
        .select("ticket_id", "solved_at")
        # any solve event, in the window or not, means the ticket row is not the fallback
        .join(solves.select("ticket_id"), on="ticket_id", how="anti")
        .with_columns(
            pl.lit(None, dtype=pl.String()).alias("solver_role"),
            pl.lit(None, dtype=pl.String()).alias("solver_id"),
        )
    )
    return pl.concat([from_events, from_tickets], how="vertical")


def _first_per_key(frame: pl.LazyFrame, key: str, at: str, tie: str, *, latest: bool) -> pl.LazyFrame:
    """One row per `key`: the earliest (or latest) `at`, ties to the smallest (or greatest) `tie`.

    A per-group sort: far cheaper than sorting millions of rows by a string key.
    """
    ordered = pl.all().sort_by(at, tie)
    return frame.group_by(key).agg(ordered.last() if latest else ordered.first())


def agent_team_roster(events: pl.LazyFrame, before: datetime | None = None) -> pl.LazyFrame:
    """Every assignment with a team, as the right side of `with_agent_team`'s as-of join.

    An agent's team at a moment is the team of their latest assignment on any ticket at or before
    it; of several at the same instant, the greatest event_id (the as-of join takes the last of
    equal keys, tested in tests/metrics). `before` drops assignments no caller looks back to.
    """
    assignments = events.filter((pl.col("event_type") == "assignment") & pl.col("team_id").is_not_null())
    if before is not None:
        assignments = assignments.filter(pl.col("occurred_at") < before)
    return assignments.select(
        pl.col("assignee_id").alias("agent_id"),
        pl.col("occurred_at").alias("roster_at"),
        pl.col("event_id").alias("roster_event_id"),
        pl.col("team_id").alias("roster_team_id"),
    ).sort("roster_at", "roster_event_id")


def with_agent_team(frame: pl.LazyFrame, at: str, roster: pl.LazyFrame, fallback: str) -> pl.LazyFrame:
    """`team_id`: the `agent_id`'s team at `at` (see `agent_team_roster`), else the `fallback`
    column (the ticket's or call's own team). The one rule every family attributes teams by."""
    return (
        frame.sort(at)
        .join_asof(roster, left_on=at, right_on="roster_at", by="agent_id", check_sortedness=False)
        .with_columns(pl.coalesce("roster_team_id", fallback).alias("team_id"))
        .drop("roster_at", "roster_event_id", "roster_team_id")
    )


_TICKET_FACTS = (
    "ticket_id",
    "customer_id",
    "category",
    "priority",
    "customer_tier",
    "channel",
    "created_at",
    "assignee_id",
    "team_id",
)


def _attribute_tickets(
    tickets: pl.LazyFrame, events: pl.LazyFrame, solved_between: tuple[datetime, datetime] | None = None
) -> pl.LazyFrame:
    """Solved tickets with `agent_id` and `team_id` at the moment of the first solve.

    The solver when an agent solved it (and the export says which agent), otherwise the assignee
    at that moment: the latest assignment at or before the solve, else the ticket's assignee.

    `solved_between` = [from, to) keeps only tickets first solved then, before the joins: the
    attribution of one ticket never reads another ticket's solve, so the kept rows are unchanged.
    """
    assignments = events.filter(pl.col("event_type") == "assignment").select(
        "ticket_id", "event_id", "occurred_at", "assignee_id", "team_id"
    )
    solved = first_solved_at(tickets, events, solved_between)
    if solved_between is not None:
        # The as-of joins below look back from a solve, never past the last one kept.
        assignments = assignments.filter(pl.col("occurred_at") < solved_between[1])
    # Assignee at the solve: the latest assignment on the ticket at or before it. Only read when
    # an agent did not solve it themselves, so only those tickets walk their assignments.
    by_agent = ((pl.col("solver_role") == "agent") & pl.col("solver_id").is_not_null()).fill_null(False)
    on_ticket = _first_per_key(
        solved.filter(~by_agent)
        .select("ticket_id", "solved_at")
        .join(assignments, on="ticket_id", how="inner")
        .filter(pl.col("occurred_at") <= pl.col("solved_at")),
        key="ticket_id",
        at="occurred_at",
        tie="event_id",
        latest=True,
    ).select("ticket_id", pl.col("assignee_id").alias("assignee_at_solve"))
    attributed = (
        solved.join(tickets.select(_TICKET_FACTS), on="ticket_id", how="inner")
        .join(on_ticket, on="ticket_id", how="left")
        .with_columns(
            pl.when(by_agent)
            .then(pl.col("solver_id"))
            .otherwise(pl.coalesce("assignee_at_solve", "assignee_id"))
            .alias("agent_id")
        )
    )
    roster = agent_team_roster(events, before=solved_between[1] if solved_between else None)
    return with_agent_team(attributed, "solved_at", roster, fallback="team_id")


def _ticket_contacts(
    tickets: pl.LazyFrame,
    events: pl.LazyFrame,
    time_zone: str,
    closed_between: tuple[datetime, datetime] | None = None,
) -> pl.LazyFrame:
    return _attribute_tickets(tickets, events, closed_between).select(
        pl.col("ticket_id").alias("contact_id"),
        pl.lit("ticket").alias("contact_type"),
        "customer_id",
        "category",
        "priority",
        "customer_tier",
        "channel",
        "ticket_id",
        "agent_id",
        "team_id",
        pl.col("created_at").alias("opened_at"),
        pl.col("solved_at").alias("closed_at"),
        local_date(pl.col("solved_at"), time_zone).alias("audit_date"),
        pl.lit(True).alias("is_resolved"),
        pl.lit(None, dtype=pl.String()).alias("outcome"),
    )


_CALL_FACTS = (
    "call_id",
    "customer_id",
    "category",
    "ticket_id",
    "agent_id",
    "team_id",
    "initiated_at",
    "ended_at",
    "outcome",
)


def _with_call_tier(
    calls: pl.LazyFrame, tickets: pl.LazyFrame, ended_before: datetime | None = None
) -> pl.LazyFrame:
    """Add `customer_tier` and `ticket_category`: from the linked ticket, else the customer's tickets.

    Without a linked tier, the tier of the customer's latest ticket created at or before the
    call ended (ties: greatest ticket_id); never a later ticket, which a later run could read and
    so change a final day's answer. Null when there is none.
    """
    linked = tickets.select(
        "ticket_id",
        pl.col("customer_tier").alias("linked_tier"),
        pl.col("category").alias("ticket_category"),
    )
    with_tier = tickets.filter(pl.col("customer_tier").is_not_null())
    if ended_before is not None:  # every call ended before it: no later ticket can come before one
        with_tier = with_tier.filter(pl.col("created_at") < ended_before)
    # Sorted by time, then ticket_id: of several tickets at one instant the as-of join takes the
    # last, the greatest ticket_id.
    tiered = (
        with_tier.select("customer_id", "created_at", "ticket_id", "customer_tier")
        .sort("created_at", "ticket_id")
        .select("customer_id", "created_at", "customer_tier")
    )
    return (
        calls.sort("ended_at")
        .join_asof(
            tiered.rename({"customer_tier": "tier_before"}),
            left_on="ended_at",
            right_on="created_at",
            by="customer_id",
            strategy="backward",
            check_sortedness=False,
        )
        .join(linked, on="ticket_id", how="left")
        .with_columns(pl.coalesce("linked_tier", "tier_before").alias("customer_tier"))
    )


def _call_contacts(
    calls: pl.LazyFrame,
    tickets: pl.LazyFrame,
    time_zone: str,
    closed_between: tuple[datetime, datetime] | None = None,
) -> pl.LazyFrame:
    answered = calls.filter(pl.col("answered_at").is_not_null()).select(_CALL_FACTS)
    if closed_between is not None:
        answered = answered.filter(pl.col("ended_at").is_between(*closed_between, closed="left"))
    return _with_call_tier(answered, tickets, closed_between[1] if closed_between else None).select(
        pl.col("call_id").alias("contact_id"),
        pl.lit("call").alias("contact_type"),
        "customer_id",
        pl.coalesce("category", "ticket_category").alias("category"),
        pl.lit(None, dtype=pl.String()).alias("priority"),
        "customer_tier",
        pl.lit("phone").alias("channel"),
        "ticket_id",
        "agent_id",
        "team_id",
        pl.col("initiated_at").alias("opened_at"),
        pl.col("ended_at").alias("closed_at"),
        local_date(pl.col("ended_at"), time_zone).alias("audit_date"),
        (pl.col("outcome") == "resolved").fill_null(False).alias("is_resolved"),
        "outcome",
    )


def build_contacts(
    tickets: pl.LazyFrame,
    events: pl.LazyFrame,
    calls: pl.LazyFrame,
    time_zone: str,
    closed_between: tuple[date, date] | None = None,
) -> pl.LazyFrame:
    """Every contact (ticket solved at least once, or answered call), any close date, attributed.

    Columns and types are `CONTACTS_SCHEMA` (docs/architecture.md, `contacts`).
    `closed_between` = (first, last) audit day, both included, builds only the contacts closed
    then: the same rows as filtering the whole universe on `audit_date`, without attributing
    every contact of the history (an audit day needs D and the concession window only).
    """
    bounds = None
    if closed_between is not None:
        first, last = closed_between
        bounds = (
            _local_midnight_utc(first, time_zone),
            _local_midnight_utc(last + timedelta(days=1), time_zone),
        )
    frames = [
        _ticket_contacts(tickets, events, time_zone, bounds),
        _call_contacts(calls, tickets, time_zone, bounds),
    ]
    return pl.concat([f.select(CONTACTS_SCHEMA.names()).cast(CONTACTS_SCHEMA) for f in frames])


def build_customer_contacts(tickets: pl.LazyFrame, calls: pl.LazyFrame) -> pl.LazyFrame:
    """Every customer-initiated contact: each new ticket and each inbound call, answered or not.

    Used for "the customer came back" and repeat-contact signals; transfer legs are part of
    the call they came from, and outbound/callback calls are agent-initiated. A call without
    a category takes its linked ticket's, as in `build_contacts`, so "same category" matches
    the same way on both sides.
    """
    new_tickets = tickets.select(
        pl.col("ticket_id").alias("contact_id"),
        pl.lit("ticket").alias("contact_type"),
        "customer_id",
        "category",
        pl.col("created_at").alias("opened_at"),
    )
    ticket_categories = tickets.select("ticket_id", pl.col("category").alias("ticket_category"))
    inbound = (
        calls.filter(pl.col("direction") == "inbound")
        .join(ticket_categories, on="ticket_id", how="left")
        .select(
            pl.col("call_id").alias("contact_id"),
            pl.lit("call").alias("contact_type"),
            "customer_id",
            pl.coalesce("category", "ticket_category").alias("category"),
            pl.col("initiated_at").alias("opened_at"),
        )
    )
    return pl.concat([f.cast(CUSTOMER_CONTACTS_SCHEMA) for f in (new_tickets, inbound)])


def is_own_linked_ticket(other_type: str, other_id: str) -> pl.Expr:
    """Whether another contact (`other_type`, `other_id` columns) is the audited contact's own
    `ticket_id`: the ticket an agent logged for a call is that call's record, not the customer
    coming back (repeat contacts, came back, came back first)."""
    return ((pl.col(other_type) == "ticket") & (pl.col(other_id) == pl.col("ticket_id"))).fill_null(False)


def ticket_customers(tickets: pl.LazyFrame) -> pl.LazyFrame:
    """`ticket_id` → `customer_id`, to reach a customer from events on any of their tickets."""
    return tickets.select("ticket_id", "customer_id")
