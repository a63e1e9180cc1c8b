"""The concession peer test on a day split by customer: the shards' cells add up (n and k per agent
and category) and the test on the combined cells is the test on the whole day, bit for bit.

This is how a day too large for one worker would be split (docs/scaling.md): every customer's
tickets, events and calls in one shard, `rate_cells` per shard, `combine_rate_cells`, then
`rate_tests_from_cells` once.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from configs.policy import load_policy
from tests.metrics.frames import calls_frame, events_frame, solve, tickets_frame
from transforms.concessions import (
    build_concessions,
    combine_rate_cells,
    concession_rate_tests,
    rate_cells,
    rate_tests_from_cells,
)
from transforms.contacts import AuditWindow, build_contacts
from transforms.scope import CanonicalTables, concession_window_start

D = date(2026, 3, 28)
WINDOW = AuditWindow(D, "UTC", datetime(2026, 4, 5, tzinfo=UTC))
POLICY = load_policy().concessions  # window_days 28: D-27 .. D
CUSTOMERS = [f"c{i}" for i in range(8)]
CELL = {"agent_id": pl.String, "category": pl.String, "n": pl.Int64, "k": pl.Int64}


def cells(*rows: tuple[str | None, str, int, int, list[str]]) -> pl.LazyFrame:
    return pl.LazyFrame(
        [dict(zip([*CELL, "concession_contacts"], row, strict=True)) for row in rows],
        schema={**CELL, "concession_contacts": pl.List(pl.String)},
    )


def test_shard_cells_add_up_per_agent_and_category_unattributed_included() -> None:
    north = cells(("a1", "billing", 3, 2, ["t1", "t2"]), (None, "billing", 1, 0, []))
    south = cells(
        ("a1", "billing", 2, 0, []), ("a2", "billing", 5, 1, ["t9"]), (None, "billing", 2, 1, ["t7"])
    )
    combined = combine_rate_cells([north, south]).collect().sort("agent_id", nulls_last=True)
    assert combined.select(*CELL).rows() == [
        ("a1", "billing", 5, 2),
        ("a2", "billing", 5, 1),
        (None, "billing", 3, 1),  # unattributed contacts stay in the pool
    ]
    assert combined["concession_contacts"].to_list() == [["t1", "t2"], ["t9"], ["t7"]]


def test_the_test_on_combined_cells_uses_the_pool_of_all_shards() -> None:
    """a1: 5 contacts, 2 with a concession; peers (a2 and the unattributed) 8 contacts, 2 with one.
    E = 5 x 2/8 = 1.25, V = 5 x 0.25 x 0.75 = 0.9375, O = 2."""
    north = cells(("a1", "billing", 3, 2, ["t1", "t2"]), (None, "billing", 1, 0, []))
    south = cells(
        ("a1", "billing", 2, 0, []), ("a2", "billing", 5, 1, ["t9"]), (None, "billing", 2, 1, ["t7"])
    )
    tests = rate_tests_from_cells(combine_rate_cells([north, south])).collect()
    a1 = tests.filter(pl.col("agent_id") == "a1").row(0, named=True)
    assert (a1["observed"], a1["expected"], a1["variance"]) == (2.0, 1.25, 0.9375)
    assert a1["evidence_ids"] == ["t1", "t2"]
    # one shard alone would have had a1's peers as 1 unattributed contact with no concession
    alone = rate_tests_from_cells(north).collect().filter(pl.col("agent_id") == "a1").row(0, named=True)
    assert alone["expected"] == 0.0


def shard(inputs: CanonicalTables, customers: set[str]) -> CanonicalTables:
    """All of these customers' tickets, their tickets' events, and their calls."""
    mine = pl.col("customer_id").is_in(sorted(customers))
    tickets = inputs.tickets.filter(mine)
    events = inputs.ticket_events.join(tickets.select("ticket_id"), on="ticket_id", how="semi")
    return CanonicalTables(tickets, events, inputs.calls.filter(mine))


def window_frames(inputs: CanonicalTables) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """(contacts closed D-27..D, concessions) as `day_scope` and `concession_tables` build them."""
    first = concession_window_start(WINDOW, POLICY.window_days)
    frames = (inputs.tickets, inputs.ticket_events, inputs.calls)
    contacts = build_contacts(*frames, WINDOW.time_zone, closed_between=(first, D))
    return contacts, build_concessions(*frames, contacts, WINDOW.time_zone)


@st.composite
def histories(draw: st.DrawFn) -> CanonicalTables:
    """Solved tickets of 8 customers over the window; a1 grants far more often than the others;
    some tickets are solved by the system (no agent: they count only as peers), some have no
    category (a pool of their own). No calls: a call linked to another customer's ticket takes
    that ticket's category, which a split must attach before it (docs/scaling.md)."""
    tickets, events = [], []
    for i in range(draw(st.integers(20, 80))):
        solved = datetime(2026, 3, 1, tzinfo=UTC) + timedelta(hours=draw(st.integers(0, 27 * 24 + 23)))
        agent = draw(st.sampled_from(["a1", "a2", "a3", "a4", None]))
        tickets.append(
            {
                "ticket_id": f"t{i}",
                "customer_id": draw(st.sampled_from(CUSTOMERS)),
                "category": draw(st.sampled_from(["billing", "outage", None])),  # None: a pool too
                "created_at": solved - timedelta(hours=2),
                "updated_at": solved,
                "assignee_id": None,
            }
        )
        events.append(solve(f"t{i}", solved.isoformat(), agent, "agent" if agent else "system"))
        if draw(st.integers(0, 9)) < (6 if agent == "a1" else 2):
            events.append(
                {
                    "ticket_id": f"t{i}",
                    "occurred_at": (solved - timedelta(hours=1)).isoformat(),
                    "event_type": "concession",
                    "actor_id": agent or "a2",
                    "concession_type": "credit",
                    "concession_amount": 10.0,
                    "currency": "USD",
                }
            )
    return CanonicalTables(tickets_frame(*tickets), events_frame(*events), calls_frame())


@settings(max_examples=30, deadline=None)
@given(inputs=histories(), split=st.sets(st.sampled_from(CUSTOMERS)))
def test_customer_shards_combined_give_the_whole_days_rate_tests(
    inputs: CanonicalTables, split: set[str]
) -> None:
    whole = concession_rate_tests(*window_frames(inputs), WINDOW, POLICY).collect()
    parts = [
        rate_cells(*window_frames(shard(inputs, s)), WINDOW, POLICY) for s in (split, set(CUSTOMERS) - split)
    ]
    assert_frame_equal(rate_tests_from_cells(combine_rate_cells(parts)).collect(), whole, check_exact=True)
