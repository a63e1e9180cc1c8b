"""Staging: raw export text → canonical types, with every rejected row quarantined once.

The checks derive from the entity's `EntitySchema`, so the contract lives in one place.
A row that fails several checks gets one quarantine record: its reason is the first
failing check in `REASON_ORDER`, its detail lists every failure (column names and rules,
never the raw value: raw values may be personal data).

Input of `stage` is a *conformed* raw frame (`conform_columns`): every contract column as
String plus the lineage columns export_date, source_key, source_row, and the reader's mark on
a line it could not parse (`MALFORMED`: such a row is quarantined as `malformed_row`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

import polars as pl

from configs.limits import TimestampBounds
from transforms.schemas import quarantine as q
from transforms.schemas.base import (
    EXPORT_DATE,
    LINEAGE_SCHEMA,
    MALFORMED,
    SOURCE_KEY,
    SOURCE_ROW,
    UNMAPPABLE_MARK,
    EntitySchema,
    Field,
)

# The first failing check names the row's reason; the detail lists them all.
REASON_ORDER = (
    q.MALFORMED_ROW,
    q.UNMAPPABLE_RECORD,
    q.MISSING_REQUIRED,
    q.BAD_TIMESTAMP,
    q.NAIVE_TIMESTAMP,
    q.IMPLAUSIBLE_TIMESTAMP,
    q.BAD_TYPE,
    q.BAD_ENUM,
    q.OUT_OF_RANGE,
    q.OUT_OF_ORDER,
)

TRUE_TEXT = ("true", "t", "yes", "y", "1")
FALSE_TEXT = ("false", "f", "no", "n", "0")
CURRENCY_COLUMNS = frozenset({"currency"})
# Filled after validation: the contract's documented defaults.
DEFAULTS: dict[str, dict[str, str]] = {"tickets": {"priority": "normal"}}

# ISO-8601 date-time: T, t or space; seconds optional, a fraction only after seconds (0-59: a
# leap second `:60` is not rolled into the next minute, which could move a row to the next
# day); Z or ±HH[:MM] offset right after the time, or absent.
TIMESTAMP_PATTERN = (
    r"^(?P<date>\d{4}-\d{2}-\d{2})[Tt ](?P<time>\d{2}:\d{2})(?::(?P<sec>[0-5]\d)(?P<frac>\.\d+)?)?"
    r"(?P<offset>[Zz]|[+-]\d{2}(?::?\d{2})?)?$"
)
_MAX_EXACT_INT = 2**53

QUARANTINE_COLUMNS = [*q.QUARANTINE_SCHEMA.names(), SOURCE_ROW]


@dataclass(frozen=True)
class ColumnCheck:
    """How a file's columns compare with the contract."""

    missing_required: tuple[str, ...]
    drift: tuple[str, ...]  # columns the contract does not know, in file order


class StagedFrames(NamedTuple):
    accepted: pl.LazyFrame  # contract columns with canonical dtypes + lineage
    quarantined: pl.LazyFrame  # QUARANTINE_SCHEMA + source_row


def check_columns(columns: Iterable[str], schema: EntitySchema) -> ColumnCheck:
    """Missing required columns quarantine a file; unknown ones are schema drift.

    `source_row` is the reader's row number and `MALFORMED` its mark on an unparseable line,
    not file columns. A file's own `export_date` or `source_key` column is drift like any other
    (lineage comes from the object, never the file).
    """
    present = [c for c in columns if c not in (SOURCE_ROW, MALFORMED)]
    missing = tuple(c for c in schema.required if c not in present)
    return ColumnCheck(missing_required=missing, drift=tuple(c for c in present if c not in schema.columns))


def conform_columns(
    raw: pl.LazyFrame, schema: EntitySchema, *, export_date: date, source_key: str
) -> pl.LazyFrame:
    """Exactly the contract columns (absent optional ones null) plus lineage.

    Columns already typed as the contract's type (`is_typed_match`, typed Parquet) stay typed;
    every other column becomes String. Callers render typed columns whose text form matters
    (date-times) before this, as the reader would.
    """
    present = raw.collect_schema()
    contract = [
        (pl.col(f.name) if is_typed_match(f, present[f.name]) else pl.col(f.name).cast(pl.String))
        if f.name in present
        else pl.lit(None, pl.String).alias(f.name)
        for f in schema.fields
    ]
    lineage = [
        pl.lit(export_date, pl.Date).alias(EXPORT_DATE),
        pl.lit(source_key, pl.String).alias(SOURCE_KEY),
        pl.col(SOURCE_ROW).cast(pl.Int64),
        pl.col(MALFORMED) if MALFORMED in present else pl.lit(None, pl.String).alias(MALFORMED),
    ]
    return raw.select(*contract, *lineage)


def empty_raw(schema: EntitySchema) -> pl.LazyFrame:
    """A conformed raw frame with no rows (an entity with no exports in the range)."""
    return pl.LazyFrame(
        schema={**dict.fromkeys(schema.columns, pl.String()), **LINEAGE_SCHEMA, MALFORMED: pl.String()}
    )


def stage(
    raw: pl.LazyFrame,
    schema: EntitySchema,
    *,
    naive_timestamps_as_utc: bool,
    timestamp_bounds: TimestampBounds | None = None,
) -> StagedFrames:
    """Cast a conformed raw frame to the canonical schema; split accepted from quarantined rows.

    String columns are parsed; typed columns (`is_typed_match`) skip parsing and get the same
    checks, with the value their text would parse to. A timestamp outside `timestamp_bounds`
    (default: `TimestampBounds()`) is `implausible_timestamp`.
    """
    dtypes = raw.collect_schema()
    typed_in = {f.name for f in schema.fields if is_typed_match(f, dtypes[f.name])}
    text_fields = [f for f in schema.fields if f.name not in typed_in]
    cleaned = raw.with_columns(_clean_text(f) for f in text_fields)
    typed = cleaned.with_columns(
        *_typed_columns(text_fields),
        *[e for f in schema.fields if f.name in typed_in for e in _pass_typed(f, dtypes[f.name])],
    )
    for step in _timestamp_stages(text_fields):
        typed = typed.with_columns(step)
    checks = _checks(schema, naive_timestamps_as_utc, timestamp_bounds or TimestampBounds())
    judged = typed.with_columns(_first_reason(checks).alias("__reason"))
    accepted = judged.filter(pl.col("__reason").is_null()).select(
        *[_canonical(f, schema.name) for f in schema.fields], EXPORT_DATE, SOURCE_KEY, SOURCE_ROW
    )
    quarantined = judged.filter(pl.col("__reason").is_not_null()).select(
        pl.lit(schema.name, pl.String).alias("entity"),
        pl.col(SOURCE_KEY).alias("object_key"),
        pl.col(SOURCE_ROW).alias("row_number"),
        pl.col("__reason").alias("reason"),
        pl.coalesce(pl.col(MALFORMED).str.strip_prefix(UNMAPPABLE_MARK), _all_details(checks)).alias(
            "detail"
        ),
        pl.col(SOURCE_ROW),
    )
    return StagedFrames(accepted, quarantined)


# --- text clean-up and casting -------------------------------------------------------------


def _clean_text(f: Field) -> pl.Expr:
    """Empty (or blank) text is null; surrounding whitespace is dropped except in free text."""
    col = pl.col(f.name)
    stripped = col.str.strip_chars()
    return pl.when(stripped == "").then(None).otherwise(col if f.free_text else stripped).alias(f.name)


def _value(name: str) -> str:
    return f"__value_{name}"


def _naive(name: str) -> str:
    return f"__naive_{name}"


def _typed_columns(fields: list[Field]) -> list[pl.Expr]:
    exprs: list[pl.Expr] = []
    for f in fields:
        col = pl.col(f.name)
        if f.kind == "timestamp":
            continue  # see _timestamp_stages
        if f.kind == "int":
            exprs.append(_parse_int(col).alias(_value(f.name)))
        elif f.kind == "float":
            exprs.append(_parse_float(col).alias(_value(f.name)))
        elif f.kind == "bool":
            exprs.append(_parse_bool(col).alias(_value(f.name)))
        elif f.kind == "enum":
            lowered = col.str.to_lowercase()
            exprs.append(pl.when(lowered.is_in(f.enum)).then(lowered).alias(_value(f.name)))
        elif f.name in CURRENCY_COLUMNS:
            upper = col.str.to_uppercase()
            exprs.append(pl.when(upper.str.contains(r"^[A-Z]{3}$")).then(upper).alias(_value(f.name)))
        else:
            exprs.append(col.alias(_value(f.name)))
    return exprs


def is_typed_match(f: Field, dtype: pl.DataType) -> bool:
    """A typed column whose values are exactly what its text would parse to, so staging passes
    it through. Float32 (its text is the short decimal, not the widened value), UInt64 (may
    exceed Int64) and nanosecond date-times (text truncates the wall-clock fraction) are not."""
    if f.kind == "timestamp":
        return isinstance(dtype, pl.Datetime) and dtype.time_unit in ("us", "ms")
    if f.kind == "int":
        return dtype.is_integer() and dtype != pl.UInt64()
    if f.kind == "float":
        return dtype == pl.Float64()
    if f.kind == "bool":
        return dtype == pl.Boolean()
    return False


def _pass_typed(f: Field, dtype: pl.DataType) -> list[pl.Expr]:
    """Value (and naive flag) of a typed column; null where its text would not parse."""
    col = pl.col(f.name)
    if f.kind == "float":
        return [_parse_float(col).alias(_value(f.name))]
    if f.kind != "timestamp":
        return [col.cast(f.dtype).alias(_value(f.name))]
    zoned = isinstance(dtype, pl.Datetime) and dtype.time_zone is not None
    zone = col.dt.convert_time_zone("UTC") if zoned else col.dt.replace_time_zone("UTC")
    # Text has a four-digit year, so years outside 0..9999 are not date-times there either.
    in_range = col.dt.year().is_between(0, 9999)
    naive = pl.lit(not zoned) & col.is_not_null()
    return [
        pl.when(in_range).then(zone.dt.cast_time_unit("us")).alias(_value(f.name)),
        (naive & in_range).alias(_naive(f.name)),
    ]


def _timestamp_stages(fields: list[Field]) -> list[list[pl.Expr]]:
    """Timestamp parsing in three materialised steps, so the costly regex split and the
    date-time parse each run once per column: parts → local time and offset → UTC value."""
    names = [f.name for f in fields if f.kind == "timestamp"]
    parts = [pl.col(n).str.extract_groups(TIMESTAMP_PATTERN).alias(f"__parts_{n}") for n in names]
    return [parts, [e for n in names for e in _local_and_offset(n)], [e for n in names for e in _utc(n)]]


def _local_and_offset(name: str) -> list[pl.Expr]:
    """Wall-clock time (null if invalid) and offset in minutes (null if absent or invalid).
    Fractions beyond microseconds are truncated (the canonical unit is microseconds)."""
    parts = pl.col(f"__parts_{name}")
    clock = pl.concat_str(parts.struct.field("time"), pl.lit(":"), parts.struct.field("sec").fill_null("00"))
    local = pl.concat_str(
        parts.struct.field("date"),
        pl.lit("T"),
        clock,
        parts.struct.field("frac").str.slice(0, 7).fill_null(""),
    ).str.strptime(pl.Datetime("us"), "%Y-%m-%dT%H:%M:%S%.f", strict=False)
    offset = parts.struct.field("offset")
    digits = offset.str.replace(":", "", literal=True)
    hours = digits.str.slice(1, 2).cast(pl.Int64, strict=False)
    minutes = digits.str.slice(3, 2).cast(pl.Int64, strict=False).fill_null(0)
    sign = pl.when(digits.str.starts_with("-")).then(-1).otherwise(1)
    offset_minutes = (
        pl.when(offset.str.to_uppercase() == "Z")
        .then(0)
        .when((hours <= 23) & (minutes <= 59))
        .then(sign * (hours * 60 + minutes))
    )
    return [
        local.alias(f"__local_{name}"),
        offset_minutes.alias(f"__offset_{name}"),
        offset.is_null().alias(f"__no_offset_{name}"),
    ]


def _utc(name: str) -> list[pl.Expr]:
    """UTC value (null when the text is not a valid timestamp) and is-naive flag. A naive
    value is computed as if UTC; the checks decide whether naive is allowed."""
    local, offset, no_offset = (pl.col(f"__{p}_{name}") for p in ("local", "offset", "no_offset"))
    valid = local.is_not_null() & (no_offset | offset.is_not_null())
    utc = (local - pl.duration(minutes=offset.fill_null(0))).dt.replace_time_zone("UTC")
    return [pl.when(valid).then(utc).alias(_value(name)), (valid & no_offset).alias(_naive(name))]


def _parse_float(text: pl.Expr) -> pl.Expr:
    value = text.cast(pl.Float64, strict=False)
    return pl.when(value.is_finite()).then(value)


def _parse_int(text: pl.Expr) -> pl.Expr:
    """Integers, also written as an integral decimal ("3.0", as float-typed exports write them)."""
    as_float = _parse_float(text)
    integral = (as_float == as_float.floor()) & (as_float.abs() < _MAX_EXACT_INT)
    return text.cast(pl.Int64, strict=False).fill_null(pl.when(integral).then(as_float.cast(pl.Int64)))


def _parse_bool(text: pl.Expr) -> pl.Expr:
    lowered = text.str.to_lowercase()
    return pl.when(lowered.is_in(TRUE_TEXT)).then(True).when(lowered.is_in(FALSE_TEXT)).then(False)


def _canonical(f: Field, entity: str) -> pl.Expr:
    value = pl.col(_value(f.name)).cast(f.dtype)
    default = DEFAULTS.get(entity, {}).get(f.name)
    return (value.fill_null(default) if default is not None else value).alias(f.name)


# --- checks ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Check:
    reason: str
    failed: pl.Expr  # true where the row fails; never null
    detail: str


def _checks(schema: EntitySchema, naive_timestamps_as_utc: bool, bounds: TimestampBounds) -> list[_Check]:
    unmappable = pl.col(MALFORMED).str.starts_with(UNMAPPABLE_MARK).fill_null(False)
    unreadable = pl.col(MALFORMED).is_not_null() & ~unmappable
    checks = [
        _Check(q.MALFORMED_ROW, unreadable, "the line is not a readable record"),
        _Check(q.UNMAPPABLE_RECORD, unmappable, "the vendor record cannot be mapped"),
    ]
    checks += _required_checks(schema)
    for f in schema.fields:
        checks += _value_checks(f, naive_timestamps_as_utc)
        if f.kind == "timestamp":
            checks += _plausibility_checks(f, bounds)
    checks += [
        _Check(
            q.OUT_OF_ORDER,
            (pl.col(_value(r.later)) < pl.col(_value(r.earlier))).fill_null(False),
            f"{r.later} is before {r.earlier}",
        )
        for r in schema.order_rules
    ]
    rank = {reason: i for i, reason in enumerate(REASON_ORDER)}
    return sorted(checks, key=lambda c: rank[c.reason])  # stable: field order within a reason


def _required_checks(schema: EntitySchema) -> list[_Check]:
    checks = [
        _Check(q.MISSING_REQUIRED, pl.col(name).is_null(), f"{name}: required field is empty")
        for name in schema.required
    ]
    for rule in schema.conditional:
        applies = pl.col(rule.when_column).str.to_lowercase() == rule.when_value
        checks.append(
            _Check(
                q.MISSING_REQUIRED,
                (applies & pl.col(rule.column).is_null()).fill_null(False),
                f"{rule.column}: required when {rule.when_column} is {rule.when_value}",
            )
        )
    return checks


def _value_checks(f: Field, naive_timestamps_as_utc: bool) -> list[_Check]:
    present = pl.col(f.name).is_not_null()
    value = pl.col(_value(f.name))
    unparsed = present & value.is_null()
    if f.kind == "timestamp":
        checks = [_Check(q.BAD_TIMESTAMP, unparsed, f"{f.name}: not an ISO-8601 date-time")]
        if not naive_timestamps_as_utc:
            naive = pl.col(_naive(f.name)).fill_null(False)
            checks.append(_Check(q.NAIVE_TIMESTAMP, naive, f"{f.name}: timestamp has no UTC offset"))
        return checks
    if f.kind == "enum":
        return [_Check(q.BAD_ENUM, unparsed, f"{f.name}: not one of {', '.join(f.enum)}")]
    if f.name in CURRENCY_COLUMNS:
        return [_Check(q.BAD_TYPE, unparsed, f"{f.name}: not a 3-letter ISO-4217 code")]
    if f.kind in ("int", "float", "bool"):
        wanted = {"int": "an integer", "float": "a number", "bool": "a boolean"}[f.kind]
        checks = [_Check(q.BAD_TYPE, unparsed, f"{f.name}: not {wanted}")]
        return checks + _range_checks(f, value)
    return []


def _plausibility_checks(f: Field, bounds: TimestampBounds) -> list[_Check]:
    """Before `bounds.earliest`, or later than `latest_days_after_export` days after the end of
    the row's own export day (UTC): a broken clock or a placeholder such as 0001-01-01."""
    value = pl.col(_value(f.name))
    earliest = bounds.earliest.isoformat()
    checks = [
        _Check(
            q.IMPLAUSIBLE_TIMESTAMP,
            (value < bounds.earliest).fill_null(False),
            f"{f.name}: before {earliest}",
        )
    ]
    if bounds.latest_days_after_export is not None:
        days = bounds.latest_days_after_export
        export_day_start = pl.col(EXPORT_DATE).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
        too_late = value >= export_day_start + pl.duration(days=days + 1)
        rule = f"{f.name}: later than {days} day(s) after its export day"
        checks.append(_Check(q.IMPLAUSIBLE_TIMESTAMP, too_late.fill_null(False), rule))
    return checks


def _range_checks(f: Field, value: pl.Expr) -> list[_Check]:
    bounds = []
    if f.min_value is not None:
        bounds.append(value < f.min_value)
    if f.max_value is not None:
        bounds.append(value > f.max_value)
    if not bounds:
        return []
    if f.min_value is not None and f.max_value is not None:
        rule = f"outside {f.min_value:g}..{f.max_value:g}"
    elif f.min_value is not None:
        rule = f"below {f.min_value:g}"
    else:
        rule = f"above {f.max_value:g}"
    return [_Check(q.OUT_OF_RANGE, pl.any_horizontal(bounds).fill_null(False), f"{f.name}: {rule}")]


def _first_reason(checks: list[_Check]) -> pl.Expr:
    """The reason of the first failing check; null for a valid row."""
    return pl.coalesce(pl.lit(None, pl.String), *[pl.when(c.failed).then(pl.lit(c.reason)) for c in checks])


def _all_details(checks: list[_Check]) -> pl.Expr:
    """Every failing check's detail, joined by '; ' (only computed for quarantined rows)."""
    details = [pl.when(c.failed).then(pl.lit(c.detail)) for c in checks]
    return pl.concat_str(details or [pl.lit(None, pl.String)], separator="; ", ignore_nulls=True)
