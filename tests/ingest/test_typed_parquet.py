"""Typed Parquet columns skip the text round trip but get exactly the checks and values of text.

ingestion/ingest reads Parquet with `keep_types=True`; staging passes columns typed as the contract
types them (`is_typed_match`) through and parses every other column from its text.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ingest_builders import MemoryStorage, parquet_bytes
from polars.testing import assert_frame_equal

from configs.limits import InputRules
from ingestion.ingest import ingest_entity
from ingestion.readers import read_export
from transforms.schemas import CALLS, TICKETS
from transforms.schemas import quarantine as q
from transforms.schemas.base import Field
from transforms.staging import conform_columns, is_typed_match, stage

D1 = date(2026, 3, 2)
KEY = "tickets/export_date=2026-03-02/t.parquet"
PARIS = "Europe/Paris"


def tickets_frame(**overrides: pl.Series) -> pl.DataFrame:
    """Three valid typed tickets (T3, T1, T2: not in key order), with column overrides."""
    base = pl.DataFrame(
        {
            "ticket_id": ["T3", "T1", "T2"],
            "customer_id": ["C1", "C2", "C3"],
            "created_at": [datetime(2026, 3, 2, 9, tzinfo=UTC)] * 3,
            "updated_at": [datetime(2026, 3, 2, 10, tzinfo=UTC)] * 3,
            "status": ["open", "Solved", "open"],
            "channel": ["email"] * 3,
            "category": ["billing"] * 3,
            "csat_score": pl.Series([5, None, 1], dtype=pl.Int64),
        }
    )
    return base.with_columns(s.alias(name) for name, s in overrides.items())


def ingest_typed(frame: pl.DataFrame, *, naive_as_utc: bool = False):
    storage = MemoryStorage({KEY: parquet_bytes(frame)})
    result = ingest_entity(
        storage, TICKETS, D1, D1, rules=InputRules(naive_timestamps_as_utc=naive_as_utc), run_id="run-1"
    )
    return result, storage


def test_typed_columns_keep_their_values_and_the_canonical_table_is_sorted_by_key() -> None:
    result, _ = ingest_typed(tickets_frame())
    canonical = result.canonical.collect()
    assert canonical["ticket_id"].to_list() == ["T1", "T2", "T3"]
    assert canonical["csat_score"].to_list() == [None, 1, 5]
    assert canonical["status"].to_list() == ["solved", "open", "open"]  # enums still lower-cased
    assert canonical["source_row"].to_list() == [2, 3, 1]
    assert canonical.schema["created_at"] == pl.Datetime("us", "UTC")


def test_a_zoned_timestamp_becomes_its_utc_instant() -> None:
    paris = pl.Series([datetime(2026, 3, 2, 11, 30)] * 3).dt.replace_time_zone(PARIS)  # UTC+1 in March
    result, _ = ingest_typed(tickets_frame(updated_at=paris))
    updated = result.canonical.collect()["updated_at"]
    assert updated.to_list() == [datetime(2026, 3, 2, 10, 30, tzinfo=UTC)] * 3


def test_millisecond_timestamps_pass_through_as_microseconds() -> None:
    ms = pl.Series([datetime(2026, 3, 2, 10, 0, 0, 123000, tzinfo=UTC)] * 3, dtype=pl.Datetime("ms", "UTC"))
    result, _ = ingest_typed(tickets_frame(updated_at=ms))
    updated = result.canonical.collect()["updated_at"]
    assert updated.to_list() == [datetime(2026, 3, 2, 10, 0, 0, 123000, tzinfo=UTC)] * 3


@pytest.mark.parametrize(("naive_as_utc", "accepted"), [(False, 2), (True, 3)])
def test_naive_parquet_timestamps_are_quarantined_unless_configured_as_utc(
    naive_as_utc: bool, accepted: int
) -> None:
    solved = pl.Series([None, datetime(2026, 3, 2, 9, 45), None], dtype=pl.Datetime("us"))
    result, _ = ingest_typed(tickets_frame(solved_at=solved), naive_as_utc=naive_as_utc)
    canonical = result.canonical.collect()
    assert canonical.height == accepted
    if naive_as_utc:
        assert canonical["solved_at"].to_list()[0] == datetime(2026, 3, 2, 9, 45, tzinfo=UTC)
    else:
        assert result.quarantine.select("row_number", "reason", "detail").rows() == [
            (2, q.NAIVE_TIMESTAMP, "solved_at: timestamp has no UTC offset")
        ]


def test_typed_checks_report_the_same_reasons_and_row_numbers_as_text() -> None:
    score = pl.Series([7, 0, 3], dtype=pl.Int32)  # rows 1 and 2 out of 1..5
    created = pl.Series(
        [
            datetime(2026, 3, 2, 9, tzinfo=UTC),
            datetime(2026, 3, 2, 9, tzinfo=UTC),
            datetime(2026, 3, 2, 11, tzinfo=UTC),
        ]
    )
    result, storage = ingest_typed(tickets_frame(csat_score=score, created_at=created))
    assert result.quarantine.select("row_number", "reason", "detail").rows() == [
        (1, q.OUT_OF_RANGE, "csat_score: outside 1..5"),
        (2, q.OUT_OF_RANGE, "csat_score: outside 1..5"),
        (3, q.OUT_OF_ORDER, "updated_at is before created_at"),
    ]
    assert result.files.select("rows_read", "rows_accepted", "rows_quarantined").rows() == [(3, 0, 3)]
    # The quarantine store shows the values as read, as text (the reader's rendering).
    kept = storage.objects["_quarantine/" + KEY + ".quarantined-rows.jsonl"].decode().splitlines()
    first = json.loads(kept[0])
    assert first["raw"]["csat_score"] == "7"
    assert first["raw"]["created_at"] == "2026-03-02T09:00:00+00:00"


def test_a_float_column_for_an_integer_field_is_parsed_from_its_text() -> None:
    score = pl.Series([3.0, 3.5, None], dtype=pl.Float64)
    result, _ = ingest_typed(tickets_frame(csat_score=score))
    assert result.canonical.collect().select("ticket_id", "csat_score").rows() == [("T2", None), ("T3", 3)]
    assert result.quarantine.select("row_number", "reason").rows() == [(2, q.BAD_TYPE)]


@pytest.mark.parametrize(
    ("dtype", "kind", "matches"),
    [
        (pl.Datetime("us", "UTC"), "timestamp", True),
        (pl.Datetime("ms"), "timestamp", True),
        (pl.Datetime("ns", "UTC"), "timestamp", False),
        (pl.String(), "timestamp", False),
        (pl.Int32(), "int", True),
        (pl.UInt32(), "int", True),
        (pl.UInt64(), "int", False),
        (pl.Float64(), "int", False),
        (pl.Float64(), "float", True),
        (pl.Float32(), "float", False),
        (pl.Int64(), "float", False),
        (pl.Boolean(), "bool", True),
        (pl.String(), "string", False),
        (pl.Int64(), "string", False),
    ],
)
def test_which_typed_columns_pass_through(dtype: pl.DataType, kind: str, matches: bool) -> None:
    assert is_typed_match(Field("x", kind), dtype) is matches


def test_a_year_beyond_9999_is_not_a_timestamp_as_in_text() -> None:
    far = pl.Series([253402300800000000] * 3, dtype=pl.Int64).cast(pl.Datetime("us", "UTC"))  # 10000-01-01
    result, _ = ingest_typed(tickets_frame(updated_at=far))
    assert result.quarantine.select("row_number", "reason").rows() == [
        (1, q.BAD_TIMESTAMP),
        (2, q.BAD_TIMESTAMP),
        (3, q.BAD_TIMESTAMP),
    ]


# --- property: typed staging == staging of the same file read as text ----------------------

# From 1972: before that some zones had offsets with seconds (LMT), which the text rendering
# (whole minutes) shifted; the typed path keeps the exact instant (docs/decisions/ingestion.md).
_TIMES = st.datetimes(min_value=datetime(1972, 1, 1), max_value=datetime(9999, 12, 31))
_FLOATS = st.floats(allow_nan=True, allow_infinity=True, width=64) | st.just(-0.0)


def _staged_both_ways(frame: pl.DataFrame, naive_as_utc: bool) -> tuple[pl.DataFrame, ...]:
    data = parquet_bytes(frame)
    out = []
    for keep_types in (False, True):
        raw = read_export(data, "calls/export_date=2026-03-02/c.parquet", keep_types=keep_types)
        conformed = conform_columns(raw, CALLS, export_date=D1, source_key="c.parquet")
        accepted, rejected = stage(conformed, CALLS, naive_timestamps_as_utc=naive_as_utc)
        out += [accepted.collect(), rejected.collect()]
    return tuple(out)


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(
        st.tuples(
            st.none() | _TIMES,
            _TIMES,
            st.none() | _FLOATS,
            st.none() | st.integers(-(2**40), 2**40),
            st.none() | st.booleans(),
        ),
        min_size=1,
        max_size=6,
    ),
    zone=st.sampled_from([None, "UTC", PARIS, "America/St_Johns"]),
    unit=st.sampled_from(["us", "ms"]),
    naive_as_utc=st.booleans(),
)
def test_typed_staging_equals_staging_of_the_text(
    rows: list[tuple], zone: str | None, unit: str, naive_as_utc: bool
) -> None:
    n = len(rows)
    stamps = pl.Series([r[1] for r in rows], dtype=pl.Datetime(unit))
    answered = pl.Series([r[0] for r in rows], dtype=pl.Datetime(unit))
    if zone:
        stamps, answered = (
            s.dt.replace_time_zone(zone, ambiguous="earliest", non_existent="null")
            for s in (stamps, answered)
        )
    frame = pl.DataFrame(
        {
            "call_id": [f"K{i}" for i in range(n)],
            "customer_id": ["C1"] * n,
            "updated_at": stamps,
            "direction": ["Inbound"] * n,
            "initiated_at": stamps,
            "answered_at": answered,
            "ended_at": stamps,
            "hold_seconds": pl.Series([r[2] for r in rows], dtype=pl.Float64),
            "sentiment_start": pl.Series([r[2] for r in rows], dtype=pl.Float64),
            "hold_count": pl.Series([r[3] for r in rows], dtype=pl.Int64),
            "supervisor_requested": pl.Series([r[4] for r in rows], dtype=pl.Boolean),
        }
    )
    text_accepted, text_rejected, typed_accepted, typed_rejected = _staged_both_ways(frame, naive_as_utc)
    assert_frame_equal(typed_accepted, text_accepted)
    assert_frame_equal(typed_rejected, text_rejected)
