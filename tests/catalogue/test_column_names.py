"""Naming rules of the published columns (docs/decisions/catalogue-and-layout.md)."""

from __future__ import annotations

import polars as pl

import catalogue
from transforms.stats import RATE_PARTS, rate_column


def test_every_published_boolean_column_is_named_is() -> None:
    """Published booleans read as yes/no questions: `is_*` (docs/outputs.md lists earlier names)."""
    misnamed = {
        t.name: [c.name for c in t.columns if c.dtype == pl.Boolean() and not c.name.startswith("is_")]
        for t in catalogue.TABLES.values()
    }
    assert {name: columns for name, columns in misnamed.items() if columns} == {}


def test_the_catalogue_names_every_rate_part_as_the_scorecards_compute_it() -> None:
    assert tuple(catalogue.RATE_SUFFIXES) == RATE_PARTS
    columns = {c.name for c in catalogue.TABLES["agent_scorecard"].columns}
    assert {rate_column("follow_up", part) for part in RATE_PARTS} <= columns
    assert rate_column("follow_up", "low_volume") == "is_follow_up_low_volume"
