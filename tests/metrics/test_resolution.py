"""Resolution, responsiveness and conduct (transforms/resolution.py), hand-worked cases.

Audit day D = 2026-03-02 (UTC). Unless a test says otherwise the data cut-off is far
enough ahead (2026-03-20) for every 7-day window to be closed.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from configs.policy import Policy
from tests.metrics.frames import assign, calls_frame, events_frame, scope_of, solve, tickets_frame, ts
from transforms.contacts import AuditWindow
from transforms.resolution import audit_resolution, classify_resolution, queue_scorecard, reply_waits

D = date(2026, 3, 2)
WINDOW = AuditWindow(D, "UTC", datetime(2026, 3, 20, tzinfo=UTC))
POLICY = Policy(version="test")
POLICY_SLA = timedelta(hours=24)


def run(
    tickets: pl.LazyFrame,
    events: pl.LazyFrame,
    calls: pl.LazyFrame | None = None,
    window: AuditWindow = WINDOW,
    policy: Policy = POLICY,
) -> dict[str, pl.DataFrame]:
    calls = calls if calls is not None else calls_frame()
    scope = scope_of(tickets, events, calls, window.time_zone)
    result = audit_resolution(scope, window, policy)
    repeat_window = timedelta(days=policy.resolution.repeat_window_days)
    classified = classify_resolution(scope.contacts, scope.customer_contacts, events, window, repeat_window)
    return {
        **{name: getattr(result, name).collect() for name in ("rate_parts", "measures", "counts")},
        "queue_scorecard": result.tables["queue_scorecard"].collect(),
        # each resolved contact closed on D with its fcr_status (the family's own working frame)
        "classified": classified.sort("contact_type", "contact_id").collect(),
    }


def parts(result: dict[str, pl.DataFrame], metric: str) -> list[tuple[Any, ...]]:
    """(agent_id, team_id, numerator, denominator) rows of one rate metric, sorted."""
    rows = result["rate_parts"].filter(pl.col("metric") == metric)
    return sorted(rows.select("agent_id", "team_id", "numerator", "denominator").rows(), key=str)


def measures(result: dict[str, pl.DataFrame], measure: str) -> list[tuple[Any, ...]]:
    rows = result["measures"].filter(pl.col("measure") == measure)
    return sorted(rows.select("agent_id", "team_id", "value").rows(), key=str)


def counts(result: dict[str, pl.DataFrame], count: str) -> list[tuple[Any, ...]]:
    rows = result["counts"].filter(pl.col("count") == count)
    return sorted(rows.select("agent_id", "team_id", "value").rows(), key=str)


def comment(
    ticket_id: str, at: str, role: str = "agent", actor: str | None = "a1", public: bool = True
) -> dict:
    return {
        "ticket_id": ticket_id,
        "occurred_at": at,
        "event_type": "comment",
        "actor_role": role,
        "actor_id": actor,
        "public": public,
    }


def status(ticket_id: str, at: str, new_status: str) -> dict:
    return {
        "ticket_id": ticket_id,
        "occurred_at": at,
        "event_type": "status_change",
        "new_status": new_status,
    }


# --- first-contact resolution, repeat contact, reopen ---------------------------------------------


def test_solved_ticket_without_repeat_is_a_first_contact_resolution() -> None:
    result = run(
        tickets_frame({"ticket_id": "t1"}),
        events_frame(assign("t1", "2026-03-01T09:00:00Z", "a1", "T1"), solve("t1", "2026-03-02T12:00:00Z")),
    )
    assert parts(result, "first_contact_resolution") == [("a1", "T1", 1, 1)]
    assert parts(result, "repeat_contact") == [("a1", "T1", 0, 1)]
    assert parts(result, "reopen") == [("a1", "T1", 0, 1)]
    assert result["classified"]["fcr_status"].to_list() == ["first_contact"]


@pytest.mark.parametrize(
    ("new_ticket", "is_repeat"),
    [
        ({"created_at": "2026-03-09T12:00:00Z"}, True),  # exactly 7 days after the solve: inside
        ({"created_at": "2026-03-09T12:00:01Z"}, False),  # one second after the window
        ({"created_at": "2026-03-03T08:00:00Z", "category": "outage"}, False),  # other category
        ({"created_at": "2026-03-03T08:00:00Z", "customer_id": "c2"}, False),  # other customer
        ({"created_at": "2026-03-02T11:00:00Z"}, False),  # opened before the solve: not "new"
    ],
)
def test_repeat_contact_needs_same_customer_and_category_within_the_window(
    new_ticket: dict, is_repeat: bool
) -> None:
    tickets = tickets_frame({"ticket_id": "t1"}, {"ticket_id": "t2", "status": "new", **new_ticket})
    result = run(tickets, events_frame(solve("t1", "2026-03-02T12:00:00Z")))
    assert parts(result, "first_contact_resolution") == [("a1", None, int(not is_repeat), 1)]
    assert parts(result, "repeat_contact") == [("a1", None, int(is_repeat), 1)]


def test_inbound_call_and_abandoned_call_count_as_repeat_contacts() -> None:
    calls = calls_frame(
        {
            "call_id": "k1",
            "initiated_at": "2026-03-04T10:00:00Z",
            "ended_at": "2026-03-04T10:02:00Z",
            "category": "billing",
        }
    )
    result = run(tickets_frame({"ticket_id": "t1"}), events_frame(solve("t1", "2026-03-02T12:00:00Z")), calls)
    assert parts(result, "repeat_contact") == [("a1", None, 1, 1)]
    assert result["classified"]["repeat_contact_id"].to_list() == ["k1"]


@pytest.mark.parametrize(
    ("new_status", "at", "reopened"),
    [
        ("open", "2026-03-05T09:00:00Z", True),
        ("pending", "2026-03-09T12:00:00Z", True),  # boundary: exactly 7 days
        ("on_hold", "2026-03-03T09:00:00Z", True),
        ("open", "2026-03-09T12:00:01Z", False),
        ("closed", "2026-03-05T09:00:00Z", False),
    ],
)
def test_reopen_within_the_window_fails_fcr(new_status: str, at: str, reopened: bool) -> None:
    events = events_frame(solve("t1", "2026-03-02T12:00:00Z"), status("t1", at, new_status))
    result = run(tickets_frame({"ticket_id": "t1"}), events)
    assert parts(result, "reopen") == [("a1", None, int(reopened), 1)]
    assert parts(result, "first_contact_resolution") == [("a1", None, int(not reopened), 1)]


def test_open_window_is_pending_even_when_a_repeat_is_already_visible() -> None:
    tickets = tickets_frame({"ticket_id": "t1"}, {"ticket_id": "t2", "created_at": "2026-03-03T08:00:00Z"})
    events = events_frame(solve("t1", "2026-03-02T12:00:00Z"), solve("t2", "2026-03-03T09:00:00Z"))
    window = replace(WINDOW, data_cutoff=datetime(2026, 3, 4, tzinfo=UTC))
    result = run(tickets, events, window=window)
    assert parts(result, "first_contact_resolution") == []
    assert parts(result, "reopen") == []
    assert counts(result, "first_contact_resolution_pending") == [("a1", None, 1)]
    assert counts(result, "reopen_pending") == [("a1", None, 1)]
    evidence = result["classified"].row(0, named=True)
    assert (evidence["fcr_status"], evidence["repeat_contact_id"]) == ("pending", "t2")


@pytest.mark.parametrize(
    ("cutoff", "pending"),
    [(datetime(2026, 3, 9, 12, tzinfo=UTC), False), (datetime(2026, 3, 9, 11, 59, tzinfo=UTC), True)],
)
def test_window_closes_exactly_seven_days_after_the_solve(cutoff: datetime, pending: bool) -> None:
    window = replace(WINDOW, data_cutoff=cutoff)
    result = run(
        tickets_frame({"ticket_id": "t1"}), events_frame(solve("t1", "2026-03-02T12:00:00Z")), window=window
    )
    assert len(counts(result, "first_contact_resolution_pending")) == int(pending)
    assert len(parts(result, "first_contact_resolution")) == int(not pending)


def test_repeat_window_comes_from_the_policy() -> None:
    tickets = tickets_frame({"ticket_id": "t1"}, {"ticket_id": "t2", "created_at": "2026-03-05T12:00:00Z"})
    events = events_frame(solve("t1", "2026-03-02T12:00:00Z"))
    short = POLICY.model_copy(
        update={"resolution": POLICY.resolution.model_copy(update={"repeat_window_days": 2})}
    )
    assert parts(run(tickets, events), "repeat_contact") == [("a1", None, 1, 1)]
    assert parts(run(tickets, events, policy=short), "repeat_contact") == [("a1", None, 0, 1)]


def test_calls_only_resolved_ones_count_and_own_linked_ticket_is_not_a_repeat() -> None:
    calls = calls_frame(
        {
            "call_id": "k1",
            "initiated_at": "2026-03-02T10:00:00Z",
            "answered_at": "2026-03-02T10:00:30Z",
            "ended_at": "2026-03-02T10:10:00Z",
            "agent_id": "a2",
            "team_id": "T2",
            "category": "billing",
            "ticket_id": "t9",
            "outcome": "resolved",
        },
        {
            "call_id": "k2",
            "initiated_at": "2026-03-02T11:00:00Z",
            "answered_at": "2026-03-02T11:00:30Z",
            "ended_at": "2026-03-02T11:10:00Z",
            "agent_id": "a2",
            "team_id": "T2",
            "category": "hardware",
            "outcome": "unresolved",
        },
    )
    # t9: the ticket the agent logged for call k1 after it ended.
    tickets = tickets_frame({"ticket_id": "t9", "created_at": "2026-03-02T10:15:00Z", "status": "open"})
    result = run(tickets, events_frame(), calls)
    assert parts(result, "first_contact_resolution") == [("a2", "T2", 1, 1)]
    assert parts(result, "reopen") == []


def test_contact_closed_on_another_day_is_not_in_the_day() -> None:
    result = run(tickets_frame({"ticket_id": "t1"}), events_frame(solve("t1", "2026-03-03T00:00:00Z")))
    assert result["rate_parts"].height == 0
    assert result["classified"].height == 0


# --- first reply ------------------------------------------------------------------------------------


def test_first_reply_minutes_go_to_the_agent_who_sent_the_first_public_agent_comment() -> None:
    tickets = tickets_frame({"ticket_id": "t1", "created_at": "2026-03-02T09:00:00Z", "status": "open"})
    events = events_frame(
        assign("t1", "2026-03-02T09:00:00Z", "a1", "T1"),
        assign("t9", "2026-03-01T08:00:00Z", "a2", "T2"),  # a2's team, known from another ticket
        comment("t1", "2026-03-02T09:10:00Z", actor="a1", public=False),  # internal note
        comment("t1", "2026-03-02T09:20:00Z", role="customer", actor="c1"),
        comment("t1", "2026-03-02T09:45:00Z", actor="a2"),
        comment("t1", "2026-03-02T10:30:00Z", actor="a1"),
    )
    assert measures(run(tickets, events), "first_reply_minutes") == [("a2", "T2", 45.0)]


def test_first_reply_is_counted_on_the_day_it_was_sent() -> None:
    tickets = tickets_frame({"ticket_id": "t1", "created_at": "2026-03-01T22:00:00Z", "team_id": "T1"})
    on_d = events_frame(comment("t1", "2026-03-02T01:30:00Z"))
    before_d = events_frame(comment("t1", "2026-03-01T23:00:00Z"))
    assert measures(run(tickets, on_d), "first_reply_minutes") == [("a1", "T1", 210.0)]
    assert measures(run(tickets, before_d), "first_reply_minutes") == []


# --- reply SLA ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply_at", "breach"),
    [
        ("2026-03-02T09:00:00Z", False),  # exactly 24 h: not longer than the SLA
        ("2026-03-02T09:00:01Z", True),
        (None, True),  # still waiting at the cut-off
    ],
)
def test_creation_waiting_longer_than_the_sla_is_a_breach_on_the_deadline_day(
    reply_at: str | None, breach: bool
) -> None:
    tickets = tickets_frame({"ticket_id": "t1", "created_at": "2026-03-01T09:00:00Z", "status": "open"})
    rows = [assign("t1", "2026-03-01T09:00:00Z", "a1", "T1")]
    rows += [comment("t1", reply_at)] if reply_at else []
    result = run(tickets, events_frame(*rows))
    assert counts(result, "reply_sla_breaches") == ([("a1", "T1", 1)] if breach else [])


def test_breach_goes_to_the_assignee_at_the_deadline_and_each_customer_comment_waits() -> None:
    tickets = tickets_frame({"ticket_id": "t1", "created_at": "2026-03-01T08:00:00Z", "status": "open"})
    events = events_frame(
        assign("t1", "2026-03-01T08:00:00Z", "a1", "T1"),
        comment("t1", "2026-03-01T09:00:00Z", actor="a1"),  # answers creation within 1 h
        comment("t1", "2026-03-01T10:00:00Z", role="customer", actor="c1"),  # deadline 03-02 10:00
        comment("t1", "2026-03-01T11:00:00Z", role="customer", actor="c1"),  # deadline 03-02 11:00
        assign("t1", "2026-03-02T09:00:00Z", "a2", "T2"),
        comment("t1", "2026-03-02T12:00:00Z", actor="a2"),  # 26 h and 25 h after the comments
    )
    assert counts(run(tickets, events), "reply_sla_breaches") == [("a2", "T2", 1), ("a2", "T2", 1)]


def test_deadline_on_another_day_or_after_the_cutoff_is_not_counted() -> None:
    tickets = tickets_frame({"ticket_id": "t1", "created_at": "2026-03-02T09:00:00Z", "status": "open"})
    events = events_frame(assign("t1", "2026-03-02T09:00:00Z", "a1", "T1"))
    assert counts(run(tickets, events), "reply_sla_breaches") == []  # deadline 03-03: another day
    early = replace(WINDOW, audit_date=date(2026, 3, 3), data_cutoff=datetime(2026, 3, 3, 8, tzinfo=UTC))
    assert counts(run(tickets, events, window=early), "reply_sla_breaches") == []  # not known yet


def test_solving_ends_the_wait_and_comments_on_a_solved_ticket_do_not_wait() -> None:
    tickets = tickets_frame({"ticket_id": "t1", "created_at": "2026-03-01T08:00:00Z"})
    events = events_frame(
        solve("t1", "2026-03-01T10:00:00Z"),  # creation answered by solving within 2 h
        comment("t1", "2026-03-01T10:30:00Z", role="customer", actor="c1"),  # "thanks!" on a solved ticket
    )
    waits = reply_waits(tickets, events, POLICY_SLA, datetime(2026, 3, 20, tzinfo=UTC)).collect()
    assert waits.select("started_at", "ended_at", "is_breach").rows() == [
        (ts("2026-03-01T08:00:00Z"), ts("2026-03-01T10:00:00Z"), False)
    ]


@pytest.mark.parametrize(
    ("reopen_after", "reply_after", "waits"),
    [
        (timedelta(seconds=1), None, True),  # the comment reopened the ticket a second later
        (timedelta(0), None, True),  # reopened at the same instant
        (timedelta(hours=2), timedelta(hours=1), False),  # an agent answered before any reopen
        (None, None, False),  # stays solved: a "thanks" expects no reply
    ],
)
def test_a_customer_comment_that_reopens_a_solved_ticket_waits_for_a_reply(
    reopen_after: timedelta | None, reply_after: timedelta | None, waits: bool
) -> None:
    """On a solved ticket, the customer's comment waits when the ticket is reopened after it and
    before any agent reply (vendors log the reopen just after the comment that caused it)."""
    said = ts("2026-03-03T10:00:00Z")
    tickets = tickets_frame({"ticket_id": "t1", "created_at": "2026-03-01T08:00:00Z"})
    rows = [
        solve("t1", "2026-03-01T10:00:00Z"),
        comment("t1", said.isoformat(), role="customer", actor="c1"),
    ]
    if reopen_after is not None:
        rows.append(status("t1", (said + reopen_after).isoformat(), "open"))
    if reply_after is not None:
        rows.append(comment("t1", (said + reply_after).isoformat(), actor="a1"))
    waits_frame = reply_waits(tickets, events_frame(*rows), POLICY_SLA, datetime(2026, 3, 20, tzinfo=UTC))
    started = waits_frame.collect()["started_at"].to_list()
    assert (said in started) is waits
    assert ts("2026-03-01T08:00:00Z") in started  # creation waits in every case


# --- calls and CSAT -------------------------------------------------------------------------------------


def _call(call_id: str, **row: Any) -> dict:
    base = {
        "call_id": call_id,
        "initiated_at": "2026-03-02T10:00:00Z",
        "ended_at": "2026-03-02T10:20:00Z",
        "team_id": "T1",
        "queue": "billing",
    }
    return {**base, **row}


CALLS = calls_frame(
    _call(
        "k1",
        answered_at="2026-03-02T10:01:30Z",
        agent_id="a1",
        hold_seconds=30.0,
        talk_seconds=600.0,
        agent_interruptions=2,
        satisfaction_confirmed=True,
    ),
    _call(
        "k2",
        answered_at="2026-03-02T10:00:30Z",
        agent_id="a1",
        hold_seconds=0.0,
        talk_seconds=300.0,
        agent_interruptions=4,
        satisfaction_confirmed=False,
    ),
    _call("k3", answered_at="2026-03-02T10:05:00Z", agent_id="a1", hold_seconds=90.0, talk_seconds=120.0),
    _call("k4", ended_at="2026-03-02T10:03:00Z"),  # abandoned in the queue
    _call("k5", ended_at="2026-03-02T10:03:00Z", direction="outbound", queue=None),  # unanswered outbound
    _call("k6", direction="transfer", answered_at="2026-03-02T10:02:00Z", agent_id="a2", queue="tier2"),
)


def test_call_measures_and_satisfaction_confirmed() -> None:
    result = run(tickets_frame(), events_frame(), CALLS)
    assert measures(result, "hold_seconds") == [("a1", "T1", 0.0), ("a1", "T1", 30.0), ("a1", "T1", 90.0)]
    # Interruptions count only where talk time is known too (k3 has no interruption count).
    assert measures(result, "talk_seconds") == [("a1", "T1", 300.0), ("a1", "T1", 600.0)]
    assert measures(result, "agent_interruptions") == [("a1", "T1", 2.0), ("a1", "T1", 4.0)]
    assert parts(result, "satisfaction_confirmed") == [("a1", "T1", 0, 1), ("a1", "T1", 1, 1)]


def test_queue_wait_and_abandonment_are_team_level_over_queued_legs() -> None:
    result = run(tickets_frame(), events_frame(), CALLS)
    # k1 90 s, k2 30 s, k3 300 s, k6 (transfer) 120 s; k4 abandoned; k5 outbound is not queued.
    assert measures(result, "queue_wait_seconds") == [
        (None, "T1", 120.0),
        (None, "T1", 30.0),
        (None, "T1", 300.0),
        (None, "T1", 90.0),
    ]
    assert parts(result, "abandonment") == [(None, "T1", 0, 1)] * 4 + [(None, "T1", 1, 1)]


def test_the_queue_scorecard_splits_queued_legs_by_queue_and_team() -> None:
    """billing/T1: k1 90 s, k2 30 s, k3 300 s answered, k4 abandoned; billing with no team: k7
    45 s; tier2/T1: the transfer k6 120 s. k5 (outbound) is not queued."""
    no_team = _call("k7", team_id=None, answered_at="2026-03-02T10:00:45Z", agent_id="a3")
    calls = pl.concat([CALLS, calls_frame(no_team)])
    table = run(tickets_frame(), events_frame(), calls)["queue_scorecard"]
    got = table.select(
        "queue",
        "team_id",
        "abandonment_numerator",
        "abandonment_denominator",
        "abandonment_rate",
        "queue_wait_seconds_median",
        "queue_wait_seconds_p90",
        "is_abandonment_low_volume",
    ).rows()
    # p90 of 30, 90, 300 (linear): 90 + 0.8 * 210 = 258.
    assert got == [
        ("billing", "T1", 1, 4, 0.25, 90.0, 258.0, True),
        ("billing", None, 0, 1, 0.0, 45.0, 45.0, True),
        ("tier2", "T1", 0, 1, 0.0, 120.0, 120.0, True),
    ]
    # Wilson 95% of 1/4 and of 0/1.
    assert table["abandonment_ci_low"].to_list() == pytest.approx([0.0455873, 0.0, 0.0])
    assert table["abandonment_ci_high"].to_list() == pytest.approx([0.6993582, 0.7934507, 0.7934507])
    assert set(table["audit_date"]) == {WINDOW.audit_date}


def test_csat_over_tickets_solved_on_the_day_with_a_score() -> None:
    tickets = tickets_frame(
        {"ticket_id": "t1", "csat_score": 5},
        {"ticket_id": "t2", "csat_score": 3},
        {"ticket_id": "t3"},
        {"ticket_id": "t4", "csat_score": 4},  # solved the day before
    )
    events = events_frame(
        solve("t1", "2026-03-02T10:00:00Z"),
        solve("t2", "2026-03-02T11:00:00Z", actor_id="a2"),
        solve("t3", "2026-03-02T12:00:00Z"),
        solve("t4", "2026-03-01T12:00:00Z"),
    )
    result = run(tickets, events)
    assert parts(result, "csat_good") == [("a1", None, 1, 1), ("a2", None, 0, 1)]
    assert measures(result, "csat_score") == [("a1", None, 5.0), ("a2", None, 3.0)]


def test_opening_comment_at_creation_is_one_wait_and_unassigned_breach_goes_to_the_team() -> None:
    tickets = tickets_frame(
        {"ticket_id": "t1", "created_at": "2026-03-01T09:00:00Z", "status": "open", "team_id": "T1"}
    )
    events = events_frame(comment("t1", "2026-03-01T09:00:00Z", role="customer", actor="c1"))
    assert counts(run(tickets, events), "reply_sla_breaches") == [(None, "T1", 1)]


def test_supervisor_or_private_comment_does_not_answer_the_customer() -> None:
    tickets = tickets_frame({"ticket_id": "t1", "created_at": "2026-03-01T09:00:00Z", "status": "open"})
    events = events_frame(
        assign("t1", "2026-03-01T09:00:00Z", "a1", "T1"),
        comment("t1", "2026-03-01T10:00:00Z", role="supervisor", actor="s1"),
        comment("t1", "2026-03-01T11:00:00Z", actor="a1", public=False),
    )
    result = run(tickets, events)
    assert counts(result, "reply_sla_breaches") == [("a1", "T1", 1)]
    assert measures(result, "first_reply_minutes") == []


@pytest.mark.parametrize(
    ("reply_at", "counted"),
    [("2026-03-02T04:59:00Z", False), ("2026-03-02T05:00:00Z", True)],  # New York midnight = 05:00Z
)
def test_first_reply_day_is_taken_in_the_business_time_zone(reply_at: str, counted: bool) -> None:
    tickets = tickets_frame({"ticket_id": "t1", "created_at": "2026-03-02T04:00:00Z", "team_id": "T1"})
    window = AuditWindow(D, "America/New_York", datetime(2026, 3, 20, tzinfo=UTC))
    result = run(tickets, events_frame(comment("t1", reply_at)), window=window)
    assert len(measures(result, "first_reply_minutes")) == int(counted)


# --- properties -------------------------------------------------------------------------------------

_HOURS = st.integers(min_value=0, max_value=24 * 12)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(_HOURS, st.sampled_from(["c1", "c2"]), st.sampled_from(["billing", "outage"])), max_size=8
    ),
    st.lists(st.tuples(_HOURS, st.sampled_from(["open", "pending", "on_hold"])), max_size=4),
    st.integers(min_value=0, max_value=24 * 14),
)
def test_fcr_and_repeat_partition_the_resolved_contacts(
    solved: list[tuple[int, str, str]], moves: list[tuple[int, str]], cutoff_hours: int
) -> None:
    """Every resolved contact closed on D is once in the evidence; FCR + repeat = denominator."""
    start = datetime(2026, 3, 1, tzinfo=UTC)
    tickets = tickets_frame(
        *(
            {
                "ticket_id": f"t{i}",
                "customer_id": c,
                "category": cat,
                "created_at": start + timedelta(hours=h),
            }
            for i, (h, c, cat) in enumerate(solved)
        )
    )
    rows = [
        solve(f"t{i}", (start + timedelta(hours=h, minutes=30)).isoformat())
        for i, (h, _, _) in enumerate(solved)
    ]
    rows += [status("t0", (start + timedelta(hours=h, minutes=45)).isoformat(), s) for h, s in moves]
    window = replace(WINDOW, data_cutoff=start + timedelta(hours=cutoff_hours))
    result = run(tickets, events_frame(*rows), window=window)
    closed_on_d = sum(1 for h, _, _ in solved if 24 <= h < 48)
    evidence = result["classified"]
    assert evidence.height == closed_on_d
    assert evidence["contact_id"].is_unique().all()
    fcr, repeat = parts(result, "first_contact_resolution"), parts(result, "repeat_contact")
    pending = counts(result, "first_contact_resolution_pending")
    assert len(fcr) == len(repeat) == closed_on_d - len(pending)
    assert sum(r[2] for r in fcr) + sum(r[2] for r in repeat) == len(fcr)


@pytest.mark.parametrize(
    ("created_at", "counted"),
    [
        ("2026-03-01T04:59:59Z", False),  # deadline 03-02 04:59:59Z = 03-01 23:59:59 in New York
        ("2026-03-01T05:00:00Z", True),  # deadline at New York midnight starting D
        ("2026-03-02T04:59:59Z", True),  # deadline at the last second of D in New York
        ("2026-03-02T05:00:00Z", False),
    ],
)
def test_breach_day_is_the_deadline_day_in_the_business_time_zone(created_at: str, counted: bool) -> None:
    tickets = tickets_frame({"ticket_id": "t1", "created_at": created_at, "status": "open", "team_id": "T1"})
    window = AuditWindow(D, "America/New_York", datetime(2026, 3, 20, tzinfo=UTC))
    result = run(tickets, events_frame(), window=window)
    assert counts(result, "reply_sla_breaches") == ([(None, "T1", 1)] if counted else [])


def test_results_do_not_depend_on_input_row_order() -> None:
    """Same inputs in another order give identical evidence, queues and scorecards."""
    from transforms.scorecards import build_scorecards

    tickets = tickets_frame(
        {"ticket_id": "t1", "created_at": "2026-03-01T08:00:00Z", "csat_score": 5},
        {"ticket_id": "t2", "created_at": "2026-03-02T10:30:00Z", "csat_score": 2},
        {"ticket_id": "t3", "created_at": "2026-03-01T07:00:00Z", "customer_id": "c2", "status": "open"},
    )
    events = events_frame(
        assign("t1", "2026-03-01T08:00:00Z", "a1", "T1"),
        assign("t3", "2026-03-01T07:00:00Z", "a2", "T2"),
        comment("t1", "2026-03-01T09:00:00Z", actor="a1"),
        comment("t3", "2026-03-02T09:00:00Z", actor="a2"),
        solve("t1", "2026-03-02T10:00:00Z"),
        solve("t2", "2026-03-02T11:00:00Z", actor_id="a2"),
        status("t1", "2026-03-04T10:00:00Z", "open"),
    )

    def collect(t: pl.LazyFrame, e: pl.LazyFrame, c: pl.LazyFrame) -> list[pl.DataFrame]:
        scope = scope_of(t, e, c)
        result = audit_resolution(scope, WINDOW, POLICY)
        parts = [result.rate_parts], [result.measures], [result.counts]
        cards = build_scorecards(*parts, scope.contacts, D, 20)
        window = timedelta(days=POLICY.resolution.repeat_window_days)
        classified = classify_resolution(scope.contacts, scope.customer_contacts, e, WINDOW, window)
        by_contact = classified.select("contact_id", "fcr_status").sort("contact_id")
        return [frame.collect() for frame in (by_contact, *cards)]

    forward = collect(tickets, events, CALLS)
    backward = collect(*(f.reverse() for f in (tickets, events, CALLS)))
    for a, b in zip(forward, backward, strict=True):
        assert_frame_equal(a, b)
    # t1: t2 opened after its solve (and a reopen); t2: nothing after. Calls here are not resolved.
    assert forward[0].select("contact_id", "fcr_status").rows() == [("t1", "repeat"), ("t2", "first_contact")]


def test_solve_known_only_from_the_ticket_row_ends_the_wait() -> None:
    """Regression: a solved ticket whose events are missing from the export is not a breach."""
    tickets = tickets_frame(
        {"ticket_id": "t1", "created_at": "2026-03-01T08:00:00Z", "solved_at": "2026-03-01T10:00:00Z"},
        {"ticket_id": "t2", "created_at": "2026-03-01T08:00:00Z", "status": "open", "team_id": "T1"},
    )
    assert counts(run(tickets, events_frame()), "reply_sla_breaches") == [(None, "T1", 1)]


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["billing", "tier2", None]),
            st.sampled_from(["T1", "T2", None]),
            st.one_of(st.none(), st.floats(min_value=0, max_value=3600, allow_nan=False)),
        ),
        max_size=30,
    )
)
def test_queue_rows_add_up_to_every_queued_leg_once(
    legs: list[tuple[str | None, str | None, float | None]],
) -> None:
    """Each queued leg is in exactly one (queue, team) row: the rows' legs and abandoned legs sum to
    the day's (a null wait is an abandoned leg), and each wait median lies within its row's waits."""
    queued = pl.LazyFrame(
        {
            "audit_date": [D] * len(legs),
            "queue": [q for q, _, _ in legs],
            "team_id": [t for _, t, _ in legs],
            "is_abandoned": [w is None for _, _, w in legs],
            "queue_wait_seconds": [w for _, _, w in legs],
        },
        schema={
            "audit_date": pl.Date,
            "queue": pl.String,
            "team_id": pl.String,
            "is_abandoned": pl.Boolean,
            "queue_wait_seconds": pl.Float64,
        },
    )
    table = queue_scorecard(queued, 20).collect()
    assert table["abandonment_denominator"].sum() == len(legs)
    assert table["abandonment_numerator"].sum() == sum(w is None for _, _, w in legs)
    assert table.select("queue", "team_id").is_unique().all()
    for row in table.iter_rows(named=True):
        waits = [w for q, t, w in legs if (q, t) == (row["queue"], row["team_id"]) and w is not None]
        if waits:
            assert (
                min(waits) <= row["queue_wait_seconds_median"] <= row["queue_wait_seconds_p90"] <= max(waits)
            )
        else:
            assert row["queue_wait_seconds_median"] is None
