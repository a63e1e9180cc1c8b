"""The one place an export object's bytes become a raw LazyFrame.

Every value comes out as text (String), whatever the format stored it as, so staging
(transforms/staging.py) applies one set of casting and validation rules to all formats.
Ingestion asks for typed Parquet columns instead (`keep_types`): staging passes the ones typed
as the contract types them through with the same checks, which is what makes large ranges fast.
A 1-based `source_row` numbers the data rows so a quarantine record points at a line:
CSV row N is file line N + 1 (the header is line 1; a quoted value spanning lines shifts
this), JSONL row N is line N, Parquet row N is the N-th row. Blank lines are not rows.

Unreadable input raises `UnreadableFile`; its `detail` never quotes file content, because
parser messages echo raw values and raw values may be personal data.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import zlib
from collections.abc import Callable

import polars as pl

from configs.limits import ReadLimits
from transforms.schemas.base import MALFORMED, SOURCE_ROW


def is_rust_panic(exc: BaseException) -> bool:
    """Polars and delta-rs surface a Rust panic as pyo3's `PanicException`, a BaseException."""
    return type(exc).__name__ == "PanicException"


# Longest suffix first: "x.csv.gz" is csv.gz, not gz.
FORMATS = ("csv.gz", "jsonl.gz", "parquet", "csv", "jsonl")

_UTF8_BOM = b"\xef\xbb\xbf"
_TZ_FORMAT = "%Y-%m-%dT%H:%M:%S%.f%:z"
_NAIVE_FORMAT = "%Y-%m-%dT%H:%M:%S%.f"
_DUPLICATE_SUFFIX = "_duplicated_"  # how polars renames a repeated CSV header
_STEP = 16 * 1024**2  # bytes per step of decompressing and of checking UTF-8
_SCAN_STEP = 1024**2  # bytes per step of the line scan (its newline positions: 8 bytes each)
# Past a read limit (configs/limits.py): the object is refused before it is parsed.
LIMIT_REASONS = frozenset(
    {"decompression_limit", "object_too_large", "line_too_long", "field_too_long", "nesting_too_deep"}
)


class UnreadableFile(Exception):
    """A whole export object could not be read; it is quarantined as a file.

    `reason` is a short stable code: corrupt_gzip, not_parquet, undecodable_text,
    malformed_csv, malformed_jsonl, duplicate_column, unsupported_column_type, reader_panic, or
    one of `LIMIT_REASONS` (a read limit passed); `detail` says what failed without quoting
    content.
    """

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def export_format(key: str) -> str | None:
    """The export format named by the key's extension (case-insensitive), or None."""
    name = key.rsplit("/", 1)[-1].lower()
    return next((fmt for fmt in FORMATS if name.endswith("." + fmt)), None)


def read_export(
    data: bytes, key: str, *, keep_types: bool = False, limits: ReadLimits | None = None
) -> pl.LazyFrame:
    """Parse one export object into all-String columns plus `source_row` (Int64).

    With `keep_types`, Parquet columns typed as date-time, integer, float, boolean or string
    stay typed (staging passes the ones matching the contract through without a text round
    trip, and ingest renders the others with `as_text`); every other type is text as usual.
    `limits` (default: `ReadLimits()`) are checked before the bytes are parsed, except the
    length of a value, checked on the parsed columns.

    Raises:
        UnreadableFile: the bytes are not a readable file of the key's format.
        ValueError: the key's extension is not a supported format (callers check first).
    """
    fmt = export_format(key)
    if fmt is None:
        raise ValueError(f"unsupported export format: {key}")
    limits = limits or ReadLimits()
    if fmt.endswith(".gz"):
        data = gunzip(data, limits)
    elif len(data) > limits.max_decompressed_bytes:
        raise UnreadableFile(
            "object_too_large", f"{len(data)} bytes; the limit is {limits.max_decompressed_bytes}"
        )
    parse = _PARSERS[fmt.removesuffix(".gz")]
    try:
        frame = parse(data, limits, keep_types and fmt == "parquet")
        _refuse_long_values(frame, limits)
    except UnreadableFile:
        raise
    except (KeyboardInterrupt, SystemExit, GeneratorExit, MemoryError):
        raise
    except BaseException as exc:  # a Rust panic is a BaseException (pyo3 PanicException)
        if is_rust_panic(exc):
            raise UnreadableFile("reader_panic", f"the {fmt} reader panicked") from exc
        raise UnreadableFile(_FAILURE_REASON[fmt], f"{fmt} parser rejected the file") from exc
    return frame.lazy()


def gunzip(data: bytes, limits: ReadLimits) -> bytes:
    """Decompress in bounded steps: an object that expands past `limits.expansion_limit` is
    refused before it is held whole (a gzip bomb), with the reason `decompression_limit`."""
    if not data:
        return b""
    limit = limits.expansion_limit(len(data))
    out, total, rest = [], 0, data
    stream = zlib.decompressobj(wbits=31)  # gzip framing
    try:
        while True:
            chunk = stream.decompress(rest, _STEP)
            total += len(chunk)
            if total > limit:
                raise UnreadableFile(
                    "decompression_limit",
                    f"expands past {limit} bytes ({len(data)} compressed; limits: "
                    f"{limits.max_decompressed_bytes} bytes, {limits.max_compression_ratio:g}x the "
                    "compressed size)",
                )
            out.append(chunk)
            rest = stream.unconsumed_tail
            if stream.eof:
                if not stream.unused_data:
                    break
                rest, stream = stream.unused_data, zlib.decompressobj(wbits=31)  # the next member
            elif not rest and not chunk:
                raise EOFError("the gzip stream ends early")
    except (OSError, EOFError, zlib.error) as exc:
        raise UnreadableFile(
            "corrupt_gzip", f"gzip stream cannot be decompressed ({type(exc).__name__})"
        ) from exc
    return b"".join(out)


def _is_blank(data: bytes) -> bool:
    return not data or data.isspace()  # (strip() would copy the whole file)


def _empty() -> pl.DataFrame:
    return pl.DataFrame(schema={SOURCE_ROW: pl.Int64()})


def _text(data: bytes) -> bytes:
    """Drop a UTF-8 byte-order mark and refuse bytes that are not UTF-8 (checked in steps, so
    the check never holds a decoded copy of the whole file)."""
    data = data.removeprefix(_UTF8_BOM)
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(data)
    offset = 0
    try:
        for offset in range(0, len(data), _STEP):
            decoder.decode(view[offset : offset + _STEP], final=offset + _STEP >= len(data))
    except UnicodeDecodeError as exc:
        raise UnreadableFile("undecodable_text", f"not UTF-8 (byte offset {offset + exc.start})") from exc
    return data


def _with_row_numbers(frame: pl.DataFrame, first: int = 1) -> pl.DataFrame:
    return frame.with_row_index(SOURCE_ROW, offset=first).with_columns(pl.col(SOURCE_ROW).cast(pl.Int64))


def _drop_blank_rows(frame: pl.DataFrame) -> pl.DataFrame:
    """Rows whose every field is empty (missing, `""` or only spaces: each counts as missing)
    are blank lines, not rows: `,,` and `"",""` alike, in the fast and the slow reader."""
    data_columns = [c for c in frame.columns if c != SOURCE_ROW]
    if not data_columns:
        return frame
    empty = [pl.col(c).is_null() | (pl.col(c).str.strip_chars() == "") for c in data_columns]
    return frame.filter(~pl.all_horizontal(empty))


def _read_csv(data: bytes, limits: ReadLimits, keep_types: bool = False) -> pl.DataFrame:
    data = _text(data)
    if _is_blank(data):
        return _empty()
    if b"\n" not in data:  # old Mac line endings: CR alone ends a line
        data = data.replace(b"\r", b"\n")
    _refuse_long_lines(data, limits)
    try:
        frame = pl.read_csv(io.BytesIO(data), infer_schema=False, raise_if_empty=False)
    except pl.exceptions.PolarsError:
        # A line with more fields than the header, or quoting the fast reader refuses: record by
        # record with Python's csv module, keeping every readable record.
        return _read_csv_records(data, limits)
    frame.columns = _header(frame.columns)
    return _drop_blank_rows(_with_row_numbers(_without_reserved(frame)))


def _header(columns: list[str]) -> list[str]:
    names = [c.strip() for c in columns]
    if len(set(names)) != len(names) or any(
        _DUPLICATE_SUFFIX in c and c.split(_DUPLICATE_SUFFIX)[0] in names for c in names
    ):
        raise UnreadableFile("duplicate_column", "the header names a column more than once")
    return names


def _read_csv_records(data: bytes, limits: ReadLimits) -> pl.DataFrame:
    """The slow path: Python's csv module, record by record. A record with more fields than
    the header becomes a row marked `MALFORMED`; one with fewer reads its missing fields as
    empty, as the fast path does. A value longer than `limits.max_field_bytes`, a NUL byte, or
    more than `limits.max_malformed_share` bad records rejects the file."""
    # csv counts characters, the limit bytes: a value past it in characters is past it in bytes.
    csv.field_size_limit(limits.max_field_bytes)
    reader = csv.reader(io.StringIO(data.decode("utf-8"), newline=""))
    try:
        names = _header(next(reader))
        values: dict[str, list[str | None]] = {name: [] for name in names}
        numbers, bad = [], []
        for number, record in enumerate(reader, start=1):  # numbered as the fast path numbers rows
            if not any(field.strip() for field in record):  # a blank line (`_drop_blank_rows`)
                continue
            if len(record) > len(names):
                bad.append(
                    (number, f"line {reader.line_num}: {len(record)} fields, the header has {len(names)}")
                )
                continue
            for name, value in zip(names, record + [""] * (len(names) - len(record)), strict=True):
                values[name].append(value or None)
            numbers.append(number)
    except csv.Error as exc:
        if "field larger than field limit" in str(exc):
            raise UnreadableFile(
                "field_too_long",
                f"line {reader.line_num}: a value is longer than {limits.max_field_bytes} bytes",
            ) from exc
        raise UnreadableFile("malformed_csv", f"line {reader.line_num}: {type(exc).__name__}") from exc
    _refuse_mostly_unreadable(bad, len(numbers), "malformed_csv", "records", limits)
    rows = _without_reserved(pl.DataFrame(values, schema=dict.fromkeys(names, pl.String())))
    rows = rows.select(pl.Series(SOURCE_ROW, numbers, dtype=pl.Int64), pl.all())
    return _with_malformed(rows, bad)


def _without_reserved(frame: pl.DataFrame) -> pl.DataFrame:
    """A file column named like a column the reader adds (`source_row`, the malformed mark) is
    renamed, so it is reported as schema drift instead of breaking the file."""
    reserved = {c: f"{c} (a file column)" for c in frame.columns if c in (SOURCE_ROW, MALFORMED)}
    return frame.rename(reserved) if reserved else frame


def _refuse_mostly_unreadable(
    bad: list[tuple[int, str]], readable: int, reason: str, unit: str, limits: ReadLimits
) -> None:
    """A file with more than `limits.max_malformed_share` of its lines unreadable is rejected whole."""
    if bad and len(bad) > limits.max_malformed_share * (len(bad) + readable):
        raise UnreadableFile(reason, f"{len(bad)} of {len(bad) + readable} {unit} unreadable ({bad[0][1]})")


def _with_malformed(rows: pl.DataFrame, bad: list[tuple[int, str]]) -> pl.DataFrame:
    """`rows` plus one row per unreadable line (its number and why), in line order."""
    if not bad:
        return rows
    marked = pl.DataFrame(
        {SOURCE_ROW: [n for n, _ in bad], MALFORMED: [d for _, d in bad]},
        schema={SOURCE_ROW: pl.Int64(), MALFORMED: pl.String()},
    )
    return pl.concat([rows, marked], how="diagonal").sort(SOURCE_ROW)


def _read_jsonl(data: bytes, limits: ReadLimits, keep_types: bool = False) -> pl.DataFrame:
    data = _text(data)
    if _is_blank(data):
        return _empty()
    _refuse_long_lines(data, limits)
    # One Arrow string column, not a Python string per line (~80 bytes of overhead each).
    lines = pl.Series([data.decode("utf-8")], dtype=pl.String).str.split("\n").explode()
    _refuse_deep_nesting(lines, limits)
    line_numbers = (lines.str.strip_chars().str.len_bytes() > 0).arg_true().cast(pl.Int64) + 1
    try:  # one typed pass over every line, rendered back to text below
        frame = pl.read_ndjson(io.BytesIO(data), infer_schema_length=None)
    except pl.exceptions.PolarsError:
        # A line that is not a JSON object (a record cut mid-string by a crashed writer), or a
        # nested value typed differently across lines: line by line, keeping every good line.
        return _read_jsonl_lines(lines, limits)
    if frame.height != line_numbers.len():
        raise UnreadableFile("malformed_jsonl", "record count does not match the non-blank line count")
    floats = {name: pl.String() for name, dtype in frame.schema.items() if dtype == pl.Float64}
    if floats:  # a column mixing 101 and 102.5 is typed Float64, where 101 would read "101.0" and
        # an integer past 2**53 lose digits: such columns (only) are read again as their text
        frame = frame.with_columns(pl.read_ndjson(io.BytesIO(data), schema=floats))
    # JSON objects have no column order: sorted, so the same records always give the same frame.
    frame = _without_reserved(frame)
    text = [as_text(name, frame.schema[name]) for name in sorted(frame.columns)]
    return frame.select(line_numbers.alias(SOURCE_ROW), *text)


def _read_jsonl_lines(lines: pl.Series, limits: ReadLimits) -> pl.DataFrame:
    """The slow path: each of `_read_jsonl`'s lines parsed on its own. A line that is not a JSON
    object becomes a row marked `MALFORMED` (quarantined as `malformed_row` with its line
    number); the file is rejected whole only when more than `limits.max_malformed_share` of its
    lines are such."""
    good, numbers, bad = [], [], []
    keys: dict[str, None] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            bad.append((number, f"line {number} is not valid JSON"))
            continue
        if not isinstance(record, dict):
            bad.append((number, f"line {number} is not a JSON object"))
            continue
        keys.update(dict.fromkeys(record))
        good.append(line)
        numbers.append(number)
    _refuse_mostly_unreadable(bad, len(good), "malformed_jsonl", "lines", limits)
    schema = dict.fromkeys(sorted(keys), pl.String())
    frame = (
        pl.read_ndjson(io.BytesIO("\n".join(good).encode()), schema=schema)
        if good
        else pl.DataFrame(schema=schema)
    )
    rows = _without_reserved(frame).select(pl.Series(SOURCE_ROW, numbers, dtype=pl.Int64), pl.all())
    return _with_malformed(rows, bad)


def _read_parquet(data: bytes, limits: ReadLimits, keep_types: bool = False) -> pl.DataFrame:
    if _is_blank(data):
        return _empty()
    _refuse_large_parquet(data, limits)
    try:
        frame = _without_reserved(pl.read_parquet(io.BytesIO(data)))
    except pl.exceptions.PolarsError:
        _refuse_repeated_parquet_columns(data)
        raise
    try:
        text = frame.select(
            [
                pl.col(name) if keep_types and is_plain_type(dtype) else as_text(name, dtype)
                for name, dtype in frame.schema.items()
            ]
        )
    except pl.exceptions.PolarsError as exc:
        raise UnreadableFile(
            "unsupported_column_type", "a Parquet column cannot be rendered as text"
        ) from exc
    return _with_row_numbers(text)


def _type_depth(dtype: object) -> int:
    """Levels of lists, maps and structs in an Arrow type (0 for a plain value)."""
    import pyarrow as pa

    if isinstance(dtype, pa.StructType):
        return 1 + max((_type_depth(dtype.field(i).type) for i in range(dtype.num_fields)), default=0)
    if isinstance(dtype, pa.MapType):
        return 1 + max(_type_depth(dtype.key_type), _type_depth(dtype.item_type))
    if isinstance(dtype, pa.ListType | pa.LargeListType | pa.FixedSizeListType):
        return 1 + _type_depth(dtype.value_type)
    return 0


# --- read limits ------------------------------------------------------------------------------


def _refuse_long_lines(data: bytes, limits: ReadLimits) -> None:
    """`line_too_long` when a line passes `limits.max_line_bytes` (its line break, LF or CRLF,
    not counted), found in steps of `_SCAN_STEP` bytes before anything splits or parses the
    text (memory: a few copies of one step's newline positions)."""
    import numpy as np  # here, not at the top: every `audit` command imports this module

    cap, view = limits.max_line_bytes, np.frombuffer(data, dtype=np.uint8)
    line_start, line_number = 0, 1
    for offset in range(0, len(view), _SCAN_STEP):
        ends = np.flatnonzero(view[offset : offset + _SCAN_STEP] == 0x0A) + offset
        if ends.size:
            lengths = np.diff(ends, prepend=line_start - 1) - 1  # newline excluded
            lengths -= (view[np.maximum(ends - 1, 0)] == 0x0D) & (ends > 0)  # and a CR before it
            over = np.flatnonzero(lengths > cap)
            if over.size:
                _line_too_long(line_number + int(over[0]), cap)
            line_start, line_number = int(ends[-1]) + 1, line_number + ends.size
        if min(offset + _SCAN_STEP, len(view)) - line_start > cap + 1:  # the open line (a CR may end it)
            _line_too_long(line_number, cap)
    if len(view) - line_start - (len(view) > line_start and view[-1] == 0x0D) > cap:
        _line_too_long(line_number, cap)


def _line_too_long(number: int, cap: int) -> None:
    raise UnreadableFile("line_too_long", f"line {number} is longer than {cap} bytes")


def _refuse_deep_nesting(lines: pl.Series, limits: ReadLimits) -> None:
    """`nesting_too_deep` when a JSON line nests arrays and objects past
    `limits.max_nesting_depth` (a JSON parser recurses once per level: very deep input hangs or
    overflows it). Counting opening brackets bounds the depth cheaply; only a line with more of
    them than the limit is scanned exactly."""
    cap = limits.max_nesting_depth

    def opening(text: pl.Series) -> pl.Series:
        return text.str.count_matches("{", literal=True) + text.str.count_matches("[", literal=True)

    suspects = (opening(lines) > cap).arg_true()
    if suspects.is_empty():
        return
    # Brackets inside strings (text fields) are no nesting: drop the strings, count again.
    unquoted = lines.gather(suspects).str.replace_all(r'"(?:[^"\\]|\\.)*"', '""')
    for index in suspects.filter(opening(unquoted) > cap).to_list():
        if json_depth(lines[index]) > cap:
            raise UnreadableFile("nesting_too_deep", f"line {index + 1} nests deeper than {cap} levels")


def json_depth(text: str) -> int:
    """The deepest nesting of arrays and objects in one JSON text (brackets inside strings do
    not count); the text need not be valid JSON."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth = max(depth - 1, 0)
    return deepest


def _refuse_long_values(frame: pl.DataFrame, limits: ReadLimits) -> None:
    """`field_too_long` when a text value passes `limits.max_field_bytes`."""
    text = [name for name, dtype in frame.schema.items() if dtype == pl.String()]
    if not text or frame.is_empty():
        return
    longest = frame.select(pl.col(text).str.len_bytes().max()).row(0)
    for name, length in zip(text, longest, strict=True):
        if length is not None and length > limits.max_field_bytes:
            raise UnreadableFile(
                "field_too_long", f"a value of column {name!r} is longer than {limits.max_field_bytes} bytes"
            )


def _refuse_large_parquet(data: bytes, limits: ReadLimits) -> None:
    """A Parquet file expands too: refuse one whose decoded size (a lower bound from its footer)
    passes `limits.expansion_limit`, or whose types nest past `limits.max_nesting_depth`, before
    it is decoded. Not bounded: a long dictionary value repeated on many rows."""
    import pyarrow.parquet as pq

    try:
        meta = pq.ParquetFile(io.BytesIO(data)).metadata
    except Exception:  # not Parquet: polars gives the reason
        return
    # Dictionary and run-length encoding keep pages small whatever they decode to: every value
    # decodes to at least 8 bytes (or its offset), so rows x columns x 8 bounds it from below.
    pages = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    size = max(pages, meta.num_rows * meta.num_columns * 8)
    limit = limits.expansion_limit(len(data))
    if size > limit:
        raise UnreadableFile(
            "decompression_limit",
            f"{meta.num_rows} rows of {meta.num_columns} columns decode to at least {size} bytes "
            f"({len(data)} stored); the limit is {limit}",
        )
    depth = 1 + max((_type_depth(f.type) for f in meta.schema.to_arrow_schema()), default=0)
    if depth > limits.max_nesting_depth:
        raise UnreadableFile(
            "nesting_too_deep", f"a column nests {depth} levels; the limit is {limits.max_nesting_depth}"
        )


def _refuse_repeated_parquet_columns(data: bytes) -> None:
    """A Parquet file Polars refuses because a column name repeats is `duplicate_column`, like
    a CSV header that repeats one, not `not_parquet`."""
    import pyarrow.parquet as pq

    try:
        names = pq.read_schema(io.BytesIO(data)).names
    except Exception:  # not Parquet at all: the caller's reason stands
        return
    if len(set(names)) != len(names):
        raise UnreadableFile("duplicate_column", "the file names a column more than once")


def is_plain_type(dtype: pl.DataType) -> bool:
    """Types `read_export(keep_types=True)` keeps: ones that can always be rendered as text."""
    return isinstance(dtype, pl.Datetime | pl.Boolean | pl.String) or dtype.is_integer() or dtype.is_float()


def as_text(name: str, dtype: pl.DataType) -> pl.Expr:
    """Render one Parquet column as text the staging layer parses.

    Zoned timestamps keep their offset; naive ones get none, so staging treats them as
    naive (quarantined unless configured as UTC) exactly like naive text.
    """
    col = pl.col(name)
    if isinstance(dtype, pl.Datetime):
        return col.dt.to_string(_TZ_FORMAT if dtype.time_zone else _NAIVE_FORMAT)
    if dtype.is_nested() or isinstance(dtype, pl.Duration | pl.Object):
        # JSON text: staging rejects it for typed fields; string fields keep it as written.
        wrapped = pl.struct(col.alias("v")).struct.json_encode()
        text = wrapped.str.strip_prefix('{"v":').str.strip_suffix("}")
        return pl.when(col.is_null()).then(None).otherwise(text).alias(name)
    if isinstance(dtype, pl.Binary):
        return col.cast(pl.String, strict=False)
    return col.cast(pl.String)


_PARSERS: dict[str, Callable[[bytes, ReadLimits, bool], pl.DataFrame]] = {
    "csv": _read_csv,
    "jsonl": _read_jsonl,
    "parquet": _read_parquet,
}

_FAILURE_REASON = {
    "csv": "malformed_csv",
    "csv.gz": "malformed_csv",
    "jsonl": "malformed_jsonl",
    "jsonl.gz": "malformed_jsonl",
    "parquet": "not_parquet",
}
