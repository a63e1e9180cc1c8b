"""How a suite is declared: expectations as code, each tagged critical or warning.

A suite is a function of the frame's columns and run parameters (typical volume, known
vocabularies) returning `gx.expectations.*` objects, plus an optional `prepare` step that
adds boolean check columns (`check_*`) for rules GX cannot express on one or two columns
(conditional requirements, list contents, reconciliation). Critical expectations gate
publishing; warnings are reported and never block.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import great_expectations.expectations as gxe
import polars as pl
from great_expectations.expectations.metadata_types import FailureSeverity

from transforms.pseudonym import HEX_DIGEST
from transforms.schemas.base import EntitySchema

CRITICAL = "critical"
WARNING = "warning"


@dataclass(frozen=True)
class SuiteParams:
    """Run parameters the warnings compare against (none gate publishing)."""

    typical_rows: Mapping[str, int] = field(default_factory=dict)  # suite -> typical daily rows
    known_categories: Collection[str] = ()
    known_currencies: Collection[str] = ()
    # The policy's min_volume; None checks only that one threshold explains every low_volume.
    min_volume: int | None = None


@dataclass(frozen=True)
class View:
    """A second validation of a table, over a long frame derived from it.

    GX costs about the same per expectation whatever the row count, so checking the same rule
    on 11 metric columns costs 11 expectations; a long view (one row per key and item, e.g.
    per agent and metric) checks it once. Failures are reported under the table and the wide
    column they stand for (`wide_column`), with the item dropped from the sample keys.
    """

    name: str  # the GX suite / Data Docs page, e.g. agent_scorecard_rates
    key: tuple[str, ...]  # the table's key
    item: str  # the long column naming the wide item (metric, count)
    derive: Callable[[pl.LazyFrame, SuiteParams], pl.LazyFrame]
    build: Callable[[Sequence[str], SuiteParams], list[gxe.Expectation]]
    wide_column: Callable[[str, str], str]  # (item, view column) -> the table's column

    @property
    def index(self) -> tuple[str, ...]:
        return (*self.key, self.item)

    def expectations(self, columns: Sequence[str], params: SuiteParams) -> list[gxe.Expectation]:
        return self.build(columns, params)


@dataclass(frozen=True)
class Suite:
    name: str
    key: tuple[str, ...]  # columns that identify a failing row in results (never personal)
    build: Callable[[Sequence[str], SuiteParams], list[gxe.Expectation]]
    prepare: Callable[[pl.LazyFrame], pl.LazyFrame] | None = None
    views: tuple[View, ...] = ()  # further validations of the same table (long views)

    @property
    def index(self) -> tuple[str, ...]:
        return self.key

    def expectations(self, columns: Sequence[str], params: SuiteParams) -> list[gxe.Expectation]:
        return self.build(columns, params)

    def prepared(self, frame: pl.LazyFrame) -> pl.LazyFrame:
        return self.prepare(frame) if self.prepare else frame


def _tag(expectation_cls: type[gxe.Expectation], severity: str, **kwargs: Any) -> gxe.Expectation:
    level = FailureSeverity.CRITICAL if severity == CRITICAL else FailureSeverity.WARNING
    return expectation_cls(severity=level, meta={"severity": severity}, **kwargs)


def critical(expectation_cls: type[gxe.Expectation], **kwargs: Any) -> gxe.Expectation:
    """An expectation whose failure stops publishing."""
    return _tag(expectation_cls, CRITICAL, **kwargs)


def warning(expectation_cls: type[gxe.Expectation], **kwargs: Any) -> gxe.Expectation:
    """An expectation whose failure is reported but does not stop publishing."""
    return _tag(expectation_cls, WARNING, **kwargs)


def severity_of(expectation: gxe.Expectation) -> str:
    return (expectation.meta or {}).get("severity", CRITICAL)


def not_null(*columns: str) -> list[gxe.Expectation]:
    return [critical(gxe.ExpectColumnValuesToNotBeNull, column=c) for c in columns]


def in_set(column: str, values: Collection[str]) -> gxe.Expectation:
    return critical(gxe.ExpectColumnValuesToBeInSet, column=column, value_set=sorted(values))


def at_least(column: str, minimum: float) -> gxe.Expectation:
    return critical(gxe.ExpectColumnValuesToBeBetween, column=column, min_value=minimum)


def between(column: str, low: float, high: float) -> gxe.Expectation:
    return critical(gxe.ExpectColumnValuesToBeBetween, column=column, min_value=low, max_value=high)


def not_above(low: str, high: str) -> gxe.Expectation:
    """`low` <= `high` on every row where both are present."""
    return critical(
        gxe.ExpectColumnPairValuesAToBeGreaterThanB,
        column_A=high,
        column_B=low,
        or_equal=True,
        ignore_row_if="either_value_is_missing",
    )


def has_columns(columns: Collection[str]) -> gxe.Expectation:
    """Every listed column is present (others may be too): a missing column fails by name."""
    return critical(gxe.ExpectTableColumnsToMatchSet, column_set=sorted(columns), exact_match=False)


def unique_key(*columns: str) -> gxe.Expectation:
    if len(columns) == 1:
        return critical(gxe.ExpectColumnValuesToBeUnique, column=columns[0])
    return critical(gxe.ExpectCompoundColumnsToBeUnique, column_list=list(columns))


def is_true(column: str) -> gxe.Expectation:
    """A `check_*` column computed in `prepare` must be true on every row."""
    return critical(gxe.ExpectColumnValuesToBeInSet, column=column, value_set=[True])


def typical_volume(suite: str, params: SuiteParams) -> list[gxe.Expectation]:
    """Warn when a day has under half its typical row count (a partial export)."""
    typical = params.typical_rows.get(suite)
    if not typical:
        return []
    return [warning(gxe.ExpectTableRowCountToBeBetween, min_value=(typical + 1) // 2)]


def known_values(column: str, values: Collection[str]) -> list[gxe.Expectation]:
    """Warn on categories outside the known vocabulary (new values are not errors)."""
    if not values:
        return []
    return [warning(gxe.ExpectColumnValuesToBeInSet, column=column, value_set=sorted(values))]


def pseudonymised(column: str) -> gxe.Expectation:
    return critical(gxe.ExpectColumnValuesToMatchRegex, column=column, regex=HEX_DIGEST)


def from_schema(schema: EntitySchema) -> list[gxe.Expectation]:
    """Contract rules declared in transforms/schemas: key, required, enums, ranges, order."""
    out: list[gxe.Expectation] = [unique_key(schema.key), *not_null(*schema.required)]
    for f in schema.fields:
        if f.enum:
            out.append(in_set(f.name, f.enum))
        if f.min_value is not None and f.max_value is not None:
            out.append(between(f.name, f.min_value, f.max_value))
        elif f.min_value is not None:
            out.append(at_least(f.name, f.min_value))
    out.extend(not_above(rule.earlier, rule.later) for rule in schema.order_rules)
    return out


def conditional_required_check(schema: EntitySchema) -> pl.Expr:
    """True when every field the contract requires for the row's type is present."""
    ok = pl.lit(True)
    for rule in schema.conditional:
        ok = ok & ~(
            (pl.col(rule.when_column) == rule.when_value).fill_null(False) & pl.col(rule.column).is_null()
        )
    return ok.alias("check_conditional_required")
