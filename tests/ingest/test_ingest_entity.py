"""ingestion/ingest.py: listing, whole-file quarantine, per-file reconciliation, quarantine store."""

from __future__ import annotations

import gzip
import json
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ingest_builders import MemoryStorage, call, csv_bytes, event, export_bytes, jsonl_bytes, ticket
from polars.testing import assert_frame_equal

from ingestion.ingest import FILE_REPORT_SCHEMA, ingest_all, ingest_entity, list_exports
from storage import LocalStorage
from transforms.schemas import TICKETS
from transforms.schemas import quarantine as q
from transforms.schemas.quarantine import QUARANTINE_SCHEMA

D1, D2, D3 = date(2026, 3, 2), date(2026, 3, 3), date(2026, 3, 4)


def tk(day: date, name: str) -> str:
    return f"tickets/export_date={day.isoformat()}/{name}"


def ingest(storage: MemoryStorage | LocalStorage, start: date = D1, end: date = D3):
    return ingest_entity(
        storage, TICKETS, start, end, quarantine_storage_prefix="_quarantine", run_id="run-1"
    )


def report_row(result, key: str) -> dict[str, object]:
    return result.files.filter(pl.col("object_key") == key).drop("etag", "size").to_dicts()[0]


# --- listing ----------------------------------------------------------------------------------


def test_listing_takes_the_date_range_inclusive_skips_markers_and_flags_bad_objects() -> None:
    storage = MemoryStorage(
        {
            "tickets/export_date=2026-03-01/before.csv": b"",
            tk(D1, "a.csv"): b"",
            tk(D1, "_SUCCESS"): b"",
            tk(D1, ""): b"",  # a folder placeholder object
            tk(D1, "sub/"): b"",
            tk(D1, ".a.csv.crc"): b"",
            tk(D1, "_temporary/0/part.csv"): b"",
            tk(D1, "nested/part-1.jsonl.gz"): b"",
            tk(D2, "b.xlsx"): b"",
            tk(D2, "../../escape.csv"): b"",
            tk(D3, "c.parquet"): b"",
            "tickets/export_date=2026-03-05/after.csv": b"",
            "calls/export_date=2026-03-02/a.csv": b"",
        }
    )
    listed = [
        (o.key, o.export_date, o.format, o.is_safe_key) for o in list_exports(storage, "tickets", D1, D3)
    ]
    assert listed == [
        (tk(D1, "a.csv"), D1, "csv", True),
        (tk(D1, "nested/part-1.jsonl.gz"), D1, "jsonl.gz", True),
        (tk(D2, "../../escape.csv"), D2, "csv", False),
        (tk(D2, "b.xlsx"), D2, None, True),
        (tk(D3, "c.parquet"), D3, "parquet", True),
    ]


# --- one entity end to end --------------------------------------------------------------------


def test_a_day_with_good_bad_duplicate_and_superseded_rows_reconciles_per_file() -> None:
    day1 = [ticket(), ticket(ticket_id="T2", status="bogus"), ticket(ticket_id="T3")]
    day2 = [
        ticket(status="solved", updated_at="2026-03-03T08:00:00Z"),  # newer T1
        ticket(ticket_id="T3"),  # exact re-delivery of T3
        ticket(ticket_id="T4", created_at="2026-03-03T08:00:00"),  # naive: quarantined
    ]
    storage = MemoryStorage({tk(D1, "a.csv"): csv_bytes(day1), tk(D2, "a.jsonl"): jsonl_bytes(day2)})
    result = ingest(storage)

    assert result.canonical.collect().select("ticket_id", "status", "source_key", "source_row").rows() == [
        ("T1", "solved", tk(D2, "a.jsonl"), 1),
        ("T3", "open", tk(D2, "a.jsonl"), 2),
    ]
    assert report_row(result, tk(D1, "a.csv")) == {
        "entity": "tickets",
        "object_key": tk(D1, "a.csv"),
        "export_date": D1,
        "rows_read": 3,
        "rows_accepted": 1,
        "rows_quarantined": 1,
        "rows_duplicate": 1,
        "rows_superseded": 1,
        "schema_drift": [],
        "file_error": None,
    }
    assert report_row(result, tk(D2, "a.jsonl")) | {"object_key": None} == {
        "entity": "tickets",
        "object_key": None,
        "export_date": D2,
        "rows_read": 3,
        "rows_accepted": 2,
        "rows_quarantined": 1,
        "rows_duplicate": 0,
        "rows_superseded": 0,
        "schema_drift": [],
        "file_error": None,
    }
    assert result.quarantine.select("object_key", "row_number", "reason").rows() == [
        (tk(D1, "a.csv"), 2, q.BAD_ENUM),
        (tk(D2, "a.jsonl"), 3, q.NAIVE_TIMESTAMP),
    ]
    assert result.quarantine.schema == QUARANTINE_SCHEMA
    assert result.files.schema == FILE_REPORT_SCHEMA


def test_a_truncated_jsonl_line_among_thousands_quarantines_that_line_only() -> None:
    rows = [ticket(ticket_id=f"T{i:04d}") for i in range(1, 2001)]
    lines = [json.dumps(r) for r in rows]
    lines[1233] = lines[1233][:40]  # line 1234, cut mid-string
    storage = MemoryStorage({tk(D1, "a.jsonl"): ("\n".join(lines) + "\n").encode()})
    result = ingest(storage)
    accepted = result.canonical.collect()
    assert accepted.height == 1999 and "T1234" not in accepted["ticket_id"].to_list()
    assert result.quarantine.select("row_number", "reason", "detail").rows() == [
        (1234, q.MALFORMED_ROW, "line 1234 is not valid JSON")
    ]
    row = report_row(result, tk(D1, "a.jsonl"))
    assert (row["rows_read"], row["rows_accepted"], row["rows_quarantined"], row["file_error"]) == (
        2000,
        1999,
        1,
        None,
    )


def test_a_csv_line_with_too_many_fields_among_thousands_quarantines_that_line_only() -> None:
    rows = [ticket(ticket_id=f"T{i:04d}") for i in range(1, 3001)]
    lines = csv_bytes(rows).decode().splitlines()
    lines[2001] += ",an extra field"  # data row 2001 (file line 2002)
    storage = MemoryStorage({tk(D1, "a.csv"): ("\n".join(lines) + "\n").encode()})
    result = ingest(storage)
    assert result.canonical.collect().height == 2999
    ((row_number, reason, detail),) = result.quarantine.select("row_number", "reason", "detail").rows()
    assert (row_number, reason) == (2001, q.MALFORMED_ROW) and detail.startswith("line 2002: ")
    row = report_row(result, tk(D1, "a.csv"))
    assert (row["rows_read"], row["rows_accepted"], row["rows_quarantined"], row["file_error"]) == (
        3000,
        2999,
        1,
        None,
    )


def test_quarantined_rows_are_kept_raw_in_the_quarantine_prefix() -> None:
    rows = [ticket(), ticket(ticket_id="T2", customer_id="", extra_col="x")]
    storage = MemoryStorage({tk(D1, "a.csv"): csv_bytes(rows)})
    ingest(storage)
    kept = storage.objects["_quarantine/" + tk(D1, "a.csv") + ".quarantined-rows.jsonl"]
    records = [json.loads(line) for line in kept.decode().splitlines()]
    assert records == [
        {
            "run_id": "run-1",
            "object_key": tk(D1, "a.csv"),
            "row_number": 2,
            "reason": q.MISSING_REQUIRED,
            "detail": "customer_id: required field is empty",
            "raw": {**ticket(ticket_id="T2", customer_id=""), "extra_col": "x"},  # as read
        }
    ]


def test_a_missing_required_column_quarantines_the_whole_file_and_copies_it() -> None:
    data = csv_bytes([ticket(), ticket(ticket_id="T2")], columns=["ticket_id", "created_at", "updated_at"])
    storage = MemoryStorage({tk(D1, "a.csv"): data})
    result = ingest(storage)
    assert result.canonical.collect().height == 0
    assert result.quarantine.rows() == [
        (
            "tickets",
            tk(D1, "a.csv"),
            None,
            q.MISSING_COLUMN,
            "missing required columns: customer_id, status, channel, category",
        )
    ]
    row = report_row(result, tk(D1, "a.csv"))
    assert (row["rows_read"], row["rows_quarantined"], row["file_error"]) == (2, 2, q.MISSING_COLUMN)
    assert storage.objects["_quarantine/" + tk(D1, "a.csv")] == data


def test_unknown_columns_are_reported_once_per_file_and_kept_out() -> None:
    rows = [ticket(vendor_score="9", tags="a"), ticket(ticket_id="T2", vendor_score="1", tags="b")]
    storage = MemoryStorage(
        {tk(D1, "a.csv"): csv_bytes(rows), tk(D1, "b.csv"): csv_bytes([ticket(ticket_id="T3")])}
    )
    result = ingest(storage)
    assert result.files.select("object_key", "schema_drift").rows() == [
        (tk(D1, "a.csv"), ["vendor_score", "tags"]),
        (tk(D1, "b.csv"), []),
    ]
    canonical = result.canonical.collect()
    assert canonical.columns == [*TICKETS.columns, "export_date", "source_key", "source_row"]
    assert canonical.height == 3


@pytest.mark.parametrize(
    ("name", "data", "detail"),
    [
        ("a.csv.gz", b"\x1f\x8b not really gzip", "corrupt_gzip"),
        ("a.parquet", b"ticket_id\nT1\n", "not_parquet"),
        ("a.jsonl", b'{"ticket_id": "T1"\n', "malformed_jsonl"),
        ("a.csv", b"ticket_id,status\n\xff\xfe,open\n", "undecodable_text"),
    ],
)
def test_an_unreadable_file_is_quarantined_as_a_file_and_copied(name: str, data: bytes, detail: str) -> None:
    storage = MemoryStorage({tk(D1, name): data, tk(D1, "good.csv"): csv_bytes([ticket()])})
    result = ingest(storage)
    assert result.canonical.collect()["ticket_id"].to_list() == ["T1"]
    record = result.quarantine.filter(pl.col("object_key") == tk(D1, name)).to_dicts()
    assert [(r["row_number"], r["reason"], r["detail"].split(":")[0]) for r in record] == [
        (None, q.UNREADABLE_FILE, detail)
    ]
    row = report_row(result, tk(D1, name))
    assert (row["rows_read"], row["rows_quarantined"], row["file_error"]) == (0, 0, q.UNREADABLE_FILE)
    assert storage.objects["_quarantine/" + tk(D1, name)] == data


def test_folders_that_are_not_day_partitions_are_reported_every_run() -> None:
    storage = MemoryStorage(
        {
            "tickets/export_date=2026-3-2/a.csv": csv_bytes([ticket()]),
            "tickets/export_date=2026-02-30/a.csv": csv_bytes([ticket()]),
            "tickets/2026-03-02/a.csv": csv_bytes([ticket()]),
            "tickets/_archive/a.csv": csv_bytes([ticket()]),
            "tickets/export_date=2025-01-01/a.csv": csv_bytes([ticket()]),  # valid, outside the range
            tk(D1, "a.csv"): csv_bytes([ticket()]),
        }
    )
    result = ingest(storage)
    assert result.quarantine.select("object_key", "row_number", "reason").rows() == [
        ("tickets/2026-03-02/", None, q.UNSUPPORTED_FORMAT),
        ("tickets/export_date=2026-02-30/", None, q.UNSUPPORTED_FORMAT),
        ("tickets/export_date=2026-3-2/", None, q.UNSUPPORTED_FORMAT),
    ]
    assert result.files["object_key"].to_list() == [tk(D1, "a.csv")]


def test_an_unsupported_format_is_quarantined_not_skipped() -> None:
    storage = MemoryStorage({tk(D1, "a.xlsx"): b"PK\x03\x04"})
    result = ingest(storage)
    assert result.quarantine.select("object_key", "row_number", "reason").rows() == [
        (tk(D1, "a.xlsx"), None, q.UNSUPPORTED_FORMAT)
    ]
    assert result.files["file_error"].to_list() == [q.UNSUPPORTED_FORMAT]
    assert storage.objects["_quarantine/" + tk(D1, "a.xlsx")] == b"PK\x03\x04"


@pytest.mark.parametrize("unsafe", ["../../../etc/passwd.csv", "a//b.csv", "a\\..\\b.csv", "x/../../y.csv"])
def test_unsafe_keys_are_quarantined_and_never_read_or_copied(unsafe: str) -> None:
    class Refusing(MemoryStorage):
        def read_bytes(self, key: str) -> bytes:
            assert key != tk(D1, unsafe), "an unsafe key must not be read"
            return super().read_bytes(key)

    storage = Refusing({tk(D1, unsafe): csv_bytes([ticket()])})
    result = ingest(storage)
    assert result.quarantine.select("object_key", "reason", "detail").rows() == [
        (tk(D1, unsafe), q.UNREADABLE_FILE, "unsafe object key: not read")
    ]
    assert not [k for k in storage.objects if k.startswith("_quarantine/")]


@pytest.mark.parametrize("name", ["empty.csv", "empty.jsonl", "empty.parquet", "empty.csv.gz"])
def test_an_empty_file_reads_as_zero_rows(name: str) -> None:
    data = gzip.compress(b"") if name.endswith(".gz") else b""
    result = ingest(MemoryStorage({tk(D1, name): data}))
    assert result.quarantine.height == 0
    assert result.files.select("rows_read", "file_error").rows() == [(0, None)]


def test_a_header_only_csv_reads_as_zero_rows() -> None:
    data = b"ticket_id,customer_id,created_at,updated_at,status,channel,category\n"
    result = ingest(MemoryStorage({tk(D1, "a.csv"): data}))
    assert result.quarantine.height == 0
    assert result.canonical.collect().height == 0
    assert result.files.select("rows_read", "file_error").rows() == [(0, None)]


def test_no_exports_in_the_range_gives_empty_typed_frames() -> None:
    result = ingest(MemoryStorage({tk(date(2026, 1, 1), "a.csv"): csv_bytes([ticket()])}))
    canonical = result.canonical.collect()
    assert canonical.height == 0
    assert canonical.schema["created_at"] == pl.Datetime("us", "UTC")
    assert result.files.height == 0
    assert result.quarantine.schema == QUARANTINE_SCHEMA


def test_ingest_all_reads_the_three_entities_and_a_local_folder(tmp_path: Path) -> None:
    files = {
        tk(D1, "t.csv"): csv_bytes([ticket()]),
        "ticket_events/export_date=2026-03-02/e.jsonl.gz": export_bytes([event()], "jsonl.gz"),
        "calls/export_date=2026-03-02/c.parquet": export_bytes([call(outcome="resolved")], "parquet"),
    }
    for key, data in files.items():
        (tmp_path / key).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / key).write_bytes(data)
    results = ingest_all(LocalStorage(tmp_path), D1, D1, run_id="r")
    assert {name: r.canonical.collect().height for name, r in results.items()} == {
        "tickets": 1,
        "ticket_events": 1,
        "calls": 1,
    }
    assert results["calls"].canonical.collect()["outcome"].to_list() == ["resolved"]
    assert results["ticket_events"].canonical.collect()["public"].to_list() == [True]


def test_a_files_own_lineage_named_columns_are_drift_and_never_lineage() -> None:
    """Spark and Glue exports often carry the partition column inside the file: it is an unknown
    column like any other (reported as drift), and lineage still comes from the object."""
    rows = [{**ticket(), "export_date": "1999-01-01", "source_key": "elsewhere"}]
    result = ingest(MemoryStorage({tk(D1, "a.csv"): csv_bytes(rows)}))
    assert result.files["schema_drift"].to_list() == [["export_date", "source_key"]]
    canonical = result.canonical.collect()
    assert canonical.select("export_date", "source_key").row(0) == (D1, tk(D1, "a.csv"))


def test_the_same_inputs_give_identical_results() -> None:
    objects = {
        tk(D2, "b.csv"): csv_bytes([ticket(status="pending"), ticket(ticket_id="T2", status="x")]),
        tk(D1, "a.jsonl"): jsonl_bytes([ticket(), ticket(ticket_id="T2")]),
    }
    first, second = ingest(MemoryStorage(objects)), ingest(MemoryStorage(dict(reversed(objects.items()))))
    assert_frame_equal(first.canonical.collect(), second.canonical.collect())
    assert_frame_equal(first.quarantine, second.quarantine)
    assert_frame_equal(first.files, second.files)


# --- reconciliation property --------------------------------------------------------------------

ROW_KINDS = {
    "good": {},
    "newer": {"updated_at": "2026-03-02T11:00:00Z", "status": "solved"},
    "bad_enum": {"status": "reopened"},
    "missing": {"customer_id": ""},
    "naive": {"created_at": "2026-03-02T09:00:00"},
    "order": {"updated_at": "2026-03-02T08:00:00Z"},
    "conflict": {"channel": "chat"},
}
row_strategy = st.tuples(st.sampled_from(sorted(ROW_KINDS)), st.sampled_from(["T1", "T2", "T3"]))
file_strategy = st.tuples(
    st.sampled_from([D1, D2]),
    st.sampled_from(["csv", "jsonl", "parquet", "csv.gz"]),
    st.lists(row_strategy, max_size=6),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(file_strategy, min_size=1, max_size=4))
def test_reconciliation_holds_for_any_mix_of_good_and_bad_rows(
    files: list[tuple[date, str, list[tuple[str, str]]]],
) -> None:
    objects = {
        tk(day, f"part-{i}.{fmt}"): export_bytes(
            [ticket(ticket_id=k, **ROW_KINDS[kind]) for kind, k in rows], fmt
        )
        for i, (day, fmt, rows) in enumerate(files)
    }
    result = ingest(MemoryStorage(objects))
    report = result.files

    read = dict(report.select("object_key", "rows_read").iter_rows())
    assert read == {tk(day, f"part-{i}.{fmt}"): len(rows) for i, (day, fmt, rows) in enumerate(files)}
    reconciled = report["rows_accepted"] + report["rows_quarantined"] + report["rows_duplicate"]
    assert (report["rows_read"] == reconciled).all()
    canonical = result.canonical.collect()
    assert report["rows_accepted"].sum() - report["rows_superseded"].sum() == canonical.height
    assert report["rows_quarantined"].sum() == result.quarantine.height
    assert canonical["ticket_id"].is_unique().all()
    accepted_keys = {k for _, _, rows in files for kind, k in rows if kind in ("good", "newer", "conflict")}
    assert set(canonical["ticket_id"]) == accepted_keys
