"""Expectations shared by the published audit tables."""

from __future__ import annotations

from collections.abc import Sequence

import great_expectations.expectations as gxe

from expectations._suite import at_least, between, not_above, not_null

RATE_PARTS = ("numerator", "denominator", "rate", "ci_low", "ci_high")


def published_row(columns: Sequence[str]) -> list[gxe.Expectation]:
    """Every published table carries its partition and the run that wrote it."""
    return not_null("audit_date", "run_id")


def rate_metrics(columns: Sequence[str]) -> list[str]:
    """Metric names m that have `<m>_numerator`, `<m>_denominator` and `<m>_rate` columns."""
    present = set(columns)
    return sorted(
        c.removesuffix("_rate")
        for c in columns
        if c.endswith("_rate") and {f"{c[:-5]}_numerator", f"{c[:-5]}_denominator"} <= present
    )


def rate_expectations(columns: Sequence[str]) -> list[gxe.Expectation]:
    """Rates in [0, 1], numerator <= denominator, ci_low <= rate <= ci_high."""
    out: list[gxe.Expectation] = []
    present = set(columns)
    for m in rate_metrics(columns):
        num, den, rate = f"{m}_numerator", f"{m}_denominator", f"{m}_rate"
        out += [at_least(num, 0), at_least(den, 0), not_above(num, den), between(rate, 0, 1)]
        for bound in (f"{m}_ci_low", f"{m}_ci_high"):
            if bound in present:
                out.append(between(bound, 0, 1))
        if f"{m}_ci_low" in present:
            out.append(not_above(f"{m}_ci_low", rate))
        if f"{m}_ci_high" in present:
            out.append(not_above(rate, f"{m}_ci_high"))
    return out


def non_negative(columns: Sequence[str], candidates: Sequence[str]) -> list[gxe.Expectation]:
    return [at_least(c, 0) for c in candidates if c in set(columns)]
