"""Expectations shared by the published audit tables."""

from __future__ import annotations

from collections.abc import Sequence

import great_expectations.expectations as gxe

from expectations._suite import not_null


def published_row(columns: Sequence[str]) -> list[gxe.Expectation]:
    """Every published table carries its partition and the run that wrote it, and a table that
    depends on the policy (has `policy_version`: catalogue) the policy version on every row."""
    return not_null("audit_date", "run_id", *(["policy_version"] if "policy_version" in columns else []))
