"""ingestion/readers.py: every format to the same all-text frame, row numbers, unreadable files."""

from __future__ import annotations

import gzip
import io
import json
from datetime import datetime, timedelta
from decimal import Decimal

import polars as pl
import pytest
from ingest_builders import csv_bytes, export_bytes, jsonl_bytes, parquet_bytes, read_in_own_process, ticket
from polars.exceptions import PanicException
from polars.testing import assert_frame_equal

from ingestion import readers
from ingestion.readers import UnreadableFile, export_format, read_export
from transforms.schemas.base import MALFORMED, SOURCE_ROW

FORMATS = ["csv", "csv.gz", "jsonl", "jsonl.gz", "parquet"]


def read(data: bytes, key: str) -> pl.DataFrame:
    return read_export(data, key).collect()


@pytest.mark.parametrize(
    ("key", "fmt"),
    [
        ("t/export_date=2026-03-02/a.csv", "csv"),
        ("t/export_date=2026-03-02/a.csv.gz", "csv.gz"),
        ("t/export_date=2026-03-02/a.jsonl", "jsonl"),
        ("t/export_date=2026-03-02/a.JSONL.GZ", "jsonl.gz"),
        ("t/export_date=2026-03-02/a.parquet", "parquet"),
        ("t/export_date=2026-03-02/a.json", None),
        ("t/export_date=2026-03-02/a.gz", None),
        ("t/export_date=2026-03-02/a.csv.zip", None),
        ("t/export_date=2026-03-02/csv", None),
    ],
)
def test_export_format_from_the_extension(key: str, fmt: str | None) -> None:
    assert export_format(key) == fmt


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_gives_the_same_text_frame(fmt: str) -> None:
    rows = [ticket(), ticket(ticket_id="T2", status="solved", csat_score="4")]
    expected = pl.DataFrame(
        {
            "source_row": [1, 2],
            **{c: [rows[0].get(c), rows[1].get(c)] for c in rows[1]},
        },
        schema={"source_row": pl.Int64, **dict.fromkeys(rows[1], pl.String)},
    )
    # JSON objects have no column order: JSONL columns come sorted.
    assert_frame_equal(read(export_bytes(rows, fmt), f"x/a.{fmt}"), expected, check_column_order=False)


def test_csv_row_number_is_the_line_number_minus_the_header_and_blank_lines_are_not_rows() -> None:
    data = b"ticket_id,status\nT1,open\n\nT3,solved\n\n\n"
    expected = pl.DataFrame({"source_row": [1, 3], "ticket_id": ["T1", "T3"], "status": ["open", "solved"]})
    assert_frame_equal(read(data, "a.csv"), expected)


@pytest.mark.parametrize("ragged", [False, True], ids=["fast reader", "record by record"])
def test_a_csv_line_of_quoted_empty_or_blank_fields_is_a_blank_line_in_either_reader(ragged: bool) -> None:
    """Every field empty (missing, `""`, only spaces) is a blank line, not a row, whichever reader
    reads the file: a record with too many fields elsewhere sends it to the record-by-record one."""
    extra = b"T9,open,surplus\n" if ragged else b""
    data = b'ticket_id,status\nT1,open\n"",""\n  ,\t\n,\n' + extra + b"T3,solved\n"
    frame = read(data, "a.csv")
    rows = frame.filter(pl.col("ticket_id").is_not_null())
    assert rows.select("source_row", "ticket_id").rows() == [(1, "T1"), (6 if ragged else 5, "T3")]
    assert frame.height == (3 if ragged else 2)  # the ragged record is one marked row


def test_jsonl_row_number_is_the_line_number() -> None:
    data = b'{"ticket_id": "T1"}\n\n{"ticket_id": "T3"}\r\n'
    expected = pl.DataFrame({"source_row": [1, 3], "ticket_id": ["T1", "T3"]})
    assert_frame_equal(read(data, "a.jsonl"), expected)


def test_jsonl_numbers_and_booleans_become_their_text_and_keys_are_unioned_and_sorted() -> None:
    data = b'{"csat_score": 4, "public": true}\n{"hold_seconds": 12.5, "public": false, "csat_score": null}\n'
    expected = pl.DataFrame(
        {
            "source_row": [1, 2],
            "csat_score": ["4", None],
            "hold_seconds": [None, "12.5"],
            "public": ["true", "false"],
        }
    )
    assert_frame_equal(read(data, "a.jsonl"), expected)


def test_jsonl_integers_beside_fractions_in_one_column_keep_their_own_text() -> None:
    """A column mixing 101 and 102.5 is typed as floats: 101 read as "101.0" (another file's 101
    reads "101", so the same id would not join) and an integer past 2**53 lost its last digit."""
    data = b'{"customer_id": 101}\n{"customer_id": 102.5}\n{"customer_id": 9007199254740993}\n'
    assert read(data, "a.jsonl")["customer_id"].to_list() == ["101", "102.5", "9007199254740993"]


def test_jsonl_with_differently_typed_nested_values_is_still_read() -> None:
    data = b'{"ticket_id": "T1", "tags": {"a": 1}}\n{"ticket_id": "T2", "tags": [1, 2]}\n'
    frame = read(data, "a.jsonl")
    assert frame.columns == ["source_row", "tags", "ticket_id"]
    assert frame["ticket_id"].to_list() == ["T1", "T2"]


def test_jsonl_fallback_splits_lines_like_the_typed_pass() -> None:
    """U+2028 may stand raw inside a JSON string; the slow path (nested types differ across lines)
    must not split a record there, or the file would be refused as malformed."""
    first = {**ticket(), "meta": {"a": 1}}
    second = {**ticket(ticket_id="T2", subject="line\u2028sep"), "meta": [1]}
    data = b"\n".join(json.dumps(r, ensure_ascii=False).encode() for r in (first, second))
    frame = read(data, "t/export_date=2026-03-02/a.jsonl")
    assert frame["source_row"].to_list() == [1, 2]
    assert frame["subject"].to_list()[1] == "line\u2028sep"


def test_parquet_zoned_timestamps_keep_their_offset_and_naive_ones_get_none() -> None:
    local = datetime(2026, 3, 2, 10, 0, 0, 250000)
    frame = pl.DataFrame(
        {"zoned": [local], "naive": [local], "n": [3], "ok": [True], "x": [2.5]}
    ).with_columns(pl.col("zoned").dt.replace_time_zone("Europe/Paris"))
    expected = pl.DataFrame(
        {
            "source_row": [1],
            "zoned": ["2026-03-02T10:00:00.250+01:00"],
            "naive": ["2026-03-02T10:00:00.250"],
            "n": ["3"],
            "ok": ["true"],
            "x": ["2.5"],
        }
    )
    actual = read(parquet_bytes(frame), "a.parquet")
    # chrono's %.f prints as many fraction digits as needed (3, 6 or 9); compare the instant.
    assert actual.drop("zoned", "naive").equals(expected.drop("zoned", "naive"))
    parsed = actual.select(
        pl.col("zoned").str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%:z"),
        pl.col("naive").str.to_datetime("%Y-%m-%dT%H:%M:%S%.f"),
    ).row(0)
    assert parsed[0] == datetime(2026, 3, 2, 9, 0, 0, 250000, tzinfo=parsed[0].tzinfo)
    assert parsed[1] == local
    assert actual["naive"][0].startswith("2026-03-02T10:00:00.25")
    assert not actual["naive"][0].endswith(("Z", "+00:00"))


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_empty_file_is_zero_rows_not_an_error(fmt: str) -> None:
    data = gzip.compress(b"") if fmt.endswith(".gz") else b""
    frame = read(data, f"a.{fmt}")
    assert frame.height == 0
    assert frame.columns == ["source_row"]


def test_a_header_only_csv_is_zero_rows_with_its_columns() -> None:
    frame = read(b"ticket_id,status\n", "a.csv")
    assert frame.height == 0
    assert frame.columns == ["source_row", "ticket_id", "status"]


def test_csv_header_names_are_trimmed_and_a_bom_is_dropped() -> None:
    frame = read(b"\xef\xbb\xbf ticket_id , status\nT1,open\n", "a.csv")
    assert frame.columns == ["source_row", "ticket_id", "status"]


@pytest.mark.parametrize(
    ("data", "key", "reason"),
    [
        (b"not gzip at all", "a.csv.gz", "corrupt_gzip"),
        # mtime=0: the parametrised id must be identical in every pytest-xdist worker.
        (gzip.compress(b"ticket_id\nT1\n", mtime=0)[:-6], "a.jsonl.gz", "corrupt_gzip"),
        (b"ticket_id,status\nT1,open\n", "a.parquet", "not_parquet"),
        (b"PAR1 and then nothing useful PAR1", "a.parquet", "not_parquet"),
        (b"ticket_id,status\nT\xe9,open\n", "a.csv", "undecodable_text"),
        (b"ticket_id,status\nT1,open,extra\n", "a.csv", "malformed_csv"),
        (b"ticket_id,ticket_id\nT1,T2\n", "a.csv", "duplicate_column"),
        # More than half of the lines unreadable: the file is not trusted at all.
        (b'{"ticket_id": "T1"}\n{"ticket_id": \n{"tick\n', "a.jsonl", "malformed_jsonl"),
        (b'{"ticket_id": "T1"}\n[1, 2]\n"text"\n', "a.jsonl", "malformed_jsonl"),
    ],
)
def test_unreadable_files_raise_with_a_reason(data: bytes, key: str, reason: str) -> None:
    with pytest.raises(UnreadableFile) as caught:
        read(data, key)
    assert caught.value.reason == reason


def test_unreadable_detail_never_quotes_file_content() -> None:
    with pytest.raises(UnreadableFile) as caught:
        read(b'{"ticket_id": "secret-customer@example.com"\n', "a.jsonl")
    assert "secret" not in str(caught.value)


def test_a_rust_panic_becomes_unreadable_file(monkeypatch: pytest.MonkeyPatch) -> None:
    def panic(data: bytes, *_: object) -> pl.DataFrame:
        raise PanicException("index out of bounds")

    monkeypatch.setitem(readers._PARSERS, "parquet", panic)
    with pytest.raises(UnreadableFile) as caught:
        read(b"whatever", "a.parquet")
    assert caught.value.reason == "reader_panic"


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt, SystemExit])
def test_interrupts_are_not_swallowed(
    monkeypatch: pytest.MonkeyPatch, interrupt: type[BaseException]
) -> None:
    def stop(data: bytes, *_: object) -> pl.DataFrame:
        raise interrupt()

    monkeypatch.setitem(readers._PARSERS, "csv", stop)
    with pytest.raises(interrupt):
        read(b"a\n1\n", "a.csv")


def test_an_unsupported_extension_is_refused() -> None:
    with pytest.raises(ValueError):
        read(csv_bytes([ticket()]), "a.xlsx")


def test_jsonl_escaped_text_is_read_as_text() -> None:
    frame = read(jsonl_bytes([{"subject": 'say "hi"\nthen go'}]), "a.jsonl")
    assert frame["subject"].to_list() == ['say "hi"\nthen go']


def test_a_short_csv_line_reads_its_missing_fields_as_empty() -> None:
    frame = read(b"ticket_id,status,channel\nT1,open\n", "a.csv")
    assert frame.rows() == [(1, "T1", "open", None)]


def test_parquet_nested_decimal_and_duration_columns_are_rendered_as_text() -> None:
    frame = pl.DataFrame(
        {
            "amount": pl.Series([Decimal("1.50"), None], dtype=pl.Decimal(10, 2)),
            "tags": [["a", "b"], None],
            "meta": [{"k": 1}, None],
            "wait": [timedelta(seconds=5), None],
        }
    )
    assert read(parquet_bytes(frame), "a.parquet").rows() == [
        (1, "1.50", '["a","b"]', '{"k":1}', '"PT5S"'),
        (2, None, None, None, None),
    ]


def test_a_truncated_jsonl_line_is_one_marked_row_and_every_other_line_is_read() -> None:
    lines = [json.dumps(ticket(ticket_id=f"T{i}")) for i in range(1, 6)]
    lines[2] = lines[2][:25]  # a record cut mid-string, as a crashed writer leaves it
    frame = read(("\n".join(lines) + "\n\n[1]\n").encode(), "a.jsonl")
    assert frame.select(SOURCE_ROW, "ticket_id", MALFORMED).rows() == [
        (1, "T1", None),
        (2, "T2", None),
        (3, None, "line 3 is not valid JSON"),
        (4, "T4", None),
        (5, "T5", None),
        (7, None, "line 7 is not a JSON object"),
    ]
    assert frame.filter(pl.col(SOURCE_ROW) == 4).row(0, named=True)["status"] == "open"


def test_the_share_of_unreadable_lines_past_which_a_file_is_rejected_is_one_half() -> None:
    good, bad = json.dumps(ticket()), '{"ticket_id": "T'
    assert read(f"{good}\n{bad}\n".encode(), "a.jsonl").height == 2  # half: kept
    with pytest.raises(UnreadableFile, match=r"2 of 3 lines unreadable \(line 2 is not valid JSON\)"):
        read(f"{good}\n{bad}\n{bad}\n".encode(), "a.jsonl")


def test_a_gzip_bomb_is_refused_in_bounded_memory(tmp_path) -> None:
    """A 1 MB .csv.gz that expands to 1 GB: quarantined as `decompression_limit`, and the
    reading process's peak RSS stays far below what holding it would take (measured there)."""
    import zlib

    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    bomb = tmp_path / "bomb.csv.gz"
    with bomb.open("wb") as out:
        out.write(packer.compress(b"ticket_id,status\n"))
        block = b"T1,open\n" * (1024 * 128)  # 1 MB of rows, 1024 times: never held whole
        for _ in range(1024):
            out.write(packer.compress(block))
        out.write(packer.flush())
    assert bomb.stat().st_size < 4 * 1024**2
    reason, grown_mb = read_in_own_process(bomb, "tickets/export_date=2026-03-02/bomb.csv.gz")
    assert reason == "decompression_limit"
    # Growth is bounded by the cap (200x the 1.5 MB file: 0.3 GB), not by the 1 GB it expands to.
    assert grown_mb < 450


def test_a_csv_line_with_too_many_fields_is_one_marked_row_and_the_rest_is_read() -> None:
    data = b'ticket_id,status\nT1,open\n\nT2,open,extra\nT3,say "hi"\n'
    frame = read(data, "a.csv")
    assert frame.select(SOURCE_ROW, "ticket_id", "status", MALFORMED).rows() == [
        (1, "T1", "open", None),
        (3, None, None, "line 4: 3 fields, the header has 2"),
        (4, "T3", 'say "hi"', None),  # a quote inside an unquoted field is text, as csv reads it
    ]


def test_cr_only_line_endings_are_lines() -> None:
    frame = read(b"ticket_id,status\rT1,open\rT2,solved\r", "a.csv")
    assert frame.select(SOURCE_ROW, "ticket_id", "status").rows() == [(1, "T1", "open"), (2, "T2", "solved")]


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_a_file_column_named_like_the_row_number_is_drift_not_a_broken_file(fmt: str) -> None:
    rows = [ticket() | {"source_row": "7"}]
    frame = read(export_bytes(rows, fmt), f"a.{fmt}")
    assert frame[SOURCE_ROW].to_list() == [1]
    assert frame["source_row (a file column)"].to_list() == ["7"]


def test_a_parquet_file_repeating_a_column_is_duplicate_column() -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    pq.write_table(pa.table([pa.array(["T1"]), pa.array(["T2"])], names=["ticket_id", "ticket_id"]), buffer)
    with pytest.raises(UnreadableFile) as caught:
        read(buffer.getvalue(), "a.parquet")
    assert caught.value.reason == "duplicate_column"
