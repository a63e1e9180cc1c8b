"""One audit day, end to end in Polars: canonical tables in, every audit table out.

The order reads like the metric definitions: the contact universe first, then each
metric family, then the scorecards that sum their parts. Pure: the flow (flows/daily.py)
and the benchmark (bench/) both call `run_audit`.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from configs.policy import Policy
from transforms.concessions import audit_concessions
from transforms.contacts import AuditWindow, build_contacts, build_customer_contacts
from transforms.escalation import audit_escalation
from transforms.follow_up import audit_follow_up
from transforms.resolution import audit_resolution
from transforms.scorecards import build_scorecards

# Published audit tables computed from the metrics, in publishing order.
METRIC_TABLES = (
    "agent_scorecard",
    "team_scorecard",
    "follow_up_audit",
    "escalation_audit",
    "concession_audit",
    "concession_flags",
)


@dataclass(frozen=True)
class CanonicalTables:
    """The de-duplicated inputs covering the run's look-back and look-ahead."""

    tickets: pl.LazyFrame
    ticket_events: pl.LazyFrame
    calls: pl.LazyFrame


def run_audit(inputs: CanonicalTables, window: AuditWindow, policy: Policy) -> dict[str, pl.LazyFrame]:
    """Every metric table for `window.audit_date`, keyed by published table name.

    Evidence tables still carry `customer_id`; publishing pseudonymises it.
    """
    tickets, events, calls = inputs.tickets, inputs.ticket_events, inputs.calls
    contacts = build_contacts(tickets, events, calls, window.time_zone).cache()
    customer_contacts = build_customer_contacts(tickets, calls).cache()

    follow_up = audit_follow_up(contacts, customer_contacts, tickets, events, calls, window, policy.follow_up)
    escalation = audit_escalation(contacts, customer_contacts, events, calls, window, policy.escalation)
    concessions = audit_concessions(
        contacts, tickets, events, calls, window, policy.concessions, policy.version
    )
    resolution = audit_resolution(contacts, customer_contacts, tickets, events, calls, window, policy)

    agent_scorecard, team_scorecard = build_scorecards(
        rate_parts=[follow_up.rate_parts, escalation.rate_parts, resolution.rate_parts],
        measures=[resolution.measures],
        counts=[escalation.counts, concessions.counts, resolution.counts],
        contacts=contacts,
        audit_date=window.audit_date,
        min_volume=policy.min_volume,
    )
    return {
        "agent_scorecard": agent_scorecard,
        "team_scorecard": team_scorecard,
        "follow_up_audit": follow_up.evidence,
        "escalation_audit": escalation.evidence,
        "concession_audit": concessions.audit,
        "concession_flags": concessions.flags,
    }


def collect_audit(tables: dict[str, pl.LazyFrame]) -> dict[str, pl.DataFrame]:
    """Collect every table in one pass so shared sub-plans (contacts) are computed once."""
    names = list(tables)
    return dict(zip(names, pl.collect_all([tables[n] for n in names]), strict=True))
