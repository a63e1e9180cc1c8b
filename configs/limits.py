"""How much one export object may hold, and which timestamps are plausible.

Both are settings (`read_limits`, `timestamp_bounds` in configs/base.toml or AUDIT_READ_LIMITS__*,
AUDIT_TIMESTAMP_BOUNDS__*), because what is hostile for one centre is a normal day for another.
An object past a read limit is quarantined whole (`exceeds_input_limit`) before it is parsed, so
a hostile file is refused at about its own size in memory, and a file within the limits is no
larger than they allow; a row with an implausible timestamp is quarantined on its own
(`implausible_timestamp`).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from configs.vendors import VendorMapping

MiB = 1024**2


class ReadLimits(BaseModel):
    """Caps checked before (or, for field length, right after) an object is parsed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # An object (a .gz once decompressed, a Parquet file's uncompressed pages) may hold at most
    # this many bytes; past `ratio_floor_bytes` also at most `max_compression_ratio` times its
    # stored size. A large centre's day of events is ~150 MB of text, 5-15x its gzip; a gzip bomb
    # is ~1000x.
    max_decompressed_bytes: Annotated[int, Field(ge=MiB)] = 1024 * MiB
    max_compression_ratio: Annotated[float, Field(gt=1)] = 200.0
    ratio_floor_bytes: Annotated[int, Field(ge=0)] = 64 * MiB
    # One line of a CSV or JSONL file (a CSV record may span lines inside quotes), and one value.
    max_line_bytes: Annotated[int, Field(ge=1024)] = 8 * MiB
    max_field_bytes: Annotated[int, Field(ge=1024)] = 1 * MiB
    # Arrays and objects inside one JSON line, or nested Parquet types (contract records are flat).
    max_nesting_depth: Annotated[int, Field(ge=1)] = 16
    # A line-oriented file with more unreadable lines than this share is rejected whole.
    max_malformed_share: Annotated[float, Field(ge=0, le=1)] = 0.5

    def expansion_limit(self, stored_bytes: int) -> int:
        """The most bytes an object of `stored_bytes` may expand to."""
        by_ratio = max(self.ratio_floor_bytes, int(stored_bytes * self.max_compression_ratio))
        return min(self.max_decompressed_bytes, by_ratio)


class TimestampBounds(BaseModel):
    """A timestamp outside these bounds is a broken clock or a placeholder, not an event.

    The upper bound is per row, from the export day the row came in (`latest_days_after_export`
    days after it ends, UTC), not from the newest export day ingested: an object's rows are then
    judged the same whether it is ingested first, last or alone (the store is the same built
    incrementally or from scratch).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    earliest: dt.datetime = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    # None: no upper bound.
    latest_days_after_export: Annotated[int, Field(ge=0)] | None = 1

    @field_validator("earliest")
    @classmethod
    def _zoned(cls, value: dt.datetime) -> dt.datetime:
        if value.tzinfo is None:
            raise ValueError("timestamp_bounds.earliest needs a UTC offset, e.g. 2000-01-01T00:00:00Z")
        return value.astimezone(dt.UTC)


class InputRules(BaseModel):
    """Everything ingest needs to judge an export object: its read limits, the plausible
    timestamps, and whether a timestamp without an offset is read as UTC."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    naive_timestamps_as_utc: bool = False
    read_limits: ReadLimits = ReadLimits()
    timestamp_bounds: TimestampBounds = TimestampBounds()
    # How vendor exports map onto the contract (`landing_vendor = "zendesk+connect"`); None:
    # the landing holds contract v1 exports.
    vendor: VendorMapping | None = None
