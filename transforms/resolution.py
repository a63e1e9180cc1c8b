"""Resolution, responsiveness and conduct (docs/metrics.md §4).

First-contact resolution and reopens (did the fix stick?), first replies and reply-SLA
breaches (was the customer kept waiting?), call queue, hold and interruption measures,
satisfaction confirmation and CSAT. Pure Polars over the contact universe
(transforms/contacts.py); thresholds come from `Policy.resolution`. The family hands the
scorecard long parts (RATE_PARTS / MEASURES / COUNTS), and publishes `queue_scorecard`: queue
wait and abandonment per queue and team (the team scorecard has them per team only).
Interpretations of the definitions are recorded in docs/decisions/resolution-and-scorecards.md.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl

from configs.policy import Policy
from transforms.contacts import (
    AuditWindow,
    agent_team_roster,
    closed_on,
    is_own_linked_ticket,
    local_date,
    with_agent_team,
)
from transforms.parts import FamilyResult, Metric, count_part, measure_part, rate_part
from transforms.schemas.base import SOLVED_STATUSES, WORKING_STATUSES
from transforms.scope import DayScope
from transforms.stats import QUANTILE_METHOD, RATE_PARTS, rate_column, rate_columns

# Call legs that wait in a queue: customer-initiated calls and transfers (not outbound/callback).
QUEUED_DIRECTIONS = ("inbound", "transfer")
CSAT_GOOD_MIN = 4

FIRST_CONTACT, REPEAT, PENDING = "first_contact", "repeat", "pending"

FCR = "first-contact-resolution-and-repeat-contact"
METRICS = (
    Metric(
        "first_contact_resolution",
        "rate",
        label="First-contact resolution",
        short_label="FCR",
        description="Resolved contacts closed on the day whose repeat window has closed, and those "
        "with neither a repeat contact nor a reopen.",
        anchor=FCR,
        headline=True,
    ),
    Metric(
        "repeat_contact",
        "rate",
        label="Repeat contact",
        short_label="Repeat",
        description="The first_contact_resolution denominator, and the contacts with a repeat contact "
        "or a reopen (the two rates add up to 1).",
        anchor=FCR,
    ),
    Metric(
        "reopen",
        "rate",
        label="Reopen",
        description="Solved tickets closed on the day whose window has closed, and those reopened "
        "within repeat_window_days.",
        anchor="reopen",
        headline=True,
    ),
    Metric(
        "satisfaction_confirmed",
        "rate",
        label="Satisfaction confirmed",
        short_label="Sat. confirmed",
        description="Answered calls closed on the day where it is known, and those where the agent "
        "confirmed the customer was satisfied.",
        anchor="calls",
    ),
    Metric(
        "csat_good",
        "rate",
        label="CSAT 4–5",
        description="Tickets first solved on the day with a CSAT score, and those scored 4 or 5.",
        anchor="csat",
    ),
    Metric(
        "abandonment",
        "rate",
        label="Abandonment",
        description="Inbound and transfer legs that ended on the day, and those never answered "
        "(team scorecard only; 0/0 on agent rows).",
        anchor="calls",
        team_only=True,
    ),
    Metric(
        "first_reply_minutes",
        "measure",
        label="First reply (minutes)",
        description="Minutes from a ticket's creation to its first public agent comment, on the day "
        "the reply was sent.",
        anchor="first-reply",
        stats=("median", "p90"),
    ),
    Metric(
        "hold_seconds",
        "measure",
        label="Hold (seconds)",
        description="Total hold of each answered call closed on the day (0 included).",
        anchor="calls",
        stats=("median", "p90"),
    ),
    Metric(
        "queue_wait_seconds",
        "measure",
        label="Queue wait (seconds)",
        description="answered_at - initiated_at of answered inbound and transfer legs that ended on the "
        "day (team scorecard only).",
        anchor="calls",
        stats=("median", "p90"),
        team_only=True,
    ),
    Metric(
        "csat_score",
        "measure",
        label="CSAT score",
        description="CSAT score (1-5) of tickets first solved on the day.",
        anchor="csat",
        stats=("mean",),
    ),
    Metric(
        "talk_seconds",
        "measure",
        label="Talk (seconds)",
        description="Talk time of answered calls where agent interruptions are known too.",
        anchor="calls",
    ),
    Metric(
        "agent_interruptions",
        "measure",
        label="Agent interruptions",
        description="Times the agent interrupted the customer, on answered calls where talk time is "
        "known too.",
        anchor="calls",
    ),
    Metric(
        "interruptions_per_10_talk_minutes",
        "ratio",
        label="Interruptions per 10 talk minutes",
        short_label="Interrupt./10 min",
        description="Sum of agent_interruptions / (sum of talk_seconds / 60) x 10: a ratio of sums, "
        "null without talk time.",
        anchor="calls",
        numerator="agent_interruptions",
        denominator="talk_seconds",
    ),
    Metric(
        "reply_sla_breaches",
        "count",
        label="Reply SLA breaches",
        description="Waits for an agent reply longer than reply_sla_hours whose deadline fell on the day.",
        anchor="reply-sla-breaches",
    ),
    Metric(
        "first_contact_resolution_pending",
        "count",
        label="FCR pending",
        description="Resolved contacts closed on the day whose repeat window is still open at the data "
        "cut-off.",
        anchor=FCR,
    ),
    Metric(
        "reopen_pending",
        "count",
        label="Reopen pending",
        description="Solved tickets closed on the day whose reopen window is still open at the data cut-off.",
        anchor="reopen",
    ),
)


# --- shared helpers -----------------------------------------------------------------------------


def _minutes(later: str, earlier: str) -> pl.Expr:
    return (pl.col(later) - pl.col(earlier)).dt.total_microseconds() / 6e7


def _seconds(later: str, earlier: str) -> pl.Expr:
    return (pl.col(later) - pl.col(earlier)).dt.total_microseconds() / 1e6


# --- first-contact resolution and reopens -------------------------------------------------------


def repeat_contacts(closed: pl.LazyFrame, customer_contacts: pl.LazyFrame, window: timedelta) -> pl.LazyFrame:
    """First new customer-initiated contact in the same category opened in (closed_at, closed_at + window].

    The contact itself and a call's own linked ticket are not repeats; a null category
    matches nothing. Returns `contact_id`, `contact_type`, `repeat_contact_id`, `repeat_contact_at`.
    """
    others = customer_contacts.select(
        "customer_id",
        "category",
        pl.col("contact_id").alias("repeat_contact_id"),
        pl.col("contact_type").alias("repeat_contact_type"),
        pl.col("opened_at").alias("repeat_contact_at"),
    )
    return (
        closed.select("contact_id", "contact_type", "ticket_id", "customer_id", "category", "closed_at")
        .join(others, on=["customer_id", "category"], how="inner")
        .filter(
            (pl.col("repeat_contact_id") != pl.col("contact_id"))
            & ~is_own_linked_ticket("repeat_contact_type", "repeat_contact_id")
            & (pl.col("repeat_contact_at") > pl.col("closed_at"))
            & (pl.col("repeat_contact_at") <= pl.col("closed_at") + window)
        )
        .sort("repeat_contact_at", "repeat_contact_id")
        .group_by("contact_id", "contact_type", maintain_order=True)
        .first()
        .select("contact_id", "contact_type", "repeat_contact_id", "repeat_contact_at")
    )


def reopens(closed: pl.LazyFrame, events: pl.LazyFrame, window: timedelta) -> pl.LazyFrame:
    """First move of a ticket back to a working status in (closed_at, closed_at + window]."""
    moves = events.filter(
        (pl.col("event_type") == "status_change") & pl.col("new_status").is_in(WORKING_STATUSES)
    ).select(pl.col("ticket_id").alias("contact_id"), pl.col("occurred_at").alias("reopened_at"))
    return (
        closed.filter(pl.col("contact_type") == "ticket")
        .select("contact_id", "closed_at")
        .join(moves, on="contact_id", how="inner")
        .filter(
            (pl.col("reopened_at") > pl.col("closed_at"))
            & (pl.col("reopened_at") <= pl.col("closed_at") + window)
        )
        .group_by("contact_id")
        .agg(pl.col("reopened_at").min(), contact_type=pl.lit("ticket"))
    )


def classify_resolution(
    contacts: pl.LazyFrame,
    customer_contacts: pl.LazyFrame,
    events: pl.LazyFrame,
    window: AuditWindow,
    repeat_window: timedelta,
) -> pl.LazyFrame:
    """Resolved contacts (solved tickets, resolved calls) closed on D with `fcr_status` and
    `reopen_status` (tickets only).

    A status is `pending` while the window is still open at the data cut-off, even when a
    repeat or reopen is already visible: deciding only failures early would bias a day's
    rate towards failure until its window closes.
    """
    closed = contacts.filter(closed_on(window) & pl.col("is_resolved").fill_null(False))
    keys = ["contact_id", "contact_type"]
    is_open = pl.col("window_closes_at") > window.data_cutoff
    return (
        closed.join(repeat_contacts(closed, customer_contacts, repeat_window), on=keys, how="left")
        .join(reopens(closed, events, repeat_window), on=keys, how="left")
        .with_columns(window_closes_at=pl.col("closed_at") + repeat_window)
        .with_columns(
            fcr_status=pl.when(is_open)
            .then(pl.lit(PENDING))
            .when(pl.col("repeat_contact_at").is_not_null() | pl.col("reopened_at").is_not_null())
            .then(pl.lit(REPEAT))
            .otherwise(pl.lit(FIRST_CONTACT)),
            reopen_status=pl.when(pl.col("contact_type") != "ticket")
            .then(None)
            .when(is_open)
            .then(pl.lit(PENDING))
            .when(pl.col("reopened_at").is_not_null())
            .then(pl.lit("reopened"))
            .otherwise(pl.lit("not_reopened")),
        )
    )


def resolution_parts(classified: pl.LazyFrame) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """Rate parts for first_contact_resolution, repeat_contact and reopen, and pending counts."""
    fcr = classified.filter(pl.col("fcr_status").is_in([FIRST_CONTACT, REPEAT]))
    reopen = classified.filter(pl.col("reopen_status").is_in(["reopened", "not_reopened"]))
    rates = pl.concat(
        [
            rate_part(fcr, "first_contact_resolution", pl.col("fcr_status") == FIRST_CONTACT),
            rate_part(fcr, "repeat_contact", pl.col("fcr_status") == REPEAT),
            rate_part(reopen, "reopen", pl.col("reopen_status") == "reopened"),
        ]
    )
    counts = pl.concat(
        [
            count_part(
                classified.filter(pl.col("fcr_status") == PENDING), "first_contact_resolution_pending"
            ),
            count_part(classified.filter(pl.col("reopen_status") == PENDING), "reopen_pending"),
        ]
    )
    return rates, counts


# --- replies --------------------------------------------------------------------------------------


def _agent_replies(events: pl.LazyFrame) -> pl.LazyFrame:
    """Public comments by agents: `ticket_id`, `reply_at`, `event_id`, `agent_id` (unsorted)."""
    return events.filter(
        (pl.col("event_type") == "comment")
        & (pl.col("actor_role") == "agent")
        & pl.col("public").fill_null(False)
    ).select(
        "ticket_id",
        pl.col("occurred_at").alias("reply_at"),
        "event_id",
        pl.col("actor_id").alias("agent_id"),
    )


def first_replies(
    tickets: pl.LazyFrame, events: pl.LazyFrame, roster: pl.LazyFrame, window: AuditWindow
) -> pl.LazyFrame:
    """First public agent comment per ticket (at or after creation) sent on D, with minutes waited,
    attributed to the agent who sent it and that agent's team at the time."""
    replies = _agent_replies(events)
    # Only tickets with a reply on D can have their first reply on D: narrow before sorting.
    sent_on_d = replies.filter(pl.col("reply_at").is_between(window.day_start_at, window.day_end_at, "left"))
    replies = replies.join(sent_on_d.select("ticket_id").unique(), on="ticket_id", how="semi").join(
        tickets.select("ticket_id", "created_at", pl.col("team_id").alias("ticket_team_id")), on="ticket_id"
    )
    first = (
        replies.filter(pl.col("reply_at") >= pl.col("created_at"))
        .sort("reply_at", "event_id")
        .group_by("ticket_id", maintain_order=True)
        .first()
        .with_columns(audit_date=local_date(pl.col("reply_at"), window.time_zone))
        .filter(closed_on(window))
    )
    return with_agent_team(first, "reply_at", roster, "ticket_team_id").with_columns(
        first_reply_minutes=_minutes("reply_at", "created_at")
    )


def _status_events(events: pl.LazyFrame) -> pl.LazyFrame:
    return (
        events.filter(pl.col("event_type") == "status_change")
        .select("ticket_id", pl.col("occurred_at").alias("status_at"), "event_id", "new_status")
        .sort("status_at", "event_id")
    )


def reply_waits(
    tickets: pl.LazyFrame,
    events: pl.LazyFrame,
    sla: timedelta,
    cutoff: datetime,
    deadlines: tuple[datetime, datetime] | None = None,
) -> pl.LazyFrame:
    """Every wait for an agent reply: ticket creation and each customer comment made while the
    ticket was not solved (or that the ticket was reopened after, before an agent replied), with
    `started_at`, `deadline_at`, `ended_at` (the next public agent comment or solve at or after
    the start; null when neither happened yet) and `is_breach`.

    A wait breaches when it ended after its deadline or is still open after it at the cut-off.
    `deadlines` = [from, to) keeps only waits whose deadline falls there (the audit day), before
    the as-of joins, so a day's run does not walk the whole history.
    """
    starts = pl.concat(
        [
            tickets.select("ticket_id", pl.col("created_at").alias("started_at")),
            events.filter((pl.col("event_type") == "comment") & (pl.col("actor_role") == "customer")).select(
                "ticket_id", pl.col("occurred_at").alias("started_at")
            ),
        ]
    )
    if deadlines is not None:
        starts = starts.filter(
            pl.col("started_at").is_between(deadlines[0] - sla, deadlines[1] - sla, "left")
        )
    starts = starts.unique().cache()
    # Only the events of tickets with a wait: the sorts and as-of joins stay small.
    events = events.join(starts.select("ticket_id").unique(), on="ticket_id", how="semi").cache()
    statuses = _status_events(events)
    # A solve known only from the ticket row (its events missing) still ends the wait.
    solves = pl.concat(
        [
            statuses.filter(pl.col("new_status").is_in(SOLVED_STATUSES)).select(
                "ticket_id", pl.col("status_at").alias("solved_at")
            ),
            tickets.filter(pl.col("status").is_in(SOLVED_STATUSES) & pl.col("solved_at").is_not_null())
            .join(starts.select("ticket_id").unique(), on="ticket_id", how="semi")
            .select("ticket_id", "solved_at"),
        ]
    ).sort("solved_at")
    replies = _agent_replies(events).select("ticket_id", "reply_at").sort("reply_at")
    deadline = pl.col("started_at") + sla
    # On a solved ticket, a comment that the ticket is reopened after, before any agent reply, is
    # the customer coming back (it reopened the ticket, often a second later): it waits too.
    was_solved = pl.col("new_status").is_in(SOLVED_STATUSES).fill_null(False)
    reopened = pl.col("next_status").is_in(WORKING_STATUSES).fill_null(False) & (
        pl.col("reply_at").is_null() | (pl.col("next_status_at") <= pl.col("reply_at"))
    )
    return (
        starts.sort("started_at")
        .join_asof(
            statuses.select("ticket_id", "status_at", "new_status"),
            left_on="started_at",
            right_on="status_at",
            by="ticket_id",
            check_sortedness=False,
        )
        .join_asof(
            statuses.select(
                "ticket_id",
                pl.col("status_at").alias("next_status_at"),
                pl.col("new_status").alias("next_status"),
            ),
            left_on="started_at",
            right_on="next_status_at",
            by="ticket_id",
            strategy="forward",
            check_sortedness=False,
        )
        .join_asof(
            replies,
            left_on="started_at",
            right_on="reply_at",
            by="ticket_id",
            strategy="forward",
            check_sortedness=False,
        )
        .filter(~was_solved | reopened)
        .join_asof(
            solves,
            left_on="started_at",
            right_on="solved_at",
            by="ticket_id",
            strategy="forward",
            check_sortedness=False,
        )
        .select(
            "ticket_id",
            "started_at",
            deadline.alias("deadline_at"),
            pl.min_horizontal("reply_at", "solved_at").alias("ended_at"),
        )
        .with_columns(
            is_breach=pl.when(pl.col("ended_at").is_null())
            .then(pl.col("deadline_at") < cutoff)
            .otherwise(pl.col("ended_at") > pl.col("deadline_at"))
        )
    )


def reply_sla_breaches(
    tickets: pl.LazyFrame, events: pl.LazyFrame, roster: pl.LazyFrame, window: AuditWindow, sla: timedelta
) -> pl.LazyFrame:
    """Breaches whose deadline fell on D, against the ticket's assignee at the deadline (latest
    assignment event, else the ticket's assignee) and that agent's team then."""
    breached = (
        reply_waits(tickets, events, sla, window.data_cutoff, (window.day_start_at, window.day_end_at))
        .filter(pl.col("is_breach"))
        .with_columns(audit_date=local_date(pl.col("deadline_at"), window.time_zone))
        .filter(closed_on(window))
        .cache()
    )
    assignments = (
        events.filter(pl.col("event_type") == "assignment")
        .join(breached.select("ticket_id").unique(), on="ticket_id", how="semi")
        .select("ticket_id", pl.col("occurred_at").alias("assigned_at"), "event_id", "assignee_id", "team_id")
        .sort("assigned_at", "event_id")
    )
    breaches = (
        breached.sort("deadline_at")
        .join_asof(
            assignments.drop("event_id"),
            left_on="deadline_at",
            right_on="assigned_at",
            by="ticket_id",
            check_sortedness=False,
        )
        .join(
            tickets.select(
                "ticket_id", pl.col("assignee_id").alias("t_agent"), pl.col("team_id").alias("t_team")
            ),
            on="ticket_id",
            how="left",
        )
        .with_columns(
            agent_id=pl.when(pl.col("assigned_at").is_not_null())
            .then(pl.col("assignee_id"))
            .otherwise(pl.col("t_agent")),
            fallback_team=pl.when(pl.col("assigned_at").is_not_null())
            .then(pl.col("team_id"))
            .otherwise(pl.col("t_team")),
        )
        .drop("team_id")
    )
    return with_agent_team(breaches, "deadline_at", roster, "fallback_team")


# --- calls and CSAT -------------------------------------------------------------------------------


def answered_call_parts(
    contacts: pl.LazyFrame, calls: pl.LazyFrame, window: AuditWindow
) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """Per answered call closed on D, attributed as in the contact universe: hold_seconds,
    talk_seconds and agent_interruptions measures (the last two only when both are known, so
    their sums give a ratio of sums) and satisfaction_confirmed parts (calls where it is known)."""
    answered = contacts.filter(closed_on(window) & (pl.col("contact_type") == "call")).join(
        calls.select(
            pl.col("call_id").alias("contact_id"),
            "hold_seconds",
            "talk_seconds",
            "agent_interruptions",
            "satisfaction_confirmed",
        ),
        on="contact_id",
        how="left",
    )
    paired = answered.filter(
        pl.col("talk_seconds").is_not_null() & pl.col("agent_interruptions").is_not_null()
    )
    measures = pl.concat(
        [
            measure_part(answered, "hold_seconds", pl.col("hold_seconds")),
            measure_part(paired, "talk_seconds", pl.col("talk_seconds")),
            measure_part(paired, "agent_interruptions", pl.col("agent_interruptions")),
        ]
    )
    confirmed = answered.filter(pl.col("satisfaction_confirmed").is_not_null())
    rates = rate_part(confirmed, "satisfaction_confirmed", pl.col("satisfaction_confirmed"))
    return rates, measures


def queued_calls(calls: pl.LazyFrame, window: AuditWindow) -> pl.LazyFrame:
    """Inbound and transferred call legs that ended on D, with `is_abandoned` (no answered_at) and
    `queue_wait_seconds` (answered ones). Team-level only: `agent_id` is null, team is the call's."""
    return (
        calls.filter(pl.col("direction").is_in(QUEUED_DIRECTIONS))
        .with_columns(
            audit_date=local_date(pl.col("ended_at"), window.time_zone),
            is_abandoned=pl.col("answered_at").is_null(),
            queue_wait_seconds=_seconds("answered_at", "initiated_at"),
            agent_id=pl.lit(None, dtype=pl.String()),
        )
        .filter(closed_on(window))
    )


QUEUE_KEY = ("audit_date", "queue", "team_id")
ABANDONMENT = {p: rate_column("abandonment", p) for p in RATE_PARTS}
# `queue_scorecard` as the family computes it (publishing adds policy_version and run_id).
QUEUE_SCORECARD_SCHEMA = pl.Schema(
    {
        "audit_date": pl.Date(),
        "queue": pl.String(),
        "team_id": pl.String(),
        ABANDONMENT["numerator"]: pl.Int64(),
        ABANDONMENT["denominator"]: pl.Int64(),
        ABANDONMENT["rate"]: pl.Float64(),
        ABANDONMENT["ci_low"]: pl.Float64(),
        ABANDONMENT["ci_high"]: pl.Float64(),
        ABANDONMENT["low_volume"]: pl.Boolean(),
        "queue_wait_seconds_median": pl.Float64(),
        "queue_wait_seconds_p90": pl.Float64(),
    }
)


def queue_scorecard(queued: pl.LazyFrame, min_volume: int) -> pl.LazyFrame:
    """One row per (audit day, queue, team) of the queued legs that ended on D: abandoned legs of
    all queued legs with the Wilson interval and low-volume marker, and the answered legs' queue
    wait median and p90 (the observations the team scorecard uses, split by queue). A leg with
    no queue or no team is in the row whose queue or team is null."""
    wait = pl.col("queue_wait_seconds").drop_nulls()
    return (
        queued.group_by(QUEUE_KEY)
        .agg(
            pl.col("is_abandoned").sum().cast(pl.Int64).alias(ABANDONMENT["numerator"]),
            pl.len().cast(pl.Int64).alias(ABANDONMENT["denominator"]),
            wait.median().alias("queue_wait_seconds_median"),
            wait.quantile(0.9, QUANTILE_METHOD).alias("queue_wait_seconds_p90"),
        )
        .with_columns(rate_columns("abandonment", min_volume))
        .select(QUEUE_SCORECARD_SCHEMA.names())
        .cast(QUEUE_SCORECARD_SCHEMA)
        .sort(QUEUE_KEY, nulls_last=True)
    )


def csat_parts(
    contacts: pl.LazyFrame, tickets: pl.LazyFrame, window: AuditWindow
) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """csat_good (score 4 or 5) parts and csat_score measures over tickets solved on D with a score."""
    scored = (
        contacts.filter(closed_on(window) & (pl.col("contact_type") == "ticket"))
        .join(
            tickets.select(pl.col("ticket_id").alias("contact_id"), "csat_score"),
            on="contact_id",
            how="inner",
        )
        .filter(pl.col("csat_score").is_not_null())
    )
    return (
        rate_part(scored, "csat_good", pl.col("csat_score") >= CSAT_GOOD_MIN),
        measure_part(scored, "csat_score", pl.col("csat_score")),
    )


# --- public entry point -------------------------------------------------------------------------


def audit_resolution(scope: DayScope, window: AuditWindow, policy: Policy) -> FamilyResult:
    """Resolution, responsiveness and conduct parts for `window.audit_date`, and its table
    `queue_scorecard`.

    Rate parts: first_contact_resolution, repeat_contact, reopen, satisfaction_confirmed,
    csat_good, abandonment; measures: first_reply_minutes, hold_seconds, talk_seconds,
    agent_interruptions, queue_wait_seconds, csat_score; counts: reply_sla_breaches,
    first_contact_resolution_pending, reopen_pending.
    """
    contacts, tickets, events, calls = scope.contacts, scope.tickets, scope.ticket_events, scope.calls
    repeat_window = timedelta(days=policy.resolution.repeat_window_days)
    sla = timedelta(hours=policy.resolution.reply_sla_hours)
    roster = agent_team_roster(events).cache()
    classified = classify_resolution(contacts, scope.customer_contacts, events, window, repeat_window).cache()
    fcr_rates, pending = resolution_parts(classified)
    call_rates, call_measures = answered_call_parts(contacts, calls, window)
    csat_rates, csat_measures = csat_parts(contacts, tickets, window)
    queued = queued_calls(calls, window).cache()
    replies = first_replies(tickets, events, roster, window)
    breaches = reply_sla_breaches(tickets, events, roster, window, sla)
    rate_parts = pl.concat(
        [fcr_rates, call_rates, csat_rates, rate_part(queued, "abandonment", pl.col("is_abandoned"))]
    )
    measures = pl.concat(
        [
            measure_part(replies, "first_reply_minutes", pl.col("first_reply_minutes")),
            call_measures,
            measure_part(queued, "queue_wait_seconds", pl.col("queue_wait_seconds")),
            csat_measures,
        ]
    )
    return FamilyResult(
        tables={"queue_scorecard": queue_scorecard(queued, policy.min_volume)},
        rate_parts=rate_parts,
        measures=measures,
        counts=pl.concat([count_part(breaches, "reply_sla_breaches"), pending]),
    )
