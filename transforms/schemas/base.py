"""How an entity schema is declared: one `Field` per contract column.

The staging layer (transforms/staging.py) derives casting, required-field, enum and
range checks from these declarations, so the contract lives in one place per entity.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

TIMESTAMP = pl.Datetime("us", "UTC")

# A ticket is being worked in these statuses; moving back to one after a solve is a reopen.
WORKING_STATUSES = ("new", "open", "pending", "on_hold")
SOLVED_STATUSES = ("solved", "closed")
STATUSES = (*WORKING_STATUSES, *SOLVED_STATUSES)
CONCESSION_TYPES = ("credit", "refund", "free_service", "replacement", "discount", "fee_waiver")


@dataclass(frozen=True)
class Field:
    """One contract column. `kind` is the logical type the raw text is cast to."""

    name: str
    kind: str  # string | timestamp | int | float | bool | enum
    required: bool = False
    enum: tuple[str, ...] = ()
    min_value: float | None = None
    max_value: float | None = None
    personal: bool = False  # personal data: never published in clear
    free_text: bool = False  # never published at all

    @property
    def dtype(self) -> pl.DataType:
        return {
            "string": pl.String(),
            "enum": pl.String(),
            "timestamp": TIMESTAMP,
            "int": pl.Int64(),
            "float": pl.Float64(),
            "bool": pl.Boolean(),
        }[self.kind]


@dataclass(frozen=True)
class OrderRule:
    """`later` must not be before `earlier` when both are present."""

    earlier: str
    later: str


@dataclass(frozen=True)
class ConditionalRequired:
    """`column` is required when `when_column` equals `when_value`."""

    column: str
    when_column: str
    when_value: str


@dataclass(frozen=True)
class EntitySchema:
    name: str
    key: str
    fields: tuple[Field, ...]
    version_column: str | None  # greatest wins on de-duplication; None = exact duplicates only
    order_rules: tuple[OrderRule, ...] = ()
    conditional: tuple[ConditionalRequired, ...] = field(default_factory=tuple)

    @property
    def columns(self) -> list[str]:
        return [f.name for f in self.fields]

    @property
    def required(self) -> list[str]:
        return [f.name for f in self.fields if f.required]

    @property
    def polars_schema(self) -> pl.Schema:
        return pl.Schema({f.name: f.dtype for f in self.fields})

    def field(self, name: str) -> Field:
        return next(f for f in self.fields if f.name == name)


# Lineage columns added to every canonical row by ingestion (not part of the contract).
EXPORT_DATE = "export_date"  # pl.Date, from the export_date=YYYY-MM-DD folder
SOURCE_KEY = "source_key"  # object key the row came from
SOURCE_ROW = "source_row"  # 1-based data row number within that object
LINEAGE_SCHEMA = pl.Schema({EXPORT_DATE: pl.Date(), SOURCE_KEY: pl.String(), SOURCE_ROW: pl.Int64()})
# Set by a reader on a line it could not parse (the other columns are null): the row is
# quarantined as `malformed_row` and the rest of the file is read (ingestion/readers.py).
MALFORMED = "__malformed_line"
# A vendor adapter marks a record it cannot map by a MALFORMED text starting with this (then
# the reason, naming the vendor field): quarantined as `unmappable_vendor_record`.
UNMAPPABLE_MARK = "unmappable: "
