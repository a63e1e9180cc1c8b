"""Ticket plans and their lifecycles as coded ticket events, built column-wise with numpy.

A plan row decides everything about a ticket up front (solved or not, reopened, escalation asked,
concession, follow-up); `build_ticket_events` then lays the events out in time, one vectorised step
per kind of event. Events are coded integers until rendering, to keep a 1,000-agent centre fast.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from devtools.sample_data.arrivals import arrivals, lognormal_seconds, uniform_seconds
from devtools.sample_data.config import (
    CATEGORIES,
    CATEGORY_SHARES,
    CHANNEL_SHARES,
    CHANNELS,
    PRIORITIES,
    PRIORITY_SHARES,
    GeneratorConfig,
)
from devtools.sample_data.population import Population
from transforms.schemas.base import STATUSES
from transforms.schemas.ticket_events import EVENT_TYPES

KIND = {name: i for i, name in enumerate(EVENT_TYPES)} | {"survey": len(EVENT_TYPES)}
ROLE = {"agent": 0, "supervisor": 1, "customer": 2, "system": 3}
STATUS = {name: i for i, name in enumerate(STATUSES)}
FOLLOW_NONE, FOLLOW_EVENT, FOLLOW_CALL = 0, 1, 2
CSAT_SHARES = (0.06, 0.08, 0.14, 0.32, 0.40)

# Body templates (free text, never published); the code in the `body` column indexes this tuple.
BODIES = (
    "Hello, I need help with an issue on my account.",
    "Thanks for reaching out, I am looking into this now.",
    "Any update on this? It is still not working.",
    "Internal note: checked the account history.",
    "I want to speak to a manager about this.",
    "Supervisor here, I have taken over your case.",
    "Just checking in: is everything working as expected now?",
    "It broke again, please reopen.",
    "I have applied a concession to your account.",
)
BODY = {
    "first": 0,
    "reply": 1,
    "chase": 2,
    "note": 3,
    "ask": 4,
    "supervisor": 5,
    "follow_up": 6,
    "reopen": 7,
    "concession": 8,
}

EVENT_SCHEMA = pl.Schema(
    {
        "ticket": pl.Int32(),
        "at": pl.Int64(),
        "step": pl.Int16(),
        "kind": pl.Int8(),
        "role": pl.Int8(),
        "actor": pl.Int32(),  # agent index for agents, team index for supervisors, null otherwise
        "public": pl.Boolean(),
        "status": pl.Int8(),
        "assignee": pl.Int32(),
        "level": pl.Int8(),
        "body": pl.Int8(),
        "csat": pl.Int8(),
    }
)


def plan_tickets(config: GeneratorConfig, pop: Population, rng: np.random.Generator) -> pl.DataFrame:
    """One row per ticket with its static fields and the lifecycle decisions."""
    b = config.behaviour
    agent, created = arrivals(config, config.tickets_per_agent_per_day, rng)
    n = agent.size
    asked = rng.random(n) < b.escalation_request_share
    silent = asked & (agent == pop.no_escalation_agent)  # asked, never escalated: must be a contact
    will_solve = (rng.random(n) >= b.unsolved_share) | silent
    reopen = will_solve & ((rng.random(n) < b.reopen_share) | silent)
    follows = will_solve & (agent != pop.no_follow_up_agent) & (rng.random(n) < b.follow_up_share)
    by_call = rng.random(n) < b.follow_up_by_call_share
    csat = np.where(rng.random(n) < b.csat_share, rng.choice(np.arange(1, 6), size=n, p=CSAT_SHARES), 0)
    priority = rng.choice(len(PRIORITY_SHARES), size=n, p=PRIORITY_SHARES).astype(np.int8)
    urgent = priority == PRIORITIES.index("urgent")
    proactive = (
        urgent & ~asked & (agent != pop.no_escalation_agent) & (rng.random(n) < b.urgent_escalation_share)
    )
    other = rng.integers(0, pop.n_agents, size=n)
    reassigned = (rng.random(n) < b.reassigned_share) & (other != agent)
    return pl.DataFrame(
        {
            "ticket": np.arange(n, dtype=np.int32),
            "agent": agent,
            "customer": pop.draw_customers(agent, rng),
            "category": rng.choice(len(CATEGORIES), size=n, p=CATEGORY_SHARES).astype(np.int8),
            "channel": rng.choice(len(CHANNELS), size=n, p=CHANNEL_SHARES).astype(np.int8),
            "priority": priority,
            "created": created,
            "will_solve": will_solve,
            "asked": asked,
            "proactive": proactive,
            "reopen": reopen,
            "follow_up": np.where(follows, np.where(by_call, FOLLOW_CALL, FOLLOW_EVENT), FOLLOW_NONE).astype(
                np.int8
            ),
            "csat": csat.astype(np.int8),
            "reassigned_from": np.where(reassigned, other, -1).astype(np.int32),
            "exchanges": rng.choice(3, size=n, p=config.behaviour.exchange_shares).astype(np.int8),
            "note": rng.random(n) < b.internal_note_share,
            "concession": np.zeros(n, dtype=bool),
        }
    )


@dataclass
class EventLog:
    """Collects coded events step by step; `step` breaks ties between events at the same second."""

    ticket: np.ndarray
    parts: list[pl.DataFrame] = field(default_factory=list)

    def add(
        self, mask: np.ndarray, at: np.ndarray, kind: str, role: str, **columns: np.ndarray | int
    ) -> None:
        size = int(mask.sum())
        data: dict[str, object] = {
            "ticket": self.ticket[mask],
            "at": at[mask],
            "step": np.full(size, len(self.parts), dtype=np.int16),
            "kind": np.full(size, KIND[kind], dtype=np.int8),
            "role": np.full(size, ROLE[role], dtype=np.int8),
        }
        for name, value in columns.items():
            data[name] = value[mask] if isinstance(value, np.ndarray) else np.full(size, value)
        frame = pl.DataFrame(data).with_columns(
            pl.lit(None, dtype=dtype).alias(name) for name, dtype in EVENT_SCHEMA.items() if name not in data
        )
        self.parts.append(frame.select(pl.col(name).cast(dtype) for name, dtype in EVENT_SCHEMA.items()))

    def frame(self) -> pl.DataFrame:
        """All events in (ticket, at, step) order."""
        events = pl.concat(self.parts)
        return events.sort(event_order(events, "ticket", "at"))


STEP_SLOTS = 64  # more than the number of EventLog steps


def event_order(events: pl.DataFrame, first: str, second: str) -> pl.Expr | list[str]:
    """A sort key ordering events by (first, second, step): one packed Int64 when it fits (a
    single integer sort is several times faster on millions of rows), else the three columns."""
    if events.is_empty():
        return [first, second, "step"]
    values = {c: events[c].to_numpy() for c in (first, second)}
    low = {c: int(v.min()) for c, v in values.items()}
    span = {c: int(v.max()) - low[c] + 1 for c, v in values.items()}
    if span[first] * span[second] * STEP_SLOTS >= 2**62:
        return [first, second, "step"]
    offset = [(pl.col(c).cast(pl.Int64) - low[c]) for c in (first, second)]
    return (offset[0] * span[second] + offset[1]) * STEP_SLOTS + pl.col("step").cast(pl.Int64)


def build_ticket_events(
    plan: pl.DataFrame, pop: Population, config: GeneratorConfig, rng: np.random.Generator
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Coded events for every ticket, and the plan with `solved_at` (first solve) and `follow_up_at`.

    Each step moves a per-ticket `cursor` (the time of the latest activity) forward.
    """
    log = EventLog(plan["ticket"].to_numpy())
    agent = plan["agent"].to_numpy()
    cursor = _opening_steps(log, plan, rng)
    cursor = _exchange_steps(log, plan, cursor, rng)
    cursor = _escalation_steps(log, plan, pop, cursor, pop.agent_team[agent], rng)
    granted = plan["concession"].to_numpy()
    conceded_at = cursor + uniform_seconds(rng, 0.08, 1.0, plan.height)
    log.add(granted, conceded_at, "concession", "agent", actor=agent, body=BODY["concession"])
    cursor = np.where(granted, conceded_at, cursor)
    first_solve = _solve_steps(log, plan, cursor, rng)
    final_solve = _reopen_steps(log, plan, first_solve, agent, rng)
    follow_up_at = _after_solve_steps(log, plan, first_solve, final_solve, config, rng)
    timed = plan.with_columns(
        solved_at=pl.when(pl.col("will_solve")).then(pl.Series(first_solve)),
        follow_up_at=pl.Series(follow_up_at),
    )
    return log.frame(), timed


def _opening_steps(log: EventLog, plan: pl.DataFrame, rng: np.random.Generator) -> np.ndarray:
    """Creation, the customer's message, (re)assignment, the first public reply, internal notes."""
    n = plan.height
    everyone = np.ones(n, dtype=bool)
    agent = plan["agent"].to_numpy()
    created = plan["created"].to_numpy()
    log.add(everyone, created, "status_change", "system", status=STATUS["new"])
    log.add(everyone, created, "comment", "customer", public=True, body=BODY["first"])
    assigned = created + 30 + np.round(rng.exponential(900, n)).astype(np.int64)
    reassigned = plan["reassigned_from"].to_numpy() >= 0
    log.add(reassigned, assigned, "assignment", "system", assignee=plan["reassigned_from"].to_numpy())
    assigned = np.where(reassigned, assigned + uniform_seconds(rng, 0.1, 1.0, n), assigned)
    log.add(everyone, assigned, "assignment", "system", assignee=agent)
    log.add(everyone, assigned, "status_change", "system", status=STATUS["open"])
    replied = assigned + lognormal_seconds(rng, 1.2, 1.1, n, low=120, high_hours=72)
    log.add(everyone, replied, "comment", "agent", actor=agent, public=True, body=BODY["reply"])
    note_at = replied + uniform_seconds(rng, 0.02, 0.5, n)
    note = plan["note"].to_numpy()
    log.add(note, note_at, "comment", "agent", actor=agent, public=False, body=BODY["note"])
    return replied


def _exchange_steps(
    log: EventLog, plan: pl.DataFrame, cursor: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Up to two more rounds of customer message and agent reply."""
    n = plan.height
    agent = plan["agent"].to_numpy()
    exchanges = plan["exchanges"].to_numpy()
    for k in range(2):
        more = exchanges > k
        chase = cursor + uniform_seconds(rng, 0.5, 18, n)
        log.add(more, chase, "comment", "customer", public=True, body=BODY["chase"])
        reply = chase + lognormal_seconds(rng, 1.5, 1.0, n, low=120, high_hours=48)
        log.add(more, reply, "comment", "agent", actor=agent, public=True, body=BODY["reply"])
        cursor = np.where(more, reply, cursor)
    return cursor


def _solve_steps(
    log: EventLog, plan: pl.DataFrame, cursor: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """The agent solves the ticket, or leaves it waiting on the customer (pending / on hold)."""
    agent = plan["agent"].to_numpy()
    solved = plan["will_solve"].to_numpy()
    first_solve = cursor + lognormal_seconds(rng, 0.7, 0.8, plan.height, high_hours=24)
    log.add(solved, first_solve, "status_change", "agent", actor=agent, status=STATUS["solved"])
    waiting = np.where(plan["ticket"].to_numpy() % 3 == 0, STATUS["on_hold"], STATUS["pending"])
    log.add(~solved, cursor + 60, "status_change", "agent", actor=agent, status=waiting)
    return first_solve


def _after_solve_steps(
    log: EventLog,
    plan: pl.DataFrame,
    first_solve: np.ndarray,
    final_solve: np.ndarray,
    config: GeneratorConfig,
    rng: np.random.Generator,
) -> np.ndarray:
    """Follow-up events (returns the follow-up time for all tickets), closing, CSAT answers."""
    n = plan.height
    solved = plan["will_solve"].to_numpy()
    follow_up_at = first_solve + uniform_seconds(rng, 2, 60, n)
    by_event = plan["follow_up"].to_numpy() == FOLLOW_EVENT
    agent = plan["agent"].to_numpy()
    log.add(by_event, follow_up_at, "follow_up", "agent", actor=agent, public=True, body=BODY["follow_up"])
    closed_at = final_solve + round(config.behaviour.close_after_days * 86_400)
    log.add(solved, closed_at, "status_change", "system", status=STATUS["closed"])
    csat = plan["csat"].to_numpy()
    answered = solved & (csat > 0)
    log.add(answered, final_solve + uniform_seconds(rng, 1, 48, n), "survey", "customer", csat=csat)
    return follow_up_at


def _escalation_steps(
    log: EventLog,
    plan: pl.DataFrame,
    pop: Population,
    cursor: np.ndarray,
    team: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """The customer asks for a manager; ordinary agents escalate within 4 h, the planted one never.

    Ordinary agents also hand some urgent tickets up unasked (proactive escalation).
    """
    n = plan.height
    agent = plan["agent"].to_numpy()
    asked = plan["asked"].to_numpy()
    asked_at = cursor + uniform_seconds(rng, 0.17, 3, n)
    log.add(asked, asked_at, "escalation_request", "customer", public=True, body=BODY["ask"])
    on_request = asked & (agent != pop.no_escalation_agent)
    escalates = on_request | plan["proactive"].to_numpy()
    escalated_at = np.where(
        asked, asked_at + uniform_seconds(rng, 0.1, 3.5, n), cursor + uniform_seconds(rng, 0.1, 2, n)
    )
    log.add(escalates, escalated_at, "escalation", "agent", actor=agent, level=1)
    supervisor_at = escalated_at + uniform_seconds(rng, 0.17, 2, n)
    log.add(
        escalates, supervisor_at, "comment", "supervisor", actor=team, public=True, body=BODY["supervisor"]
    )
    ignored = asked & ~on_request
    replied_at = asked_at + uniform_seconds(rng, 0.17, 2, n)
    log.add(ignored, replied_at, "comment", "agent", actor=agent, public=True, body=BODY["reply"])
    return np.where(escalates, supervisor_at, np.where(ignored, replied_at, cursor))


def _reopen_steps(
    log: EventLog, plan: pl.DataFrame, first_solve: np.ndarray, agent: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """The customer comes back after the solve; the ticket reopens and is solved again."""
    n = plan.height
    reopen = plan["reopen"].to_numpy()
    back_at = first_solve + uniform_seconds(rng, 6, 120, n)
    log.add(reopen, back_at, "comment", "customer", public=True, body=BODY["reopen"])
    log.add(reopen, back_at + 1, "status_change", "system", status=STATUS["open"])
    reply = back_at + lognormal_seconds(rng, 2, 1.0, n, low=120, high_hours=48)
    log.add(reopen, reply, "comment", "agent", actor=agent, public=True, body=BODY["reply"])
    again = reply + lognormal_seconds(rng, 0.7, 0.8, n, high_hours=24)
    log.add(reopen, again, "status_change", "agent", actor=agent, status=STATUS["solved"])
    return np.where(reopen, again, first_solve)
