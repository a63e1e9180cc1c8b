"""Call legs as a contact-center platform exports them, built column-wise.

Inbound legs are planned first (so concessions can be decided jointly with tickets); then
`build_call_legs` adds transfer legs, the inbound legs that opened phone tickets, kept callback
promises, and the outbound follow-up calls ordinary agents make after resolving a contact.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from devtools.sample_data.arrivals import arrivals, lognormal_seconds, uniform_seconds
from devtools.sample_data.config import CATEGORIES, CATEGORY_SHARES, CHANNELS, Behaviour, GeneratorConfig
from devtools.sample_data.population import Population
from devtools.sample_data.tickets import FOLLOW_CALL

DIRECTIONS = ("inbound", "outbound", "callback", "transfer")
OUTCOMES = ("resolved", "unresolved", "escalated", "callback_promised", "abandoned")
DIRECTION = {name: i for i, name in enumerate(DIRECTIONS)}
OUTCOME = {name: i for i, name in enumerate(OUTCOMES)}
TRANSFERRED = -1  # planning code: the leg is handed to a colleague (the leg's own outcome is null)

LEG_SCHEMA = pl.Schema(
    {
        "leg": pl.Int32(),
        "prev_leg": pl.Int32(),
        "customer": pl.Int32(),
        "direction": pl.Int8(),
        "initiated": pl.Int64(),
        "answered": pl.Int64(),
        "ended": pl.Int64(),
        "agent": pl.Int32(),
        "category": pl.Int8(),
        "ticket": pl.Int32(),
        "hold_seconds": pl.Float64(),
        "hold_count": pl.Int64(),
        "talk_seconds": pl.Float64(),
        "agent_interruptions": pl.Int64(),
        "sentiment_start": pl.Float64(),
        "sentiment_end": pl.Float64(),
        "supervisor_requested": pl.Boolean(),
        "escalated": pl.Boolean(),
        "satisfaction_confirmed": pl.Boolean(),
        "outcome": pl.Int8(),
    }
)


CONVERSATION = (
    "hold_seconds",
    "hold_count",
    "talk_seconds",
    "agent_interruptions",
    "sentiment_start",
    "sentiment_end",
    "supervisor_requested",
    "satisfaction_confirmed",
)


def _sentiment(values: np.ndarray) -> np.ndarray:
    return np.clip(np.round(values, 1), -5.0, 5.0)


def _conversation(rng: np.random.Generator, n: int, talk_median_hours: float) -> dict[str, np.ndarray]:
    """Talk, hold and interruption figures for answered legs."""
    hold_count = rng.poisson(0.5, n)
    return {
        "talk_seconds": lognormal_seconds(rng, talk_median_hours, 0.6, n, low=20, high_hours=2).astype(float),
        "hold_count": hold_count,
        "hold_seconds": np.round(hold_count * rng.uniform(20, 120, n)),
        "agent_interruptions": rng.poisson(0.7, n),
    }


def plan_inbound_calls(config: GeneratorConfig, pop: Population, rng: np.random.Generator) -> pl.DataFrame:
    """Inbound legs with their outcome decided; `outcome` TRANSFERRED marks a leg handed on."""
    b = config.behaviour
    agent, initiated = arrivals(config, config.calls_per_agent_per_day, rng)
    n = agent.size
    abandoned = rng.random(n) < b.abandoned_share
    start = _sentiment(rng.normal(0.5, 1.6, n))
    asked = ~abandoned & (rng.random(n) < b.supervisor_request_share * np.where(start <= -2, 3.0, 0.7))
    escalates = asked & (agent != pop.no_escalation_agent)
    outcome = np.select(
        [abandoned, escalates, asked],
        [OUTCOME["abandoned"], OUTCOME["escalated"], OUTCOME["unresolved"]],
        _drawn_outcomes(agent, start, pop, rng),
    )
    drift = np.select(
        [outcome == OUTCOME["resolved"], outcome == OUTCOME["escalated"]],
        [rng.normal(1.3, 0.8, n), rng.normal(0.6, 1.0, n)],
        rng.normal(-0.3, 1.0, n),
    )
    wait = np.round(rng.exponential(np.where(abandoned, 90.0, 45.0))).astype(np.int64) + 3
    talk = _conversation(rng, n, 330 / 3600)
    answered = np.where(abandoned, -1, initiated + wait)
    ended = np.where(abandoned, initiated + wait, answered + talk["talk_seconds"] + talk["hold_seconds"])
    confirmed = rng.random(n) < np.where(outcome == OUTCOME["resolved"], 0.85, 0.4)
    return pl.DataFrame(
        {
            "leg": np.arange(n, dtype=np.int32),
            "customer": pop.draw_customers(agent, rng),
            "direction": np.full(n, DIRECTION["inbound"], dtype=np.int8),
            "initiated": initiated,
            "answered": answered,
            "ended": ended.astype(np.int64),
            "agent": agent,
            "category": rng.choice(len(CATEGORIES), size=n, p=CATEGORY_SHARES).astype(np.int8),
            **talk,
            "sentiment_start": start,
            "sentiment_end": _sentiment(start + drift),
            "supervisor_requested": asked,
            "escalated": escalates,
            "satisfaction_confirmed": confirmed,
            "outcome": outcome,
            "concession": np.zeros(n, dtype=bool),
        }
    ).with_columns(
        *_abandoned_nulls(),
        pl.col("answered").replace(-1, None),
        pl.lit(None, dtype=pl.Int32()).alias("prev_leg"),
        pl.lit(None, dtype=pl.Int32()).alias("ticket"),
    )


def _drawn_outcomes(
    agent: np.ndarray, start: np.ndarray, pop: Population, rng: np.random.Generator
) -> np.ndarray:
    """How an answered call ends when no supervisor was asked for."""
    drawn = rng.choice(
        [OUTCOME["resolved"], OUTCOME["unresolved"], OUTCOME["callback_promised"], TRANSFERRED],
        size=agent.size,
        p=[0.78, 0.08, 0.08, 1 - 0.94],
    )
    drawn = np.where((drawn == TRANSFERRED) & ~pop.is_ordinary(agent), OUTCOME["resolved"], drawn)
    # Agents calm negative callers and resolve them on the call, so missed escalations stay rare
    # in the background (no transfer, promise or unresolved ending for them).
    return np.where(start <= -2, OUTCOME["resolved"], drawn)


def _abandoned_nulls() -> list[pl.Expr]:
    """An abandoned leg has no agent and no conversation figures."""
    is_abandoned = pl.col("outcome") == OUTCOME["abandoned"]
    cols = ("agent", "escalated", *CONVERSATION)
    return [pl.when(~is_abandoned).then(pl.col(c)).alias(c) for c in cols]


def _conform(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select(pl.col(c).cast(t) for c, t in LEG_SCHEMA.items())


def _legs(**columns: object) -> pl.DataFrame:
    """A leg frame in LEG_SCHEMA; missing columns are null."""
    frame = pl.DataFrame(columns)
    missing = [pl.lit(None, dtype=t).alias(c) for c, t in LEG_SCHEMA.items() if c not in frame.columns]
    return _conform(frame.with_columns(missing))


def _agent_initiated(
    rng: np.random.Generator,
    source: pl.DataFrame,
    at: np.ndarray,
    direction: str,
    answered_share: float,
    resolved_share: float | None,
) -> dict[str, object]:
    """Outbound or callback legs to `source`'s customers, some unanswered (answered_at null)."""
    n = source.height
    answered = rng.random(n) < answered_share
    talk = _conversation(rng, n, 120 / 3600)
    ring = rng.integers(20, 45, n)
    ended = np.where(answered, at + ring + talk["talk_seconds"] + talk["hold_seconds"], at + ring)
    outcome = np.full(n, -1)  # a check-in has no outcome of its own
    if resolved_share is not None:
        good = rng.random(n) < resolved_share
        outcome = np.where(answered, np.where(good, OUTCOME["resolved"], OUTCOME["unresolved"]), -1)
    start = _sentiment(rng.normal(1.0, 1.0, n))
    return {
        "customer": source["customer"],
        "direction": np.full(n, DIRECTION[direction], dtype=np.int8),
        "initiated": at,
        "answered": np.where(answered, at + ring, -1),
        "ended": ended.astype(np.int64),
        "agent": source["agent"],
        "category": source["category"],
        **talk,
        "sentiment_start": start,
        "sentiment_end": _sentiment(start + rng.normal(0.3, 0.5, n)),
        "supervisor_requested": np.zeros(n, dtype=bool),
        "satisfaction_confirmed": rng.random(n) < 0.8,
        "outcome": outcome,
    }


def _clean(frame: pl.DataFrame) -> pl.DataFrame:
    """An unanswered attempt has no conversation figures; -1 codes become nulls."""
    answered = pl.col("answered") != -1
    return frame.with_columns(
        *[pl.when(answered).then(pl.col(c)).alias(c) for c in CONVERSATION],
        pl.col("answered").cast(pl.Int64).replace(-1, None),
        pl.col("outcome").cast(pl.Int8).replace(-1, None),
    )


def build_call_legs(
    inbound: pl.DataFrame,
    tickets: pl.DataFrame,
    pop: Population,
    config: GeneratorConfig,
    rng: np.random.Generator,
) -> pl.DataFrame:
    """Every call leg in LEG_SCHEMA plus `concession`, before ids and versions."""
    b = config.behaviour
    legs = [inbound]
    legs.append(_transfer_legs(inbound, pop, rng, _next_leg(legs)))
    legs.append(_phone_ticket_legs(tickets, rng, _next_leg(legs)))
    legs.append(_callback_legs(inbound, pop, b, rng, _next_leg(legs)))
    # Ordinary agents check in after resolved calls (inbound, transfer and callback legs) ...
    resolved = pl.concat([_conform(leg) for leg in (legs[0], legs[1], legs[3])]).filter(
        (pl.col("outcome") == OUTCOME["resolved"]) & (pl.col("agent") != pop.no_follow_up_agent)
    )
    resolved = resolved.filter(pl.Series(rng.random(resolved.height) < b.follow_up_share))
    after_call = resolved["ended"].to_numpy() + uniform_seconds(rng, 2, 60, resolved.height)
    legs.append(_check_in_legs(resolved, after_call, rng, b.outbound_answered_share, _next_leg(legs)))
    # ... and after the tickets whose follow-up they make by phone.
    by_call = tickets.filter(pl.col("follow_up") == FOLLOW_CALL)
    at = by_call["follow_up_at"].to_numpy()
    legs.append(
        _check_in_legs(by_call, at, rng, b.outbound_answered_share, _next_leg(legs)).with_columns(
            ticket=by_call["ticket"]
        )
    )
    legs[0] = inbound.with_columns(pl.col("outcome").replace(TRANSFERRED, None))
    return pl.concat(
        _conform(leg).with_columns(
            leg["concession"] if "concession" in leg.columns else pl.lit(False).alias("concession")
        )
        for leg in legs
    )


def _next_leg(legs: list[pl.DataFrame]) -> int:
    return sum(leg.height for leg in legs)


def _callback_legs(
    inbound: pl.DataFrame, pop: Population, b: Behaviour, rng: np.random.Generator, first_leg: int
) -> pl.DataFrame:
    """Kept callback promises, 1 to 20 h after the call (the no-follow-up agent keeps none)."""
    promised = inbound.filter(
        (pl.col("outcome") == OUTCOME["callback_promised"]) & (pl.col("agent") != pop.no_follow_up_agent)
    )
    promised = promised.filter(pl.Series(rng.random(promised.height) < b.callback_kept_share))
    at = promised["ended"].to_numpy() + uniform_seconds(rng, 1, 20, promised.height)
    return _clean(
        _legs(
            **_agent_initiated(rng, promised, at, "callback", b.outbound_answered_share, 0.85),
            leg=np.arange(first_leg, first_leg + promised.height),
        )
    )


def _check_in_legs(
    source: pl.DataFrame, at: np.ndarray, rng: np.random.Generator, answered_share: float, first_leg: int
) -> pl.DataFrame:
    """Outbound follow-up calls at `at` to `source`'s customers; a check-in has no outcome."""
    return _clean(
        _legs(
            **_agent_initiated(rng, source, at, "outbound", answered_share, None),
            leg=np.arange(first_leg, first_leg + source.height),
        )
    )


def _transfer_legs(
    inbound: pl.DataFrame, pop: Population, rng: np.random.Generator, first_leg: int
) -> pl.DataFrame:
    """The leg a colleague takes over; it starts when the first leg ends."""
    source = inbound.filter(pl.col("outcome") == TRANSFERRED)
    n = source.height
    ordinary = np.flatnonzero(pop.is_ordinary(np.arange(pop.n_agents)))
    pick = rng.integers(0, ordinary.size, n)
    same = ordinary[pick] == source["agent"].to_numpy()
    target = ordinary[np.where(same, (pick + 1) % ordinary.size, pick)]
    initiated = source["ended"].to_numpy()
    answered = initiated + rng.integers(5, 60, n)
    talk = _conversation(rng, n, 240 / 3600)
    start = source["sentiment_end"].to_numpy()
    resolved = rng.random(n) < 0.8
    return _legs(
        leg=np.arange(first_leg, first_leg + n),
        prev_leg=source["leg"],
        customer=source["customer"],
        direction=np.full(n, DIRECTION["transfer"], dtype=np.int8),
        initiated=initiated,
        answered=answered,
        ended=answered + talk["talk_seconds"].astype(np.int64) + talk["hold_seconds"].astype(np.int64),
        agent=target,
        category=source["category"],
        **talk,
        sentiment_start=start,
        sentiment_end=_sentiment(start + rng.normal(np.where(resolved, 1.0, -0.3), 0.8)),
        supervisor_requested=np.zeros(n, dtype=bool),
        escalated=np.zeros(n, dtype=bool),
        satisfaction_confirmed=rng.random(n) < np.where(resolved, 0.85, 0.4),
        outcome=np.where(resolved, OUTCOME["resolved"], OUTCOME["unresolved"]),
    )


def _phone_ticket_legs(tickets: pl.DataFrame, rng: np.random.Generator, first_leg: int) -> pl.DataFrame:
    """Phone tickets start with an inbound call, linked to the ticket, that ends before it is created."""
    source = tickets.filter(pl.col("channel") == CHANNELS.index("phone"))
    n = source.height
    talk = _conversation(rng, n, 300 / 3600)
    ended = source["created"].to_numpy() - rng.integers(30, 300, n)
    answered = ended - talk["talk_seconds"].astype(np.int64) - talk["hold_seconds"].astype(np.int64)
    initiated = answered - rng.integers(5, 120, n)
    start = _sentiment(rng.uniform(-1, 2, n))
    return _legs(
        leg=np.arange(first_leg, first_leg + n),
        customer=source["customer"],
        direction=np.full(n, DIRECTION["inbound"], dtype=np.int8),
        initiated=initiated,
        answered=answered,
        ended=ended,
        agent=source["agent"],
        category=source["category"],
        ticket=source["ticket"],
        **talk,
        sentiment_start=start,
        sentiment_end=_sentiment(start + rng.normal(0.2, 0.6, n)),
        supervisor_requested=np.zeros(n, dtype=bool),
        escalated=np.zeros(n, dtype=bool),
        satisfaction_confirmed=rng.random(n) < 0.5,
        outcome=np.full(n, OUTCOME["unresolved"]),
    )
