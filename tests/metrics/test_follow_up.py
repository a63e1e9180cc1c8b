"""Follow-up (docs/metrics.md §1): eligibility, windows and their boundaries, status, came-back-first."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from configs.policy import FollowUpPolicy, Policy
from tests.metrics.frames import assign, calls_frame, events_frame, scope_of, solve, tickets_frame, ts
from transforms.contacts import AuditWindow
from transforms.follow_up import EVIDENCE_SCHEMA, TABLE, audit_follow_up
from transforms.parts import RATE_PARTS_SCHEMA, FamilyResult

D = date(2026, 3, 2)
SOLVED = "2026-03-02T10:00:00Z"  # t1 is solved here: window ends 2026-03-05T10:00Z
LATE_CUTOFF = "2026-03-10T00:00:00Z"
US = "America/New_York"


def run(
    tickets: Sequence[dict[str, Any]],
    events: Sequence[dict[str, Any]],
    calls: Sequence[dict[str, Any]] = (),
    policy: FollowUpPolicy = FollowUpPolicy(),
    day: date = D,
    cutoff: str = LATE_CUTOFF,
    tz: str = "UTC",
) -> FamilyResult:
    t, e, c = tickets_frame(*tickets), events_frame(*events), calls_frame(*calls)
    window = AuditWindow(day, tz, ts(cutoff))
    return audit_follow_up(scope_of(t, e, c, tz), window, Policy(version="test", follow_up=policy))


def evidence(*args: Any, **kwargs: Any) -> pl.DataFrame:
    return run(*args, **kwargs).tables[TABLE].collect().sort("contact_type", "contact_id")


def one(frame: pl.DataFrame, contact_id: str = "t1") -> dict[str, Any]:
    rows = frame.filter(pl.col("contact_id") == contact_id).to_dicts()
    assert len(rows) == 1, rows
    return rows[0]


def at(base: str, **delta: float) -> str:
    return (ts(base) + timedelta(**delta)).isoformat()


def follow_up_event(ticket_id: str, when: str, role: str = "agent") -> dict[str, Any]:
    return {"ticket_id": ticket_id, "occurred_at": when, "event_type": "follow_up", "actor_role": role}


def customer_comment(ticket_id: str, when: str) -> dict[str, Any]:
    return {
        "ticket_id": ticket_id,
        "occurred_at": when,
        "event_type": "comment",
        "actor_role": "customer",
        "public": True,
    }


def call(call_id: str, start: str, direction: str = "outbound", answered: bool = True, **extra: Any) -> dict:
    return {
        "call_id": call_id,
        "direction": direction,
        "initiated_at": start,
        "answered_at": start if answered else None,
        "ended_at": at(start, minutes=5),
        **extra,
    }


T1 = {"ticket_id": "t1", "assignee_id": "a1", "team_id": "T1"}


# --- the window and its boundaries -------------------------------------------------------


@pytest.mark.parametrize(
    ("delta", "status", "hours"),
    [
        (timedelta(0), "missed", None),  # at the solve itself: not after the contact ended
        (timedelta(microseconds=1), "met", 1 / 3_600_000_000),
        (timedelta(hours=5, minutes=30), "met", 5.5),
        (timedelta(hours=72), "met", 72.0),  # "within 72 h" includes 72 h exactly
        (timedelta(hours=72, microseconds=1), "missed", None),
    ],
)
def test_follow_up_event_window_boundaries(delta, status, hours):
    fu_at = (ts(SOLVED) + delta).isoformat()
    row = one(evidence([T1], [solve("t1", SOLVED), follow_up_event("t1", fu_at)]))
    assert (row["status"], row["hours_to_follow_up"]) == (status, hours)
    assert row["follow_up_id"] == ("e2" if status == "met" else None)
    assert row["window_end_at"] == ts("2026-03-05T10:00:00Z")


@pytest.mark.parametrize(
    ("delta", "status"),
    [(timedelta(hours=24), "met"), (timedelta(hours=24, microseconds=1), "missed")],
)
def test_callback_promised_has_a_24h_window_whatever_the_category(delta, status):
    promise = call("k1", SOLVED, direction="inbound", outcome="callback_promised", category="billing")
    ended = promise["ended_at"]
    callback = call("k2", (ts(ended) + delta).isoformat(), direction="callback")
    policy = FollowUpPolicy(categories=("outage",))
    row = one(evidence([], [], [promise, callback], policy=policy), "k1")
    assert (row["status"], row["eligibility"], row["window_end_at"]) == (
        status,
        "callback_promised",
        ts(ended) + timedelta(hours=24),
    )


def test_policy_window_hours_are_used():
    policy = FollowUpPolicy(window_hours=48)
    fu = follow_up_event("t1", at(SOLVED, hours=50))
    assert one(evidence([T1], [solve("t1", SOLVED), fu], policy=policy))["status"] == "missed"
    assert one(evidence([T1], [solve("t1", SOLVED), fu]))["status"] == "met"


# --- pending vs missed at the data cut-off -----------------------------------------------


@pytest.mark.parametrize(
    ("cutoff", "status"),
    [
        ("2026-03-05T10:00:00Z", "missed"),  # window end == cut-off: the window has closed
        ("2026-03-05T09:59:59.999999Z", "pending"),
        ("2026-03-03T00:00:00Z", "pending"),
    ],
)
def test_missed_only_once_the_window_closed_by_the_cutoff(cutoff, status):
    result = run([T1], [solve("t1", SOLVED)], cutoff=cutoff)
    assert one(result.tables[TABLE].collect())["status"] == status
    parts = result.rate_parts.collect()
    assert parts.height == (1 if status == "missed" else 0)  # pending stays out of the denominator


def test_a_follow_up_seen_before_the_window_closes_is_still_pending():
    """docs/metrics.md: a window not closed at the cut-off is pending; the follow-up already seen is
    shown, the contact stays out of the rate until a later run makes it met."""
    events = [solve("t1", SOLVED), follow_up_event("t1", at(SOLVED, hours=1))]
    early = run([T1], events, cutoff="2026-03-03T00:00Z")
    row = one(early.tables[TABLE].collect())
    assert (row["status"], row["follow_up_id"], row["hours_to_follow_up"]) == ("pending", "e2", 1.0)
    assert early.rate_parts.collect().height == 0
    assert early.measures.collect().height == 0
    final = run([T1], events, cutoff="2026-03-05T10:00:00Z")  # the window closes at the cut-off
    assert one(final.tables[TABLE].collect())["status"] == "met"
    assert final.rate_parts.collect()["numerator"].to_list() == [1]


def test_what_happens_after_the_cutoff_is_not_known():
    """A follow-up or a customer return after the data cut-off is not in the evidence: a run with
    the same cut-off gives the same answer whatever later rows the inputs hold."""
    cutoff = "2026-03-03T00:00:00Z"
    later = [
        solve("t1", SOLVED),
        customer_comment("t1", at(SOLVED, hours=20)),  # 03-03T06:00, after the cut-off
        follow_up_event("t1", at(SOLVED, hours=50)),
    ]
    row = one(evidence([T1], later, cutoff=cutoff))
    assert (row["status"], row["follow_up_id"], row["is_customer_came_back_first"]) == (
        "pending",
        None,
        False,
    )
    known = one(evidence([T1], later[:1], cutoff=cutoff))
    assert row == known


# --- what counts as a follow-up ----------------------------------------------------------


@pytest.mark.parametrize(
    ("count_unanswered", "answered", "status"),
    [(True, False, "met"), (False, False, "missed"), (True, True, "met"), (False, True, "met")],
)
def test_unanswered_attempts_follow_policy(count_unanswered, answered, status):
    policy = FollowUpPolicy(count_unanswered_attempts=count_unanswered)
    calls = [call("k9", at(SOLVED, hours=3), answered=answered)]
    assert one(evidence([T1], [solve("t1", SOLVED)], calls, policy=policy))["status"] == status


@pytest.mark.parametrize(
    ("direction", "status"),
    [("outbound", "met"), ("callback", "met"), ("inbound", "missed"), ("transfer", "missed")],
)
def test_only_agent_initiated_calls_are_follow_ups(direction, status):
    calls = [call("k9", at(SOLVED, hours=3), direction=direction)]
    assert one(evidence([T1], [solve("t1", SOLVED)], calls))["status"] == status


def test_call_follow_up_is_timed_at_initiation():
    calls = [call("k9", at(SOLVED, hours=71, minutes=58))]  # ends after 72 h, started within
    row = one(evidence([T1], [solve("t1", SOLVED)], calls))
    assert (row["status"], row["follow_up_id"], row["hours_to_follow_up"]) == ("met", "k9", 71 + 58 / 60)


def test_follow_up_on_another_ticket_of_the_same_customer_counts():
    tickets = [
        T1,
        {"ticket_id": "t2", "status": "open"},
        {"ticket_id": "t3", "customer_id": "c2", "status": "open"},
    ]
    events = [
        solve("t1", SOLVED),
        follow_up_event("t3", at(SOLVED, hours=1)),
        follow_up_event("t2", at(SOLVED, hours=2)),
    ]
    row = one(evidence(tickets, events))
    assert (row["status"], row["follow_up_id"], row["hours_to_follow_up"]) == ("met", "e3", 2.0)


def test_follow_up_call_to_another_customer_does_not_count():
    calls = [call("k9", at(SOLVED, hours=1), customer_id="c2")]
    assert one(evidence([T1], [solve("t1", SOLVED)], calls))["status"] == "missed"


def test_follow_up_event_logged_by_the_customer_does_not_count():
    events = [solve("t1", SOLVED), follow_up_event("t1", at(SOLVED, hours=1), role="customer")]
    assert one(evidence([T1], events))["status"] == "missed"


def test_earliest_follow_up_wins():
    events = [solve("t1", SOLVED), follow_up_event("t1", at(SOLVED, hours=30))]
    calls = [call("k9", at(SOLVED, hours=20)), call("k8", at(SOLVED, hours=40))]
    row = one(evidence([T1], events, calls))
    assert (row["follow_up_id"], row["follow_up_at"], row["hours_to_follow_up"]) == (
        "k9",
        ts(at(SOLVED, hours=20)),
        20.0,
    )


# --- eligibility -------------------------------------------------------------------------


def test_category_filter_and_priority_and_call_outcomes():
    policy = FollowUpPolicy(categories=("outage",))
    tickets = [
        {"ticket_id": "t_billing", "category": "billing", "priority": "normal"},
        {"ticket_id": "t_high", "category": "billing", "priority": "high"},
        {"ticket_id": "t_urgent", "category": "account", "priority": "urgent"},
        {"ticket_id": "t_outage", "category": "outage", "priority": "low"},
    ]
    events = [solve(t["ticket_id"], SOLVED) for t in tickets]
    calls = [
        call("k_res_outage", SOLVED, direction="inbound", outcome="resolved", category="outage"),
        call("k_res_billing", SOLVED, direction="inbound", outcome="resolved", category="billing"),
        call("k_res_none", SOLVED, direction="inbound", outcome="resolved"),
        call("k_unres_outage", SOLVED, direction="inbound", outcome="unresolved", category="outage"),
        call("k_promise", SOLVED, direction="inbound", outcome="callback_promised", category="billing"),
        call("k_unanswered", SOLVED, direction="inbound", answered=False, outcome="callback_promised"),
    ]
    frame = evidence(tickets, events, calls, policy=policy)
    assert dict(zip(frame["contact_id"], frame["eligibility"], strict=True)) == {
        "k_promise": "callback_promised",
        "k_res_outage": "category",
        "t_high": "priority",
        "t_outage": "category",
        "t_urgent": "priority",
    }


def test_all_categories_by_default_include_every_solved_ticket_and_resolved_call():
    tickets = [{"ticket_id": "t_low", "category": "shipping", "priority": "low"}]
    calls = [
        call("k_res", SOLVED, direction="inbound", outcome="resolved"),
        call("k_none", SOLVED, direction="inbound"),  # no outcome: not resolved
    ]
    frame = evidence(tickets, [solve("t_low", SOLVED)], calls)
    assert frame["contact_id"].to_list() == ["k_res", "t_low"]


def test_only_contacts_closed_on_the_audit_day_and_by_first_solve():
    tickets = [T1, {"ticket_id": "t2"}, {"ticket_id": "t3"}]
    events = [
        solve("t1", SOLVED),
        solve("t2", "2026-03-01T23:00:00Z"),  # solved the day before
        {
            "ticket_id": "t2",
            "occurred_at": "2026-03-02T01:00:00Z",
            "event_type": "status_change",
            "new_status": "open",
        },
        solve("t2", "2026-03-02T09:00:00Z"),  # re-solve on D: not closed on D
        solve("t3", "2026-03-03T00:00:00Z"),  # next day
    ]
    assert evidence(tickets, events)["contact_id"].to_list() == ["t1"]


def test_window_runs_from_the_first_solve_not_a_re_solve():
    events = [
        solve("t1", SOLVED, "a1"),
        {
            "ticket_id": "t1",
            "occurred_at": at(SOLVED, hours=1),
            "event_type": "status_change",
            "new_status": "open",
        },
        solve("t1", at(SOLVED, hours=60), "a2"),
        follow_up_event("t1", at(SOLVED, hours=100)),  # 40 h after the re-solve, 100 h after the first
    ]
    row = one(evidence([T1], events))
    assert (row["status"], row["agent_id"], row["closed_at"]) == ("missed", "a1", ts(SOLVED))


def test_business_time_zone_decides_the_audit_day():
    # 02:00 UTC on March 3 is 21:00 EST on March 2.
    events = [solve("t1", "2026-03-03T02:00:00Z")]
    assert evidence([T1], events, tz=US, day=D)["contact_id"].to_list() == ["t1"]
    assert evidence([T1], events, tz=US, day=date(2026, 3, 3)).height == 0
    assert evidence([T1], events, tz="UTC", day=date(2026, 3, 3))["audit_date"].to_list() == [
        date(2026, 3, 3)
    ]


def test_window_spanning_dst_is_72_elapsed_hours():
    # Solved 2026-03-07 10:00 EST (15:00Z); DST starts 03-08; the window ends 72 h later at 15:00Z.
    solved = "2026-03-07T15:00:00Z"
    row = one(
        evidence(
            [T1],
            [solve("t1", solved), follow_up_event("t1", at(solved, hours=72))],
            tz=US,
            day=date(2026, 3, 7),
            cutoff="2026-03-11T04:00:00Z",  # midnight ending 03-10 in New York
        )
    )
    assert (row["status"], row["window_end_at"]) == ("met", ts("2026-03-10T15:00:00Z"))


# --- attribution carried into the evidence -----------------------------------------------


def test_evidence_attributes_to_the_solver_and_their_team_at_that_moment():
    tickets = [
        {"ticket_id": "t1", "assignee_id": "a9", "team_id": "T9"},
        {"ticket_id": "t2", "status": "open"},
    ]
    events = [
        assign("t2", "2026-03-01T08:00:00Z", "a1", "T1"),
        solve("t1", SOLVED, "a1"),
    ]
    row = one(evidence(tickets, events))
    assert (row["agent_id"], row["team_id"]) == ("a1", "T1")


def test_evidence_falls_back_to_the_assignee_when_the_system_solved():
    tickets = [{"ticket_id": "t1", "assignee_id": "a9", "team_id": "T9"}]
    events = [assign("t1", "2026-03-01T08:00:00Z", "a2", "T2"), solve("t1", SOLVED, None, "system")]
    row = one(evidence(tickets, events))
    assert (row["agent_id"], row["team_id"]) == ("a2", "T2")


# --- customer came back first ------------------------------------------------------------


@pytest.mark.parametrize(
    ("returned", "follow_up_hours", "expected"),
    [
        ({"ticket": 5}, 10, True),  # new ticket before the follow-up
        ({"ticket": 15}, 10, False),  # after the follow-up
        ({"ticket": 10}, 10, False),  # at the same instant: not first
        ({"inbound": 5}, 10, True),  # inbound call, even unanswered
        ({"comment_own": 5}, 10, True),  # customer comment on the solved ticket itself
        ({"comment_other": 5}, 10, True),
        ({"comment_own": -1}, 10, False),  # comment before the solve
        ({"ticket": 73}, None, False),  # after the window closed
        ({"ticket": 72}, None, True),  # at the window end, no follow-up at all
        ({}, 10, False),
    ],
)
def test_customer_came_back_first(returned, follow_up_hours, expected):
    tickets = [T1, {"ticket_id": "t_old", "status": "open"}]
    events: list[dict[str, Any]] = [solve("t1", SOLVED)]
    calls: list[dict[str, Any]] = []
    for kind, hours in returned.items():
        when = at(SOLVED, hours=hours)
        if kind == "ticket":
            tickets.append({"ticket_id": "t_new", "status": "open", "created_at": when, "updated_at": when})
        elif kind == "inbound":
            calls.append(call("k_in", when, direction="inbound", answered=False))
        elif kind == "comment_own":
            events.append(customer_comment("t1", when))
        else:
            events.append(customer_comment("t_old", when))
    if follow_up_hours is not None:
        events.append(follow_up_event("t1", at(SOLVED, hours=follow_up_hours)))
    assert one(evidence(tickets, events, calls))["is_customer_came_back_first"] is expected


def test_a_calls_own_linked_ticket_is_not_the_customer_coming_back():
    """A resolved call whose agent logs a ticket for it just after: that ticket is the call's own
    record, not a return (as in resolution's repeat contacts); another new ticket is."""
    ended = at(SOLVED, minutes=5)
    logged = {"ticket_id": "t9", "status": "open", "created_at": at(ended, minutes=2)}
    k1 = call("k1", SOLVED, direction="inbound", outcome="resolved", ticket_id="t9")
    row = one(evidence([logged], [], [k1]), "k1")
    assert (row["eligibility"], row["is_customer_came_back_first"]) == ("category", False)
    other = {"ticket_id": "t10", "status": "open", "created_at": at(ended, hours=3)}
    assert one(evidence([logged, other], [], [k1]), "k1")["is_customer_came_back_first"] is True


def test_another_customers_return_does_not_count():
    tickets = [
        T1,
        {"ticket_id": "t_new", "customer_id": "c2", "status": "open", "created_at": at(SOLVED, hours=1)},
    ]
    assert one(evidence(tickets, [solve("t1", SOLVED)]))["is_customer_came_back_first"] is False


# --- full frames -------------------------------------------------------------------------


def test_evidence_and_rate_parts_frames():
    tickets = [
        {"ticket_id": "t1", "assignee_id": "a1", "team_id": "T1", "category": "outage"},
        {"ticket_id": "t2", "customer_id": "c2", "assignee_id": "a2", "team_id": "T2"},
        {"ticket_id": "t3", "customer_id": "c3", "assignee_id": "a2", "team_id": "T2"},
    ]
    events = [
        solve("t1", SOLVED, "a1"),
        solve("t2", "2026-03-02T20:00:00Z", "a2"),
        solve("t3", "2026-03-02T23:00:00Z", "a2"),
        follow_up_event("t1", "2026-03-03T16:00:00Z"),
        customer_comment("t2", "2026-03-03T08:00:00Z"),
    ]
    # Cut-off 03-05T22:00: t1 met, t2 missed (window ended 03-05T20:00), t3 pending (ends 03-05T23:00).
    result = run(tickets, events, cutoff="2026-03-05T22:00:00Z")
    t = ts
    expected = pl.DataFrame(
        {
            "audit_date": [D] * 3,
            "contact_id": ["t1", "t2", "t3"],
            "contact_type": ["ticket"] * 3,
            "agent_id": ["a1", "a2", "a2"],
            "team_id": ["T1", "T2", "T2"],
            "customer_id": ["c1", "c2", "c3"],
            "category": ["outage", "billing", "billing"],
            "eligibility": ["category"] * 3,
            "closed_at": [t(SOLVED), t("2026-03-02T20:00:00Z"), t("2026-03-02T23:00:00Z")],
            "window_end_at": [
                t("2026-03-05T10:00:00Z"),
                t("2026-03-05T20:00:00Z"),
                t("2026-03-05T23:00:00Z"),
            ],
            "status": ["met", "missed", "pending"],
            "follow_up_id": ["e4", None, None],
            "follow_up_at": [t("2026-03-03T16:00:00Z"), None, None],
            "hours_to_follow_up": [30.0, None, None],
            "is_customer_came_back_first": [False, True, False],
        },
        schema=EVIDENCE_SCHEMA,
    )
    assert_frame_equal(result.tables[TABLE].collect().sort("contact_id"), expected)
    parts = pl.DataFrame(
        {
            "audit_date": [D] * 2,
            "agent_id": ["a1", "a2"],
            "team_id": ["T1", "T2"],
            "metric": ["follow_up"] * 2,
            "numerator": [1, 0],
            "denominator": [1, 1],
            "contact_id": ["t1", "t2"],  # the evidence behind each part
        },
        schema=RATE_PARTS_SCHEMA,
    )
    assert_frame_equal(result.rate_parts.collect().sort("agent_id"), parts)


def test_no_eligible_contacts_gives_empty_typed_frames():
    result = run([{"ticket_id": "t1", "status": "open"}], [])
    assert result.tables[TABLE].collect().schema == EVIDENCE_SCHEMA
    assert result.tables[TABLE].collect().height == 0
    assert result.rate_parts.collect().schema == RATE_PARTS_SCHEMA


# --- invariants --------------------------------------------------------------------------


@st.composite
def _scenarios(draw):
    """Tickets solved around D, follow-up events, customer comments and calls at random hours."""
    customers = ["c1", "c2", "c3"]
    tickets, events, calls = [], [], []
    for i in range(draw(st.integers(1, 6))):
        tid = f"t{i}"
        tickets.append(
            {
                "ticket_id": tid,
                "customer_id": draw(st.sampled_from(customers)),
                "category": draw(st.sampled_from(["billing", "outage"])),
                "priority": draw(st.sampled_from(["low", "normal", "high", "urgent"])),
                "assignee_id": draw(st.sampled_from(["a1", "a2"])),
                "team_id": "T1",
                "status": "open",
            }
        )
        if draw(st.booleans()):
            events.append(solve(tid, at("2026-03-01T12:00:00Z", hours=draw(st.integers(0, 36))), "a1"))
        for _ in range(draw(st.integers(0, 2))):
            when = at("2026-03-02T00:00:00Z", hours=draw(st.integers(0, 120)))
            kind = draw(st.sampled_from(["follow_up", "comment"]))
            events.append(follow_up_event(tid, when) if kind == "follow_up" else customer_comment(tid, when))
    for j in range(draw(st.integers(0, 4))):
        calls.append(
            call(
                f"k{j}",
                at("2026-03-02T00:00:00Z", hours=draw(st.integers(0, 120))),
                direction=draw(st.sampled_from(["inbound", "outbound", "callback"])),
                answered=draw(st.booleans()),
                customer_id=draw(st.sampled_from(customers)),
                outcome=draw(st.sampled_from(["resolved", "callback_promised", "unresolved", None])),
                category=draw(st.sampled_from(["billing", "outage", None])),
                agent_id="a3",
            )
        )
    policy = FollowUpPolicy(
        categories=draw(st.sampled_from(["all", ("outage",)])),
        count_unanswered_attempts=draw(st.booleans()),
    )
    cutoff = at("2026-03-03T00:00:00Z", hours=draw(st.integers(0, 120)))
    return tickets, events, calls, policy, cutoff


@settings(max_examples=30, deadline=None)
@given(scenario=_scenarios(), rng=st.randoms(use_true_random=False))
def test_rates_bounded_one_row_per_eligible_contact_and_order_independent(scenario, rng):
    tickets, events, calls, policy, cutoff = scenario
    events = [{"event_id": f"e{i}", **e} for i, e in enumerate(events, start=1)]
    result = run(tickets, events, calls, policy=policy, cutoff=cutoff)
    frame = result.tables[TABLE].collect().sort("contact_type", "contact_id")
    parts = result.rate_parts.collect()

    assert frame.select("contact_type", "contact_id").is_unique().all()
    assert set(frame["status"]) <= {"met", "missed", "pending"}
    met = frame.filter(pl.col("status") == "met")
    assert met["follow_up_id"].null_count() == 0
    assert ((met["hours_to_follow_up"] > 0) & (met["follow_up_at"] <= met["window_end_at"])).all()
    assert (frame.filter(pl.col("status") == "missed")["window_end_at"] <= ts(cutoff)).all()
    assert (frame.filter(pl.col("status") == "pending")["window_end_at"] > ts(cutoff)).all()

    totals = parts.group_by("agent_id").agg(pl.sum("numerator"), pl.sum("denominator"))
    assert (totals["numerator"] <= totals["denominator"]).all()
    rates = totals["numerator"] / totals["denominator"]
    assert ((rates >= 0) & (rates <= 1)).all()
    assert parts["denominator"].sum() == frame.filter(pl.col("status") != "pending").height

    shuffled = [list(rows) for rows in (tickets, events, calls)]
    for rows in shuffled:
        rng.shuffle(rows)
    again = run(shuffled[0], shuffled[1], shuffled[2], policy=policy, cutoff=cutoff)
    assert_frame_equal(again.tables[TABLE].collect().sort("contact_type", "contact_id"), frame)
    assert_frame_equal(
        again.rate_parts.collect().sort(pl.all()),
        parts.sort(pl.all()),
    )


def test_hours_to_follow_up_measures_are_one_per_met_contact():
    """The scorecards' hours_to_follow_up median/p90 come from met contacts only."""
    from datetime import date

    from transforms.follow_up import EVIDENCE_SCHEMA, follow_up_parts

    day = date(2026, 3, 2)
    evidence = pl.DataFrame(
        {
            "audit_date": [day] * 4,
            "contact_id": ["t1", "t2", "t3", "t4"],
            "agent_id": ["a1", "a1", "a2", "a2"],
            "team_id": ["x", "x", "y", "y"],
            "status": ["met", "met", "missed", "pending"],
            "hours_to_follow_up": [2.0, 10.5, None, None],
        }
    ).with_columns(
        [
            pl.lit(None, dtype=d).alias(n)
            for n, d in EVIDENCE_SCHEMA.items()
            if n not in ("audit_date", "contact_id", "agent_id", "team_id", "status", "hours_to_follow_up")
        ]
    )
    out = follow_up_parts(evidence.lazy())[1].collect()
    assert out.rows() == [
        (day, "a1", "x", "hours_to_follow_up", 2.0),
        (day, "a1", "x", "hours_to_follow_up", 10.5),
    ]
