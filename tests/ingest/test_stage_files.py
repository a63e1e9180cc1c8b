"""Files staged a group at a time (`stage_files`) give exactly the rows each file gives staged by
itself (`stage_file`), in the same order; only the number of staging queries changes."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ingest_builders import MemoryStorage, export_bytes, parquet_bytes, ticket
from polars.testing import assert_frame_equal

from configs.limits import InputRules
from ingestion import ingest
from ingestion.ingest import ExportObject, LoadedFile, load_export, stage_file, stage_files
from ingestion.readers import export_format
from transforms.schemas import TICKETS

RULES = InputRules()
DAY = date(2026, 3, 2)


def loaded_files(files: list[tuple[str, bytes, date]]) -> list[LoadedFile]:
    storage = MemoryStorage({key: data for key, data, _ in files})
    objects = [
        ExportObject("tickets", key, storage.etag(key), len(data), day, export_format(key), True)
        for key, data, day in files
    ]
    return [load_export(storage, obj, TICKETS) for obj in objects]


def one_by_one(files: list[LoadedFile]) -> tuple[pl.DataFrame, pl.DataFrame]:
    staged = [s for f in files if (s := stage_file(f, TICKETS, RULES)) is not None]
    return pl.concat([s[0] for s in staged]), pl.concat([s[1] for s in staged])


def together(files: list[LoadedFile]) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    groups = list(stage_files(files, TICKETS, RULES))
    return pl.concat([g[0] for g in groups]), pl.concat([g[1] for g in groups]), len(groups)


def key(day: date, name: str) -> str:
    return f"tickets/export_date={day.isoformat()}/{name}"


def typed_parquet(ticket_id: str) -> bytes:
    """A Parquet export with typed timestamps: its columns differ in type from a CSV's text."""
    row = ticket(ticket_id=ticket_id)
    frame = pl.DataFrame([row]).with_columns(
        pl.col("created_at", "updated_at").str.to_datetime(time_zone="UTC", time_unit="us")
    )
    return parquet_bytes(frame)


def test_text_files_are_one_query_typed_ones_another_and_the_rows_are_the_same() -> None:
    late = DAY + timedelta(days=1)
    files = loaded_files(
        [
            (
                key(DAY, "a.csv"),
                export_bytes([ticket(ticket_id="T1"), ticket(ticket_id="T2", status="?")], "csv"),
                DAY,
            ),
            (key(DAY, "b.jsonl"), export_bytes([ticket(ticket_id="T3")], "jsonl"), DAY),
            (key(DAY, "c.parquet"), typed_parquet("T4"), DAY),
            # three days after its export day: implausible there, judged by its own file's day
            (
                key(late, "d.csv"),
                export_bytes(
                    [
                        ticket(
                            ticket_id="T5",
                            created_at="2026-03-06T09:00:00Z",
                            updated_at="2026-03-06T09:00:00Z",
                        )
                    ],
                    "csv",
                ),
                late,
            ),
            (key(late, "e.csv"), b"not,a\nticket,export\n", late),  # rejected whole: gives nothing
        ]
    )
    accepted, quarantined, groups = together(files)
    expected_accepted, expected_quarantined = one_by_one(files)
    assert_frame_equal(accepted, expected_accepted)
    assert_frame_equal(quarantined, expected_quarantined)
    assert groups == 3  # a.csv + b.jsonl (text), c.parquet (typed), d.csv (text again)
    assert accepted["ticket_id"].to_list() == ["T1", "T3", "T4"]
    assert quarantined.select("object_key", "row_number", "reason").rows() == [
        (key(DAY, "a.csv"), 2, "value_not_in_enum"),
        (key(late, "d.csv"), 1, "implausible_timestamp"),
    ]


def test_a_group_stops_at_the_row_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ingest, "STAGE_TOGETHER_ROWS", 3)
    files = loaded_files(
        [
            (key(DAY, f"{n}.csv"), export_bytes([ticket(ticket_id=f"T{n}{r}") for r in range(2)], "csv"), DAY)
            for n in range(3)
        ]
    )
    accepted, _, groups = together(files)
    assert groups == 3  # 2 + 2 rows would pass 3: each file is its own group
    assert accepted.height == 6
    monkeypatch.setattr(ingest, "STAGE_TOGETHER_ROWS", 4)
    assert together(files)[2] == 2  # 2 + 2, then 2


_ROW = st.fixed_dictionaries(
    {
        "status": st.sampled_from(["open", "solved", "pending", "bogus", ""]),
        "created_at": st.sampled_from(
            ["2026-03-02T09:00:00Z", "2026-03-02 09:00", "yesterday", "2026-02-01T09:00:00Z"]
        ),
        "channel": st.sampled_from(["email", "phone", "fax"]),
    }
)


@settings(max_examples=40, deadline=None)
@given(
    files=st.lists(
        st.tuples(st.lists(_ROW, min_size=0, max_size=4), st.sampled_from(["csv", "jsonl", "parquet"])),
        min_size=1,
        max_size=6,
    ),
    budget=st.integers(min_value=1, max_value=10),
)
def test_any_files_any_budget_give_the_rows_of_each_file_staged_alone(
    files: list[tuple[list[dict[str, str]], str]], budget: int
) -> None:
    objects = []
    for n, (rows, fmt) in enumerate(files):
        tickets = [ticket(ticket_id=f"T{n}-{r}", **row) for r, row in enumerate(rows)]
        data = export_bytes(tickets, fmt) if tickets else b""
        objects.append(
            (key(DAY + timedelta(days=n % 2), f"part-{n}.{fmt}"), data, DAY + timedelta(days=n % 2))
        )
    loaded = loaded_files(objects)
    original = ingest.STAGE_TOGETHER_ROWS
    ingest.STAGE_TOGETHER_ROWS = budget
    try:
        staged = list(stage_files(loaded, TICKETS, RULES))
    finally:
        ingest.STAGE_TOGETHER_ROWS = original
    alone = [s for f in loaded if (s := stage_file(f, TICKETS, RULES)) is not None]
    assert len(staged) <= len(alone)
    for part in (0, 1):
        assert_frame_equal(
            pl.concat([s[part] for s in staged]) if staged else pl.DataFrame(),
            pl.concat([s[part] for s in alone]) if alone else pl.DataFrame(),
        )


def test_a_group_stops_at_the_byte_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    files = loaded_files(
        [(key(DAY, f"{n}.csv"), export_bytes([ticket(ticket_id=f"T{n}")], "csv"), DAY) for n in range(4)]
    )
    one_file = files[0].raw.estimated_size() if files[0].raw is not None else 0
    monkeypatch.setattr(ingest, "STAGE_TOGETHER_BYTES", 2 * one_file)
    accepted, _, groups = together(files)
    assert groups == 2  # two files' raw frames at a time
    assert accepted["ticket_id"].to_list() == ["T0", "T1", "T2", "T3"]
