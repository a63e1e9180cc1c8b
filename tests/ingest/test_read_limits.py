"""Read limits (configs/limits.py): an object past one is refused whole, with its own reason,
before it is parsed; each limit is a setting."""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys
from datetime import date

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st
from ingest_builders import MemoryStorage, csv_bytes, jsonl_bytes, read_in_own_process, ticket

from configs.limits import ReadLimits, TimestampBounds
from configs.settings import load_settings
from ingestion import readers
from ingestion.ingest import ExportObject, ingest_entity, load_export
from ingestion.readers import UnreadableFile, json_depth, read_export
from transforms.schemas import TICKETS
from transforms.schemas import quarantine as q

KIB = 1024
SMALL = ReadLimits(max_line_bytes=2 * KIB, max_field_bytes=1 * KIB, max_nesting_depth=4)


def read(data: bytes, key: str, limits: ReadLimits = SMALL) -> pl.DataFrame:
    return read_export(data, key, limits=limits).collect()


def refused(data: bytes, key: str, limits: ReadLimits = SMALL) -> UnreadableFile:
    with pytest.raises(UnreadableFile) as caught:
        read(data, key, limits)
    return caught.value


# --- line length ------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "csv.gz", "jsonl.gz"])
def test_a_line_one_byte_past_the_limit_refuses_the_file_and_names_the_line(fmt: str) -> None:
    """File line 3 is brought to exactly the limit (read), then one byte past it (refused)."""
    rows = [ticket(ticket_id=f"T{i}", subject="") for i in range(5)]
    row = 1 if fmt.startswith("csv") else 2  # CSV line 1 is the header
    limits = SMALL.model_copy(update={"max_field_bytes": SMALL.max_line_bytes})
    key = f"tickets/export_date=2026-03-02/a.{fmt}"

    def export(subject_bytes: int) -> bytes:
        rows[row]["subject"] = "s" * subject_bytes
        data = csv_bytes(rows) if fmt.startswith("csv") else jsonl_bytes(rows)
        return data

    one_byte = export(1).split(b"\n")[2]  # (an empty value is written as "" in CSV)
    filler = SMALL.max_line_bytes - len(one_byte) + 1
    exact = export(filler)
    assert len(exact.split(b"\n")[2]) == SMALL.max_line_bytes
    pack = gzip.compress if fmt.endswith(".gz") else (lambda b: b)
    assert read(pack(exact), key, limits).height == 5
    error = refused(pack(export(filler + 1)), key, limits)
    assert (error.reason, error.detail) == ("line_too_long", f"line 3 is longer than {2 * KIB} bytes")


@given(
    lines=st.lists(
        st.tuples(st.integers(0, 300), st.sampled_from([b"\n", b"\r\n"])), min_size=1, max_size=40
    ),
    last_ends=st.booleans(),
    cap=st.integers(1, 300),
    step=st.integers(1, 64),
)
def test_the_chunked_line_scan_names_the_first_line_past_the_cap(
    lines: list[tuple[int, bytes]], last_ends: bool, cap: int, step: int
) -> None:
    """Whatever the step (so lines, and a CRLF, cross step boundaries in every way) and the line
    breaks (LF or CRLF, not counted; the last line with or without one), the scan refuses
    exactly when some line is longer than the cap, and names the first such line."""
    lengths = [n for n, _ in lines]
    data = b"".join(b"a" * n + end for n, end in lines)
    if not last_ends:
        data = data.removesuffix(lines[-1][1])
    limits = ReadLimits.model_construct(max_line_bytes=cap)
    original = readers._SCAN_STEP
    readers._SCAN_STEP = step
    try:
        first_over = next((i + 1 for i, n in enumerate(lengths) if n > cap), None)
        if first_over is None:
            readers._refuse_long_lines(data, limits)
        else:
            with pytest.raises(UnreadableFile) as caught:
                readers._refuse_long_lines(data, limits)
            assert caught.value.detail == f"line {first_over} is longer than {cap} bytes"
    finally:
        readers._SCAN_STEP = original


def test_a_file_that_is_one_line_with_no_newline_is_measured_too() -> None:
    error = refused(b"x" * (3 * KIB), "tickets/export_date=2026-03-02/a.jsonl")
    assert error.reason == "line_too_long"


# --- value length -----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_a_value_past_the_field_limit_refuses_the_file(fmt: str) -> None:
    rows = [ticket(), ticket(ticket_id="T2", subject="s" * (KIB + 1))]
    if fmt == "csv":
        data = csv_bytes(rows)
    elif fmt == "jsonl":
        data = jsonl_bytes(rows)
    else:
        buffer = io.BytesIO()
        pl.DataFrame(rows).write_parquet(buffer)
        data = buffer.getvalue()
    error = refused(data, f"tickets/export_date=2026-03-02/a.{fmt}")
    assert error.reason == "field_too_long"
    assert "'subject'" in error.detail
    rows[1]["subject"] = "s" * KIB  # exactly the limit
    ok = csv_bytes(rows) if fmt == "csv" else jsonl_bytes(rows) if fmt == "jsonl" else None
    if ok is not None:
        assert read(ok, f"tickets/export_date=2026-03-02/a.{fmt}").height == 2


def test_the_csv_record_reader_applies_the_field_limit_too() -> None:
    """A record with too many fields sends a CSV to Python's csv module; its own limit is the
    setting, so the reason is the same as on the fast path."""
    data = b"ticket_id,subject\nT1,a,extra\nT2," + b"s" * (KIB + 1) + b"\n"
    error = refused(data, "tickets/export_date=2026-03-02/a.csv")
    assert error.reason == "field_too_long"


# --- nesting ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ('{"a": 1}', 1),
        ('{"a": [1, {"b": []}]}', 4),
        ('{"a": "[[[[{{{{"}', 1),  # brackets inside a string do not nest
        ('{"a": "\\"[[[[", "b": [[]]}', 3),  # nor after an escaped quote
        ("[[[[", 4),  # not valid JSON: still measured
    ],
)
def test_json_depth_counts_arrays_and_objects_outside_strings(text: str, depth: int) -> None:
    assert json_depth(text) == depth


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='ab"\\[]{}', max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=20,
)


def depth_of(value: object) -> int:
    if isinstance(value, list):
        return 1 + max((depth_of(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((depth_of(v) for v in value.values()), default=0)
    return 0


@given(json_values)
def test_json_depth_agrees_with_the_parsed_structure(value: object) -> None:
    assert json_depth(json.dumps(value)) == depth_of(value)


def test_a_line_nested_past_the_limit_refuses_the_file_and_one_at_the_limit_is_read() -> None:
    key = "tickets/export_date=2026-03-02/a.jsonl"
    at_limit = {**ticket(), "extra": [[["x"]]]}  # object + 3 arrays = 4 levels
    past = {**ticket(ticket_id="T2"), "extra": [[[["x"]]]]}
    assert read(jsonl_bytes([at_limit]), key).height == 1
    error = refused(jsonl_bytes([at_limit, past]), key)
    assert (error.reason, error.detail) == ("nesting_too_deep", "line 2 nests deeper than 4 levels")
    # Many brackets in a text value are not nesting: the exact scan clears the line.
    assert read(jsonl_bytes([{**ticket(), "subject": "{[" * 50}]), key).height == 1


def test_very_deep_nesting_is_refused_before_a_parser_sees_it() -> None:
    """Polars' JSON reader takes minutes on a line nested 1,000 deep: the limit refuses it at
    once (a bounded subprocess, so a regression fails instead of hanging the suite)."""
    code = (
        "from ingestion.readers import UnreadableFile, read_export\n"
        "line = b'{\"a\":' + b'[' * 1000 + b']' * 1000 + b'}\\n'\n"
        "try:\n"
        "    read_export(line * 3, 'tickets/export_date=2026-03-02/a.jsonl').collect()\n"
        "except UnreadableFile as exc:\n"
        "    print(exc.reason)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "nesting_too_deep"


def test_parquet_types_nested_past_the_limit_are_refused() -> None:
    nested = pa.array([[[[1]]]], type=pa.list_(pa.list_(pa.list_(pa.int64()))))  # row + 3 lists
    table = pa.table({"ticket_id": ["T1"], "extra": nested})
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    key = "tickets/export_date=2026-03-02/a.parquet"
    assert read(buffer.getvalue(), key).height == 1
    error = refused(buffer.getvalue(), key, SMALL.model_copy(update={"max_nesting_depth": 3}))
    assert error.reason == "nesting_too_deep"


# --- sizes ------------------------------------------------------------------------------------


def test_a_parquet_file_whose_pages_expand_past_the_limit_is_refused_from_its_footer() -> None:
    """Two million equal rows compress to 8 KB of run-length encoded pages of 138 bytes each;
    decoded they take at least 2M x 2 columns x 8 bytes = 32 MB: past a 2 MiB limit, refused
    before decoding (the footer's page sizes alone would let it through)."""
    buffer = io.BytesIO()
    pl.DataFrame({"ticket_id": ["T1"] * 2_000_000, "n": [0] * 2_000_000}).write_parquet(
        buffer, compression="zstd"
    )
    data = buffer.getvalue()
    assert len(data) < 100 * KIB
    limits = ReadLimits(max_decompressed_bytes=2 * KIB * KIB, ratio_floor_bytes=0)
    error = refused(data, "tickets/export_date=2026-03-02/a.parquet", limits)
    assert error.reason == "decompression_limit"
    assert error.detail.startswith("2000000 rows of 2 columns decode to at least 32000000 bytes")


def test_an_object_larger_than_the_limit_is_not_read_at_all() -> None:
    class Unreadable(MemoryStorage):
        def read_bytes(self, key: str) -> bytes:
            raise AssertionError("an oversized object must not be read")

    key = "tickets/export_date=2026-03-02/big.csv"
    obj = ExportObject("tickets", key, "etag", 3 * 1024**2, date(2026, 3, 2), "csv", True)
    loaded = load_export(Unreadable({key: b""}), obj, TICKETS, ReadLimits(max_decompressed_bytes=2 * 1024**2))
    assert loaded.error is not None
    assert loaded.error.reason == q.INPUT_LIMIT
    assert loaded.error.detail.startswith("object_too_large: 3145728 bytes")
    assert loaded.data is None


def test_a_file_past_a_limit_is_quarantined_whole_with_its_reason_and_counted() -> None:
    """Through ingest: the refused file is one quarantine record (exceeds_input_limit, the
    limit named in the detail), its bytes are copied to the quarantine, and the file next to it
    is read as usual."""
    from configs.limits import InputRules

    good = jsonl_bytes([ticket()])
    deep = jsonl_bytes([{**ticket(ticket_id="T2"), "extra": [[[[[1]]]]]}])
    storage = MemoryStorage(
        {
            "tickets/export_date=2026-03-02/a.jsonl": good,
            "tickets/export_date=2026-03-02/b.jsonl": deep,
        }
    )
    rules = InputRules(read_limits=SMALL)
    result = ingest_entity(storage, TICKETS, date(2026, 3, 2), date(2026, 3, 2), rules=rules, run_id="r")
    record = result.quarantine.row(0, named=True)
    assert (record["object_key"], record["reason"], record["row_number"]) == (
        "tickets/export_date=2026-03-02/b.jsonl",
        q.INPUT_LIMIT,
        None,
    )
    assert record["detail"].startswith("nesting_too_deep: line 1")
    assert result.canonical.collect()["ticket_id"].to_list() == ["T1"]
    assert storage.objects["_quarantine/tickets/export_date=2026-03-02/b.jsonl"] == deep


# --- settings ---------------------------------------------------------------------------------


def test_every_limit_and_bound_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUDIT_READ_LIMITS__MAX_LINE_BYTES", "4096")
    monkeypatch.setenv("AUDIT_READ_LIMITS__MAX_MALFORMED_SHARE", "0.9")
    monkeypatch.setenv("AUDIT_TIMESTAMP_BOUNDS__EARLIEST", "2010-01-01T00:00:00+02:00")
    settings = load_settings()
    rules = settings.input_rules()
    assert rules.read_limits.max_line_bytes == 4096
    assert rules.read_limits.max_malformed_share == 0.9
    assert rules.read_limits.max_field_bytes == ReadLimits().max_field_bytes  # base.toml's default
    assert rules.timestamp_bounds.earliest.isoformat() == "2009-12-31T22:00:00+00:00"
    assert rules.timestamp_bounds.latest_days_after_export == 1


def test_a_bound_without_an_offset_is_refused() -> None:
    with pytest.raises(ValueError, match="needs a UTC offset"):
        TimestampBounds(earliest="2000-01-01T00:00:00")  # type: ignore[arg-type]


def test_the_share_of_bad_lines_a_file_may_hold_is_a_setting() -> None:
    good, bad = json.dumps(ticket()), '{"ticket_id": "T'
    data = f"{good}\n{bad}\n{bad}\n".encode()
    key = "tickets/export_date=2026-03-02/a.jsonl"
    assert refused(data, key, ReadLimits()).reason == "malformed_jsonl"
    frame = read(data, key, ReadLimits(max_malformed_share=0.7))
    assert frame.height == 3  # one row and two marked lines, quarantined one by one


def test_the_defaults_in_base_toml_are_the_models_defaults() -> None:
    """configs/base.toml documents the defaults: they must be the ones that apply."""
    settings = load_settings()
    assert settings.read_limits == ReadLimits()
    assert settings.timestamp_bounds == TimestampBounds()


def test_a_huge_line_is_refused_in_bounded_memory(tmp_path) -> None:
    """A JSONL object whose one line holds a 256 MB value: refused as `line_too_long` while the
    process grows by a fraction of the line (the UTF-8 check and the line scan work in 16 MiB
    steps); decoding or parsing it would take its size again or more. Measured in a process of
    its own, which reads the file with one allocation."""
    path = tmp_path / "huge.jsonl"
    with path.open("wb") as out:
        out.write(b'{"ticket_id": "')
        for _ in range(256):
            out.write(b"x" * 1024**2)
        out.write(b'"}\n')
    reason, grown_mb = read_in_own_process(path, "tickets/export_date=2026-03-02/a.jsonl")
    assert reason == "line_too_long"
    assert grown_mb < 64
