"""Follow-up (docs/metrics.md §1): did an agent reach back to the customer after the fix, in time?

A contact closed on D is eligible when the policy says it needs a follow-up; it is `met`
when an agent-initiated contact reaches the same customer after it ended and within its
window, `missed` when the window closed without one, and `pending` while the window is still
open at the data cut-off (out of the rate until a later run makes it final).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl

from configs.policy import FollowUpPolicy, Policy
from transforms.contacts import (
    CONTACT_EVIDENCE_COLUMNS,
    TIMESTAMP,
    AuditWindow,
    closed_on,
    is_own_linked_ticket,
    ticket_customers,
)
from transforms.parts import FamilyResult, Metric, measure_part, rate_part
from transforms.scope import DayScope

METRICS = (
    Metric(
        "follow_up",
        "rate",
        label="Follow-up",
        description="Eligible contacts whose window has closed, and those an agent followed up in time.",
        anchor="1-follow-up",
        headline=True,
    ),
    Metric(
        "hours_to_follow_up",
        "measure",
        label="Hours to follow-up",
        description="Hours from a met contact's end to its first follow-up.",
        anchor="1-follow-up",
        stats=("median", "p90"),
    ),
)
TABLE = "follow_up_audit"
ELIGIBILITY_REASONS = ("category", "priority", "callback_promised")
STATUSES = ("met", "missed", "pending")  # pending: the window is still open at the data cut-off
AGENT_INITIATED_DIRECTIONS = ("outbound", "callback")
URGENT_PRIORITIES = ("high", "urgent")

EVIDENCE_SCHEMA = pl.Schema(
    {
        **CONTACT_EVIDENCE_COLUMNS,
        "eligibility": pl.String(),  # category | priority | callback_promised
        "closed_at": TIMESTAMP,
        "window_end_at": TIMESTAMP,
        "status": pl.String(),  # met | missed | pending
        "follow_up_id": pl.String(),
        "follow_up_at": TIMESTAMP,
        "hours_to_follow_up": pl.Float64(),
        "is_customer_came_back_first": pl.Boolean(),
    }
)


_KEYS = ("contact_type", "contact_id")


def _in_categories(policy: FollowUpPolicy) -> pl.Expr:
    if policy.categories == "all":
        return pl.lit(True)
    return pl.col("category").is_in(list(policy.categories)).fill_null(False)


def eligibility(policy: FollowUpPolicy) -> pl.Expr:
    """Why a contact needs a follow-up (`category`, `priority`, `callback_promised`); null: it does not."""
    is_ticket = pl.col("contact_type") == "ticket"
    is_call = pl.col("contact_type") == "call"
    return (
        pl.when(is_call & (pl.col("outcome") == "callback_promised"))
        .then(pl.lit("callback_promised"))
        .when(_in_categories(policy) & (is_ticket | (is_call & (pl.col("outcome") == "resolved"))))
        .then(pl.lit("category"))
        .when(is_ticket & pl.col("priority").is_in(URGENT_PRIORITIES).fill_null(False))
        .then(pl.lit("priority"))
        .otherwise(None)
    )


def follow_up_window(policy: FollowUpPolicy) -> pl.Expr:
    """How long an eligible contact waits for a follow-up: 24 h for a promised callback, else 72 h."""
    return (
        pl.when(pl.col("eligibility") == "callback_promised")
        .then(pl.lit(timedelta(hours=policy.callback_promised_window_hours)))
        .otherwise(pl.lit(timedelta(hours=policy.window_hours)))
    )


def eligible_contacts(contacts: pl.LazyFrame, window: AuditWindow, policy: FollowUpPolicy) -> pl.LazyFrame:
    """Contacts closed on D that need a follow-up, with `eligibility` and `window_end_at`."""
    return (
        contacts.filter(closed_on(window))
        .with_columns(eligibility(policy).alias("eligibility"))
        .filter(pl.col("eligibility").is_not_null())
        .with_columns((pl.col("closed_at") + follow_up_window(policy)).alias("window_end_at"))
    )


def follow_up_attempts(
    tickets: pl.LazyFrame, events: pl.LazyFrame, calls: pl.LazyFrame, policy: FollowUpPolicy
) -> pl.LazyFrame:
    """Agent-initiated contacts that count as a follow-up: `customer_id`, `follow_up_id`, `follow_up_at`.

    A `follow_up` event on any of the customer's tickets (any actor but the customer), or an
    outbound/callback call, timed at `initiated_at` (unanswered attempts only when the policy allows).
    """
    logged = (
        events.filter((pl.col("event_type") == "follow_up") & (pl.col("actor_role") != "customer"))
        .join(ticket_customers(tickets), on="ticket_id", how="inner")
        .select(
            "customer_id",
            pl.col("event_id").alias("follow_up_id"),
            pl.col("occurred_at").alias("follow_up_at"),
        )
    )
    reached = pl.col("answered_at").is_not_null() | pl.lit(policy.count_unanswered_attempts)
    called = calls.filter(pl.col("direction").is_in(AGENT_INITIATED_DIRECTIONS) & reached).select(
        "customer_id", pl.col("call_id").alias("follow_up_id"), pl.col("initiated_at").alias("follow_up_at")
    )
    return pl.concat([logged, called])


def customer_returns(
    events: pl.LazyFrame, customer_contacts: pl.LazyFrame, tickets: pl.LazyFrame
) -> pl.LazyFrame:
    """When a customer reached out on their own: `customer_id`, `returned_at`, and the new ticket
    or call (`return_type`, `return_id`; null for a comment).

    New tickets, inbound calls, and customer comments on any of their tickets (the contact's own
    ticket included: "it still does not work" on the solved ticket is coming back).
    """
    comments = (
        events.filter((pl.col("event_type") == "comment") & (pl.col("actor_role") == "customer"))
        .join(ticket_customers(tickets), on="ticket_id", how="inner")
        .select(
            "customer_id",
            pl.col("occurred_at").alias("returned_at"),
            pl.lit(None, dtype=pl.String).alias("return_type"),
            pl.lit(None, dtype=pl.String).alias("return_id"),
        )
    )
    opened = customer_contacts.select(
        "customer_id",
        pl.col("opened_at").alias("returned_at"),
        pl.col("contact_type").alias("return_type"),
        pl.col("contact_id").alias("return_id"),
    )
    return pl.concat([comments, opened])


def _within_window(at: str, cutoff: datetime) -> pl.Expr:
    """Strictly after the contact ended, no later than the window end (inclusive), and known by the
    data cut-off (a later run must not see more than the cut-off says is known)."""
    return (
        (pl.col(at) > pl.col("closed_at"))
        & (pl.col(at) <= pl.col("window_end_at"))
        & (pl.col(at) <= pl.lit(cutoff, dtype=TIMESTAMP))
    )


def _first_follow_ups(eligible: pl.LazyFrame, attempts: pl.LazyFrame, cutoff: datetime) -> pl.LazyFrame:
    """The earliest follow-up per eligible contact (ties: the smallest id)."""
    return (
        eligible.select(*_KEYS, "customer_id", "closed_at", "window_end_at")
        .join(attempts, on="customer_id", how="inner")
        .filter(_within_window("follow_up_at", cutoff))
        .sort(*_KEYS, "follow_up_at", "follow_up_id")
        .group_by(_KEYS, maintain_order=True)
        .first()
        .select(*_KEYS, "follow_up_id", "follow_up_at")
    )


def _came_back_first(eligible: pl.LazyFrame, returns: pl.LazyFrame, cutoff: datetime) -> pl.LazyFrame:
    """Contacts whose customer reached out within the window before any follow-up.

    A call's own linked ticket (logged for the call) is not the customer coming back, as in
    resolution's repeat contacts.
    """
    return (
        eligible.select(*_KEYS, "ticket_id", "customer_id", "closed_at", "window_end_at", "follow_up_at")
        .join(returns, on="customer_id", how="inner")
        .filter(
            _within_window("returned_at", cutoff)
            & ~is_own_linked_ticket("return_type", "return_id")
            & (pl.col("follow_up_at").is_null() | (pl.col("returned_at") < pl.col("follow_up_at")))
        )
        .select(*_KEYS)
        .unique()
        .with_columns(pl.lit(True).alias("is_customer_came_back_first"))
    )


def follow_up_status(cutoff: datetime) -> pl.Expr:
    """met / missed once the window has closed by the data cut-off; `pending` until then, even when
    a follow-up is already seen (docs/metrics.md: a window not closed is pending; deciding only the
    successes early would bias a day's first run towards met)."""
    return (
        pl.when(pl.col("window_end_at") > pl.lit(cutoff, dtype=TIMESTAMP))
        .then(pl.lit("pending"))
        .when(pl.col("follow_up_id").is_not_null())
        .then(pl.lit("met"))
        .otherwise(pl.lit("missed"))
    )


def audit_follow_up(scope: DayScope, window: AuditWindow, policy: Policy) -> FamilyResult:
    """Follow-up evidence for every eligible contact closed on D, and its scorecard parts: the
    `follow_up` rate over final (met or missed) contacts and hours to follow-up of met ones."""
    evidence = follow_up_evidence(
        scope.contacts,
        scope.customer_contacts,
        scope.customer_tickets,
        scope.ticket_events,
        scope.customer_calls,
        window,
        policy.follow_up,
    )
    rate_parts, measures = follow_up_parts(evidence)
    return FamilyResult(tables={TABLE: evidence}, rate_parts=rate_parts, measures=measures)


def follow_up_parts(evidence: pl.LazyFrame) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """The `follow_up` rate over final (met or missed) contacts, numerator 1 when met; and
    hours to follow-up of each met contact, for the agent who closed it (median and p90)."""
    final = evidence.filter(pl.col("status").is_in(("met", "missed")))
    met = evidence.filter(pl.col("status") == "met")
    return (
        rate_part(final, "follow_up", pl.col("status") == "met"),
        measure_part(met, "hours_to_follow_up", pl.col("hours_to_follow_up")),
    )


def follow_up_evidence(
    contacts: pl.LazyFrame,
    customer_contacts: pl.LazyFrame,
    tickets: pl.LazyFrame,
    events: pl.LazyFrame,
    calls: pl.LazyFrame,
    window: AuditWindow,
    policy: FollowUpPolicy,
) -> pl.LazyFrame:
    """`follow_up_audit` rows: every eligible contact closed on D with its status and evidence."""
    eligible = eligible_contacts(contacts, window, policy)
    cutoff = window.data_cutoff.astimezone(UTC)  # compared as an instant, whatever its zone
    firsts = _first_follow_ups(eligible, follow_up_attempts(tickets, events, calls, policy), cutoff)
    with_first = eligible.join(firsts, on=_KEYS, how="left")
    came_back = _came_back_first(with_first, customer_returns(events, customer_contacts, tickets), cutoff)
    evidence = (
        with_first.join(came_back, on=_KEYS, how="left")
        .with_columns(
            follow_up_status(cutoff).alias("status"),
            ((pl.col("follow_up_at") - pl.col("closed_at")).dt.total_microseconds() / 3_600_000_000).alias(
                "hours_to_follow_up"
            ),
            pl.col("is_customer_came_back_first").fill_null(False),
        )
        .select(EVIDENCE_SCHEMA.names())
        .cast(EVIDENCE_SCHEMA)
    )
    return evidence
