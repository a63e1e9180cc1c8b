"""The `agents` and `teams` dimension tables (transforms/dimensions.py), worked by hand."""

from __future__ import annotations

from datetime import date

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from tests.metrics.frames import assign, calls_frame, events_frame, tickets_frame
from transforms.dimensions import AGENTS_SCHEMA, TEAMS_SCHEMA, appearances, dimensions, team_mentions
from transforms.scope import CanonicalTables


def _tables(
    tickets: pl.LazyFrame | None = None, events: pl.LazyFrame | None = None, calls: pl.LazyFrame | None = None
) -> CanonicalTables:
    return CanonicalTables(
        tickets=tickets if tickets is not None else tickets_frame(),
        ticket_events=events if events is not None else events_frame(),
        calls=calls if calls is not None else calls_frame(),
    )


def _built(tables: CanonicalTables) -> dict[str, pl.DataFrame]:
    seen, mentions = pl.collect_all([appearances(tables), team_mentions(tables)])
    frames = dimensions(seen.lazy(), mentions.lazy())
    return {name: frame.collect() for name, frame in frames.items()}


def _centre() -> CanonicalTables:
    """a1: assigned to team T1 on 03-02, then handles a call for team T2 on 03-05 (the
    assignment is the roster, so a1 stays in T1); approves their own concession on 03-05 (an
    approval does not make them a supervisor). a2: only calls, last for T2. s1: replies as a
    supervisor on 03-01, approves a concession on 03-04, assigned to T2. s2 only approves, on
    03-06: a supervisor with no team; s3 only approves a concession granted on a call, on 03-07.
    A customer comment and a system event name nobody."""
    events = events_frame(
        assign("t1", "2026-03-02T10:00:00Z", "a1", "T1"),
        {"ticket_id": "t1", "occurred_at": "2026-03-03T09:00:00Z", "event_type": "comment", "actor_id": "a1"},
        {
            "ticket_id": "t2",
            "occurred_at": "2026-03-01T08:00:00Z",
            "event_type": "comment",
            "actor_role": "supervisor",
            "actor_id": "s1",
        },
        {
            "ticket_id": "t4",
            "occurred_at": "2026-03-05T08:00:00Z",
            "event_type": "concession",
            "actor_id": "a1",
            "approved_by": "a1",
        },
        {
            "ticket_id": "t5",
            "occurred_at": "2026-03-06T08:00:00Z",
            "event_type": "concession",
            "actor_id": "a2",
            "approved_by": "s2",
        },
        {
            "ticket_id": "t2",
            "occurred_at": "2026-03-04T12:00:00Z",
            "event_type": "concession",
            "actor_id": "a1",
            "approved_by": "s1",
        },
        assign("t3", "2026-03-01T07:00:00Z", "s1", "T2"),
        {
            "ticket_id": "t2",
            "occurred_at": "2026-03-06T12:00:00Z",
            "event_type": "comment",
            "actor_role": "customer",
            "actor_id": "c1",
        },
    )
    calls = calls_frame(
        {"call_id": "k1", "initiated_at": "2026-03-05T10:00:00Z", "ended_at": "2026-03-05T10:05:00Z",
         "agent_id": "a1", "team_id": "T2"},
        {"call_id": "k2", "initiated_at": "2026-02-27T10:00:00Z", "ended_at": "2026-02-27T10:05:00Z",
         "agent_id": "a2", "team_id": "T3"},
        {"call_id": "k3", "initiated_at": "2026-03-07T23:59:00Z", "ended_at": "2026-03-08T00:05:00Z",
         "agent_id": "a2", "team_id": "T2"},
        {"call_id": "k4", "initiated_at": "2026-03-07T10:00:00Z", "ended_at": "2026-03-07T10:00:30Z",
         "agent_id": None, "team_id": "T4"},
        {"call_id": "k5", "initiated_at": "2026-03-07T11:00:00Z", "ended_at": "2026-03-07T11:10:00Z",
         "agent_id": "a2", "team_id": "T2", "concession_type": "credit", "approved_by": "s3"},
    )  # fmt: skip
    tickets = tickets_frame(
        {"ticket_id": "t1", "assignee_id": "a1", "team_id": "T1", "updated_at": "2026-03-03T09:00:00Z"}
    )
    return _tables(tickets, events, calls)


def test_agents_take_the_roster_team_the_latest_role_and_the_days_they_were_named() -> None:
    got = _built(_centre())["agents"]
    want = pl.DataFrame(
        [
            ("a1", "T1", "agent", date(2026, 3, 2), date(2026, 3, 5)),
            ("a2", "T2", "agent", date(2026, 2, 27), date(2026, 3, 7)),
            ("s1", "T2", "supervisor", date(2026, 3, 1), date(2026, 3, 4)),
            ("s2", None, "supervisor", date(2026, 3, 6), date(2026, 3, 6)),
            ("s3", None, "supervisor", date(2026, 3, 7), date(2026, 3, 7)),
        ],
        schema=AGENTS_SCHEMA,
        orient="row",
    )
    assert_frame_equal(got, want)


def test_teams_count_their_current_members_by_role_and_span_every_record_naming_them() -> None:
    got = _built(_centre())["teams"]
    # T2: named by s1's assignment (03-01) up to a2's call of 03-07; members a2 (agent), s1
    # (supervisor). T3 only by a2's first call, T4 by an abandoned call: no members now.
    want = pl.DataFrame(
        [
            ("T1", date(2026, 3, 2), date(2026, 3, 3), 1, 0),
            ("T2", date(2026, 3, 1), date(2026, 3, 7), 1, 1),
            ("T3", date(2026, 2, 27), date(2026, 2, 27), 0, 0),
            ("T4", date(2026, 3, 7), date(2026, 3, 7), 0, 0),
        ],
        schema=TEAMS_SCHEMA,
        orient="row",
    )
    assert_frame_equal(got, want)


def test_no_records_give_empty_tables_of_their_schema() -> None:
    got = _built(_tables())
    assert got["agents"].schema == AGENTS_SCHEMA and got["agents"].height == 0
    assert got["teams"].schema == TEAMS_SCHEMA and got["teams"].height == 0


_PEOPLE = st.sampled_from(["a1", "a2", "a3", "s1"])
_TEAMS = st.sampled_from(["T1", "T2", None])
_MINUTES = st.integers(min_value=0, max_value=60 * 24 * 6)


@st.composite
def _records(draw: st.DrawFn) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """Random events (replies by agents or supervisors, assignments, approvals) and calls."""
    events, calls = [], []
    for i in range(draw(st.integers(0, 12))):
        at = f"2026-03-0{1 + draw(_MINUTES) // 1440}T{draw(st.integers(0, 23)):02d}:00:00Z"
        kind = draw(st.sampled_from(["reply", "assignment", "approval"]))
        person = draw(_PEOPLE)
        if kind == "reply":
            role = draw(st.sampled_from(["agent", "supervisor"]))
            events.append({"ticket_id": f"t{i}", "occurred_at": at, "event_type": "comment",
                           "actor_role": role, "actor_id": person})  # fmt: skip
        elif kind == "assignment":
            events.append(assign(f"t{i}", at, person, draw(_TEAMS)))
        else:
            events.append({"ticket_id": f"t{i}", "occurred_at": at, "event_type": "concession",
                           "actor_id": "a1", "approved_by": person})  # fmt: skip
    for i in range(draw(st.integers(0, 6))):
        at = f"2026-03-0{1 + draw(_MINUTES) // 1440}T10:00:00Z"
        calls.append({"call_id": f"k{i}", "initiated_at": at, "ended_at": at, "agent_id": draw(_PEOPLE),
                      "team_id": draw(_TEAMS)})  # fmt: skip
    return events, calls


@settings(max_examples=40, deadline=None)
@given(records=_records(), order=st.randoms(use_true_random=False))
def test_dimensions_name_everyone_once_whatever_the_order_rows_arrive_in(
    records: tuple[list[dict[str, object]], list[dict[str, object]]], order: object
) -> None:
    events, calls = records
    built = _built(_tables(events=events_frame(*events), calls=calls_frame(*calls)))
    shuffled_events, shuffled_calls = list(events), list(calls)
    order.shuffle(shuffled_events)  # type: ignore[attr-defined]
    order.shuffle(shuffled_calls)  # type: ignore[attr-defined]
    again = _built(_tables(events=events_frame(*shuffled_events), calls=calls_frame(*shuffled_calls)))
    for name in built:
        assert_frame_equal(built[name], again[name])
    agents, teams = built["agents"], built["teams"]
    named = {e.get("actor_id") for e in events if e.get("actor_role", "agent") in ("agent", "supervisor")}
    named |= {e.get("assignee_id") for e in events if e["event_type"] == "assignment"}
    named |= {e.get("approved_by") for e in events if e["event_type"] == "concession"}
    named |= {c["agent_id"] for c in calls}
    assert agents["agent_id"].to_list() == sorted(named - {None})
    assert (agents["first_seen_on"] <= agents["last_seen_on"]).all()
    approvers = {e["approved_by"] for e in events if e["event_type"] == "concession"}
    acted = {(e.get("actor_id"), e.get("actor_role", "agent")) for e in events}
    supervisors = set(agents.filter(pl.col("role") == "supervisor")["agent_id"])
    assert supervisors >= approvers - {actor for actor, _ in acted}  # approved, never acted
    assert supervisors <= approvers | {actor for actor, role in acted if role == "supervisor"}
    assert teams["agents"].sum() + teams["supervisors"].sum() == agents["team_id"].is_not_null().sum()
    assert set(agents["team_id"].drop_nulls()) <= set(teams["team_id"])
    mentioned = {e.get("team_id") for e in events if e["event_type"] == "assignment"} | {
        c["team_id"] for c in calls
    }
    assert teams["team_id"].to_list() == sorted(mentioned - {None})
