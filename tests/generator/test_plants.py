"""The planted behaviours are in the raw data, and everyone else is clean on them.

Checked against the exports read back with Polars, with small independent re-statements of the
metric rules (docs/metrics.md), not with the pipeline's own transforms.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from generator_exports import BASE, latest, plants
from scipy.stats import norm

from configs.policy import load_policy

CUTOFF = datetime.combine(BASE.end_date + timedelta(days=1), time(0), tzinfo=UTC)
WINDOW_START = datetime.combine(BASE.end_date - timedelta(days=27), time(0), tzinfo=UTC)
AGENT_INITIATED = ["outbound", "callback"]


@pytest.fixture(scope="module")
def planted(clean_root: Path) -> dict[str, Any]:
    return plants(clean_root)


@pytest.fixture(scope="module")
def tickets(clean: dict[str, pl.DataFrame]) -> pl.DataFrame:
    return latest(clean["tickets"], "ticket_id")


@pytest.fixture(scope="module")
def calls(clean: dict[str, pl.DataFrame]) -> pl.DataFrame:
    return latest(clean["calls"], "call_id")


@pytest.fixture(scope="module")
def events(clean: dict[str, pl.DataFrame], tickets: pl.DataFrame) -> pl.DataFrame:
    return clean["ticket_events"].join(
        tickets.select("ticket_id", "customer_id", "category", "customer_tier"), on="ticket_id"
    )


@pytest.fixture(scope="module")
def solved(events: pl.DataFrame) -> pl.DataFrame:
    """First solve per ticket, attributed to the solving agent."""
    return (
        events.filter((pl.col("event_type") == "status_change") & (pl.col("new_status") == "solved"))
        .sort("ticket_id", "occurred_at")
        .group_by("ticket_id", maintain_order=True)
        .first()
        .select("ticket_id", "customer_id", "category", agent_id="actor_id", closed_at="occurred_at")
    )


@pytest.fixture(scope="module")
def contacts(solved: pl.DataFrame, calls: pl.DataFrame, events: pl.DataFrame) -> pl.DataFrame:
    """Solved tickets and answered calls, with whether they carry a concession."""
    conceded = events.filter(pl.col("event_type") == "concession").select("ticket_id").unique()
    tickets = solved.join(conceded.with_columns(has_concession=pl.lit(True)), on="ticket_id", how="left")
    answered = calls.filter(pl.col("answered_at").is_not_null()).select(
        pl.col("call_id").alias("contact_id"),
        "customer_id",
        "category",
        "agent_id",
        pl.col("ended_at").alias("closed_at"),
        pl.col("concession_type").is_not_null().alias("has_concession"),
    )
    return pl.concat(
        [
            tickets.select(
                pl.col("ticket_id").alias("contact_id"),
                "customer_id",
                "category",
                "agent_id",
                "closed_at",
                pl.col("has_concession").fill_null(False),
            ),
            answered,
        ]
    )


@pytest.fixture(scope="module")
def concessions(events: pl.DataFrame, calls: pl.DataFrame) -> pl.DataFrame:
    on_tickets = events.filter(pl.col("event_type") == "concession").select(
        pl.col("event_id").alias("concession_id"),
        "customer_id",
        "customer_tier",
        "category",
        pl.col("actor_id").alias("agent_id"),
        "occurred_at",
        "concession_type",
        "concession_amount",
        "currency",
        "approved_by",
    )
    on_calls = calls.filter(pl.col("concession_type").is_not_null()).select(
        pl.col("call_id").alias("concession_id"),
        "customer_id",
        pl.lit(None, dtype=pl.String).alias("customer_tier"),
        "category",
        "agent_id",
        pl.col("ended_at").alias("occurred_at"),
        "concession_type",
        "concession_amount",
        "currency",
        "approved_by",
    )
    return pl.concat([on_tickets, on_calls])


def _attempts(events: pl.DataFrame, calls: pl.DataFrame) -> pl.DataFrame:
    """Agent-initiated contacts that count as a follow-up: follow_up events, outbound/callback calls."""
    return pl.concat(
        [
            events.filter(pl.col("event_type") == "follow_up").select("customer_id", at="occurred_at"),
            calls.filter(pl.col("direction").is_in(AGENT_INITIATED)).select("customer_id", at="initiated_at"),
        ]
    )


def _follow_up_rates(solved: pl.DataFrame, events: pl.DataFrame, calls: pl.DataFrame) -> pl.DataFrame:
    """Per agent: share of solved tickets (window closed) followed up within 72 h."""
    final = solved.filter(pl.col("closed_at") + timedelta(hours=72) < CUTOFF)
    met = (
        final.join(_attempts(events, calls), on="customer_id")
        .filter(
            (pl.col("at") > pl.col("closed_at")) & (pl.col("at") <= pl.col("closed_at") + timedelta(hours=72))
        )
        .select("ticket_id")
        .unique()
    )
    return (
        final.with_columns(met=pl.col("ticket_id").is_in(met["ticket_id"].implode()))
        .group_by("agent_id")
        .agg(rate=pl.col("met").mean(), n=pl.len())
    )


def test_no_follow_up_agent_never_follows_up(
    planted: dict[str, Any], events: pl.DataFrame, calls: pl.DataFrame, solved: pl.DataFrame
) -> None:
    agent = planted["no_follow_up_agent"]
    assert events.filter((pl.col("event_type") == "follow_up") & (pl.col("actor_id") == agent)).height == 0
    assert (
        calls.filter(pl.col("direction").is_in(AGENT_INITIATED) & (pl.col("agent_id") == agent)).height == 0
    )
    rates = _follow_up_rates(solved, events, calls)
    theirs = rates.filter(pl.col("agent_id") == agent)
    assert theirs["n"].item() >= 100
    assert theirs["rate"].item() == 0.0


def test_ordinary_agents_follow_up_on_most_solved_tickets(
    planted: dict[str, Any], events: pl.DataFrame, calls: pl.DataFrame, solved: pl.DataFrame
) -> None:
    rates = _follow_up_rates(solved, events, calls).filter(
        pl.col("agent_id") != planted["no_follow_up_agent"]
    )
    assert rates.height == BASE.n_agents - 1
    assert rates["rate"].min() >= 0.8  # type: ignore[operator]


def test_callback_promises_are_kept_by_ordinary_agents(planted: dict[str, Any], calls: pl.DataFrame) -> None:
    promised = calls.filter(
        (pl.col("outcome") == "callback_promised") & (pl.col("ended_at") + timedelta(hours=24) < CUTOFF)
    )
    callbacks = calls.filter(pl.col("direction") == "callback").select("customer_id", at="initiated_at")
    kept = (
        promised.join(callbacks, on="customer_id")
        .filter(
            (pl.col("at") > pl.col("ended_at")) & (pl.col("at") <= pl.col("ended_at") + timedelta(hours=24))
        )
        .select("call_id")
        .unique()
    )
    rate = (
        promised.with_columns(kept=pl.col("call_id").is_in(kept["call_id"].implode()))
        .group_by(pl.col("agent_id") == planted["no_follow_up_agent"])
        .agg(pl.col("kept").mean())
    )
    by_planted = dict(zip(rate["agent_id"].to_list(), rate["kept"].to_list(), strict=True))
    assert by_planted[True] == 0.0
    assert by_planted[False] >= 0.85


def _concession_flags(contacts: pl.DataFrame) -> pl.DataFrame:
    """docs/metrics.md §3 b.: leave-one-out peer rate per category, z-test, Benjamini-Hochberg."""
    window = contacts.filter(pl.col("closed_at") >= WINDOW_START, pl.col("closed_at") < CUTOFF)
    cells = window.group_by("agent_id", "category").agg(n=pl.len(), k=pl.col("has_concession").sum())
    totals = cells.group_by("category").agg(N=pl.col("n").sum(), K=pl.col("k").sum())
    per_agent = (
        cells.join(totals, on="category")
        .with_columns(p=(pl.col("K") - pl.col("k")) / (pl.col("N") - pl.col("n")))
        .group_by("agent_id")
        .agg(
            n=pl.col("n").sum(),
            observed=pl.col("k").sum(),
            expected=(pl.col("n") * pl.col("p")).sum(),
            variance=(pl.col("n") * pl.col("p") * (1 - pl.col("p"))).sum(),
        )
        .with_columns(z=(pl.col("observed") - pl.col("expected")) / pl.col("variance").sqrt())
        .sort("z", descending=True)
    )
    z = per_agent["z"].to_numpy()
    ratio = pl.col("observed") / pl.col("expected")
    return per_agent.with_columns(
        q_high=pl.Series(_bh(norm.sf(z))), q_low=pl.Series(_bh(norm.cdf(z)))
    ).with_columns(
        flagged=(pl.col("q_high") <= 0.05) & (ratio >= 1.5) & (pl.col("n") >= 30),
        flagged_low=(pl.col("q_low") <= 0.05) & (ratio <= 1 / 1.5) & (pl.col("n") >= 30),
    )


def _bh(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values."""
    order = p.argsort()
    ranked = p[order] * p.size / np.arange(1, p.size + 1)
    adjusted = np.minimum.accumulate(ranked[::-1])[::-1].clip(max=1)
    return adjusted[order.argsort()]


def test_only_the_generous_agent_is_flagged_for_concession_rate(
    planted: dict[str, Any], contacts: pl.DataFrame
) -> None:
    flags = _concession_flags(contacts)
    assert flags.filter("flagged")["agent_id"].to_list() == [planted["high_concession_agent"]]
    # The generous agent inflates every peer's baseline; no ordinary agent should look stingy.
    assert flags.filter("flagged_low").is_empty()
    generous = flags.filter(pl.col("agent_id") == planted["high_concession_agent"])
    assert generous["n"].item() >= 30
    assert generous["observed"].item() / generous["n"].item() > 0.15
    peers = flags.filter(pl.col("agent_id") != planted["high_concession_agent"])
    assert (peers["observed"] / peers["n"]).max() < 0.08  # type: ignore[operator]


def test_no_escalation_agent_ignores_every_request(
    planted: dict[str, Any], events: pl.DataFrame, calls: pl.DataFrame, solved: pl.DataFrame
) -> None:
    agent = planted["no_escalation_agent"]
    theirs = solved.filter(pl.col("agent_id") == agent).select("ticket_id", "closed_at")
    asked = events.join(theirs, on="ticket_id").filter(pl.col("event_type") == "escalation_request")
    escalated = events.filter(pl.col("event_type") == "escalation").join(asked, on="ticket_id", how="semi")
    assert asked.height >= 10
    assert escalated.height == 0
    # The customer comes back: every asked ticket whose reopen window closed was reopened.
    settled = asked.filter(pl.col("closed_at") + timedelta(days=5) < CUTOFF)
    reopened = events.filter((pl.col("event_type") == "status_change") & (pl.col("new_status") == "open"))
    reopened = reopened.join(settled.select("ticket_id", "closed_at"), on="ticket_id").filter(
        pl.col("occurred_at") > pl.col("closed_at")
    )
    assert settled.height > 0
    assert reopened["ticket_id"].n_unique() == settled.height
    on_calls = calls.filter((pl.col("agent_id") == agent) & pl.col("supervisor_requested"))
    assert on_calls.height >= 3
    assert on_calls["escalated_to"].is_null().all()
    assert (on_calls["outcome"] == "unresolved").all()


def test_ordinary_agents_escalate_every_request_within_4_hours(
    planted: dict[str, Any], events: pl.DataFrame, calls: pl.DataFrame, solved: pl.DataFrame
) -> None:
    agent = planted["no_escalation_agent"]
    requests = events.filter(pl.col("event_type") == "escalation_request").join(
        solved.filter(pl.col("agent_id") != agent), on="ticket_id", how="semi"
    )
    requests = requests.filter(pl.col("occurred_at") + timedelta(hours=4) < CUTOFF)
    escalations = events.filter(pl.col("event_type") == "escalation").select(
        "ticket_id", escalated_at="occurred_at"
    )
    timely = requests.join(escalations, on="ticket_id").filter(
        (pl.col("escalated_at") >= pl.col("occurred_at"))
        & (pl.col("escalated_at") <= pl.col("occurred_at") + timedelta(hours=4))
    )
    assert requests.height >= 50
    assert timely["ticket_id"].n_unique() == requests.height
    asked_calls = calls.filter((pl.col("agent_id") != agent) & pl.col("supervisor_requested"))
    assert asked_calls["escalated_to"].is_not_null().all()
    assert (asked_calls["outcome"] == "escalated").all()


def test_the_repeat_beneficiary_gets_concessions_from_several_agents(
    planted: dict[str, Any], concessions: pl.DataFrame
) -> None:
    plant = planted["repeat_beneficiary"]
    theirs = concessions.filter(pl.col("customer_id") == plant["customer_id"])
    assert sorted(theirs["concession_id"].to_list()) == sorted(plant["concession_ids"])
    assert theirs.height == 4
    assert theirs["agent_id"].n_unique() == 3
    assert sorted(theirs["agent_id"].unique().to_list()) == plant["agent_ids"]
    assert theirs["occurred_at"].max() - theirs["occurred_at"].min() <= timedelta(days=27)  # type: ignore[operator]


def test_no_other_customer_gets_three_concessions_in_any_28_days(
    planted: dict[str, Any], concessions: pl.DataFrame
) -> None:
    third = (
        concessions.sort("customer_id", "occurred_at")
        .with_columns(third_at=pl.col("occurred_at").shift(-2).over("customer_id"))
        .filter(pl.col("third_at") - pl.col("occurred_at") < timedelta(days=28))
    )
    assert third["customer_id"].unique().to_list() == [planted["repeat_beneficiary"]["customer_id"]]


def _in_policy_currency(frame: pl.DataFrame) -> pl.Expr:
    rates = load_policy().concessions.currencies
    return pl.col("concession_amount") * pl.col("currency").replace_strict(rates, default=None)


def test_only_the_planted_amount_is_an_outlier(planted: dict[str, Any], concessions: pl.DataFrame) -> None:
    scored = (
        concessions.with_columns(amount=_in_policy_currency(concessions))
        .drop_nulls("amount")
        .with_columns(
            median=pl.col("amount").median().over("category", "concession_type"),
            size=pl.len().over("category", "concession_type"),
        )
        .with_columns(
            mad=(pl.col("amount") - pl.col("median")).abs().median().over("category", "concession_type")
        )
        .with_columns(z=(pl.col("amount") - pl.col("median")) / (1.4826 * pl.col("mad")))
        .filter((pl.col("size") >= 10) & (pl.col("z").abs() >= 3.5))
    )
    assert scored["concession_id"].to_list() == [o["concession_id"] for o in planted["amount_outlier"]]


def test_policy_violations_are_exactly_the_planted_ones(
    planted: dict[str, Any], concessions: pl.DataFrame
) -> None:
    policy = load_policy().concessions
    found: list[dict[str, str]] = []
    for row in concessions.with_columns(
        amount=_in_policy_currency(concessions)
    ).to_dicts():  # a few hundred rows
        allowed = policy.allowed_types(row["category"], row["customer_tier"])
        checks = {
            "type_not_allowed": row["concession_type"] not in allowed,
            "unknown_currency": row["amount"] is None,
            "over_cap": row["amount"] is not None and row["amount"] > policy.caps[row["concession_type"]],
            "missing_approval": row["amount"] is not None
            and row["amount"] > policy.approval_threshold
            and row["approved_by"] is None,
            "self_approved": row["approved_by"] == row["agent_id"],
        }
        found += [{"concession_id": row["concession_id"], "violation": v} for v, hit in checks.items() if hit]
    key = ("concession_id", "violation")
    assert sorted(found, key=lambda d: tuple(d[k] for k in key)) == sorted(
        planted["policy_violations"], key=lambda d: tuple(d[k] for k in key)
    )
    assert {v["violation"] for v in found} == {
        "type_not_allowed",
        "unknown_currency",
        "over_cap",
        "missing_approval",
        "self_approved",
    }


def test_regression_phone_follow_ups_of_tickets_land_within_72_hours(
    calls: pl.DataFrame, solved: pl.DataFrame
) -> None:
    """They were once scheduled 2-60 h after an already delayed time, so many missed the window."""
    phoned = calls.filter((pl.col("direction") == "outbound") & pl.col("ticket_id").is_not_null()).join(
        solved.select("ticket_id", "closed_at"), on="ticket_id"
    )
    assert phoned.height > 100
    delay = phoned["initiated_at"] - phoned["closed_at"]
    assert delay.min() >= timedelta(hours=2)  # type: ignore[operator]
    assert delay.max() <= timedelta(hours=60)  # type: ignore[operator]
