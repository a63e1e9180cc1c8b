"""Escalation handling (docs/metrics.md §2): did agents hand difficult customers up in time,
and did they stay in control of the calls they kept?

Pure Polars over the contact universe (transforms/contacts.py). Every threshold comes
from `EscalationPolicy`; the audit window supplies the day and the data cut-off, so a
contact whose came-back window is still open is `pending` rather than guessed.
Interpretations of the definitions are recorded in docs/decisions/escalation.md.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl

from configs.policy import EscalationPolicy, Policy
from transforms.contacts import CONTACT_EVIDENCE_COLUMNS, AuditWindow, closed_on, is_own_linked_ticket
from transforms.parts import FamilyResult, Metric, count_part, rate_part
from transforms.schemas.base import WORKING_STATUSES
from transforms.scope import DayScope

# Signal names, in the stable (alphabetical) order they are listed in `signals`.
CUSTOMER_REQUEST = "customer_request"
REPEAT_CONTACT = "repeat_contact"
STARTED_NEGATIVE = "started_negative"
URGENT = "urgent"
SIGNALS = (CUSTOMER_REQUEST, REPEAT_CONTACT, STARTED_NEGATIVE, URGENT)

TIMELY, LATE, MISSED, HANDLED, UNPROMPTED, PENDING = (
    "timely",
    "late",
    "missed",
    "handled",
    "unprompted",
    "pending",
)
# Every value of `escalation_class` in the evidence (the published five plus `pending`).
ESCALATION_CLASSES = (TIMELY, LATE, MISSED, HANDLED, UNPROMPTED, PENDING)
# "Needed": the contacts whose signals say they needed a supervisor (docs/metrics.md §2, "Signals that a
# contact needed a supervisor"), once their class is final: the missed-escalation denominator.
NEEDED_CLASSES = (TIMELY, LATE, MISSED, HANDLED)

ANCHOR = "2-escalation-handling"
METRICS = (
    Metric(
        "escalation",
        "rate",
        label="Escalation",
        description="Contacts closed on the day (tickets and answered calls), and those escalated.",
        anchor=ANCHOR,
    ),
    Metric(
        "missed_escalation",
        "rate",
        label="Missed escalation",
        short_label="Missed esc.",
        description="Contacts with a signal whose class is final (timely, late, missed, handled), "
        "and those missed: not escalated, and not resolved or the customer came back.",
        anchor=ANCHOR,
        headline=True,
    ),
    Metric(
        "late_escalation",
        "rate",
        label="Late escalation",
        short_label="Late esc.",
        description="Escalated contacts where the customer asked (timely or late), and those escalated "
        "later than request_to_escalation_hours after the request.",
        anchor=ANCHOR,
    ),
    Metric(
        "de_escalation",
        "rate",
        label="De-escalation",
        short_label="De-esc.",
        description="Calls closed on the day that started negative, and those that ended at "
        "sentiment 0 or above.",
        anchor=ANCHOR,
    ),
    Metric(
        "lost_control",
        "count",
        label="Lost control",
        description="Calls closed on the day whose sentiment fell by at least lost_control_drop and "
        "ended at or below lost_control_end.",
        anchor=ANCHOR,
    ),
    Metric(
        "argumentative",
        "count",
        label="Argumentative",
        description="Calls closed on the day with at least argumentative_interruptions agent "
        "interruptions and falling sentiment.",
        anchor=ANCHOR,
    ),
)
TABLE = "escalation_audit"

# Sentiment is a -5..5 score; compare differences at this precision so 0.3 - (-1.7) is a drop of 2.
_SENTIMENT_DECIMALS = 6

EVIDENCE_SCHEMA = pl.Schema(
    {
        **CONTACT_EVIDENCE_COLUMNS,
        "signals": pl.List(pl.String()),
        "escalation_class": pl.String(),
        "is_escalated": pl.Boolean(),
        "is_started_negative": pl.Boolean(),
        "is_de_escalated": pl.Boolean(),
        "is_lost_control": pl.Boolean(),
        "is_argumentative": pl.Boolean(),
        "requested_at": pl.Datetime("us", "UTC"),
        "escalated_at": pl.Datetime("us", "UTC"),
        "hours_request_to_escalation": pl.Float64(),
        "closed_at": pl.Datetime("us", "UTC"),
        "came_back_at": pl.Datetime("us", "UTC"),
    }
)

_CALL_FLAGS = ("is_started_negative", "is_de_escalated", "is_lost_control", "is_argumentative")


# --- call conduct -------------------------------------------------------------------------------


def started_negative(threshold: float) -> pl.Expr:
    """The customer opened the call upset (inclusive threshold); unknown sentiment is not negative."""
    return (pl.col("sentiment_start") <= threshold).fill_null(False)


def de_escalated(threshold: float) -> pl.Expr:
    """Started negative and ended neutral or better: the agent calmed the customer down."""
    return started_negative(threshold) & (pl.col("sentiment_end") >= 0).fill_null(False)


def sentiment_drop() -> pl.Expr:
    """How far sentiment fell over the call (negative when it rose)."""
    return (pl.col("sentiment_start") - pl.col("sentiment_end")).round(_SENTIMENT_DECIMALS)


def lost_control(drop: float, end: float) -> pl.Expr:
    """Sentiment fell by at least `drop` and ended at or below `end`."""
    return ((sentiment_drop() >= drop) & (pl.col("sentiment_end") <= end)).fill_null(False)


def argumentative(interruptions: int) -> pl.Expr:
    """The agent talked over the customer `interruptions`+ times and sentiment fell."""
    fell = pl.col("sentiment_end") < pl.col("sentiment_start")
    return ((pl.col("agent_interruptions") >= interruptions) & fell).fill_null(False)


def call_facts(calls: pl.LazyFrame, policy: EscalationPolicy) -> pl.LazyFrame:
    """Per call: was a supervisor requested, was it escalated, and the conduct flags."""
    return calls.select(
        pl.col("call_id").alias("contact_id"),
        pl.lit("call").alias("contact_type"),
        pl.col("supervisor_requested").fill_null(False).alias("is_requested_call"),
        (pl.col("escalated_to").is_not_null() | (pl.col("outcome") == "escalated").fill_null(False)).alias(
            "is_escalated_call"
        ),
        started_negative(policy.negative_sentiment).alias("is_started_negative"),
        de_escalated(policy.negative_sentiment).alias("is_de_escalated"),
        lost_control(policy.lost_control_drop, policy.lost_control_end).alias("is_lost_control"),
        argumentative(policy.argumentative_interruptions).alias("is_argumentative"),
    )


# --- ticket events ------------------------------------------------------------------------------


def ticket_escalation_times(closed: pl.LazyFrame, events: pl.LazyFrame) -> pl.LazyFrame:
    """First escalation request strictly before the first solve, and first escalation up to it."""
    tickets = closed.filter(pl.col("contact_type") == "ticket").select("contact_id", "closed_at")
    relevant = events.filter(pl.col("event_type").is_in(["escalation_request", "escalation"])).select(
        pl.col("ticket_id").alias("contact_id"), "event_type", "occurred_at"
    )
    joined = tickets.join(relevant, on="contact_id", how="inner")
    is_request = (pl.col("event_type") == "escalation_request") & (
        pl.col("occurred_at") < pl.col("closed_at")
    )
    is_escalation = (pl.col("event_type") == "escalation") & (pl.col("occurred_at") <= pl.col("closed_at"))
    return (
        joined.group_by("contact_id")
        .agg(
            pl.col("occurred_at").filter(is_request).min().alias("requested_at"),
            pl.col("occurred_at").filter(is_escalation).min().alias("escalated_at"),
        )
        .with_columns(contact_type=pl.lit("ticket"))
    )


def reopened_at(
    closed: pl.LazyFrame, events: pl.LazyFrame, window: timedelta, cutoff: datetime
) -> pl.LazyFrame:
    """First move of a solved ticket back to a working status within `window` after its first solve."""
    tickets = closed.filter(pl.col("contact_type") == "ticket").select("contact_id", "closed_at")
    reopens = events.filter(
        (pl.col("event_type") == "status_change") & pl.col("new_status").is_in(WORKING_STATUSES)
    ).select(pl.col("ticket_id").alias("contact_id"), pl.col("occurred_at").alias("came_back_at"))
    return _first_within(tickets.join(reopens, on="contact_id", how="inner"), window, cutoff).with_columns(
        contact_type=pl.lit("ticket")
    )


# --- customer-initiated contacts ----------------------------------------------------------------


def repeat_contact_ordinals(
    closed: pl.LazyFrame, customer_contacts: pl.LazyFrame, window: timedelta
) -> pl.LazyFrame:
    """For each closed contact that is customer-initiated: its position among the customer's
    customer-initiated contacts in its category opened in [opened_at - window, opened_at].

    The contact's own category is the contact universe's (a call may take its linked ticket's);
    ties on `opened_at` are ordered by contact type and id so "third" is well defined.
    """
    keys = ["contact_id", "contact_type"]
    targets = closed.join(customer_contacts.select(keys), on=keys, how="semi").select(
        *keys, "customer_id", "category", "opened_at"
    )
    others = customer_contacts.select(
        "customer_id",
        "category",
        pl.col("contact_id").alias("other_id"),
        pl.col("contact_type").alias("other_type"),
        pl.col("opened_at").alias("other_opened_at"),
    )
    earlier = (pl.col("other_opened_at") < pl.col("opened_at")) | (
        (pl.col("other_opened_at") == pl.col("opened_at"))
        & (
            (pl.col("other_type") < pl.col("contact_type"))
            | ((pl.col("other_type") == pl.col("contact_type")) & (pl.col("other_id") < pl.col("contact_id")))
        )
    )
    in_window = pl.col("other_opened_at") >= pl.col("opened_at") - window
    earlier_count = (
        targets.join(others, on=["customer_id", "category"], how="inner")
        .filter(earlier & in_window)
        .group_by(keys)
        .agg(pl.len().cast(pl.Int64).alias("earlier_contacts"))
    )
    return targets.join(earlier_count, on=keys, how="left").select(
        *keys,
        # this contact is one more than those before it; no category means no "same category"
        pl.when(pl.col("category").is_not_null())
        .then(pl.col("earlier_contacts").fill_null(0) + 1)
        .alias("repeat_ordinal"),
    )


def customer_came_back_at(
    closed: pl.LazyFrame, customer_contacts: pl.LazyFrame, window: timedelta, cutoff: datetime
) -> pl.LazyFrame:
    """First new customer-initiated contact, same customer and category, opened after the close
    and within `window` of it. A call's own linked ticket (logged for the call) is not a return,
    as in resolution's repeat contacts."""
    base = closed.select("contact_id", "contact_type", "ticket_id", "customer_id", "category", "closed_at")
    later = customer_contacts.select(
        "customer_id",
        "category",
        pl.col("contact_id").alias("other_id"),
        pl.col("contact_type").alias("other_type"),
        pl.col("opened_at").alias("came_back_at"),
    )
    joined = base.join(later, on=["customer_id", "category"], how="inner").filter(
        (pl.col("other_id") != pl.col("contact_id")) & ~is_own_linked_ticket("other_type", "other_id")
    )
    return _first_within(joined, window, cutoff, keys=("contact_id", "contact_type"))


def _first_within(
    frame: pl.LazyFrame,
    window: timedelta,
    cutoff: datetime,
    keys: tuple[str, ...] = ("contact_id",),
) -> pl.LazyFrame:
    """Earliest `came_back_at` in (closed_at, closed_at + window], known by the data cut-off."""
    inside = (
        (pl.col("came_back_at") > pl.col("closed_at"))
        & (pl.col("came_back_at") <= pl.col("closed_at") + window)
        & (pl.col("came_back_at") <= cutoff)
    )
    return frame.filter(inside).group_by(list(keys)).agg(pl.col("came_back_at").min())


# --- classification -----------------------------------------------------------------------------


def signal_list() -> pl.Expr:
    """Signals present, as a list in the stable order of SIGNALS."""
    return pl.concat_list(
        [pl.when(pl.col(f"is_{name}")).then(pl.lit(name)).otherwise(pl.lit(None)) for name in SIGNALS]
    ).list.drop_nulls()


def escalation_class(request_limit: timedelta, came_back_window: timedelta, cutoff: datetime) -> pl.Expr:
    """One class per contact with a signal or an escalation; null for the rest.

    A resolved, unescalated contact with a signal is `pending` while its came-back window is open
    at the cut-off, even when a return is already seen (docs/metrics.md: a window not closed is
    pending), as resolution does for first-contact resolution.
    """
    has_signal = pl.any_horizontal([pl.col(f"is_{name}") for name in SIGNALS])
    waited_too_long = (pl.col("escalated_at") - pl.col("requested_at")) > request_limit
    return (
        pl.when(pl.col("is_escalated") & has_signal & waited_too_long.fill_null(False))
        .then(pl.lit(LATE))
        .when(pl.col("is_escalated") & has_signal)
        .then(pl.lit(TIMELY))
        .when(pl.col("is_escalated"))
        .then(pl.lit(UNPROMPTED))
        .when(~has_signal)
        .then(pl.lit(None, dtype=pl.String))
        .when(~pl.col("is_resolved"))
        .then(pl.lit(MISSED))
        .when(pl.col("closed_at") + came_back_window > cutoff)
        .then(pl.lit(PENDING))
        .when(pl.col("came_back_at").is_not_null())
        .then(pl.lit(MISSED))
        .otherwise(pl.lit(HANDLED))
    )


def classify_escalations(
    contacts: pl.LazyFrame,
    customer_contacts: pl.LazyFrame,
    events: pl.LazyFrame,
    calls: pl.LazyFrame,
    window: AuditWindow,
    policy: EscalationPolicy,
) -> pl.LazyFrame:
    """Every contact closed on the audit day with its signals, escalation facts and class
    (`escalation_class` is null when the contact had neither a signal nor an escalation)."""
    came_back_window = timedelta(days=policy.came_back_window_days)
    cutoff = window.data_cutoff.astimezone(UTC)
    keys = ["contact_id", "contact_type"]
    closed = contacts.filter(closed_on(window))
    came_back = (
        pl.concat(
            [
                customer_came_back_at(closed, customer_contacts, came_back_window, cutoff),
                reopened_at(closed, events, came_back_window, cutoff).select([*keys, "came_back_at"]),
            ]
        )
        .group_by(keys)
        .agg(pl.col("came_back_at").min())
    )
    ordinals = repeat_contact_ordinals(closed, customer_contacts, timedelta(days=policy.repeat_window_days))
    is_ticket = pl.col("contact_type") == "ticket"
    return (
        closed.join(ticket_escalation_times(closed, events), on=keys, how="left")
        .join(call_facts(calls, policy), on=keys, how="left")
        .join(ordinals, on=keys, how="left")
        .join(came_back, on=keys, how="left")
        .with_columns([pl.col(flag).fill_null(False) for flag in _CALL_FLAGS])
        .with_columns(
            is_customer_request=pl.when(is_ticket)
            .then(pl.col("requested_at").is_not_null())
            .otherwise(pl.col("is_requested_call").fill_null(False)),
            is_repeat_contact=(pl.col("repeat_ordinal") >= policy.repeat_contacts).fill_null(False),
            is_urgent=(is_ticket & (pl.col("priority") == "urgent")).fill_null(False),
            is_escalated=pl.when(is_ticket)
            .then(pl.col("escalated_at").is_not_null())
            .otherwise(pl.col("is_escalated_call").fill_null(False)),
            is_resolved=pl.col("is_resolved").fill_null(False),
            hours_request_to_escalation=(
                (pl.col("escalated_at") - pl.col("requested_at")).dt.total_microseconds() / 3.6e9
            ).clip(lower_bound=0.0),
        )
        .with_columns(
            signals=signal_list(),
            escalation_class=escalation_class(
                timedelta(hours=policy.request_to_escalation_hours), came_back_window, cutoff
            ),
        )
    )


# --- public entry point -------------------------------------------------------------------------


def audit_escalation(scope: DayScope, window: AuditWindow, policy: Policy) -> FamilyResult:
    """Escalation handling for the contacts closed on `window.audit_date`.

    Returns `escalation_audit` (`customer_id` in clear), rate parts for escalation,
    missed_escalation, late_escalation and de_escalation, and counts for lost_control and
    argumentative.
    """
    classified = classify_escalations(
        scope.contacts, scope.customer_contacts, scope.ticket_events, scope.calls, window, policy.escalation
    ).cache()
    return FamilyResult(
        tables={TABLE: escalation_evidence(classified)},
        rate_parts=escalation_rate_parts(classified),
        counts=escalation_counts(classified),
    )


def escalation_evidence(classified: pl.LazyFrame) -> pl.LazyFrame:
    """One row per contact with a signal or an escalation (published as escalation_audit)."""
    return (
        classified.filter(pl.col("escalation_class").is_not_null())
        .select([pl.col(name).cast(dtype) for name, dtype in EVIDENCE_SCHEMA.items()])
        .sort("audit_date", "contact_type", "contact_id")
    )


def escalation_rate_parts(classified: pl.LazyFrame) -> pl.LazyFrame:
    """0/1 parts per contact: escalation over all closed contacts; missed over needed (every
    contact with a signal whose class is final: timely, late, missed, handled); late over
    escalations after a request; de-escalation over calls that started negative. Pending and
    unprompted contacts sit in no missed denominator."""
    cls = pl.col("escalation_class")
    parts = [
        ("escalation", pl.lit(True), pl.col("is_escalated")),
        ("missed_escalation", cls.is_in(NEEDED_CLASSES).fill_null(False), cls == MISSED),
        (
            "late_escalation",
            (cls.is_in([TIMELY, LATE]) & pl.col("is_customer_request")).fill_null(False),
            cls == LATE,
        ),
        ("de_escalation", pl.col("is_started_negative"), pl.col("is_de_escalated")),
    ]
    frames = [rate_part(classified.filter(member), metric, hit) for metric, member, hit in parts]
    return _in_order(pl.concat(frames))


def escalation_counts(classified: pl.LazyFrame) -> pl.LazyFrame:
    """0/1 lost_control and argumentative per call closed on the day, whatever its class."""
    calls = classified.filter(pl.col("contact_type") == "call")
    return _in_order(
        pl.concat(
            [count_part(calls, count, pl.col(f"is_{count}")) for count in ("lost_control", "argumentative")]
        )
    )


def _in_order(parts: pl.LazyFrame) -> pl.LazyFrame:
    """Parts sorted on every column: the same rows in the same order, whatever the input order."""
    return parts.sort(parts.collect_schema().names(), nulls_last=True)


def analysed_calls(calls: pl.LazyFrame, window: AuditWindow) -> pl.LazyFrame:
    """How many answered calls ended on the audit day (`answered`), and how many of them carry a
    post-call analysis: a sentiment or an agent interruption count (`analysed`). A vendor landing
    whose analyses never arrived has the first without the second; its sentiment metrics would
    read 0 where nothing is known (flows/daily.withheld_metrics withholds them)."""
    day = pl.col("ended_at").is_between(window.day_start_at, window.day_end_at, closed="left")
    answered = calls.filter(day & pl.col("answered_at").is_not_null())
    known = pl.any_horizontal(
        pl.col(c).is_not_null() for c in ("sentiment_start", "sentiment_end", "agent_interruptions")
    )
    return answered.select(pl.len().alias("answered"), known.sum().cast(pl.UInt32).alias("analysed"))
