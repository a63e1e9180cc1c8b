"""Contact universe: who closed what, when, and on which audit day."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from tests.metrics.frames import assign, calls_frame, events_frame, solve, tickets_frame, ts
from transforms.contacts import (
    CONTACTS_SCHEMA,
    CUSTOMER_CONTACTS_SCHEMA,
    AuditWindow,
    build_contacts,
    build_customer_contacts,
    closed_on,
    first_solved_at,
    local_date,
)

EMPTY_CALLS = calls_frame()


def _contacts(
    tickets: pl.LazyFrame, events: pl.LazyFrame, calls: pl.LazyFrame = EMPTY_CALLS, tz: str = "UTC"
):
    return build_contacts(tickets, events, calls, tz).collect().sort("contact_type", "contact_id")


def _row(frame: pl.DataFrame, contact_id: str) -> dict:
    rows = frame.filter(pl.col("contact_id") == contact_id).to_dicts()
    assert len(rows) == 1, rows
    return rows[0]


# --- attribution -------------------------------------------------------------------------


def test_ticket_goes_to_the_agent_who_solved_it_not_the_assignee():
    tickets = tickets_frame({"ticket_id": "t1", "assignee_id": "a9", "team_id": "T9"})
    events = events_frame(
        assign("t1", "2026-03-01T10:00:00Z", "a9", "T9"), solve("t1", "2026-03-02T10:00:00Z", "a1")
    )
    row = _row(_contacts(tickets, events), "t1")
    assert (row["agent_id"], row["closed_at"], row["audit_date"]) == (
        "a1",
        ts("2026-03-02T10:00:00Z"),
        date(2026, 3, 2),
    )


@pytest.mark.parametrize("role", ["supervisor", "system"])
def test_non_agent_solve_goes_to_the_assignee_at_that_moment(role):
    tickets = tickets_frame({"ticket_id": "t1", "assignee_id": "a3", "team_id": "T3"})
    events = events_frame(
        assign("t1", "2026-03-01T10:00:00Z", "a1", "T1"),
        assign("t1", "2026-03-02T10:00:00Z", "a2", "T2"),  # exactly at the solve: counts
        solve("t1", "2026-03-02T10:00:00Z", "s1", role),
        assign("t1", "2026-03-02T11:00:00Z", "a3", "T3"),  # after the solve: ignored
    )
    row = _row(_contacts(tickets, events), "t1")
    assert (row["agent_id"], row["team_id"]) == ("a2", "T2")


def test_non_agent_solve_without_assignment_history_falls_back_to_ticket_assignee():
    tickets = tickets_frame({"ticket_id": "t1", "assignee_id": "a3", "team_id": "T3"})
    events = events_frame(solve("t1", "2026-03-02T10:00:00Z", None, "system"))
    row = _row(_contacts(tickets, events), "t1")
    assert (row["agent_id"], row["team_id"]) == ("a3", "T3")


def test_agent_solve_without_an_actor_id_goes_to_the_assignee_at_that_moment():
    """The export says an agent solved it but not which one (actor_id is optional): the assignee at
    the solve, as for a non-agent solve, rather than nobody."""
    tickets = tickets_frame({"ticket_id": "t1", "assignee_id": "a3", "team_id": "T3"})
    events = events_frame(
        assign("t1", "2026-03-01T10:00:00Z", "a9", "T9"), solve("t1", "2026-03-02T10:00:00Z", None, "agent")
    )
    row = _row(_contacts(tickets, events), "t1")
    assert (row["agent_id"], row["team_id"]) == ("a9", "T9")


def test_team_is_the_agents_team_at_the_solve_from_any_ticket():
    # a1 moved from T1 to T2 (assignment on t2) before solving t1; later moved to T3.
    tickets = tickets_frame(
        {"ticket_id": "t1", "team_id": "T1"},
        {"ticket_id": "t2", "status": "open", "team_id": "T2"},
    )
    events = events_frame(
        assign("t1", "2026-03-01T10:00:00Z", "a1", "T1"),
        assign("t2", "2026-03-02T08:00:00Z", "a1", "T2"),
        solve("t1", "2026-03-02T10:00:00Z", "a1"),
        assign("t2", "2026-03-02T12:00:00Z", "a1", "T3"),
    )
    assert _row(_contacts(tickets, events), "t1")["team_id"] == "T2"


def test_simultaneous_assignments_tie_break_on_greatest_event_id():
    # e1 and e2 assign t1 at the same instant; e2 (the greater id) wins, for assignee and team alike.
    tickets = tickets_frame({"ticket_id": "t1", "assignee_id": "a9"})
    events = events_frame(
        assign("t1", "2026-03-01T10:00:00Z", "a1", "T1"),
        assign("t1", "2026-03-01T10:00:00Z", "a2", "T2"),
        solve("t1", "2026-03-02T10:00:00Z", None, "system"),
    )
    row = _row(_contacts(tickets, events), "t1")
    assert (row["agent_id"], row["team_id"]) == ("a2", "T2")


def test_agent_team_tie_at_the_same_instant_goes_to_the_greatest_event_id():
    tickets = tickets_frame({"ticket_id": "t1"}, {"ticket_id": "t2", "status": "open"})
    events = events_frame(
        assign("t2", "2026-03-01T10:00:00Z", "a1", "T7"),  # e1
        assign("t1", "2026-03-01T10:00:00Z", "a1", "T3"),  # e2: same instant, greater id
        solve("t1", "2026-03-02T10:00:00Z", "a1"),
    )
    assert _row(_contacts(tickets, events), "t1")["team_id"] == "T3"


def test_team_falls_back_to_the_ticket_team_when_the_agent_has_no_assignment():
    tickets = tickets_frame({"ticket_id": "t1", "assignee_id": "a9", "team_id": "T9"})
    events = events_frame(solve("t1", "2026-03-02T10:00:00Z", "a1"))
    assert _row(_contacts(tickets, events), "t1")["team_id"] == "T9"


def test_first_solve_counts_not_the_re_solve_after_a_reopen():
    tickets = tickets_frame({"ticket_id": "t1", "solved_at": "2026-03-04T09:00:00Z"})
    events = events_frame(
        solve("t1", "2026-03-02T10:00:00Z", "a1"),
        {
            "ticket_id": "t1",
            "occurred_at": "2026-03-03T10:00:00Z",
            "event_type": "status_change",
            "new_status": "open",
        },
        solve("t1", "2026-03-04T09:00:00Z", "a2"),
    )
    row = _row(_contacts(tickets, events), "t1")
    assert (row["agent_id"], row["closed_at"]) == ("a1", ts("2026-03-02T10:00:00Z"))


def test_simultaneous_solves_tie_break_on_smallest_event_id():
    tickets = tickets_frame({"ticket_id": "t1"})
    events = events_frame(
        solve("t1", "2026-03-02T10:00:00Z", "a2"), solve("t1", "2026-03-02T10:00:00Z", "a1")
    )
    # e1 (a2) precedes e2 (a1)
    assert _row(_contacts(tickets, events), "t1")["agent_id"] == "a2"


def test_move_straight_to_closed_is_a_solve():
    tickets = tickets_frame({"ticket_id": "t1", "status": "closed"})
    events = events_frame(
        {
            "ticket_id": "t1",
            "occurred_at": "2026-03-02T10:00:00Z",
            "event_type": "status_change",
            "new_status": "closed",
            "actor_id": "a1",
        }
    )
    assert _row(_contacts(tickets, events), "t1")["closed_at"] == ts("2026-03-02T10:00:00Z")


@pytest.mark.parametrize(
    ("status", "solved_at", "is_contact"),
    [
        ("solved", "2026-03-02T10:00:00Z", True),
        ("closed", "2026-03-02T10:00:00Z", True),
        ("solved", None, False),
        ("open", None, False),
        ("open", "2026-03-02T10:00:00Z", False),  # reopened, solve event missing: not known as solved
    ],
)
def test_solved_ticket_without_status_event_falls_back_to_solved_at(status, solved_at, is_contact):
    tickets = tickets_frame(
        {"ticket_id": "t1", "status": status, "solved_at": solved_at, "assignee_id": "a3"}
    )
    frame = _contacts(tickets, events_frame())
    assert frame.height == int(is_contact)
    if is_contact:
        assert (frame["closed_at"][0], frame["agent_id"][0]) == (ts(solved_at), "a3")


def test_first_solved_at_prefers_the_event_over_the_ticket_field():
    tickets = tickets_frame({"ticket_id": "t1", "solved_at": "2026-03-05T00:00:00Z"})
    events = events_frame(solve("t1", "2026-03-02T10:00:00Z", "a1"))
    expected = pl.DataFrame(
        {
            "ticket_id": ["t1"],
            "solved_at": [ts("2026-03-02T10:00:00Z")],
            "solver_role": ["agent"],
            "solver_id": ["a1"],
        },
        schema_overrides={"solved_at": pl.Datetime("us", "UTC")},
    )
    assert_frame_equal(first_solved_at(tickets, events).collect(), expected)


# --- calls -------------------------------------------------------------------------------


def test_only_answered_calls_are_contacts_with_their_agent_and_team():
    calls = calls_frame(
        {
            "call_id": "k1",
            "initiated_at": "2026-03-02T10:00:00Z",
            "answered_at": "2026-03-02T10:02:00Z",
            "ended_at": "2026-03-02T10:10:00Z",
            "agent_id": "a1",
            "team_id": "T1",
            "category": "outage",
            "outcome": "resolved",
        },
        {"call_id": "k2", "initiated_at": "2026-03-02T10:00:00Z", "ended_at": "2026-03-02T10:03:00Z"},
        {
            "call_id": "k3",
            "direction": "outbound",
            "initiated_at": "2026-03-02T11:00:00Z",
            "answered_at": "2026-03-02T11:00:10Z",
            "ended_at": "2026-03-02T11:05:00Z",
            "agent_id": "a2",
            "outcome": "unresolved",
        },
    )
    frame = _contacts(tickets_frame(), events_frame(), calls)
    expected = pl.DataFrame(
        {
            "contact_id": ["k1", "k3"],
            "contact_type": ["call", "call"],
            "customer_id": ["c1", "c1"],
            "category": ["outage", None],
            "priority": [None, None],
            "customer_tier": [None, None],
            "channel": ["phone", "phone"],
            "ticket_id": [None, None],
            "agent_id": ["a1", "a2"],
            "team_id": ["T1", None],
            "opened_at": [ts("2026-03-02T10:00:00Z"), ts("2026-03-02T11:00:00Z")],
            "closed_at": [ts("2026-03-02T10:10:00Z"), ts("2026-03-02T11:05:00Z")],
            "audit_date": [date(2026, 3, 2)] * 2,
            "is_resolved": [True, False],
            "outcome": ["resolved", "unresolved"],
        },
        schema=CONTACTS_SCHEMA,
    )
    assert_frame_equal(frame, expected)


def _answered_call(call_id: str, ended_at: str, **extra) -> dict:
    return {
        "call_id": call_id,
        "initiated_at": ended_at,
        "answered_at": ended_at,
        "ended_at": ended_at,
        **extra,
    }


def test_call_tier_and_category_come_from_the_linked_ticket():
    tickets = tickets_frame(
        {"ticket_id": "t1", "status": "open", "customer_tier": "premium", "category": "billing"},
        {
            "ticket_id": "t2",
            "status": "open",
            "customer_tier": "standard",
            "created_at": "2026-03-01T12:00:00Z",
        },
    )
    calls = calls_frame(_answered_call("k1", "2026-03-02T10:00:00Z", ticket_id="t1"))
    row = _row(_contacts(tickets, events_frame(), calls), "k1")
    assert (row["customer_tier"], row["category"], row["ticket_id"]) == ("premium", "billing", "t1")


def test_call_category_of_its_own_wins_over_the_linked_ticket():
    tickets = tickets_frame({"ticket_id": "t1", "status": "open", "category": "billing"})
    calls = calls_frame(_answered_call("k1", "2026-03-02T10:00:00Z", ticket_id="t1", category="outage"))
    assert _row(_contacts(tickets, events_frame(), calls), "k1")["category"] == "outage"


@pytest.mark.parametrize(
    ("ended_at", "tier"),
    [
        ("2026-03-01T08:00:00Z", None),  # before every ticket: unknown (never a later ticket)
        ("2026-03-01T10:00:00Z", "gold"),  # exactly at t_gold's creation
        ("2026-03-03T10:00:00Z", "premium"),  # latest ticket with a tier (t_none, later, has none)
    ],
)
def test_unlinked_call_takes_the_customers_latest_earlier_ticket_tier(ended_at, tier):
    tickets = tickets_frame(
        {
            "ticket_id": "t_gold",
            "status": "open",
            "customer_tier": "gold",
            "created_at": "2026-03-01T10:00:00Z",
        },
        {
            "ticket_id": "t_prem",
            "status": "open",
            "customer_tier": "premium",
            "created_at": "2026-03-02T10:00:00Z",
        },
        {
            "ticket_id": "t_none",
            "status": "open",
            "customer_tier": None,
            "created_at": "2026-03-02T12:00:00Z",
        },
        {"ticket_id": "t_other", "customer_id": "c2", "status": "open", "customer_tier": "x"},
    )
    calls = calls_frame(_answered_call("k1", ended_at))
    assert _row(_contacts(tickets, events_frame(), calls), "k1")["customer_tier"] == tier


# --- audit day in the business time zone -------------------------------------------------


@pytest.mark.parametrize(
    ("utc", "tz", "day"),
    [
        ("2026-03-08T04:59:59.999999Z", "America/New_York", date(2026, 3, 7)),  # 23:59:59 EST
        ("2026-03-08T05:00:00Z", "America/New_York", date(2026, 3, 8)),  # midnight EST
        ("2026-03-09T03:59:59Z", "America/New_York", date(2026, 3, 8)),  # 23:59:59 EDT (DST began)
        ("2026-03-09T04:00:00Z", "America/New_York", date(2026, 3, 9)),
        ("2026-11-01T04:00:00Z", "America/New_York", date(2026, 11, 1)),  # midnight EDT, DST ends that day
        ("2026-11-02T04:59:59Z", "America/New_York", date(2026, 11, 1)),
        ("2026-03-02T23:30:00Z", "Asia/Kolkata", date(2026, 3, 3)),
        ("2026-03-02T23:59:59Z", "UTC", date(2026, 3, 2)),
    ],
)
def test_local_date_in_business_time_zone(utc, tz, day):
    frame = pl.DataFrame({"at": [ts(utc)]}, schema={"at": pl.Datetime("us", "UTC")})
    assert frame.select(local_date(pl.col("at"), tz))["at"][0] == day


def test_contact_audit_date_uses_business_time_zone():
    tickets = tickets_frame({"ticket_id": "t1"})
    events = events_frame(solve("t1", "2026-03-03T02:00:00Z", "a1"))  # 21:00 EST on March 2
    assert _row(_contacts(tickets, events, tz="America/New_York"), "t1")["audit_date"] == date(2026, 3, 2)


@pytest.mark.parametrize(
    ("day", "start", "end"),
    [
        (date(2026, 3, 8), "2026-03-08T05:00:00Z", "2026-03-09T04:00:00Z"),  # 23 h day
        (date(2026, 11, 1), "2026-11-01T04:00:00Z", "2026-11-02T05:00:00Z"),  # 25 h day
        (date(2026, 3, 2), "2026-03-02T05:00:00Z", "2026-03-03T05:00:00Z"),
    ],
)
def test_audit_window_day_bounds_follow_dst(day, start, end):
    window = AuditWindow(day, "America/New_York", ts("2026-12-01T00:00:00Z"))
    assert (window.day_start_at, window.day_end_at) == (ts(start), ts(end))


def test_closed_on_selects_the_audit_day():
    frame = pl.DataFrame({"audit_date": [date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 3)]})
    window = AuditWindow(date(2026, 3, 2), "UTC", datetime.fromisoformat("2026-03-03T00:00:00+00:00"))
    assert frame.filter(closed_on(window))["audit_date"].to_list() == [date(2026, 3, 2)]


# --- customer-initiated contacts ---------------------------------------------------------


def test_customer_contacts_are_new_tickets_and_inbound_calls_answered_or_not():
    tickets = tickets_frame({"ticket_id": "t1", "status": "open", "category": "outage"})
    calls = calls_frame(
        {"call_id": "k1", "initiated_at": "2026-03-02T10:00:00Z", "ended_at": "2026-03-02T10:01:00Z"},
        _answered_call("k2", "2026-03-02T11:00:00Z", category="billing"),
        _answered_call("k3", "2026-03-02T12:00:00Z", direction="outbound"),
        _answered_call("k4", "2026-03-02T13:00:00Z", direction="callback"),
        _answered_call("k5", "2026-03-02T14:00:00Z", direction="transfer"),
    )
    expected = pl.DataFrame(
        {
            "contact_id": ["t1", "k1", "k2"],
            "contact_type": ["ticket", "call", "call"],
            "customer_id": ["c1"] * 3,
            "category": ["outage", None, "billing"],
            "opened_at": [ts("2026-03-01T09:00:00Z"), ts("2026-03-02T10:00:00Z"), ts("2026-03-02T11:00:00Z")],
        },
        schema=CUSTOMER_CONTACTS_SCHEMA,
    )
    assert_frame_equal(build_customer_contacts(tickets, calls).collect(), expected)


def test_customer_call_without_category_takes_its_linked_tickets():
    """Repeat-contact and came-back matching compare categories; a call categorised only
    through its ticket must match the same way as in `build_contacts`."""
    tickets = tickets_frame({"ticket_id": "t1", "status": "open", "category": "outage"})
    calls = calls_frame(
        _answered_call("k1", "2026-03-02T11:00:00Z", ticket_id="t1"),
        _answered_call("k2", "2026-03-02T12:00:00Z", ticket_id="t1", category="billing"),
        _answered_call("k3", "2026-03-02T13:00:00Z", ticket_id="t-unknown"),
    )
    out = build_customer_contacts(tickets, calls).filter(pl.col("contact_type") == "call").collect()
    assert out.select("contact_id", "category").rows() == [("k1", "outage"), ("k2", "billing"), ("k3", None)]


# --- invariants --------------------------------------------------------------------------

_HOURS = st.integers(min_value=0, max_value=96)


@st.composite
def _histories(draw):
    """A few tickets with random assignment/solve/reopen events, and a few calls."""
    n_tickets = draw(st.integers(min_value=1, max_value=5))
    tickets, events = [], []
    for i in range(n_tickets):
        status = draw(st.sampled_from(["open", "solved", "closed"]))
        solved_at = f"2026-03-0{draw(st.integers(2, 5))}T10:00:00Z" if status != "open" else None
        tickets.append(
            {
                "ticket_id": f"t{i}",
                "customer_id": draw(st.sampled_from(["c1", "c2"])),
                "status": status,
                "solved_at": solved_at,
                "assignee_id": draw(st.sampled_from(["a1", "a2", None])),
                "team_id": draw(st.sampled_from(["T1", None])),
                "customer_tier": draw(st.sampled_from(["premium", None])),
            }
        )
        for _ in range(draw(st.integers(0, 4))):
            at = ts("2026-03-01T10:00:00Z") + timedelta(hours=draw(_HOURS))
            kind = draw(st.sampled_from(["assign", "solve", "reopen"]))
            agent = draw(st.sampled_from(["a1", "a2", "a3"]))
            if kind == "assign":
                events.append(assign(f"t{i}", at.isoformat(), agent, draw(st.sampled_from(["T1", "T2"]))))
            elif kind == "solve":
                events.append(
                    solve(f"t{i}", at.isoformat(), agent, draw(st.sampled_from(["agent", "system"])))
                )
            else:
                events.append(
                    {
                        "ticket_id": f"t{i}",
                        "occurred_at": at,
                        "event_type": "status_change",
                        "new_status": "open",
                    }
                )
    calls = []
    for j in range(draw(st.integers(0, 3))):
        call_at = ts("2026-03-02T00:00:00Z") + timedelta(hours=draw(_HOURS))
        answered = draw(st.booleans())
        calls.append(
            {
                "call_id": f"k{j}",
                "customer_id": draw(st.sampled_from(["c1", "c2"])),
                "ticket_id": draw(st.sampled_from([None, "t0"])),
                "initiated_at": call_at,
                "answered_at": call_at if answered else None,
                "ended_at": call_at,
            }
        )
    return tickets, events, calls


@settings(max_examples=60, deadline=None)
@given(history=_histories(), seed=st.randoms(use_true_random=False))
def test_contacts_are_unique_complete_and_independent_of_row_order(history, seed):
    tickets, events, calls = history
    frame = _contacts(tickets_frame(*tickets), events_frame(*events), calls_frame(*calls))
    # Every ticket known as solved appears exactly once, every answered call once.
    solved = {e["ticket_id"] for e in events if e.get("new_status") == "solved"}
    solved |= {t["ticket_id"] for t in tickets if t["status"] != "open"}
    answered = {c["call_id"] for c in calls if c["answered_at"]}
    assert sorted(frame["contact_id"].to_list()) == sorted(solved | answered)
    assert frame.schema == CONTACTS_SCHEMA

    shuffled = [list(rows) for rows in (tickets, events, calls)]
    for rows in shuffled:
        seed.shuffle(rows)
    # event ids are assigned in order by events_frame: keep them stable before shuffling
    numbered = [{"event_id": f"e{i}", **e} for i, e in enumerate(events, start=1)]
    seed.shuffle(numbered)
    again = _contacts(tickets_frame(*shuffled[0]), events_frame(*numbered), calls_frame(*shuffled[2]))
    assert_frame_equal(frame, again)
