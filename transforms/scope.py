"""What one audit day reads: the canonical tables and the day's scope, built once for every family.

Every family but concessions reads contacts closed on D only, concessions those closed in its
trailing window (and, from the canonical tables, the concessions granted in the amount-outlier
history, twice as long); every family reaches other contacts, tickets and calls of a contact through its
customer (follow-up, came back, repeats). Narrowing to those keys first gives the same rows as
running every family over the whole history (tests/metrics/test_audit_scope.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import polars as pl

from configs.policy import Policy
from transforms.contacts import AuditWindow, build_contacts, build_customer_contacts, closed_on


@dataclass(frozen=True)
class CanonicalTables:
    """The de-duplicated inputs covering the run's look-back and look-ahead."""

    tickets: pl.LazyFrame
    ticket_events: pl.LazyFrame
    calls: pl.LazyFrame


@dataclass(frozen=True)
class DayScope:
    """Every frame a family may read for one audit day.

    `tickets`, `ticket_events` and `calls` are the canonical tables; the others are narrowed from
    them for the day (see `day_scope`).
    """

    tickets: pl.LazyFrame
    ticket_events: pl.LazyFrame
    calls: pl.LazyFrame
    contacts: pl.LazyFrame  # contacts closed in the concession window D-(window_days-1) .. D
    customer_contacts: pl.LazyFrame  # customer-initiated contacts of the customers closed on D
    customer_tickets: pl.LazyFrame  # tickets of those customers
    customer_calls: pl.LazyFrame  # calls of those customers


def concession_window_start(window: AuditWindow, window_days: int) -> date:
    """First audit day of the concessions' trailing window D-(window_days-1) .. D."""
    return window.audit_date - timedelta(days=window_days - 1)


def day_scope(inputs: CanonicalTables, window: AuditWindow, policy: Policy) -> DayScope:
    """The contact universe for the days any family reads, and the customers closed on D.

    Computed once, here: every family reads these, and families collect parts of their own plans
    (concession rate tests), which would otherwise rebuild the contact universe each time.
    """
    tickets, calls = inputs.tickets, inputs.calls
    first_day = concession_window_start(window, policy.concessions.window_days)
    contacts = build_contacts(
        tickets, inputs.ticket_events, calls, window.time_zone, closed_between=(first_day, window.audit_date)
    ).cache()
    customers = contacts.filter(closed_on(window)).select("customer_id").unique().cache()

    def of_customers(frame: pl.LazyFrame) -> pl.LazyFrame:
        return frame.join(customers, on="customer_id", how="semi")

    customer_calls = of_customers(calls)
    scope = [
        contacts,
        # new tickets of any customer, then narrowed: a call's category may come from another's ticket
        of_customers(build_customer_contacts(tickets, customer_calls)),
        of_customers(tickets),
        customer_calls,
    ]
    narrowed = [frame.lazy() for frame in pl.collect_all(scope)]
    return DayScope(tickets, inputs.ticket_events, calls, *narrowed)


def whole_history_scope(inputs: CanonicalTables, time_zone: str) -> DayScope:
    """Every contact of the whole history, un-narrowed: what `day_scope` must agree with (tests),
    and a simple way to hand hand-built frames to a family."""
    tickets, events, calls = inputs.tickets, inputs.ticket_events, inputs.calls
    return DayScope(
        tickets=tickets,
        ticket_events=events,
        calls=calls,
        contacts=build_contacts(tickets, events, calls, time_zone),
        customer_contacts=build_customer_contacts(tickets, calls),
        customer_tickets=tickets,
        customer_calls=calls,
    )
