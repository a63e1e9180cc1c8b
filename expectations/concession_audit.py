"""Suite for `concession_audit`: one row per concession with its policy check."""

from collections.abc import Sequence

import great_expectations.expectations as gxe
import polars as pl

from expectations._outputs import published_row
from expectations._suite import (
    Suite,
    SuiteParams,
    at_least,
    in_set,
    is_true,
    known_values,
    not_null,
    pseudonymised,
    unique_key,
)
from transforms.schemas.base import CONCESSION_TYPES

VIOLATIONS = ("type_not_allowed", "over_cap", "missing_approval", "self_approved", "unknown_currency")


def prepare(frame: pl.LazyFrame) -> pl.LazyFrame:
    known = pl.col("violations").list.eval(pl.element().is_in(VIOLATIONS)).list.all()
    # The contract requires amount and currency on a concession event only: a call's are
    # optional (a missing amount leaves the cap unchecked, a missing currency is a violation).
    complete = (pl.col("contact_type") != "ticket") | (
        pl.col("amount").is_not_null() & pl.col("currency").is_not_null()
    )
    return frame.with_columns(
        known.fill_null(False).alias("check_violations_known"),
        complete.fill_null(False).alias("check_ticket_concession_has_amount_and_currency"),
    )


def build(columns: Sequence[str], params: SuiteParams) -> list[gxe.Expectation]:
    return [
        *published_row(columns),
        *not_null("concession_id", "contact_id", "contact_type", "concession_type", "policy_version"),
        unique_key("concession_id"),
        in_set("concession_type", CONCESSION_TYPES),
        at_least("amount", 0),
        at_least("amount_policy_currency", 0),
        pseudonymised("customer_key"),
        is_true("check_violations_known"),
        is_true("check_ticket_concession_has_amount_and_currency"),
        *known_values("category", params.known_categories),
    ]


SUITE = Suite(name="concession_audit", key=("concession_id",), build=build, prepare=prepare)
