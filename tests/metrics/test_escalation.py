"""Escalation handling (docs/metrics.md §2), end to end from canonical frames through the contact universe.

Audit day D = 2026-03-10 (UTC). Unless a test says otherwise, the data cut-off is far enough
ahead that every came-back window has closed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from configs.policy import EscalationPolicy, Policy
from tests.metrics.frames import calls_frame, events_frame, scope_of, solve, tickets_frame, ts
from transforms.contacts import AuditWindow
from transforms.escalation import ESCALATION_CLASSES, EVIDENCE_SCHEMA, TABLE, audit_escalation
from transforms.parts import RATE_PARTS_SCHEMA

D = date(2026, 3, 10)
FAR_CUTOFF = "2026-04-30T00:00:00Z"
UTC_TS = pl.Datetime("us", "UTC")


@dataclass
class Audit:
    evidence: pl.DataFrame
    rate_parts: pl.DataFrame
    counts: pl.DataFrame

    def row(self, contact_id: str) -> dict[str, Any]:
        rows = self.evidence.filter(pl.col("contact_id") == contact_id).to_dicts()
        assert len(rows) == 1, f"{contact_id}: {len(rows)} evidence rows"
        return rows[0]

    def cls(self, contact_id: str) -> str | None:
        rows = self.evidence.filter(pl.col("contact_id") == contact_id)
        return rows["escalation_class"][0] if rows.height else None

    def totals(self) -> pl.DataFrame:
        """Rate parts summed per (agent, metric)."""
        return (
            self.rate_parts.group_by("agent_id", "metric")
            .agg(pl.col("numerator").sum(), pl.col("denominator").sum())
            .sort("agent_id", "metric")
        )


def run(
    tickets: list[dict[str, Any]] | None = None,
    events: list[dict[str, Any]] | None = None,
    calls: list[dict[str, Any]] | None = None,
    cutoff: str | datetime = FAR_CUTOFF,
    policy: EscalationPolicy | None = None,
) -> Audit:
    t = tickets_frame(*(tickets or []))
    e = events_frame(*(events or []))
    c = calls_frame(*(calls or []))
    window = AuditWindow(
        audit_date=D, time_zone="UTC", data_cutoff=ts(cutoff) if isinstance(cutoff, str) else cutoff
    )
    result = audit_escalation(
        scope_of(t, e, c), window, Policy(version="test", escalation=policy or EscalationPolicy())
    )
    return Audit(result.tables[TABLE].collect(), result.rate_parts.collect(), result.counts.collect())


def ticket(tid: str, **cols: Any) -> dict[str, Any]:
    """A ticket created on D at 08:00 by customer c1 in billing, assigned to a1/t1."""
    return {
        "ticket_id": tid,
        "created_at": "2026-03-10T08:00:00Z",
        "updated_at": "2026-03-10T08:00:00Z",
        "assignee_id": "a1",
        "team_id": "t1",
        **cols,
    }


def open_ticket(tid: str, created_at: str, **cols: Any) -> dict[str, Any]:
    """A ticket that never got solved: a customer-initiated contact, not a closed contact."""
    return ticket(tid, created_at=created_at, updated_at=created_at, status="open", **cols)


def event(tid: str, event_type: str, at: str, **cols: Any) -> dict[str, Any]:
    return {"ticket_id": tid, "event_type": event_type, "occurred_at": at, **cols}


def call(cid: str, ended_at: str = "2026-03-10T12:00:00Z", **cols: Any) -> dict[str, Any]:
    """An answered inbound call of 10 minutes by c1 in billing, handled by a1/t1, resolved."""
    end = ts(ended_at)
    return {
        "call_id": cid,
        "initiated_at": end - timedelta(minutes=10),
        "answered_at": end - timedelta(minutes=9),
        "ended_at": end,
        "agent_id": "a1",
        "team_id": "t1",
        "category": "billing",
        "outcome": "resolved",
        **cols,
    }


SOLVE_T1 = solve("T1", "2026-03-10T15:00:00Z")


# --- tickets: request to escalation ------------------------------------------------------------


@pytest.mark.parametrize(
    ("escalated_at", "expected_class", "hours"),
    [
        ("2026-03-10T13:00:00Z", "timely", 4.0),  # exactly 4 h: within
        ("2026-03-10T13:00:01Z", "late", 4.0 + 1 / 3600),
        ("2026-03-10T09:30:00Z", "timely", 0.5),
    ],
)
def test_request_to_escalation_boundary(escalated_at: str, expected_class: str, hours: float) -> None:
    audit = run(
        [ticket("T1")],
        [
            event("T1", "escalation_request", "2026-03-10T09:00:00Z", actor_role="customer"),
            event("T1", "escalation", escalated_at, escalation_level=1),
            SOLVE_T1,
        ],
    )
    row = audit.row("T1")
    assert row["escalation_class"] == expected_class
    assert row["signals"] == ["customer_request"]
    assert row["is_escalated"] is True
    assert row["requested_at"] == ts("2026-03-10T09:00:00Z")
    assert row["escalated_at"] == ts(escalated_at)
    assert row["hours_request_to_escalation"] == pytest.approx(hours, abs=1e-9)
    late = audit.totals().filter(pl.col("metric") == "late_escalation")
    assert late.rows() == [("a1", "late_escalation", int(expected_class == "late"), 1)]


def test_escalation_before_the_request_is_timely_with_zero_wait() -> None:
    audit = run(
        [ticket("T1")],
        [
            event("T1", "escalation", "2026-03-10T08:30:00Z", escalation_level=1),
            event("T1", "escalation_request", "2026-03-10T11:00:00Z", actor_role="customer"),
            SOLVE_T1,
        ],
    )
    row = audit.row("T1")
    assert (row["escalation_class"], row["hours_request_to_escalation"]) == ("timely", 0.0)


@pytest.mark.parametrize(
    ("request_at", "escalation_at", "expected"),
    [
        # a request at or after the first solve is not a signal; the escalation alone is unprompted
        ("2026-03-10T15:00:00Z", "2026-03-10T14:00:00Z", "unprompted"),
        ("2026-03-10T16:00:00Z", "2026-03-10T14:00:00Z", "unprompted"),
        # an escalation exactly at the solve counts; one after it does not (asked, resolved: handled)
        ("2026-03-10T14:59:59Z", "2026-03-10T15:00:00Z", "timely"),
        ("2026-03-10T14:00:00Z", "2026-03-10T15:00:01Z", "handled"),
    ],
)
def test_only_events_up_to_the_first_solve_count(request_at: str, escalation_at: str, expected: str) -> None:
    audit = run(
        [ticket("T1")],
        [
            event("T1", "escalation_request", request_at, actor_role="customer"),
            event("T1", "escalation", escalation_at, escalation_level=1),
            SOLVE_T1,
        ],
    )
    assert audit.cls("T1") == expected


def test_no_signal_and_no_escalation_is_not_classified_but_counts_in_escalation_rate() -> None:
    audit = run([ticket("T1")], [SOLVE_T1])
    assert audit.evidence.height == 0
    assert audit.totals().rows() == [("a1", "escalation", 0, 1)]


def test_unprompted_ticket_escalation() -> None:
    audit = run(
        [ticket("T1")], [event("T1", "escalation", "2026-03-10T10:00:00Z", escalation_level=2), SOLVE_T1]
    )
    row = audit.row("T1")
    assert (row["escalation_class"], row["signals"], row["requested_at"]) == ("unprompted", [], None)
    assert audit.totals().rows() == [("a1", "escalation", 1, 1)]


# --- calls: request, sentiment, conduct --------------------------------------------------------


@pytest.mark.parametrize(
    ("cols", "expected"),
    [
        ({"supervisor_requested": True, "escalated_to": "s1"}, "timely"),
        ({"supervisor_requested": True, "outcome": "escalated"}, "timely"),
        ({"supervisor_requested": True}, "handled"),
        ({"supervisor_requested": True, "outcome": "unresolved"}, "missed"),
        ({"supervisor_requested": True, "outcome": None}, "missed"),
        ({"escalated_to": "s1"}, "unprompted"),
        ({"outcome": "escalated"}, "unprompted"),
        ({"supervisor_requested": False}, None),
    ],
)
def test_call_request_and_escalation(cols: dict[str, Any], expected: str | None) -> None:
    audit = run(calls=[call("C1", **cols)])
    assert audit.cls("C1") == expected
    if expected is not None:
        row = audit.row("C1")
        # a call does not timestamp the request within the call
        assert (row["requested_at"], row["escalated_at"], row["hours_request_to_escalation"]) == (None,) * 3


@pytest.mark.parametrize(
    ("start", "end", "expected_class", "started_negative", "de_escalated"),
    [
        (-2.0, 0.0, "handled", True, True),  # exactly -2 is negative; ends exactly 0: de-escalated
        (-2.0, -0.1, "handled", True, False),
        (-1.9, 0.0, None, False, False),
        (-3.0, None, "handled", True, False),  # unknown end: not de-escalated
        (None, 1.0, None, False, False),
    ],
)
def test_started_negative_and_de_escalated(
    start: float | None,
    end: float | None,
    expected_class: str | None,
    started_negative: bool,
    de_escalated: bool,
) -> None:
    audit = run(calls=[call("C1", sentiment_start=start, sentiment_end=end)])
    assert audit.cls("C1") == expected_class
    if expected_class is not None:
        row = audit.row("C1")
        assert row["signals"] == ["started_negative"]
        assert (row["is_started_negative"], row["is_de_escalated"]) == (started_negative, de_escalated)
    de = audit.totals().filter(pl.col("metric") == "de_escalation").rows()
    assert de == ([("a1", "de_escalation", int(de_escalated), 1)] if started_negative else [])


def test_negative_threshold_comes_from_policy() -> None:
    audit = run(calls=[call("C1", sentiment_start=-1.5)], policy=EscalationPolicy(negative_sentiment=-1.5))
    assert audit.row("C1")["is_started_negative"] is True


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (0.0, -2.0, 1),  # drop exactly 2, end exactly -2
        (-0.1, -2.0, 0),  # drop 1.9
        (0.5, -1.9, 0),  # end above -2
        (-0.3, -2.3, 1),  # drop 2 despite float rounding (1.9999999999999998)
        (3.0, -4.0, 1),
        (None, -4.0, 0),
        (0.0, None, 0),
    ],
)
def test_lost_control(start: float | None, end: float | None, expected: int) -> None:
    audit = run(calls=[call("C1", sentiment_start=start, sentiment_end=end)])
    counts = dict(zip(audit.counts["count"], audit.counts["value"], strict=True))
    assert counts["lost_control"] == expected


@pytest.mark.parametrize(
    ("interruptions", "start", "end", "expected"),
    [
        (3, 1.0, 0.0, 1),
        (2, 1.0, 0.0, 0),  # too few interruptions
        (5, 1.0, 1.0, 0),  # sentiment did not fall
        (5, 0.0, 1.0, 0),
        (None, 1.0, 0.0, 0),
        (3, None, 0.0, 0),
    ],
)
def test_argumentative(
    interruptions: int | None, start: float | None, end: float | None, expected: int
) -> None:
    audit = run(
        calls=[call("C1", agent_interruptions=interruptions, sentiment_start=start, sentiment_end=end)]
    )
    assert_frame_equal(
        audit.counts,
        pl.DataFrame(
            {
                "audit_date": [D, D],
                "agent_id": ["a1", "a1"],
                "team_id": ["t1", "t1"],
                "count": ["argumentative", "lost_control"],
                "value": [expected, 0],
            },
            schema_overrides={"value": pl.Int64},
        ),
    )


def test_conduct_flags_on_a_classified_call() -> None:
    audit = run(
        calls=[
            call(
                "C1",
                supervisor_requested=True,
                sentiment_start=1.0,
                sentiment_end=-2.5,
                agent_interruptions=4,
            )
        ]
    )
    row = audit.row("C1")
    flags = ("is_started_negative", "is_de_escalated", "is_lost_control", "is_argumentative")
    assert tuple(row[flag] for flag in flags) == (
        False,
        False,
        True,
        True,
    )


def test_unanswered_and_other_day_calls_are_not_contacts() -> None:
    audit = run(
        calls=[
            call("C1", supervisor_requested=True, answered_at=None, agent_id=None),
            call("C2", "2026-03-11T00:00:00Z", supervisor_requested=True),
        ]
    )
    assert audit.evidence.height == 0 and audit.counts.height == 0 and audit.rate_parts.height == 0


# --- repeat contacts ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prior", "expected"),
    [
        ([open_ticket("P1", "2026-03-08T08:00:00Z")], None),  # 2nd contact
        ([open_ticket("P1", "2026-03-05T08:00:00Z"), open_ticket("P2", "2026-03-08T08:00:00Z")], "handled"),
        # exactly 7 days before the audited contact opened: inside the window
        ([open_ticket("P1", "2026-03-03T08:00:00Z"), open_ticket("P2", "2026-03-08T08:00:00Z")], "handled"),
        ([open_ticket("P1", "2026-03-03T07:59:59Z"), open_ticket("P2", "2026-03-08T08:00:00Z")], None),
        (
            [
                open_ticket("P1", "2026-03-05T08:00:00Z"),
                open_ticket("P2", "2026-03-08T08:00:00Z", category="outage"),
            ],
            None,
        ),
        (
            [
                open_ticket("P1", "2026-03-05T08:00:00Z"),
                open_ticket("P2", "2026-03-08T08:00:00Z", customer_id="c2"),
            ],
            None,
        ),
    ],
)
def test_repeat_contact_tickets(prior: list[dict[str, Any]], expected: str | None) -> None:
    audit = run([*prior, ticket("T1")], [SOLVE_T1])
    assert audit.cls("T1") == expected
    if expected:
        assert audit.row("T1")["signals"] == ["repeat_contact"]


@pytest.mark.parametrize(
    ("direction", "answered", "expected"),
    [
        ("inbound", True, "handled"),
        ("inbound", False, "handled"),  # an abandoned inbound call is still the customer reaching out
        ("outbound", True, None),  # agent-initiated: not a customer contact
        ("callback", True, None),
    ],
)
def test_repeat_contact_counts_customer_initiated_calls(
    direction: str, answered: bool, expected: str | None
) -> None:
    prior_call = call(
        "P2", "2026-03-09T12:00:00Z", direction=direction, **({} if answered else {"answered_at": None})
    )
    audit = run([open_ticket("P1", "2026-03-05T08:00:00Z"), ticket("T1")], [SOLVE_T1], [prior_call])
    assert audit.cls("T1") == expected


@pytest.mark.parametrize(
    ("tie_partner", "expected"),
    [
        (open_ticket("A2", "2026-03-10T08:00:00Z"), "handled"),  # same instant, A2 < T1: T1 is 3rd
        (open_ticket("Z2", "2026-03-10T08:00:00Z"), None),  # same instant, Z2 > T1: T1 is 2nd
    ],
)
def test_repeat_ties_are_ordered_by_type_and_id(tie_partner: dict[str, Any], expected: str | None) -> None:
    audit = run([open_ticket("P1", "2026-03-05T08:00:00Z"), tie_partner, ticket("T1")], [SOLVE_T1])
    assert audit.cls("T1") == expected


def test_call_at_the_same_instant_precedes_a_ticket() -> None:
    tie_call = call("C0", "2026-03-10T08:10:00Z")  # initiated 08:00, like T1
    audit = run([open_ticket("P1", "2026-03-05T08:00:00Z"), ticket("T1")], [SOLVE_T1], [tie_call])
    assert audit.cls("T1") == "handled"
    assert audit.cls("C0") is None


def test_call_without_category_takes_its_linked_tickets_for_repeats() -> None:
    prior = [open_ticket("P1", "2026-03-08T08:00:00Z"), open_ticket("P2", "2026-03-09T08:00:00Z")]
    audit = run(prior, calls=[call("C1", category=None, ticket_id="P2")])
    row = audit.row("C1")
    assert (row["category"], row["signals"]) == ("billing", ["repeat_contact"])


def test_contact_without_category_is_never_a_repeat() -> None:
    prior = [
        call("P1", "2026-03-08T12:00:00Z", category=None),
        call("P2", "2026-03-09T12:00:00Z", category=None),
    ]
    assert run(calls=[*prior, call("C1", category=None)]).cls("C1") is None


def test_later_contacts_do_not_make_an_earlier_one_a_repeat() -> None:
    # T1 is the 2nd (no signal); the next ticket opened after it is the 3rd
    audit = run(
        [open_ticket("P1", "2026-03-09T08:00:00Z"), ticket("T1"), open_ticket("P3", "2026-03-10T09:00:00Z")],
        [SOLVE_T1],
    )
    assert audit.cls("T1") is None


def test_agent_initiated_call_is_never_a_repeat_contact() -> None:
    prior = [open_ticket("P1", "2026-03-08T08:00:00Z"), open_ticket("P2", "2026-03-09T08:00:00Z")]
    audit = run(prior, calls=[call("C1", direction="outbound"), call("C2")])
    assert audit.cls("C1") is None
    assert audit.row("C2")["signals"] == ["repeat_contact"]


def test_repeat_window_and_threshold_come_from_policy() -> None:
    prior = [open_ticket("P1", "2026-03-08T08:00:00Z")]
    audit = run([*prior, ticket("T1")], [SOLVE_T1], policy=EscalationPolicy(repeat_contacts=2))
    assert audit.cls("T1") == "handled"
    audit = run(
        [*prior, ticket("T1")], [SOLVE_T1], policy=EscalationPolicy(repeat_contacts=2, repeat_window_days=1)
    )
    assert audit.cls("T1") is None


# --- came back, reopen, pending ----------------------------------------------------------------

URGENT_T1 = ticket("T1", priority="urgent")  # solved 2026-03-10T15:00Z; came-back window ends 03-17T15:00Z


@pytest.mark.parametrize(
    ("tickets", "events", "calls", "expected"),
    [
        ([], [], [], "handled"),
        ([open_ticket("N1", "2026-03-17T15:00:00Z")], [], [], "missed"),  # day 7, at the end: inside
        ([open_ticket("N1", "2026-03-17T15:00:01Z")], [], [], "handled"),  # past 7 days
        ([open_ticket("N1", "2026-03-18T09:00:00Z")], [], [], "handled"),  # day 8
        ([open_ticket("N1", "2026-03-12T09:00:00Z", category="outage")], [], [], "handled"),
        ([open_ticket("N1", "2026-03-12T09:00:00Z", customer_id="c2")], [], [], "handled"),
        # opened while T1 was still open: not "came back"
        ([open_ticket("N1", "2026-03-10T14:00:00Z")], [], [], "handled"),
        ([], [], [call("N2", "2026-03-12T09:00:00Z")], "missed"),
        ([], [], [call("N2", "2026-03-12T09:00:00Z", answered_at=None)], "missed"),
        ([], [], [call("N2", "2026-03-12T09:00:00Z", direction="outbound")], "handled"),
        ([], [event("T1", "status_change", "2026-03-12T09:00:00Z", new_status="open")], [], "missed"),
        ([], [event("T1", "status_change", "2026-03-17T15:00:00Z", new_status="pending")], [], "missed"),
        ([], [event("T1", "status_change", "2026-03-17T15:00:01Z", new_status="open")], [], "handled"),
        ([], [event("T1", "status_change", "2026-03-12T09:00:00Z", new_status="closed")], [], "handled"),
    ],
)
def test_came_back_within_seven_days(
    tickets: list[dict[str, Any]], events: list[dict[str, Any]], calls: list[dict[str, Any]], expected: str
) -> None:
    audit = run([URGENT_T1, *tickets], [SOLVE_T1, *events], calls)
    row = audit.row("T1")
    assert (row["escalation_class"], row["signals"]) == (expected, ["urgent"])
    assert (row["came_back_at"] is not None) == (expected == "missed")


def test_a_calls_own_linked_ticket_is_not_a_return() -> None:
    """A negative call resolved, then logged as ticket N1 by its agent a minute later: N1 is the
    call's record, not the customer coming back (as in resolution); another new ticket is."""
    negative = call("C1", sentiment_start=-3.0, sentiment_end=0.0, ticket_id="N1")
    logged = open_ticket("N1", "2026-03-10T12:01:00Z")
    assert run([logged], [], [negative]).cls("C1") == "handled"
    again = open_ticket("N2", "2026-03-11T09:00:00Z")
    assert run([logged, again], [], [negative]).cls("C1") == "missed"


def test_came_back_at_is_the_first_return() -> None:
    audit = run(
        [URGENT_T1, open_ticket("N1", "2026-03-14T09:00:00Z")],
        [SOLVE_T1, event("T1", "status_change", "2026-03-12T09:00:00Z", new_status="open")],
    )
    assert audit.row("T1")["came_back_at"] == ts("2026-03-12T09:00:00Z")


@pytest.mark.parametrize(
    ("cutoff", "extra_tickets", "expected", "missed_parts"),
    [
        ("2026-03-11T00:00:00Z", [], "pending", []),
        # the window closes exactly at the cut-off: handled, and in the missed denominator (needed)
        ("2026-03-17T15:00:00Z", [], "handled", [("a1", "missed_escalation", 0, 1)]),
        ("2026-03-17T14:59:59Z", [], "pending", []),
        # already back, but the window is still open: pending, as resolution's FCR
        ("2026-03-11T00:00:00Z", [open_ticket("N1", "2026-03-10T20:00:00Z")], "pending", []),
        (
            "2026-03-17T15:00:00Z",
            [open_ticket("N1", "2026-03-10T20:00:00Z")],
            "missed",
            [("a1", "missed_escalation", 1, 1)],
        ),
        # a return after the cut-off is not known yet
        ("2026-03-11T00:00:00Z", [open_ticket("N1", "2026-03-12T09:00:00Z")], "pending", []),
    ],
)
def test_pending_until_the_came_back_window_closes(
    cutoff: str, extra_tickets: list[dict[str, Any]], expected: str, missed_parts: list[tuple]
) -> None:
    audit = run([URGENT_T1, *extra_tickets], [SOLVE_T1], cutoff=cutoff)
    assert audit.cls("T1") == expected
    assert audit.totals().filter(pl.col("metric") == "missed_escalation").rows() == missed_parts


def test_cutoff_in_another_zone_is_the_same_instant() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    closes = datetime(2026, 3, 17, 16, 0, tzinfo=berlin)  # = 15:00Z, when T1's window closes
    assert run([URGENT_T1], [SOLVE_T1], cutoff=closes).cls("T1") == "handled"
    assert run([URGENT_T1], [SOLVE_T1], cutoff=closes - timedelta(seconds=1)).cls("T1") == "pending"


def test_unresolved_call_is_missed_even_while_the_window_is_open() -> None:
    audit = run(
        calls=[call("C1", sentiment_start=-4.0, outcome="callback_promised")], cutoff="2026-03-11T00:00:00Z"
    )
    assert audit.cls("C1") == "missed"


def test_came_back_window_comes_from_policy() -> None:
    audit = run(
        [URGENT_T1, open_ticket("N1", "2026-03-12T15:00:01Z")],
        [SOLVE_T1],
        policy=EscalationPolicy(came_back_window_days=2),
    )
    assert audit.cls("T1") == "handled"


# --- signals, evidence, scorecard parts --------------------------------------------------------


def test_signals_are_listed_in_stable_order() -> None:
    prior = [open_ticket("P1", "2026-03-08T08:00:00Z"), open_ticket("P2", "2026-03-09T08:00:00Z")]
    audit = run(
        [*prior, ticket("T1", priority="urgent")],
        [event("T1", "escalation_request", "2026-03-10T09:00:00Z", actor_role="customer"), SOLVE_T1],
        [call("C1", supervisor_requested=True, sentiment_start=-2.0, sentiment_end=-2.0)],
    )
    assert audit.row("T1")["signals"] == ["customer_request", "repeat_contact", "urgent"]
    assert audit.row("C1")["signals"] == ["customer_request", "repeat_contact", "started_negative"]


def test_high_priority_is_not_urgent() -> None:
    assert run([ticket("T1", priority="high")], [SOLVE_T1]).evidence.height == 0


def _day_world() -> Audit:
    """T1 urgent+escalated (timely), T2 asked then escalated 5 h later (late), T3 urgent and
    reopened (missed), T4 plain; C1 negative call calmed down (handled), C2 escalated with no
    signal (unprompted); T5 urgent but solved on D+1 (not in the day)."""
    return run(
        [
            ticket("T1", priority="urgent"),
            ticket("T2"),
            ticket("T3", priority="urgent", customer_id="c3"),
            ticket("T4", assignee_id="a2", team_id="t2", customer_id="c4"),
            ticket("T5", priority="urgent", customer_id="c5"),
        ],
        [
            event("T1", "escalation", "2026-03-10T09:00:00Z", escalation_level=1),
            SOLVE_T1,
            event("T2", "escalation_request", "2026-03-10T09:00:00Z", actor_role="customer"),
            event("T2", "escalation", "2026-03-10T14:00:00Z", escalation_level=1),
            solve("T2", "2026-03-10T16:00:00Z"),
            solve("T3", "2026-03-10T11:00:00Z"),
            event("T3", "status_change", "2026-03-11T11:00:00Z", new_status="open"),
            solve("T4", "2026-03-10T12:00:00Z", actor_id="a2"),
            solve("T5", "2026-03-11T00:00:00Z"),
        ],
        [
            call(
                "C1", customer_id="c6", agent_id="a2", team_id="t2", sentiment_start=-3.0, sentiment_end=1.0
            ),
            call("C2", customer_id="c7", agent_id="a2", team_id="t2", escalated_to="s1", outcome="escalated"),
        ],
    )


def test_day_evidence() -> None:
    audit = _day_world()
    expected = pl.DataFrame(
        {
            "contact_id": ["C1", "C2", "T1", "T2", "T3"],
            "contact_type": ["call", "call", "ticket", "ticket", "ticket"],
            "agent_id": ["a2", "a2", "a1", "a1", "a1"],
            "team_id": ["t2", "t2", "t1", "t1", "t1"],
            "customer_id": ["c6", "c7", "c1", "c1", "c3"],
            "signals": [["started_negative"], [], ["urgent"], ["customer_request"], ["urgent"]],
            "escalation_class": ["handled", "unprompted", "timely", "late", "missed"],
            "is_escalated": [False, True, True, True, False],
            "is_started_negative": [True, False, False, False, False],
            "is_de_escalated": [True, False, False, False, False],
            "hours_request_to_escalation": [None, None, None, 5.0, None],
            "came_back_at": [None, None, None, None, ts("2026-03-11T11:00:00Z")],
        },
        schema_overrides={"came_back_at": UTC_TS},
    )
    assert audit.evidence.schema == EVIDENCE_SCHEMA
    assert (audit.evidence["audit_date"] == D).all()
    assert_frame_equal(audit.evidence.select(expected.columns), expected)


def test_day_rate_parts_and_counts() -> None:
    audit = _day_world()
    expected = pl.DataFrame(
        {
            "agent_id": ["a1", "a1", "a1", "a2", "a2", "a2"],
            "metric": [
                "escalation",
                "late_escalation",
                "missed_escalation",
                "de_escalation",
                "escalation",
                "missed_escalation",  # C1 was handled: it needed a supervisor and did not get one
            ],
            "numerator": [2, 1, 1, 1, 1, 0],
            "denominator": [3, 1, 3, 1, 3, 1],
        },
        schema_overrides={"numerator": pl.Int64, "denominator": pl.Int64},
    )
    assert_frame_equal(audit.totals(), expected)
    assert audit.rate_parts.schema == RATE_PARTS_SCHEMA
    assert audit.counts.group_by("agent_id", "count").agg(pl.col("value").sum()).sort("count").rows() == [
        ("a2", "argumentative", 0),
        ("a2", "lost_control", 0),
    ]


def test_audit_day_follows_the_business_time_zone() -> None:
    """Solved 2026-03-11T03:00Z is still 2026-03-10 in New York: it belongs to D there, not in UTC."""
    tickets = tickets_frame(ticket("T1", priority="urgent"))
    events = events_frame(solve("T1", "2026-03-11T03:00:00Z"))
    calls = calls_frame()
    classes = {}
    for zone in ("America/New_York", "UTC"):
        window = AuditWindow(audit_date=D, time_zone=zone, data_cutoff=ts(FAR_CUTOFF))
        result = audit_escalation(scope_of(tickets, events, calls, zone), window, Policy(version="test"))
        classes[zone] = result.tables[TABLE].collect()["escalation_class"].to_list()
    assert classes == {"America/New_York": ["handled"], "UTC": []}


def test_empty_inputs() -> None:
    audit = run()
    assert audit.evidence.schema == EVIDENCE_SCHEMA
    assert (audit.evidence.height, audit.rate_parts.height, audit.counts.height) == (0, 0, 0)


# --- properties --------------------------------------------------------------------------------

BASE = datetime(2026, 3, 4, tzinfo=ts(FAR_CUTOFF).tzinfo)
hours_grid = st.integers(min_value=0, max_value=24 * 10)  # 03-04 .. 03-14, hourly


def _at(hours: int) -> datetime:
    return BASE + timedelta(hours=hours)


ticket_spec = st.fixed_dictionaries(
    {
        "created": hours_grid,
        "solve_after": st.one_of(st.none(), st.integers(min_value=1, max_value=72)),
        "customer": st.sampled_from(["c1", "c2"]),
        "category": st.sampled_from(["billing", "outage"]),
        "priority": st.sampled_from(["normal", "urgent"]),
        "request_after": st.one_of(st.none(), st.integers(min_value=0, max_value=48)),
        "escalate_after": st.one_of(st.none(), st.integers(min_value=0, max_value=48)),
        "reopen_after": st.one_of(st.none(), st.integers(min_value=1, max_value=240)),
        "agent": st.sampled_from(["a1", "a2"]),
    }
)
call_spec = st.fixed_dictionaries(
    {
        "ended": hours_grid,
        "customer": st.sampled_from(["c1", "c2"]),
        "category": st.sampled_from(["billing", "outage", None]),
        "direction": st.sampled_from(["inbound", "outbound"]),
        "answered": st.booleans(),
        "start": st.sampled_from([None, -3.0, -2.0, -1.9, 0.0, 2.0]),
        "end": st.sampled_from([None, -3.0, -2.0, 0.0, 1.0]),
        "interruptions": st.sampled_from([None, 0, 3]),
        "requested": st.sampled_from([None, True, False]),
        "escalated_to": st.sampled_from([None, "s1"]),
        "outcome": st.sampled_from(["resolved", "unresolved", "escalated", None]),
        "agent": st.sampled_from(["a1", "a2"]),
    }
)


def _world(
    ticket_specs: list[dict[str, Any]], call_specs: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    tickets, events, calls = [], [], []
    for i, spec in enumerate(ticket_specs):
        tid, created = f"T{i}", _at(spec["created"])
        solved = spec["solve_after"] is not None
        tickets.append(
            {
                "ticket_id": tid,
                "customer_id": spec["customer"],
                "category": spec["category"],
                "priority": spec["priority"],
                "created_at": created,
                "updated_at": created,
                "status": "solved" if solved else "open",
                "assignee_id": spec["agent"],
                "team_id": "t-" + spec["agent"],
            }
        )
        for kind, key, extra in (
            ("escalation_request", "request_after", {"actor_role": "customer"}),
            ("escalation", "escalate_after", {"escalation_level": 1}),
        ):
            if spec[key] is not None:
                at = created + timedelta(hours=spec[key])
                events.append(event(tid, kind, at.isoformat(), event_id=f"{tid}-{kind}", **extra))
        if solved:
            solved_at = created + timedelta(hours=spec["solve_after"])
            events.append(
                {**solve(tid, solved_at.isoformat(), actor_id=spec["agent"]), "event_id": f"{tid}-s"}
            )
            if spec["reopen_after"] is not None:
                reopened = solved_at + timedelta(hours=spec["reopen_after"])
                events.append(
                    event(tid, "status_change", reopened.isoformat(), event_id=f"{tid}-r", new_status="open")
                )
    for i, spec in enumerate(call_specs):
        calls.append(
            call(
                f"C{i}",
                _at(spec["ended"]).isoformat(),
                customer_id=spec["customer"],
                category=spec["category"],
                direction=spec["direction"],
                sentiment_start=spec["start"],
                sentiment_end=spec["end"],
                agent_interruptions=spec["interruptions"],
                supervisor_requested=spec["requested"],
                escalated_to=spec["escalated_to"],
                outcome=spec["outcome"],
                agent_id=spec["agent"],
                team_id="t-" + spec["agent"],
                **({} if spec["answered"] else {"answered_at": None}),
            )
        )
    return tickets, events, calls


PROPERTY_SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
worlds = st.tuples(st.lists(ticket_spec, max_size=6), st.lists(call_spec, max_size=5))
cutoffs = st.sampled_from(["2026-03-11T00:00:00Z", "2026-03-15T00:00:00Z", FAR_CUTOFF])


@PROPERTY_SETTINGS
@given(world=worlds, cutoff=cutoffs)
def test_property_parts_are_consistent(world: tuple[list, list], cutoff: str) -> None:
    tickets, events, calls = _world(*world)
    audit = run(tickets, events, calls, cutoff=cutoff)
    ev = audit.evidence
    assert ev["contact_id"].is_unique().all()
    assert set(ev["escalation_class"]) <= set(ESCALATION_CLASSES)
    assert (ev["audit_date"] == D).all()
    # unprompted exactly when escalated without signals; escalated exactly when timely/late/unprompted
    no_signal = ev["signals"].list.len() == 0
    assert ((ev["escalation_class"] == "unprompted") == (ev["is_escalated"] & no_signal)).all()
    assert (ev["is_escalated"] == ev["escalation_class"].is_in(["timely", "late", "unprompted"])).all()
    # each part is 0/1; totals never exceed their denominators (so every rate is in [0, 1])
    parts = audit.rate_parts
    assert parts["numerator"].is_in([0, 1]).all() and (parts["denominator"] == 1).all()
    totals = audit.totals()
    assert (totals["numerator"] <= totals["denominator"]).all()
    # integrity: every contact closed on D is in the escalation denominator exactly once
    escalation = parts.filter(pl.col("metric") == "escalation")
    contacts_on_d = sum(1 for t in world[0] if t["solve_after"] is not None and _closes_on_d(t))
    contacts_on_d += sum(1 for c in world[1] if c["answered"] and _at(c["ended"]).date() == D)
    assert escalation.height == contacts_on_d
    # needed = every contact with a signal whose class is final
    needed = ev.filter(pl.col("signals").list.len() > 0, pl.col("escalation_class") != "pending").height
    assert parts.filter(pl.col("metric") == "missed_escalation").height == needed
    # a class stays pending only while its came-back window is open at the cut-off
    pending = ev.filter(pl.col("escalation_class") == "pending")
    assert (pending["closed_at"] + timedelta(days=7) > ts(cutoff)).all()


def _closes_on_d(spec: dict[str, Any]) -> bool:
    return (_at(spec["created"]) + timedelta(hours=spec["solve_after"])).date() == D


@PROPERTY_SETTINGS
@given(world=worlds, seed=st.integers(min_value=0, max_value=2**16))
def test_property_input_order_does_not_matter(world: tuple[list, list], seed: int) -> None:
    tickets, events, calls = _world(*world)
    first = run(tickets, events, calls, cutoff="2026-03-15T00:00:00Z")
    rng = random.Random(seed)
    for rows in (tickets, events, calls):
        rng.shuffle(rows)
    second = run(tickets, events, calls, cutoff="2026-03-15T00:00:00Z")
    assert_frame_equal(first.evidence, second.evidence)
    assert_frame_equal(first.rate_parts, second.rate_parts)
    assert_frame_equal(first.counts, second.counts)
