"""Small clean frames in the shapes of docs/architecture.md and docs/outputs.md.

Each builder returns a frame every suite accepts; tests plant one violation at a time.
Personal values are distinctive strings so leak scans can search for them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl

import catalogue
from transforms.parts import OBSERVATIONS_SCHEMA
from transforms.periods import month_of, periods_frame, rolling_ending, week_of
from transforms.pseudonym import publishable
from transforms.schemas import CALLS, TICKET_EVENTS, TICKETS
from transforms.schemas.base import LINEAGE_SCHEMA, EntitySchema
from transforms.scorecards import period_scorecards, scorecard_columns

COUNTS = tuple(m.name for m in catalogue.metrics("count"))

DAY = dt.date(2026, 11, 20)
RUN = "run-20261120-a"
POLICY = "2026.11-sample"
KEY = b"test-pseudonym-key-0123456789abcdef"
UTC = dt.UTC
# Raw personal values of the test input: none may appear in any published output.
CUSTOMERS = ("alice.smith@example.com", "bob.jones@example.org", "cust-SECRET-777")
FREE_TEXT = ("My router is on fire since Tuesday", "Please call me at +1 555 0100", "refund my order now")


def at(hour: int, day: dt.date = DAY, minute: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def canonical(schema: EntitySchema, rows: list[dict]) -> pl.DataFrame:
    full = pl.Schema({**schema.polars_schema, **LINEAGE_SCHEMA})
    filled = [
        {"export_date": DAY, "source_key": f"{schema.name}/export_date={DAY}/a.csv", "source_row": i + 1, **r}
        for i, r in enumerate(rows)
    ]
    return pl.DataFrame(filled, schema=full)


def tickets() -> pl.DataFrame:
    base = {"status": "solved", "channel": "email", "category": "billing", "priority": "normal"}
    return canonical(
        TICKETS,
        [
            {
                **base,
                "ticket_id": "T1",
                "customer_id": CUSTOMERS[0],
                "created_at": at(8),
                "updated_at": at(9),
                "solved_at": at(9),
                "assignee_id": "A1",
                "team_id": "TEAM1",
                "csat_score": 5,
                "subject": FREE_TEXT[0],
            },
            {
                **base,
                "ticket_id": "T2",
                "customer_id": CUSTOMERS[1],
                "created_at": at(8),
                "updated_at": at(10),
                "solved_at": at(10),
                "assignee_id": "A2",
                "team_id": "TEAM1",
                "subject": FREE_TEXT[1],
            },
            {
                **base,
                "ticket_id": "T3",
                "customer_id": CUSTOMERS[2],
                "created_at": at(9),
                "updated_at": at(11),
                "status": "open",
                "category": "outage",
                "priority": "urgent",
            },
        ],
    )


def ticket_events() -> pl.DataFrame:
    return canonical(
        TICKET_EVENTS,
        [
            {
                "event_id": "E1",
                "ticket_id": "T1",
                "occurred_at": at(8, minute=5),
                "event_type": "comment",
                "actor_role": "customer",
                "actor_id": CUSTOMERS[0],
                "public": True,
                "body": FREE_TEXT[2],
            },
            {
                "event_id": "E2",
                "ticket_id": "T1",
                "occurred_at": at(8, minute=30),
                "event_type": "comment",
                "actor_role": "agent",
                "actor_id": "A1",
                "public": True,
                "body": "We are on it",
            },
            {
                "event_id": "E3",
                "ticket_id": "T1",
                "occurred_at": at(9),
                "event_type": "status_change",
                "actor_role": "agent",
                "actor_id": "A1",
                "new_status": "solved",
            },
            {
                "event_id": "E4",
                "ticket_id": "T2",
                "occurred_at": at(9, minute=30),
                "event_type": "concession",
                "actor_role": "agent",
                "actor_id": "A2",
                "concession_type": "credit",
                "concession_amount": 20.0,
                "currency": "USD",
            },
        ],
    )


def calls() -> pl.DataFrame:
    base = {"direction": "inbound", "agent_id": "A1", "team_id": "TEAM1", "category": "billing"}
    return canonical(
        CALLS,
        [
            {
                **base,
                "call_id": "C1",
                "customer_id": CUSTOMERS[0],
                "updated_at": at(13),
                "initiated_at": at(12),
                "answered_at": at(12, minute=1),
                "ended_at": at(12, minute=20),
                "outcome": "resolved",
                "sentiment_start": -3.0,
                "sentiment_end": 1.0,
                "hold_seconds": 30.0,
            },
            {
                **base,
                "call_id": "C2",
                "customer_id": CUSTOMERS[1],
                "updated_at": at(14),
                "initiated_at": at(13),
                "ended_at": at(13, minute=2),
                "agent_id": None,
                "outcome": "abandoned",
            },
            {
                **base,
                "call_id": "C3",
                "customer_id": CUSTOMERS[2],
                "updated_at": at(15),
                "initiated_at": at(14),
                "answered_at": at(14, minute=3),
                "ended_at": at(14, minute=30),
                "outcome": "callback_promised",
                "direction": "outbound",
            },
        ],
    )


def _scorecard(level: str, ids: list[str | None]) -> pl.DataFrame:
    """Every catalogue column (transforms.scorecards): follow_up and reopen as below, the other
    metrics without contacts (0 / 0, null rate, low volume), measures null, counts 0."""
    n = len(ids)
    key = "agent_id" if level == "agent" else "team_id"
    given: dict[str, list[Any]] = {
        "audit_date": [DAY] * n,
        key: ids,
        "team_id": ["TEAM1", "TEAM1", None][:n] if level == "agent" else ids,
        "contacts": [4, 2, 6][:n],
        "tickets_solved": [3, 1, 4][:n],
        "calls_answered": [1, 1, 2][:n],
        "follow_up_numerator": [1, 2, 3][:n],
        "follow_up_denominator": [2, 2, 4][:n],
        "follow_up_rate": [0.5, 1.0, 0.75][:n],
        "follow_up_ci_low": [0.09, 0.34, 0.30][:n],
        "follow_up_ci_high": [0.91, 1.0, 0.95][:n],
    }
    columns = {}
    for name in scorecard_columns("agent" if level == "agent" else "team"):
        if name in given:
            columns[name] = pl.Series(name, given[name])
        elif name.endswith(("_numerator", "_denominator", "agent_interruptions")) or name in COUNTS:
            columns[name] = pl.Series(name, [0] * n, dtype=pl.Int64)
        elif name.endswith("_low_volume"):
            columns[name] = pl.Series(name, [True] * n)
        elif name == "withheld_metrics":
            columns[name] = pl.Series(name, [[]] * n, dtype=pl.List(pl.String()))
        else:
            columns[name] = pl.Series(name, [None] * n, dtype=pl.Float64)
    return published(f"{level}_scorecard", pl.DataFrame(list(columns.values())))


def agent_scorecard() -> pl.DataFrame:
    return _scorecard("agent", ["A1", "A2"])


def team_scorecard() -> pl.DataFrame:
    return _scorecard("team", ["TEAM1", None])


def queue_scorecard() -> pl.DataFrame:
    """Billing (TEAM1): 3 queued legs, 1 abandoned, waits 30 and 90 s; a leg with no queue or team."""
    from transforms.resolution import queue_scorecard as rows

    queued = pl.LazyFrame(
        {
            "audit_date": [DAY] * 4,
            "queue": ["billing", "billing", "billing", None],
            "team_id": ["TEAM1", "TEAM1", "TEAM1", None],
            "is_abandoned": [False, False, True, False],
            "queue_wait_seconds": [30.0, 90.0, None, 12.0],
        }
    )
    return published("queue_scorecard", rows(queued, 20).collect())


def metric_observations() -> pl.DataFrame:
    """Two follow-up numerator contacts, one missed, and one hold-time observation."""
    rows = [
        (DAY, "A1", "TEAM1", "follow_up", "numerator", "T1", 1.0),
        (DAY, "A1", "TEAM1", "follow_up", "denominator", "T3", 0.0),
        (DAY, "A2", "TEAM1", "follow_up", "numerator", "T2", 1.0),
        (DAY, "A1", "TEAM1", "hold_seconds", "measure", None, 42.0),
    ]
    return pl.DataFrame(rows, schema=OBSERVATIONS_SCHEMA, orient="row")


def _period_scorecard(daily: pl.DataFrame) -> pl.DataFrame:
    """The day's week, month and rolling window, rolled up as the refresh does."""
    periods = periods_frame([week_of(DAY), month_of(DAY), rolling_ending(DAY)]).with_columns(
        published_days=pl.lit(1, pl.Int64), source_digest=pl.lit("0123456789abcdef")
    )
    level = "agent" if "agent_id" in daily.columns else "team"
    computed = daily.drop(catalogue.PUBLISHING_COLUMNS)
    rolled = period_scorecards(computed.lazy(), metric_observations().lazy(), periods, 20)
    return published(f"{level}_period_scorecard", rolled.collect())


def peer_comparison() -> pl.DataFrame:
    """Ten agents' follow-up over the rolling 28 days ending on DAY: A10 follows up 4 of 40 where
    the others follow up 36 to 40, so A10 alone is flagged below peers, with its missed contacts."""
    from configs.policy import PeerPolicy
    from transforms.peers import ROLLING_PEERS_SCHEMA, flag_lifecycle
    from transforms.peers import peer_comparison as compare

    numerators = [36, 37, 38, 39, 40, 36, 37, 38, 39, 4]
    rates = pl.LazyFrame(
        {
            "agent_id": [f"A{i + 1}" for i in range(10)],
            "team_id": ["TEAM1"] * 10,
            "metric": ["follow_up"] * 10,
            "numerator": numerators,
            "denominator": [40] * 10,
        }
    )
    evidence = pl.LazyFrame(
        {
            "agent_id": ["A10"] * 2,
            "metric": ["follow_up"] * 2,
            "contact_id": ["T8", "T9"],
            "counted": [False] * 2,
        }
    )
    start = DAY - dt.timedelta(days=27)
    frame = compare(rates, evidence, PeerPolicy(), start, DAY).collect()
    frame = frame.rename({"window_start": "period_start", "window_end": "period_end"})
    frame = flag_lifecycle(frame.with_columns(period=pl.lit("rolling_28d")), [DAY])
    return published("peer_comparison", frame.select(ROLLING_PEERS_SCHEMA.names()))


def concession_flag_lifecycle(flags: pl.DataFrame) -> pl.DataFrame:
    """The published flags of DAY, each new (the day before was published without them)."""
    from warehouse.periods import concession_lifecycle

    return with_run(concession_lifecycle(flags, [DAY - dt.timedelta(days=1), DAY]))


def follow_up_evidence() -> pl.DataFrame:
    """As the follow-up family returns it: raw customer_id, no run_id."""
    return pl.DataFrame(
        {
            "audit_date": [DAY] * 3,
            "contact_id": ["T1", "C1", "C3"],
            "contact_type": ["ticket", "call", "call"],
            "agent_id": ["A1", "A1", "A1"],
            "team_id": ["TEAM1"] * 3,
            "customer_id": [CUSTOMERS[0], CUSTOMERS[0], CUSTOMERS[2]],
            "status": ["met", "missed", "pending"],
            "follow_up_id": ["E9", None, None],
            "hours_to_follow_up": [20.5, None, None],
            "is_customer_came_back_first": [False, True, False],
        }
    )


def escalation_evidence() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "audit_date": [DAY] * 2,
            "contact_id": ["T3", "C1"],
            "contact_type": ["ticket", "call"],
            "agent_id": ["A2", "A1"],
            "team_id": ["TEAM1", "TEAM1"],
            "signals": [["urgent"], []],
            "escalation_class": ["missed", "unprompted"],
            "is_started_negative": [False, True],
            "is_de_escalated": [False, True],
            "is_lost_control": [False, False],
            "is_argumentative": [False, False],
        }
    )


def concession_evidence() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "audit_date": [DAY] * 2,
            "concession_id": ["E4", "C1"],
            "contact_id": ["T2", "C1"],
            "contact_type": ["ticket", "call"],
            "agent_id": ["A2", "A1"],
            "customer_id": [CUSTOMERS[1], CUSTOMERS[0]],
            "category": ["billing", "billing"],
            "concession_type": ["credit", "refund"],
            "amount": [20.0, 250.0],
            "currency": ["USD", "USD"],
            "amount_policy_currency": [20.0, 250.0],
            "violations": [[], ["over_cap", "missing_approval"]],
            "policy_version": ["2026.11-1"] * 2,
        }
    )


def concession_flags_evidence() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "audit_date": [DAY] * 2,
            "flag_type": ["high_concession_rate", "repeat_beneficiary"],
            "subject_type": ["agent", "customer"],
            "subject_id": ["A2", CUSTOMERS[1]],
            "observed": [9.0, 3.0],
            "expected": [3.0, None],
            "statistic": [3.4, 3.0],
            "p_value": [0.0003, None],
            "q_value": [0.0006, None],
            "threshold": [0.05, 3.0],
            "evidence_ids": [["E4", "E5"], ["E4", "C1", "E7"]],
            "window_start": [DAY - dt.timedelta(days=27)] * 2,
            "window_end": [DAY] * 2,
            "granted_on": pl.Series([None, None], dtype=pl.Date),  # amount_outlier rows only
        }
    )


def quarantine() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "audit_date": [DAY] * 2,
            "entity": ["tickets", "calls"],
            "object_key": ["tickets/export_date=2026-11-20/a.csv", "calls/export_date=2026-11-20/b.csv.gz"],
            "row_number": pl.Series([7, None], dtype=pl.Int64),
            "reason": ["missing_required_field", "unreadable_file"],
            "detail": ["customer_id is required", "not a gzip file"],
            "run_id": [RUN] * 2,
        }
    )


def with_run(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(pl.lit(RUN).alias("run_id"))


def published(name: str, frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` with the columns publishing sets on table `name` (run_id, and policy_version
    where the table depends on the policy)."""
    from warehouse.publish import publishing_columns

    return frame.with_columns(publishing_columns(name, frame.columns, run_id=RUN, policy_version=POLICY))


def dimension_tables() -> dict[str, pl.DataFrame]:
    """`agents` and `teams` of the sample inputs, built by the transform."""
    from transforms.dimensions import appearances, dimensions, team_mentions
    from transforms.scope import CanonicalTables

    tables = CanonicalTables(*(frame.lazy() for frame in (tickets(), ticket_events(), calls())))
    seen, mentions = pl.collect_all([appearances(tables), team_mentions(tables)])
    return {name: with_run(f.collect()) for name, f in dimensions(seen.lazy(), mentions.lazy()).items()}


def published_outputs() -> dict[str, pl.DataFrame]:
    """Output frames as publish validates them: pseudonymised, with run_id."""
    evidence = {
        "follow_up_audit": follow_up_evidence(),
        "escalation_audit": escalation_evidence(),
        "concession_audit": concession_evidence(),
        "concession_flags": concession_flags_evidence(),
    }
    out = {name: published(name, publishable(f.lazy(), KEY).collect()) for name, f in evidence.items()}
    return {
        **out,
        "agent_scorecard": agent_scorecard(),
        "team_scorecard": team_scorecard(),
        "queue_scorecard": queue_scorecard(),
        "metric_observations": published("metric_observations", metric_observations()),
        "quarantine": quarantine(),
        "agent_period_scorecard": _period_scorecard(agent_scorecard()),
        "team_period_scorecard": _period_scorecard(team_scorecard()),
        "peer_comparison": peer_comparison(),
        "concession_flag_lifecycle": concession_flag_lifecycle(out["concession_flags"]),
        **dimension_tables(),
    }


def metric_outputs() -> dict[str, pl.DataFrame]:
    """The metric tables as the transforms return them (raw customer_id, no run_id)."""
    return {
        "follow_up_audit": follow_up_evidence(),
        "escalation_audit": escalation_evidence(),
        "concession_audit": concession_evidence(),
        "concession_flags": concession_flags_evidence(),
        "agent_scorecard": agent_scorecard().drop(catalogue.PUBLISHING_COLUMNS),
        "team_scorecard": team_scorecard().drop(catalogue.PUBLISHING_COLUMNS),
        "queue_scorecard": queue_scorecard().drop(catalogue.PUBLISHING_COLUMNS),
        "metric_observations": metric_observations(),
    }


def inputs() -> dict[str, pl.DataFrame]:
    return {"tickets": tickets(), "ticket_events": ticket_events(), "calls": calls()}
