"""transforms/staging.py: casting, one quarantine record per bad row, reasons and row numbers."""

from __future__ import annotations

from datetime import UTC, date, datetime

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ingest_builders import DAY, KEY, call, conformed, event, ticket
from polars.testing import assert_frame_equal

from configs.limits import TimestampBounds
from transforms.schemas import CALLS, TICKET_EVENTS, TICKETS, EntitySchema
from transforms.schemas import quarantine as q
from transforms.schemas.base import MALFORMED
from transforms.staging import check_columns, conform_columns, stage

SCHEMAS = {"tickets": TICKETS, "ticket_events": TICKET_EVENTS, "calls": CALLS}
BUILDERS = {"tickets": ticket, "ticket_events": event, "calls": call}


def run(rows: list[dict[str, str | None]], schema: EntitySchema, naive_as_utc: bool = False):
    accepted, quarantined = stage(conformed(rows, schema), schema, naive_timestamps_as_utc=naive_as_utc)
    return accepted.collect(), quarantined.collect()


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, us, tzinfo=UTC)


def test_a_valid_ticket_is_cast_to_the_canonical_schema_with_lineage() -> None:
    accepted, quarantined = run([ticket(csat_score="5", subject="  Hello  ")], TICKETS)
    expected = pl.DataFrame(
        {
            "ticket_id": ["T1"],
            "customer_id": ["C1"],
            "created_at": [utc(2026, 3, 2, 9)],
            "updated_at": [utc(2026, 3, 2, 10)],
            "status": ["open"],
            "solved_at": [None],
            "channel": ["email"],
            "category": ["billing"],
            "priority": ["normal"],
            "assignee_id": [None],
            "team_id": [None],
            "customer_tier": [None],
            "csat_score": [5],
            "subject": ["  Hello  "],
            "export_date": [DAY],
            "source_key": [KEY],
            "source_row": [1],
        },
        schema={
            **TICKETS.polars_schema,
            "export_date": pl.Date,
            "source_key": pl.String,
            "source_row": pl.Int64,
        },
    )
    assert_frame_equal(accepted, expected)
    assert quarantined.height == 0


BAD_ROWS = [
    ("tickets", {"customer_id": None}, q.MISSING_REQUIRED, "customer_id: required field is empty"),
    ("tickets", {"customer_id": ""}, q.MISSING_REQUIRED, "customer_id: required field is empty"),
    ("tickets", {"category": "   "}, q.MISSING_REQUIRED, "category: required field is empty"),
    (
        "ticket_events",
        {"event_type": "status_change"},
        q.MISSING_REQUIRED,
        "new_status: required when event_type is status_change",
    ),
    (
        "ticket_events",
        {"event_type": "assignment"},
        q.MISSING_REQUIRED,
        "assignee_id: required when event_type is assignment",
    ),
    (
        "ticket_events",
        {"event_type": "escalation"},
        q.MISSING_REQUIRED,
        "escalation_level: required when event_type is escalation",
    ),
    (
        "ticket_events",
        {"event_type": "concession", "concession_type": "credit", "concession_amount": "10"},
        q.MISSING_REQUIRED,
        "currency: required when event_type is concession",
    ),
    (
        "tickets",
        {"status": "reopened"},
        q.BAD_ENUM,
        "status: not one of new, open, pending, on_hold, solved, closed",
    ),
    (
        "ticket_events",
        {"actor_role": "bot"},
        q.BAD_ENUM,
        "actor_role: not one of agent, supervisor, customer, system",
    ),
    (
        "calls",
        {"direction": "sideways"},
        q.BAD_ENUM,
        "direction: not one of inbound, outbound, callback, transfer",
    ),
    ("tickets", {"csat_score": "four"}, q.BAD_TYPE, "csat_score: not an integer"),
    ("tickets", {"csat_score": "4.5"}, q.BAD_TYPE, "csat_score: not an integer"),
    ("calls", {"hold_seconds": "12s"}, q.BAD_TYPE, "hold_seconds: not a number"),
    ("calls", {"hold_seconds": "NaN"}, q.BAD_TYPE, "hold_seconds: not a number"),
    ("calls", {"talk_seconds": "inf"}, q.BAD_TYPE, "talk_seconds: not a number"),
    ("calls", {"supervisor_requested": "maybe"}, q.BAD_TYPE, "supervisor_requested: not a boolean"),
    ("calls", {"currency": "US$"}, q.BAD_TYPE, "currency: not a 3-letter ISO-4217 code"),
    ("ticket_events", {"currency": "EURO"}, q.BAD_TYPE, "currency: not a 3-letter ISO-4217 code"),
    ("tickets", {"created_at": "yesterday"}, q.BAD_TIMESTAMP, "created_at: not an ISO-8601 date-time"),
    ("tickets", {"created_at": "NULL"}, q.BAD_TIMESTAMP, "created_at: not an ISO-8601 date-time"),
    (
        "tickets",
        {"created_at": "2026-02-30T09:00:00Z"},
        q.BAD_TIMESTAMP,
        "created_at: not an ISO-8601 date-time",
    ),
    (
        "tickets",
        {"created_at": "2026-03-02T09:00:00+25:00"},
        q.BAD_TIMESTAMP,
        "created_at: not an ISO-8601 date-time",
    ),
    ("tickets", {"created_at": "2026-03-02"}, q.BAD_TIMESTAMP, "created_at: not an ISO-8601 date-time"),
    # A leap second is not rolled into the next minute (23:59:60 would move the row a day on).
    (
        "tickets",
        {"created_at": "2026-02-28T23:59:60Z"},
        q.BAD_TIMESTAMP,
        "created_at: not an ISO-8601 date-time",
    ),
    # A fraction needs seconds; the offset follows the time directly.
    (
        "tickets",
        {"created_at": "2026-03-02T10:00.5Z"},
        q.BAD_TIMESTAMP,
        "created_at: not an ISO-8601 date-time",
    ),
    (
        "tickets",
        {"created_at": "2026-03-02T10:00:00 +05:30"},
        q.BAD_TIMESTAMP,
        "created_at: not an ISO-8601 date-time",
    ),
    ("tickets", {"created_at": "1772442000"}, q.BAD_TIMESTAMP, "created_at: not an ISO-8601 date-time"),
    (
        "tickets",
        {"created_at": "2026-03-02T09:00:00"},
        q.NAIVE_TIMESTAMP,
        "created_at: timestamp has no UTC offset",
    ),
    (
        "calls",
        {"answered_at": "2026-03-02 10:01"},
        q.NAIVE_TIMESTAMP,
        "answered_at: timestamp has no UTC offset",
    ),
    ("tickets", {"csat_score": "0"}, q.OUT_OF_RANGE, "csat_score: outside 1..5"),
    ("tickets", {"csat_score": "6"}, q.OUT_OF_RANGE, "csat_score: outside 1..5"),
    ("calls", {"sentiment_end": "-5.5"}, q.OUT_OF_RANGE, "sentiment_end: outside -5..5"),
    ("calls", {"hold_count": "-1"}, q.OUT_OF_RANGE, "hold_count: below 0"),
    ("calls", {"concession_amount": "-0.01"}, q.OUT_OF_RANGE, "concession_amount: below 0"),
    ("ticket_events", {"escalation_level": "0"}, q.OUT_OF_RANGE, "escalation_level: below 1"),
    (
        "calls",
        {"ended_at": "2026-03-02T09:59:59Z"},
        q.OUT_OF_ORDER,
        "ended_at is before initiated_at; ended_at is before answered_at",
    ),
    (
        "calls",
        {"answered_at": None, "ended_at": "2026-03-02T09:59:59Z"},
        q.OUT_OF_ORDER,
        "ended_at is before initiated_at",
    ),
    ("calls", {"answered_at": "2026-03-02T10:09:01Z"}, q.OUT_OF_ORDER, "ended_at is before answered_at"),
    ("tickets", {"updated_at": "2026-03-02T08:59:59Z"}, q.OUT_OF_ORDER, "updated_at is before created_at"),
    ("tickets", {"solved_at": "2026-03-02T08:00:00+00:00"}, q.OUT_OF_ORDER, "solved_at is before created_at"),
    (
        "tickets",
        {"created_at": "0001-01-01T00:00:00Z"},
        q.IMPLAUSIBLE_TIMESTAMP,
        "created_at: before 2000-01-01T00:00:00+00:00",
    ),
    (
        "ticket_events",
        {"occurred_at": "1999-12-31T23:59:59.999999Z"},
        q.IMPLAUSIBLE_TIMESTAMP,
        "occurred_at: before 2000-01-01T00:00:00+00:00",
    ),
    (
        "tickets",
        {"updated_at": "9999-12-31T23:59:59Z"},
        q.IMPLAUSIBLE_TIMESTAMP,
        "updated_at: later than 1 day(s) after its export day",
    ),
    (  # the export day is 2026-03-02: the first instant two days after it begins is too late
        "calls",
        {"ended_at": "2026-03-04T00:00:00Z", "updated_at": "2026-03-04T00:00:00Z"},
        q.IMPLAUSIBLE_TIMESTAMP,
        "updated_at: later than 1 day(s) after its export day; "
        "ended_at: later than 1 day(s) after its export day",
    ),
    (  # an offset moves the instant: 2026-03-03T23:30-01:00 is 2026-03-04T00:30Z
        "ticket_events",
        {"occurred_at": "2026-03-03T23:30:00-01:00"},
        q.IMPLAUSIBLE_TIMESTAMP,
        "occurred_at: later than 1 day(s) after its export day",
    ),
]


@pytest.mark.parametrize(("entity", "bad", "reason", "detail"), BAD_ROWS)
def test_a_bad_row_is_quarantined_with_its_reason_and_row_number(
    entity: str, bad: dict[str, str | None], reason: str, detail: str
) -> None:
    make = BUILDERS[entity]
    rows = [make(), make(**bad), make()]
    accepted, quarantined = run(rows, SCHEMAS[entity])
    expected = pl.DataFrame(
        {
            "entity": [entity],
            "object_key": [KEY],
            "row_number": [2],
            "reason": [reason],
            "detail": [detail],
            "source_row": [2],
        }
    )
    assert_frame_equal(quarantined, expected)
    assert accepted["source_row"].to_list() == [1, 3]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-02T12:00:00+02:00", utc(2026, 3, 2, 10)),
        ("2026-03-02T10:00:00Z", utc(2026, 3, 2, 10)),
        ("2026-03-02t10:00:00z", utc(2026, 3, 2, 10)),
        ("2026-03-02 04:30:00-05:30", utc(2026, 3, 2, 10)),
        ("2026-03-02T15:30:00+0530", utc(2026, 3, 2, 10)),
        ("2026-03-02T11:00:00+01", utc(2026, 3, 2, 10)),
        ("2026-03-02T10:00Z", utc(2026, 3, 2, 10)),
        ("2026-03-02T10:00:00.5Z", utc(2026, 3, 2, 10, 0, 0, 500000)),
        ("2026-03-02T10:00:00.123456789+00:00", utc(2026, 3, 2, 10, 0, 0, 123456)),
        ("2026-03-02T01:00:00+09:00", utc(2026, 3, 1, 16)),
        ("2026-03-01T23:30:00-01:00", utc(2026, 3, 2, 0, 30)),
    ],
)
def test_offsets_are_converted_to_utc(text: str, expected: datetime) -> None:
    accepted, quarantined = run([ticket(created_at=text, updated_at=text)], TICKETS)
    assert quarantined.height == 0
    assert accepted["created_at"].to_list() == [expected]


def test_naive_timestamps_are_read_as_utc_only_when_configured() -> None:
    rows = [ticket(created_at="2026-03-02T09:00:00", updated_at="2026-03-02 10:00:00")]
    accepted, quarantined = run(rows, TICKETS, naive_as_utc=True)
    assert quarantined.height == 0
    assert accepted.select("created_at", "updated_at").row(0) == (utc(2026, 3, 2, 9), utc(2026, 3, 2, 10))
    accepted, quarantined = run(rows, TICKETS, naive_as_utc=False)
    assert accepted.height == 0
    assert quarantined["detail"].to_list() == [
        "created_at: timestamp has no UTC offset; updated_at: timestamp has no UTC offset"
    ]


def test_a_row_with_several_problems_gets_one_record_listing_them_all() -> None:
    rows = [ticket(customer_id="", status="reopened", csat_score="9", created_at="2026-03-02T09:00:00")]
    _, quarantined = run(rows, TICKETS)
    assert quarantined.select("row_number", "reason", "detail").rows() == [
        (
            1,
            q.MISSING_REQUIRED,
            "customer_id: required field is empty; created_at: timestamp has no UTC offset; "
            "status: not one of new, open, pending, on_hold, solved, closed; csat_score: outside 1..5",
        )
    ]


@settings(max_examples=50, deadline=None)
@given(secret=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789@.", min_size=4, max_size=20))
def test_details_never_contain_the_raw_value(secret: str) -> None:
    value = "zq" + secret  # no rule text contains "zq"
    rows = [ticket(status=value, csat_score=value, created_at=value, channel=value)]
    _, quarantined = run(rows, TICKETS)
    assert quarantined.height == 1
    assert value not in quarantined["detail"][0]


@pytest.mark.parametrize(
    ("priority", "expected"), [(None, "normal"), ("", "normal"), ("HIGH", "high"), (" urgent ", "urgent")]
)
def test_ticket_priority_defaults_to_normal_and_enums_ignore_case_and_spaces(
    priority: str | None, expected: str
) -> None:
    accepted, _ = run([ticket(priority=priority)], TICKETS)
    assert accepted["priority"].to_list() == [expected]


@pytest.mark.parametrize(("text", "expected"), [("usd", "USD"), (" Eur ", "EUR"), ("GBP", "GBP")])
def test_currency_codes_are_upper_cased(text: str, expected: str) -> None:
    rows = [event(event_type="concession", concession_type="credit", concession_amount="10", currency=text)]
    accepted, _ = run(rows, TICKET_EVENTS)
    assert accepted["currency"].to_list() == [expected]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("true", True),
        ("TRUE", True),
        ("t", True),
        ("yes", True),
        ("1", True),
        ("false", False),
        ("False", False),
        ("n", False),
        ("0", False),
    ],
)
def test_boolean_text(text: str, expected: bool) -> None:
    accepted, _ = run([call(supervisor_requested=text)], CALLS)
    assert accepted["supervisor_requested"].to_list() == [expected]


@pytest.mark.parametrize(("text", "expected"), [("3", 3), ("3.0", 3), (" 7 ", 7), ("0", 0)])
def test_integers_accept_integral_decimals(text: str, expected: int) -> None:
    accepted, _ = run([call(hold_count=text)], CALLS)
    assert accepted["hold_count"].to_list() == [expected]


@pytest.mark.parametrize(
    ("entity", "column", "text", "is_accepted"),
    [
        ("tickets", "csat_score", "1", True),
        ("tickets", "csat_score", "5", True),
        ("tickets", "csat_score", "0", False),
        ("tickets", "csat_score", "6", False),
        ("calls", "sentiment_start", "-5", True),
        ("calls", "sentiment_start", "5.0", True),
        ("calls", "sentiment_start", "-5.01", False),
        ("calls", "sentiment_start", "5.01", False),
        ("calls", "hold_seconds", "0", True),
        ("calls", "hold_seconds", "-0.5", False),
        ("calls", "agent_interruptions", "0", True),
        ("calls", "agent_interruptions", "-1", False),
        ("ticket_events", "escalation_level", "1", True),
        ("ticket_events", "escalation_level", "0", False),
        ("ticket_events", "concession_amount", "0", True),
        ("ticket_events", "concession_amount", "-1", False),
    ],
)
def test_range_boundaries(entity: str, column: str, text: str, is_accepted: bool) -> None:
    accepted, quarantined = run([BUILDERS[entity](**{column: text})], SCHEMAS[entity])
    assert accepted.height == int(is_accepted)
    assert quarantined["reason"].to_list() == ([] if is_accepted else [q.OUT_OF_RANGE])


def test_equal_timestamps_are_in_order() -> None:
    same = "2026-03-02T10:00:00Z"
    accepted, _ = run([call(initiated_at=same, answered_at=same, ended_at=same)], CALLS)
    assert accepted.height == 1


def test_check_columns_reports_missing_required_and_drift_in_file_order() -> None:
    check = check_columns(["zeta", "ticket_id", "status", "alpha", "source_row"], TICKETS)
    assert check.missing_required == ("customer_id", "created_at", "updated_at", "channel", "category")
    assert check.drift == ("zeta", "alpha")


def test_conform_columns_keeps_contract_columns_only_and_adds_lineage() -> None:
    raw = pl.LazyFrame({"source_row": [4], "extra": ["x"], "ticket_id": ["T1"]})
    frame = conform_columns(raw, TICKETS, export_date=date(2026, 3, 1), source_key="k").collect()
    assert frame.columns == [*TICKETS.columns, "export_date", "source_key", "source_row", MALFORMED]
    assert frame[MALFORMED].to_list() == [None]  # the reader marked no line unreadable
    assert frame.select("ticket_id", "status", "export_date", "source_key", "source_row").row(0) == (
        "T1",
        None,
        date(2026, 3, 1),
        "k",
        4,
    )


BAD_CHOICES = [
    {"status": "x"},
    {"customer_id": ""},
    {"created_at": "2026-03-02T09:00:00"},
    {"csat_score": "0"},
]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), st.sampled_from(range(len(BAD_CHOICES)))), min_size=0, max_size=12))
def test_every_row_is_either_accepted_or_quarantined_exactly_once(plan: list[int | None]) -> None:
    rows = [ticket(ticket_id=f"T{i}", **({} if b is None else BAD_CHOICES[b])) for i, b in enumerate(plan)]
    accepted, quarantined = run(rows, TICKETS)
    assert accepted["source_row"].to_list() == [i + 1 for i, b in enumerate(plan) if b is None]
    assert quarantined["row_number"].to_list() == [i + 1 for i, b in enumerate(plan) if b is not None]


def test_conditional_requirements_follow_a_valid_event_type_in_any_case() -> None:
    rows = [event(event_type="Status_Change"), event(event_type="status-change")]
    _, quarantined = run(rows, TICKET_EVENTS)
    assert quarantined.select("row_number", "reason").rows() == [(1, q.MISSING_REQUIRED), (2, q.BAD_ENUM)]


def test_a_value_that_is_not_required_is_still_checked() -> None:
    _, quarantined = run([event(event_type="comment", escalation_level="abc")], TICKET_EVENTS)
    assert quarantined.select("reason", "detail").rows() == [(q.BAD_TYPE, "escalation_level: not an integer")]


def test_a_solved_ticket_without_solved_at_is_accepted() -> None:
    accepted, _ = run([ticket(status="solved", solved_at=None)], TICKETS)
    assert accepted.select("status", "solved_at").rows() == [("solved", None)]


def test_the_last_plausible_instant_is_the_end_of_the_day_after_the_export_day() -> None:
    rows = [ticket(updated_at="2026-03-03T23:59:59.999999Z"), ticket(created_at="2000-01-01T00:00:00Z")]
    accepted, quarantined = run(rows, TICKETS)
    assert accepted.height == 2
    assert quarantined.height == 0


def test_the_timestamp_bounds_are_configurable() -> None:
    rows = [ticket(created_at="1995-06-01T00:00:00Z", updated_at="2030-01-01T00:00:00Z")]
    _, strict = run(rows, TICKETS)
    assert strict["reason"].to_list() == [q.IMPLAUSIBLE_TIMESTAMP]
    bounds = TimestampBounds(earliest=datetime(1990, 1, 1, tzinfo=UTC), latest_days_after_export=None)
    accepted, quarantined = stage(
        conformed(rows, TICKETS), TICKETS, naive_timestamps_as_utc=False, timestamp_bounds=bounds
    )
    assert accepted.collect()["created_at"].to_list() == [utc(1995, 6, 1)]
    assert quarantined.collect().height == 0


def test_a_typed_parquet_timestamp_gets_the_same_bounds() -> None:
    """A Parquet date-time column skips text parsing (`is_typed_match`); year 1 is still refused."""
    raw = pl.LazyFrame(
        {
            **{k: [v] for k, v in ticket().items() if k not in ("created_at",)},
            "created_at": [datetime(1, 1, 1, tzinfo=UTC)],
            "source_row": [1],
        }
    )
    accepted, quarantined = stage(
        conform_columns(raw, TICKETS, export_date=DAY, source_key=KEY), TICKETS, naive_timestamps_as_utc=False
    )
    assert accepted.collect().height == 0
    assert quarantined.collect()["detail"].to_list() == ["created_at: before 2000-01-01T00:00:00+00:00"]
