"""Quarantine records: one per rejected row or file, with a reason and no raw personal data."""

import polars as pl

QUARANTINE_SCHEMA = pl.Schema(
    {
        "entity": pl.String(),
        "object_key": pl.String(),
        "row_number": pl.Int64(),  # 1-based data row; null for a whole file
        "reason": pl.String(),
        "detail": pl.String(),  # column names and rule, never the raw value
    }
)

# Reason codes (stable, documented in docs/contract.md).
MALFORMED_ROW = "malformed_row"
UNMAPPABLE_RECORD = "unmappable_vendor_record"  # a vendor record the mapping cannot turn into a row
MISSING_REQUIRED = "missing_required_field"
BAD_ENUM = "value_not_in_enum"
OUT_OF_RANGE = "value_out_of_range"
BAD_TYPE = "unparseable_value"
BAD_TIMESTAMP = "unparseable_timestamp"
NAIVE_TIMESTAMP = "timestamp_without_offset"
IMPLAUSIBLE_TIMESTAMP = "implausible_timestamp"
OUT_OF_ORDER = "timestamps_out_of_order"
CONFLICTING_DUPLICATE = "duplicate_key_conflicting_content"
UNREADABLE_FILE = "unreadable_file"
MISSING_COLUMN = "missing_required_column"
UNSUPPORTED_FORMAT = "unsupported_format"
INPUT_LIMIT = "exceeds_input_limit"
REASONS = (
    MALFORMED_ROW,
    UNMAPPABLE_RECORD,
    MISSING_REQUIRED,
    BAD_ENUM,
    OUT_OF_RANGE,
    BAD_TYPE,
    BAD_TIMESTAMP,
    NAIVE_TIMESTAMP,
    IMPLAUSIBLE_TIMESTAMP,
    OUT_OF_ORDER,
    CONFLICTING_DUPLICATE,
    UNREADABLE_FILE,
    MISSING_COLUMN,
    UNSUPPORTED_FORMAT,
    INPUT_LIMIT,
)
