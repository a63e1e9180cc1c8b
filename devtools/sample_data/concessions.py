"""Who gets a concession, of what, for how much: decided jointly for tickets and calls.

Ordinary agents grant at a per-category base rate, the generous agent at `concession_boost` times
it, on the same case mix, paced so that every 28-day window shows each agent's true rate (no
ordinary agent looks stingy or generous by chance). No customer but the planted beneficiary gets
more than `max_concessions_per_customer` concessions over the whole period, so no accidental
repeat beneficiary exists. Amounts are spread evenly within per-type bands under the policy caps,
so no accidental amount outlier exists; one is planted on purpose, with one example of each
policy violation, all listed in plants.json.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from configs.policy import CONCESSION_TYPES, Policy
from devtools.sample_data.arrivals import DAY
from devtools.sample_data.calls import DIRECTION, OUTCOME
from devtools.sample_data.config import CATEGORIES, TIERS, GeneratorConfig
from devtools.sample_data.population import BENEFICIARY, Population, agent_id, supervisor_id

# Amount bands in the policy currency, kept under 90% of the cap.
BANDS = {
    "credit": (5.0, 60.0),
    "refund": (10.0, 90.0),
    "free_service": (10.0, 60.0),
    "replacement": (40.0, 140.0),
    "discount": (5.0, 40.0),
    "fee_waiver": (5.0, 35.0),
}
REASONS = ("billing_error", "service_failure", "defect", "goodwill", "delivery_delay", "goodwill")
BILLING = CATEGORIES.index("billing")
GOLDEN_STEP = (5**0.5 - 1) / 2  # spreads amounts evenly over a band (see _spread)

TABLE_SCHEMA = pl.Schema(
    {
        "contact_type": pl.String(),  # ticket | call
        "index": pl.Int32(),  # ticket or leg index
        "agent": pl.Int32(),  # granting agent
        "concession_type": pl.String(),
        "concession_amount": pl.Float64(),
        "currency": pl.String(),
        "approved_by": pl.String(),
        "reason_code": pl.String(),
        "plant": pl.String(),  # why this concession is listed in plants.json, else null
    }
)


@dataclass(frozen=True)
class ConcessionPlan:
    tickets: pl.DataFrame  # plan with `concession` and the beneficiary's tickets re-assigned
    calls: pl.DataFrame  # inbound plan with `concession`
    table: pl.DataFrame  # TABLE_SCHEMA, one row per concession


def decide_concessions(
    tickets: pl.DataFrame,
    calls: pl.DataFrame,
    pop: Population,
    config: GeneratorConfig,
    policy: Policy,
    rng: np.random.Generator,
) -> ConcessionPlan:
    """Pick the concession contacts, plant the beneficiary, then set type, amount and approval."""
    candidates = _candidates(tickets, calls, pop, policy)
    base = np.asarray(config.behaviour.concession_base)[candidates["category"].to_numpy()]
    boost = np.where(candidates["agent"].to_numpy() == pop.generous_agent, generous_boost(config), 1)
    rate = pl.Series("rate", np.minimum(base * boost, 0.9))
    chosen = candidates.filter(_steady_picks(candidates.with_columns(rate), rng))
    chosen = _cap_per_customer(chosen, config.behaviour.max_concessions_per_customer)
    beneficiary = _beneficiary_tickets(tickets, pop, config, policy)
    chosen = pl.concat(
        [
            chosen.join(
                beneficiary.select("contact_type", "index"), on=["contact_type", "index"], how="anti"
            ),
            beneficiary.with_columns(customer=pl.lit(BENEFICIARY, dtype=pl.Int32)),
        ],
        how="diagonal",
    ).sort("at", "contact_type", "index")
    table = _terms(chosen, pop, config, policy, rng)
    ticket_ids = table.filter(pl.col("contact_type") == "ticket")["index"]
    call_ids = table.filter(pl.col("contact_type") == "call")["index"]
    moved = beneficiary["index"]
    tickets = tickets.with_columns(
        concession=pl.col("ticket").is_in(ticket_ids.implode()),
        customer=pl.when(pl.col("ticket").is_in(moved.implode()))
        .then(pl.lit(BENEFICIARY, dtype=pl.Int32))
        .otherwise(pl.col("customer")),
        asked=pl.col("asked") & ~pl.col("ticket").is_in(moved.implode()),
        reopen=pl.col("reopen") & ~pl.col("ticket").is_in(moved.implode()),
    )
    calls = calls.with_columns(concession=pl.col("leg").is_in(call_ids.implode()))
    return ConcessionPlan(tickets=tickets, calls=calls, table=table)


def generous_boost(config: GeneratorConfig) -> float:
    """The generous agent's multiplier, capped so that ordinary agents never look stingy.

    Leave-one-out puts the generous agent in every peer baseline: an ordinary agent's expected rate
    is (n - 2 + boost) / (n - 1) times the base. Capping the boost at n / 4 + 3 / 4 keeps that
    at most 1.25 (ordinary O/E >= 0.8, far from the low flag's 1 / 1.5); 20 agents allow 5.75.
    """
    return min(config.behaviour.concession_boost, config.n_agents / 4 + 0.75)


def _steady_picks(candidates: pl.DataFrame, rng: np.random.Generator) -> pl.Series:
    """Which candidates get a concession: each contact's `rate`, paced per agent.

    Independent coin flips let an ordinary agent drift to half the peer rate over 28 days by chance
    (and be flagged low). Here each agent walks through their contacts in time order, adding the
    contact's `rate` times a random factor in [0.5, 1.5) to a running sum that starts at a random
    phase, and grants whenever the sum crosses a whole number. Spacing stays irregular, but the
    count in any window is within about one of the sum of its rates, the agent's expectation.
    Per agent rather than per (agent, category): one rounding error per agent, not one per cell.
    """
    n = candidates.height
    step = candidates["rate"].to_numpy() * rng.uniform(0.5, 1.5, n)
    phase = rng.random(n)
    # Each agent's contacts in time order, as one integer key (ties keep the input order).
    agent = candidates["agent"].to_numpy().astype(np.int64)
    at = candidates["at"].to_numpy()
    since = (at - at.min()) if n else at
    order = np.argsort(agent * (int(since.max(initial=0)) + 1) + since, kind="stable")
    stream = agent[order]
    is_first = np.r_[True, stream[1:] != stream[:-1]] if n else np.zeros(0, dtype=bool)
    first = np.maximum.accumulate(np.where(is_first, np.arange(n), 0))
    walked = np.cumsum(step[order])
    total = phase[order][first] + walked - (walked - step[order])[first]
    picks = np.empty(n, dtype=bool)
    picks[order] = np.floor(total) > np.floor(total - step[order])
    return pl.Series("pick", picks)


def _allowed(policy: Policy, category: int, tier: int | None) -> tuple[str, ...]:
    """Allowed types in a fixed order; calls carry no tier, so they use the category's base list."""
    names = policy.concessions.allowed_types(CATEGORIES[category], None if tier is None else TIERS[tier])
    return tuple(t for t in CONCESSION_TYPES if t in names)


def _candidates(tickets: pl.DataFrame, calls: pl.DataFrame, pop: Population, policy: Policy) -> pl.DataFrame:
    """Contacts that may carry a concession: solved tickets and answered inbound legs, with a time."""
    solved = tickets.filter("will_solve")
    ticket_rows = solved.select(
        pl.lit("ticket").alias("contact_type"),
        pl.col("ticket").alias("index"),
        "agent",
        "customer",
        "category",
        pl.Series("tier", pop.customer_tier[solved["customer"].to_numpy()]),
        pl.col("created").alias("at"),
    )
    call_rows = calls.filter(
        (pl.col("direction") == DIRECTION["inbound"])
        & pl.col("answered").is_not_null()
        & ~pl.col("outcome").is_in([OUTCOME["abandoned"], OUTCOME["escalated"]])
    ).select(
        pl.lit("call").alias("contact_type"),
        pl.col("leg").alias("index"),
        "agent",
        "customer",
        pl.col("category").cast(pl.Int8),
        pl.lit(None, dtype=pl.Int8).alias("tier"),
        pl.col("initiated").alias("at"),
    )
    frame = pl.concat([ticket_rows, call_rows.cast(ticket_rows.schema)])
    # Customer 0 is the beneficiary's alone.
    return frame.filter(pl.col("customer") != BENEFICIARY)


def _cap_per_customer(chosen: pl.DataFrame, limit: int) -> pl.DataFrame:
    """Keep each customer's first `limit` concessions: no accidental repeat beneficiary."""
    return (
        chosen.sort("at", "contact_type", "index")
        .with_columns(rank=pl.int_range(pl.len()).over("customer"))
        .filter(pl.col("rank") < limit)
        .drop("rank")
    )


def _beneficiary_tickets(
    tickets: pl.DataFrame, pop: Population, config: GeneratorConfig, policy: Policy
) -> pl.DataFrame:
    """Four solved tickets of three ordinary agents within 15 days: the planted repeat beneficiary."""
    allowed = [i for i in range(len(CATEGORIES)) if _allowed(policy, i, 0)]
    mid = config.days // 2
    low, high = max(0, mid - 7), max(0, min(config.days - 3, mid + 7))
    targets = np.round(np.linspace(low, high, 4)).astype(int)
    ordinary = [a for a in range(pop.n_agents) if a not in pop.planted_agents]
    givers = (ordinary[0], ordinary[1], ordinary[0], ordinary[2])
    day = ((pl.col("created") - config.start_epoch) // DAY).alias("day")
    pool = tickets.filter(
        pl.col("will_solve")
        & pl.col("category").is_in(allowed)
        & ~pl.col("asked")
        & (pl.col("exchanges") == 0)
    ).with_columns(day)
    picked: list[pl.DataFrame] = []
    for target, giver in zip(targets, givers, strict=True):  # four look-ups, not a loop over tickets
        taken = [t for f in picked for t in f["ticket"].to_list()]
        options = pool.filter((pl.col("agent") == giver) & ~pl.col("ticket").is_in(taken))
        picked.append(options.sort((pl.col("day") - target).abs(), "ticket").head(1))
    rows = pl.concat(picked)
    return rows.select(
        pl.lit("ticket").alias("contact_type"),
        pl.col("ticket").alias("index"),
        "agent",
        "customer",
        "category",
        pl.lit(0, pl.Int8).alias("tier"),
        pl.col("created").alias("at"),
        pl.lit("repeat_beneficiary").alias("plant"),
    )


def _terms(
    chosen: pl.DataFrame, pop: Population, config: GeneratorConfig, policy: Policy, rng: np.random.Generator
) -> pl.DataFrame:
    """Type, amount, currency and approval per concession, then the planted exceptions."""
    n = chosen.height
    category = chosen["category"].to_numpy()
    tier = chosen["tier"].fill_null(-1).to_numpy()
    is_call = chosen["contact_type"].to_numpy() == "call"
    u = rng.random(n)
    kinds = np.full(n, "", dtype=object)
    for cat in range(len(CATEGORIES)):  # one pass per (category, tier): vectorised within
        for t in (None, 0, 1):
            mask = (category == cat) & (is_call if t is None else (~is_call & (tier == t)))
            options = _allowed(policy, cat, t)
            if options:
                kinds[mask] = np.asarray(options, dtype=object)[(u[mask] * len(options)).astype(int)]
    caps = policy.concessions.caps
    kind = pl.Series(kinds, dtype=pl.String)
    low = kind.replace_strict({k: b[0] for k, b in BANDS.items()}, default=0.0, return_dtype=pl.Float64)
    high = kind.replace_strict(
        {k: min(b[1], 0.9 * caps.get(k, b[1] / 0.9)) for k, b in BANDS.items()},
        default=0.0,
        return_dtype=pl.Float64,
    )
    spread = _spread(chosen.with_columns(concession_type=kind), rng)
    amount_pc = low.to_numpy() + spread * (high.to_numpy() - low.to_numpy())
    eur_rate = policy.concessions.currencies.get("EUR")
    in_eur = (rng.random(n) < config.behaviour.eur_share) if eur_rate else np.zeros(n, dtype=bool)
    amount = np.round(np.where(in_eur, amount_pc / (eur_rate or 1.0), amount_pc), 2)
    needs = amount * np.where(in_eur, eur_rate or 1.0, 1.0) > policy.concessions.approval_threshold
    # The beneficiary's concessions are otherwise within policy: one finding per plant.
    beneficiary = (chosen["plant"] == "repeat_beneficiary").fill_null(False).to_numpy()
    approved = needs & ((rng.random(n) < config.behaviour.approval_share) | beneficiary)
    supervisors = np.asarray([supervisor_id(t) for t in range(pop.n_teams)])
    team = pop.agent_team[chosen["agent"].to_numpy()]
    plant = pl.col("plant") if "plant" in chosen.columns else pl.lit(None, dtype=pl.String)
    frame = chosen.with_columns(
        concession_type=kind,
        concession_amount=pl.Series(amount),
        currency=pl.Series(np.where(in_eur, "EUR", policy.concessions.currency)),
        approved_by=pl.when(pl.Series(approved)).then(pl.Series(supervisors[team])),
        reason_code=pl.Series(np.asarray(REASONS)[category]),
        plant=pl.when(plant.is_null() & pl.Series(needs & ~approved))
        .then(pl.lit("missing_approval"))
        .otherwise(plant),
    )
    return _plant_exceptions(frame.filter(pl.col("concession_type") != ""), pop, policy)


def _spread(chosen: pl.DataFrame, rng: np.random.Generator) -> np.ndarray:
    """Where each amount falls in its band, in [0, 1): evenly spread within every (category, type).

    Uniform draws can bunch: ten concessions of a group in the first days once had a MAD of 2.7
    on a 50-wide band, and an ordinary amount scored robust z 6.75. Each group instead walks the
    golden-ratio sequence from a random start in time order, so any run of ten or more consecutive
    amounts covers its band nearly evenly (MAD about a quarter of the band, robust z under 1.5).
    """
    group = ["category", "concession_type"]
    walked = chosen.select(
        pl.Series(rng.random(chosen.height)).alias("phase"),
        pl.int_range(pl.len()).over(group).alias("position"),
        *group,
    ).select(pl.col("phase").first().over(group) + pl.col("position") * GOLDEN_STEP)
    return np.mod(walked.to_series().to_numpy(), 1.0)


def _plant_exceptions(frame: pl.DataFrame, pop: Population, policy: Policy) -> pl.DataFrame:
    """One amount outlier and one of each other policy violation, on ordinary billing tickets."""
    caps, threshold = policy.concessions.caps, policy.concessions.approval_threshold
    currency = policy.concessions.currency
    unknown = "GBP" if "GBP" not in policy.concessions.currencies else "XTS"
    planted = {
        "amount_outlier": ("refund", min(185.0, caps.get("refund", 185.0)), currency, "sup"),
        "over_cap": ("fee_waiver", caps.get("fee_waiver", 40.0) + 5.0, currency, "sup"),
        "type_not_allowed": ("replacement", 30.0, currency, None),
        "self_approved": ("refund", round(threshold + 20.0, 2), currency, "self"),
        "unknown_currency": ("credit", 20.0, unknown, None),
    }
    hosts = (
        frame.with_row_index("row")
        .filter(
            (pl.col("contact_type") == "ticket")
            & (pl.col("category") == BILLING)
            & (pl.col("tier") == 0)
            & pl.col("plant").is_null()
            & ~pl.col("agent").is_in(list(pop.planted_agents))
        )
        # Mid-period, so that most audit windows see them.
        .sort((pl.col("at") - pl.col("at").median()).abs(), "index")
        .head(len(planted))
    )
    rows = hosts["row"].to_list()
    updates = []
    for row, (label, (kind, amount, cur, approver)) in zip(rows, planted.items(), strict=False):
        agent = int(frame["agent"][row])
        by = {"sup": supervisor_id(int(pop.agent_team[agent])), "self": agent_id(agent), None: None}[approver]
        if label == "over_cap" and amount <= threshold:
            by = None
        updates.append((row, label, kind, float(amount), cur, by))
    if not updates:
        return frame.select(TABLE_SCHEMA.names())
    patch = pl.DataFrame(
        updates,
        schema=["row", "plant", "concession_type", "concession_amount", "currency", "approved_by"],
        orient="row",
    ).with_columns(pl.col("row").cast(pl.UInt32))
    patched = frame.with_row_index("row").update(patch, on="row", include_nulls=True)
    return patched.select(pl.col(c).cast(t) for c, t in TABLE_SCHEMA.items())
