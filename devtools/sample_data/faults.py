"""Bad input the pipeline must quarantine, planted without harming the good data.

A bad row is an extra copy of a real row with one field broken, keeping its key: when the
pipeline quarantines it, the good original still stands; a naive-timestamp copy read as UTC is an
exact duplicate of its original. The conflicting duplicate `event_id` copies only internal notes,
so even if both copies were rejected no planted behaviour changes. Every contract bad-input class
is covered; reasons use the quarantine reason codes.
"""

from __future__ import annotations

import gzip
from datetime import date, timedelta

import numpy as np
import polars as pl

from devtools.sample_data.wire import naive_utc, part_offsets, to_text_timestamps, utc_text
from transforms.schemas import quarantine as q

NULL = pl.lit(None, dtype=pl.String)
BAD_TIME = (pl.lit("2026-02-30T25:61:00Z"), pl.lit("not a timestamp"))
Mutation = tuple[str, pl.Expr]  # (column, new value), evaluated on the text-rendered row

MUTATIONS: dict[str, dict[str, tuple[Mutation, ...]]] = {
    "tickets": {
        q.MISSING_REQUIRED: (("customer_id", NULL), ("status", NULL), ("created_at", NULL)),
        q.BAD_ENUM: (("status", pl.lit("reopened")), ("channel", pl.lit("fax"))),
        q.OUT_OF_RANGE: (("csat_score", pl.lit(9)), ("csat_score", pl.lit(0))),
        q.BAD_TIMESTAMP: (("updated_at", BAD_TIME[0]), ("created_at", BAD_TIME[1])),
        q.NAIVE_TIMESTAMP: (("updated_at", pl.col("_naive_updated_at")),),
        q.OUT_OF_ORDER: (("updated_at", pl.col("_before_created_at")),),
    },
    "ticket_events": {
        q.MISSING_REQUIRED: (("occurred_at", NULL), ("event_type", NULL), ("ticket_id", NULL)),
        q.BAD_ENUM: (("event_type", pl.lit("note")), ("actor_role", pl.lit("bot"))),
        q.OUT_OF_RANGE: (("escalation_level", pl.lit(0)), ("concession_amount", pl.lit(-5.0))),
        q.BAD_TIMESTAMP: (("occurred_at", BAD_TIME[0]), ("occurred_at", BAD_TIME[1])),
        q.NAIVE_TIMESTAMP: (("occurred_at", pl.col("_naive_occurred_at")),),
        q.CONFLICTING_DUPLICATE: (("occurred_at", pl.col("_later_occurred_at")),),
    },
    "calls": {
        q.MISSING_REQUIRED: (("customer_id", NULL), ("direction", NULL), ("ended_at", NULL)),
        q.BAD_ENUM: (("direction", pl.lit("sideways")), ("outcome", pl.lit("hung_up"))),
        q.OUT_OF_RANGE: (
            ("sentiment_start", pl.lit(7.5)),
            ("hold_seconds", pl.lit(-12.0)),
            ("agent_interruptions", pl.lit(-1)),
        ),
        q.BAD_TIMESTAMP: (("initiated_at", BAD_TIME[0]), ("ended_at", BAD_TIME[1])),
        q.NAIVE_TIMESTAMP: (("updated_at", pl.col("_naive_updated_at")),),
        q.OUT_OF_ORDER: (("ended_at", pl.col("_before_initiated_at")),),
    },
}


def _helpers(entity: str) -> list[pl.Expr]:
    """Hidden columns the mutations read, computed on the typed rows."""
    if entity == "tickets":
        return [
            naive_utc("updated_at").alias("_naive_updated_at"),
            utc_text(pl.col("created_at") - pl.duration(hours=1)).alias("_before_created_at"),
        ]
    if entity == "ticket_events":
        return [
            naive_utc("occurred_at").alias("_naive_occurred_at"),
            utc_text(pl.col("occurred_at") + pl.duration(minutes=1)).alias("_later_occurred_at"),
        ]
    return [
        naive_utc("updated_at").alias("_naive_updated_at"),
        utc_text(pl.col("initiated_at") - pl.duration(minutes=5)).alias("_before_initiated_at"),
    ]


def _is_internal_note() -> pl.Expr:
    return (pl.col("event_type") == "comment") & (pl.col("public") == False)  # noqa: E712


def bad_rows(
    typed: pl.DataFrame, entity: str, share: float, rng: np.random.Generator
) -> tuple[pl.DataFrame, dict[str, int]]:
    """Broken copies of about `share` x rows of `typed`, text-rendered, with `_pos` next to their
    original; and how many of each reason. `typed` must carry `_pos` (its row positions)."""
    classes = tuple(MUTATIONS[entity])
    count = int(rng.binomial(typed.height, share)) if typed.height else 0
    picks = np.sort(rng.choice(typed.height, size=count, replace=False)) if count else np.array([], int)
    reasons = np.asarray(classes)[rng.integers(0, len(classes), count)]
    if entity == "ticket_events":
        notes = typed.with_row_index("_i").filter(_is_internal_note())["_i"].to_numpy()
        conflicting = reasons == q.CONFLICTING_DUPLICATE
        if notes.size:
            picks = np.where(conflicting, notes[rng.integers(0, notes.size, count)], picks)
        else:
            reasons = np.where(conflicting, q.MISSING_REQUIRED, reasons)
    prepared = typed.with_columns(_helpers(entity))
    text = to_text_timestamps(prepared, part_offsets(rng, typed.height))
    out, counts = [], {}
    for reason in classes:  # a handful of classes, each vectorised
        rows = picks[reasons == reason]
        counts[reason] = int(rows.size)
        options = MUTATIONS[entity][reason]
        for j, (column, value) in enumerate(options):
            chosen = rows[np.arange(rows.size) % len(options) == j]
            if chosen.size:
                broken = text[chosen].with_columns(value.alias(column))
                if reason == q.CONFLICTING_DUPLICATE:
                    broken = broken.with_columns(pl.lit("Internal note: edited after export.").alias("body"))
                out.append(broken)
    frame = _stack(out, text).with_columns(pl.col("_pos") + 0.5)
    return frame.select(text.columns).drop(
        c for c in text.columns if c.startswith("_") and c != "_pos"
    ), counts


def _stack(parts: list[pl.DataFrame], template: pl.DataFrame) -> pl.DataFrame:
    """Concatenate mutated rows, relaxing column types that a mutation changed (e.g. int -> str)."""
    if not parts:
        return template.clear()
    return pl.concat(parts, how="vertical_relaxed")


DRIFT_COLUMN = "sla_policy"


def drift_start(start: date, days: int) -> date:
    """The vendor adds a column to ticket exports two thirds into the period."""
    return start + timedelta(days=days * 2 // 3)


def with_schema_drift(typed: pl.DataFrame) -> pl.DataFrame:
    """Ticket rows with an extra, unknown column (schema drift the pipeline reports and ignores)."""
    return typed.with_columns(
        pl.when(pl.col("customer_tier") == "premium")
        .then(pl.lit("premium_4h"))
        .otherwise(pl.lit("standard_24h"))
        .alias(DRIFT_COLUMN)
    )


def truncated_gzip(data: bytes) -> bytes:
    """A gzip stream cut in the middle: the reader fails on it (corrupt file)."""
    packed = gzip.compress(data, compresslevel=6, mtime=0)
    return packed[: max(10, len(packed) // 2)]
