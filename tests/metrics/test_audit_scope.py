"""An audit day reads only what it needs (issue #3), and gets the same answers as over the whole history.

`run_audit` builds contacts for the concession window only and narrows the follow-up inputs and
customer contacts to the customers closed on D; the reference below runs every family over the
full contact universe, as before the narrowing. Random histories span days before the window,
the window, D and the look-ahead, with customers closed on D and others.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

import catalogue
from configs.policy import Policy
from tests.metrics.frames import assign, calls_frame, events_frame, solve, tickets_frame, ts
from transforms.audit import CanonicalTables, collect_audit, run_audit
from transforms.contacts import AuditWindow, build_contacts
from transforms.scope import whole_history_scope
from transforms.scorecards import build_scorecards, metric_observations

D = date(2026, 3, 10)
POLICY = Policy.model_validate({"version": "scope-test", "concessions": {"window_days": 3}})
START = ts("2026-03-05T00:00:00Z")  # before the 3-day window D-2 .. D


def _reference_audit(inputs: CanonicalTables, window: AuditWindow, policy: Policy) -> dict[str, pl.DataFrame]:
    """Every family over the whole contact universe: the answers `run_audit` must reproduce."""
    scope = whole_history_scope(inputs, window.time_zone)
    results = [
        getattr(module, f"audit_{name}")(scope, window, policy) for name, module in catalogue.FAMILIES.items()
    ]
    agent, team = build_scorecards(
        [r.rate_parts for r in results],
        [r.measures for r in results],
        [r.counts for r in results],
        scope.contacts,
        window.audit_date,
        policy.min_volume,
    )
    observations = metric_observations(
        [r.rate_parts for r in results], [r.measures for r in results], window.audit_date
    )
    tables = {"agent_scorecard": agent, "team_scorecard": team, "metric_observations": observations}
    for result in results:
        tables.update(result.tables)
    return collect_audit({name: tables[name] for name in catalogue.METRIC_TABLES})


def _assert_same_tables(ours: dict[str, pl.DataFrame], reference: dict[str, pl.DataFrame]) -> None:
    assert list(ours) == list(reference)
    for name, frame in reference.items():
        keys = [c for c, t in frame.schema.items() if not isinstance(t, pl.List)]
        assert_frame_equal(ours[name].sort(keys, nulls_last=True), frame.sort(keys, nulls_last=True))


_CUSTOMERS = st.sampled_from(["c1", "c2", "c3"])
_AGENTS = st.sampled_from(["a1", "a2", "a3"])
_CATEGORIES = st.sampled_from(["billing", "outage"])
_HOURS = st.integers(min_value=0, max_value=9 * 24)  # 03-05 .. 03-14: before the window to look-ahead


def _at(hours: int) -> str:
    return (START + timedelta(hours=hours)).isoformat()


@st.composite
def _histories(draw: st.DrawFn) -> tuple[list[dict], list[dict], list[dict]]:
    tickets, events, calls = [], [], []
    for i in range(draw(st.integers(1, 6))):
        created = draw(_HOURS)
        ticket_id, customer = f"t{i}", draw(_CUSTOMERS)
        tickets.append(
            {
                "ticket_id": ticket_id,
                "customer_id": customer,
                "created_at": _at(created),
                "updated_at": _at(created),
                "status": draw(st.sampled_from(["open", "solved"])),
                "category": draw(_CATEGORIES),
                "priority": draw(st.sampled_from(["normal", "urgent"])),
                "customer_tier": draw(st.sampled_from(["premium", None])),
                "assignee_id": draw(_AGENTS),
                "team_id": "T1",
            }
        )
        for _ in range(draw(st.integers(0, 5))):
            at, agent = _at(created + draw(st.integers(0, 72))), draw(_AGENTS)
            kind = draw(st.sampled_from(["assign", "solve", "reopen", "follow_up", "comment", "concession"]))
            if kind == "assign":
                events.append(assign(ticket_id, at, agent, draw(st.sampled_from(["T1", "T2"]))))
            elif kind == "solve":
                events.append(solve(ticket_id, at, agent))
            elif kind == "reopen":
                events.append(
                    {
                        "ticket_id": ticket_id,
                        "occurred_at": at,
                        "event_type": "status_change",
                        "new_status": "open",
                    }
                )
            elif kind == "concession":
                events.append(
                    {
                        "ticket_id": ticket_id,
                        "occurred_at": at,
                        "event_type": "concession",
                        "actor_id": agent,
                        "concession_type": "credit",
                        "concession_amount": float(draw(st.integers(1, 120))),
                        "currency": "USD",
                    }
                )
            else:  # follow_up by an agent, or a comment from the customer (coming back) or agent
                role = "agent" if kind == "follow_up" else draw(st.sampled_from(["agent", "customer"]))
                events.append(
                    {
                        "ticket_id": ticket_id,
                        "occurred_at": at,
                        "event_type": kind,
                        "actor_role": role,
                        "actor_id": agent,
                        "public": True,
                    }
                )
    for j in range(draw(st.integers(0, 5))):
        started = ts(_at(draw(_HOURS)))
        answered = draw(st.booleans())
        calls.append(
            {
                "call_id": f"k{j}",
                "customer_id": draw(_CUSTOMERS),
                "direction": draw(st.sampled_from(["inbound", "outbound", "callback"])),
                "ticket_id": draw(st.sampled_from([None, "t0"])),
                "category": draw(st.sampled_from([None, "billing"])),
                "agent_id": draw(_AGENTS) if answered else None,
                "team_id": "T1",
                "initiated_at": started,
                "answered_at": started if answered else None,
                "ended_at": started + timedelta(minutes=10),
                "outcome": draw(st.sampled_from(["resolved", "callback_promised", "unresolved"])),
                "concession_type": draw(st.sampled_from([None, "refund"])),
                "concession_amount": 30.0,
                "currency": "USD",
            }
        )
    return tickets, events, calls


# 25 examples: each runs every family twice (scoped and whole history), ~2 s apiece.
@settings(max_examples=25, deadline=None)
@given(history=_histories(), zone=st.sampled_from(["UTC", "America/New_York"]))
def test_run_audit_gives_the_answers_of_the_whole_history(history, zone):
    tickets, events, calls = history
    inputs = CanonicalTables(tickets_frame(*tickets), events_frame(*events), calls_frame(*calls))
    window = AuditWindow(D, zone, datetime(2026, 3, 15, tzinfo=UTC))
    _assert_same_tables(
        collect_audit(run_audit(inputs, window, POLICY)), _reference_audit(inputs, window, POLICY)
    )


@settings(max_examples=60, deadline=None)
@given(
    history=_histories(),
    first=st.integers(0, 9),
    days=st.integers(0, 3),
    zone=st.sampled_from(["UTC", "Europe/Berlin"]),
)
def test_contacts_closed_between_are_the_universe_filtered_on_audit_date(history, first, days, zone):
    tickets, events, calls = history
    frames = tickets_frame(*tickets), events_frame(*events), calls_frame(*calls)
    start = date(2026, 3, 5) + timedelta(days=first)
    end = start + timedelta(days=days)
    narrow = build_contacts(*frames, zone, closed_between=(start, end)).collect()
    whole = build_contacts(*frames, zone).filter(pl.col("audit_date").is_between(start, end)).collect()
    assert_frame_equal(narrow, whole, check_row_order=False)


@pytest.mark.parametrize(
    ("solved_at", "kept"),
    [
        ("2026-03-08T04:59:59Z", False),  # 03-07 23:59:59 in New York: the day before the window
        ("2026-03-08T05:00:00Z", True),  # local midnight starting 03-08
        ("2026-03-11T03:59:59Z", True),  # 03-10 23:59:59 EDT (DST began on 03-08)
        ("2026-03-11T04:00:00Z", False),  # midnight ending 03-10
    ],
)
def test_contacts_closed_between_bounds_are_local_midnights(solved_at, kept):
    frames = (
        tickets_frame({"ticket_id": "t1", "created_at": "2026-03-01T00:00:00Z"}),
        events_frame(solve("t1", solved_at)),
        calls_frame(),
    )
    narrow = build_contacts(*frames, "America/New_York", closed_between=(date(2026, 3, 8), D)).collect()
    assert narrow["contact_id"].to_list() == (["t1"] if kept else [])


def test_call_tier_from_a_linked_ticket_created_after_the_window_is_kept():
    """Narrowing the tier look-up to tickets created before the window's end must not drop a
    linked ticket: the linked ticket's tier wins whenever it was created."""
    tickets = tickets_frame(
        {
            "ticket_id": "t9",
            "created_at": "2026-03-12T00:00:00Z",
            "customer_tier": "premium",
            "status": "open",
        }
    )
    calls = calls_frame(
        {
            "call_id": "k1",
            "ticket_id": "t9",
            "initiated_at": "2026-03-10T10:00:00Z",
            "answered_at": "2026-03-10T10:00:00Z",
            "ended_at": "2026-03-10T10:05:00Z",
        }
    )
    narrow = build_contacts(tickets, events_frame(), calls, "UTC", closed_between=(D, D)).collect()
    assert narrow.select("contact_id", "customer_tier", "category").rows() == [("k1", "premium", "billing")]


@pytest.mark.parametrize(
    ("solves", "row_solved_at", "kept"),
    [
        (["2026-03-07T10:00:00Z", "2026-03-09T10:00:00Z"], "2026-03-07T10:00:00Z", False),  # re-solve
        (["2026-03-09T10:00:00Z", "2026-03-12T10:00:00Z"], "2026-03-09T10:00:00Z", True),
        ([], "2026-03-09T10:00:00Z", True),  # no solve event: the ticket row's solved_at
        (["2026-03-12T10:00:00Z"], "2026-03-09T10:00:00Z", False),  # the event wins over the row
    ],
)
def test_first_solve_in_the_window_ignores_re_solves_and_keeps_the_row_fallback(solves, row_solved_at, kept):
    frames = (
        tickets_frame({"ticket_id": "t1", "solved_at": row_solved_at}),
        events_frame(*(solve("t1", at) for at in solves)),
        calls_frame(),
    )
    narrow = build_contacts(*frames, "UTC", closed_between=(date(2026, 3, 8), D)).collect()
    assert narrow["contact_id"].to_list() == (["t1"] if kept else [])
