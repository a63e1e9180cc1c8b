"""De-duplication by the input contract's rules (docs/contract.md, "De-duplication").

Every accepted staged row gets exactly one outcome:

- `kept`: the row that represents its key in the canonical table;
- `superseded`: a valid older version of a ticket or call (counted as accepted);
- `duplicate`: an exact re-delivery (same contract content as a higher-ranked row);
- `conflict`: same key, different content, and the precedence rule cannot rank it
  below the kept row; quarantined as `duplicate_key_conflicting_content`.

Rank within a key, best first:

- tickets, calls (versioned, mutable): greatest `updated_at`, then later export_date, then
  later source_key (file name), then later source_row. The last step is ours: it only decides
  between two rows of one file, where the later row wins like a later write.
- ticket_events (append-only, immutable): the first delivery, i.e. earlier export_date, then
  earlier source_key, then earlier source_row. A later copy is a re-delivery (duplicate) or,
  with other content, a conflict to investigate; it never rewrites an event already seen.
"""

from __future__ import annotations

from typing import NamedTuple

import polars as pl

from transforms.schemas import quarantine as q
from transforms.schemas.base import EXPORT_DATE, SOURCE_KEY, SOURCE_ROW, EntitySchema

KEPT = "kept"
SUPERSEDED = "superseded"
DUPLICATE = "duplicate"
CONFLICT = "conflict"
OUTCOME = "dedup_outcome"  # not "outcome": calls have a contract column of that name
_IS_TOP = "__is_top"
_TOP_ROW = "__top_row"
_ROW = "__row"
_OUTCOME_COLUMNS = [SOURCE_KEY, SOURCE_ROW, OUTCOME]


class Deduplicated(NamedTuple):
    canonical: pl.LazyFrame  # one row per key: contract columns + lineage, sorted by key
    outcomes: pl.LazyFrame  # source_key, source_row, dedup_outcome: one row per input row
    quarantined: pl.LazyFrame  # conflicts, QUARANTINE_SCHEMA + source_row


def rank_columns(schema: EntitySchema) -> list[str]:
    """Columns ordering the copies of one key (see `rank_descending` for the direction)."""
    version = [schema.version_column] if schema.version_column else []
    return [*version, EXPORT_DATE, SOURCE_KEY, SOURCE_ROW]


def rank_descending(schema: EntitySchema) -> bool:
    """Versioned entities: latest first. Append-only ones: first delivery first."""
    return schema.version_column is not None


def classify_copies(staged: pl.LazyFrame, schema: EntitySchema) -> pl.LazyFrame:
    """Rows of keys delivered more than once, sorted by key then rank, with an outcome column.

    Keys seen once are kept without this work: on a typical day they are nearly all rows.
    """
    copies = staged.filter(pl.col(schema.key).is_duplicated())
    return _classify_sorted(_rank_sorted(copies, schema), schema)


def _rank_sorted(copies: pl.LazyFrame, schema: EntitySchema) -> pl.LazyFrame:
    ranks = rank_columns(schema)
    descending = [False] + [rank_descending(schema)] * len(ranks)
    return copies.sort([schema.key, *ranks], descending=descending, nulls_last=True)


def _group_start() -> pl.Expr:
    """Row index of the first row of the row's key group (the frame is sorted by key)."""
    return pl.when(pl.col(_IS_TOP)).then(pl.int_range(pl.len())).forward_fill()


def _first_of_key(column: str) -> pl.Expr:
    """The value in the key's best-ranked (first) row: a gather, cheaper than a window."""
    return pl.col(column).gather(pl.col(_TOP_ROW))


def _classify_sorted(ordered: pl.LazyFrame, schema: EntitySchema) -> pl.LazyFrame:
    key = pl.col(schema.key)
    ranks = rank_columns(schema)
    # Sorted best first, so the first copy of each content is its best-ranked delivery.
    is_repeat = ~pl.struct(schema.columns).is_first_distinct()
    tie_columns = ranks[:-1]  # everything the contract ranks by; the row number is our own rule
    ties_top = pl.all_horizontal([pl.col(c) == _first_of_key(c) for c in tie_columns])
    outcome = (
        pl.when(pl.col(_IS_TOP))
        .then(pl.lit(KEPT))
        .when(is_repeat)
        .then(pl.lit(DUPLICATE))
        .when(ties_top if schema.version_column else pl.lit(True))
        .then(pl.lit(CONFLICT))
        .otherwise(pl.lit(SUPERSEDED))
    )
    return (
        ordered.with_columns(key.ne_missing(key.shift(1)).fill_null(True).alias(_IS_TOP))
        .with_columns(_group_start().alias(_TOP_ROW))
        .with_columns(outcome.alias(OUTCOME))
        .drop(_IS_TOP, _TOP_ROW)
    )


def deduplicate(staged: pl.LazyFrame | pl.DataFrame, schema: EntitySchema) -> Deduplicated:
    """Apply the contract's de-duplication to accepted staged rows of one entity.

    Runs eagerly (the results come back as LazyFrames over the computed frames): the key is
    hashed once to split single keys from copies, and when no key repeats (the usual day for
    append-only events) the copy classification is skipped entirely.
    """
    frame = staged.collect() if isinstance(staged, pl.LazyFrame) else staged  # a frame is not copied
    repeated = frame.select(pl.col(schema.key).is_duplicated()).to_series()
    if not repeated.any():
        canonical = _sorted_by_key(frame, schema.key)
        outcomes = frame.lazy().select(SOURCE_KEY, SOURCE_ROW, pl.lit(KEPT).alias(OUTCOME))
        conflicts = _conflicts(frame.clear().with_columns(pl.lit(None, pl.String).alias(OUTCOME)), schema)
        return Deduplicated(canonical.lazy(), outcomes, conflicts.lazy())
    # Rank on the narrow columns, then gather the copies' full rows once, already in order.
    ranked = (
        frame.select(*{schema.key: None, **dict.fromkeys(rank_columns(schema))})
        .with_row_index(_ROW)
        .filter(repeated)
        .lazy()
    )
    order = _rank_sorted(ranked, schema).select(_ROW).collect().to_series()
    copies = _classify_sorted(frame.lazy().select(pl.all().gather(order)), schema).collect()
    singles = frame.filter(~repeated)
    kept = pl.concat([singles, copies.filter(pl.col(OUTCOME) == KEPT).drop(OUTCOME)], how="vertical")
    outcomes = pl.concat(  # lazy: a caller counting only the non-kept rows never builds it all
        [
            singles.lazy().select(SOURCE_KEY, SOURCE_ROW, pl.lit(KEPT).alias(OUTCOME)),
            copies.lazy().select(_OUTCOME_COLUMNS),
        ],
        how="vertical",
    )
    del frame
    return Deduplicated(_sorted_by_key(kept, schema.key).lazy(), outcomes, _conflicts(copies, schema).lazy())


def _sorted_by_key(frame: pl.DataFrame, key: str) -> pl.DataFrame:
    """Sorted by key; exports written in key order skip the (all-column) gather."""
    return frame if frame[key].is_sorted() else frame.sort(key)


def _conflicts(classified: pl.DataFrame, schema: EntitySchema) -> pl.DataFrame:
    """Quarantine records naming the kept row and the differing columns (never values).

    Only keys with a conflict are compared (`classified` is sorted by key, best first)."""
    involved = classified.filter((pl.col(OUTCOME) == CONFLICT).any().over(schema.key))
    differing = pl.concat_str(
        [pl.when(pl.col(c).ne_missing(_first_of_key(c))).then(pl.lit(c)) for c in schema.columns],
        separator=", ",
        ignore_nulls=True,
    )
    kept_at = pl.format("row {} of {}", _first_of_key(SOURCE_ROW), _first_of_key(SOURCE_KEY))
    detail = pl.format("{}: same key as the kept {}; differs in {}", pl.lit(schema.key), kept_at, differing)
    key = pl.col(schema.key)
    return (
        involved.with_columns(key.ne_missing(key.shift(1)).fill_null(True).alias(_IS_TOP))
        .with_columns(_group_start().alias(_TOP_ROW))
        .with_columns(detail.alias("detail"))
        .filter(pl.col(OUTCOME) == CONFLICT)
        .select(
            pl.lit(schema.name, pl.String).alias("entity"),
            pl.col(SOURCE_KEY).alias("object_key"),
            pl.col(SOURCE_ROW).alias("row_number"),
            pl.lit(q.CONFLICTING_DUPLICATE, pl.String).alias("reason"),
            pl.col("detail"),
            pl.col(SOURCE_ROW),
        )
    )


# --- the canonical store's merge ------------------------------------------------------------------


class Merged(NamedTuple):
    kept: pl.DataFrame  # one row per key: the canonical row (no outcome column)
    copies: pl.DataFrame  # every other row, with its outcome and, for a conflict, the detail
    outcomes: pl.DataFrame  # source_key, source_row, dedup_outcome: one row per input row


DETAIL = "detail"


def merge_rows(rows: pl.DataFrame, schema: EntitySchema) -> Merged:
    """The contract's de-duplication over every current row of some keys: the stored copies of
    those keys and the rows just read, together.

    Because the outcome of each row depends only on the set of rows of its key, merging new
    rows with the stored rows of their keys gives what de-duplicating every object ever
    ingested would give, whatever order the objects came in (tests/ingest/test_store.py).
    Rows are identified by (source_key, source_row).
    """
    deduped = deduplicate(rows, schema)
    kept, outcomes, conflicts = pl.collect_all([deduped.canonical, deduped.outcomes, deduped.quarantined])
    identity = [SOURCE_KEY, SOURCE_ROW]
    details = conflicts.select(pl.col("object_key").alias(SOURCE_KEY), SOURCE_ROW, DETAIL)
    copies = (
        rows.join(outcomes.filter(pl.col(OUTCOME) != KEPT), on=identity, how="inner")
        .join(details, on=identity, how="left")
        .sort(schema.key, *identity)
    )
    return Merged(kept, copies, outcomes)
