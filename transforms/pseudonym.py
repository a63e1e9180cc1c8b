"""Keyed pseudonyms and the publishable shape of a frame.

`customer_id` is published only as `customer_key` = HMAC-SHA256(key, customer_id) in
hex: stable across runs with the same key (so QA leads can follow a customer across
days), not reversible without the key, and not guessable from a list of known ids the
way a plain hash would be. Free text is never published. Pure Polars: the key is passed
in by the flow (warehouse/secrets.py), never read here.
"""

from __future__ import annotations

import hashlib
import hmac

import polars as pl

from transforms.schemas import ENTITIES

CUSTOMER_ID = "customer_id"
CUSTOMER_KEY = "customer_key"
# Free text from the contract (subject, body) plus any free-text column a frame may carry.
FREE_TEXT_COLUMNS: frozenset[str] = frozenset(
    f.name for schema in ENTITIES.values() for f in schema.fields if f.free_text
) | {"note", "notes", "comment", "description", "transcript"}
# Raw personal columns (customer_key is their pseudonym, published on purpose).
PERSONAL_COLUMNS: frozenset[str] = frozenset(
    f.name for schema in ENTITIES.values() for f in schema.fields if f.personal
)
REDACTED = "<redacted>"
HEX_DIGEST = r"^[0-9a-f]{64}$"  # what a customer_key looks like
MIN_KEY_BYTES = 16


class PseudonymKeyError(ValueError):
    """The pseudonym key is missing or too short to be a secret."""


def check_key(key: bytes) -> bytes:
    if not isinstance(key, bytes) or len(key) < MIN_KEY_BYTES:
        raise PseudonymKeyError(f"the pseudonym key must be at least {MIN_KEY_BYTES} bytes")
    return key


KEY_ID_TEXT = b"support-audit pseudonym key id"


def key_id(key: bytes) -> str:
    """Which key this is, for the run manifest: the first 16 hex digits of an HMAC of a fixed
    text under the key. Equal keys, equal ids; the id tells nothing of the key (nor of any
    customer_key, which hashes customer ids)."""
    return hmac.new(check_key(key), KEY_ID_TEXT, "sha256").hexdigest()[:16]


def customer_key(column: str | pl.Expr, key: bytes) -> pl.Expr:
    """HMAC-SHA256 hex of a string column; nulls stay null."""
    check_key(key)
    expr = pl.col(column) if isinstance(column, str) else column

    def _batch(series: pl.Series) -> pl.Series:
        digest = hmac.new  # bound once per batch
        return pl.Series(
            [
                None if v is None else digest(key, v.encode("utf-8"), hashlib.sha256).hexdigest()
                for v in series.cast(pl.String).to_list()
            ],
            dtype=pl.String,
        )

    return expr.map_batches(_batch, return_dtype=pl.String)


def publishable(frame: pl.LazyFrame, key: bytes) -> pl.LazyFrame:
    """The frame as it may be published: no customer id, no free text.

    - `customer_id` becomes `customer_key` (placed where `customer_id` was);
    - `subject`, `body` and other free-text columns are dropped;
    - `actor_id` of customer events (actor_role == customer) is the customer's id, so
      it is replaced by its keyed pseudonym; agent and supervisor ids stay as they are;
    - `subject_id` of customer flags (subject_type == customer) is pseudonymised too.
    """
    check_key(key)
    names = frame.collect_schema().names()
    exprs: list[pl.Expr] = []
    for name in names:
        if name in FREE_TEXT_COLUMNS:
            continue
        if name == CUSTOMER_ID:
            exprs.append(customer_key(CUSTOMER_ID, key).alias(CUSTOMER_KEY))
        elif name == "actor_id" and "actor_role" in names:
            exprs.append(_pseudonymise_when(pl.col("actor_role") == "customer", name, key))
        elif name == "subject_id" and "subject_type" in names:
            exprs.append(_pseudonymise_when(pl.col("subject_type") == "customer", name, key))
        else:
            exprs.append(pl.col(name))
    return frame.select(exprs)


def _pseudonymise_when(condition: pl.Expr, name: str, key: bytes) -> pl.Expr:
    hashed = customer_key(name, key)
    return pl.when(condition).then(hashed).otherwise(pl.col(name)).alias(name)


def redact_personal(frame: pl.LazyFrame) -> pl.LazyFrame:
    """Replace personal and free-text values by a constant, keeping nulls.

    Validation only needs to know whether such a value is present, so the gate hands
    Great Expectations this view: no personal value can then reach a result or Data Docs.
    Pseudonym columns (`customer_key`, a customer flag's `subject_id`) keep values that
    look like a pseudonym and lose any other (a raw id there is a bug to report, not show).
    """
    names = frame.collect_schema().names()
    masked = [n for n in names if n in PERSONAL_COLUMNS or n in FREE_TEXT_COLUMNS]
    exprs = [pl.when(pl.col(n).is_null()).then(None).otherwise(pl.lit(REDACTED)).alias(n) for n in masked]
    if CUSTOMER_KEY in names:
        exprs.append(_unless_pseudonym(pl.col(CUSTOMER_KEY).is_not_null(), CUSTOMER_KEY))
    if "subject_id" in names and "subject_type" in names:
        exprs.append(_unless_pseudonym(pl.col("subject_type") == "customer", "subject_id"))
    return frame.with_columns(exprs)


def _unless_pseudonym(applies: pl.Expr, name: str) -> pl.Expr:
    raw = applies.fill_null(False) & ~pl.col(name).str.contains(HEX_DIGEST).fill_null(True)
    return pl.when(raw).then(pl.lit(REDACTED)).otherwise(pl.col(name)).alias(name)
