"""Suite for `agent_scorecard`: one row per (audit day, agent), every published column.

The rate and count rules run on the long views of expectations/_scorecard.py
(`agent_scorecard_rates`, `agent_scorecard_counts`).
"""

from collections.abc import Sequence

import great_expectations.expectations as gxe

from expectations._outputs import published_row
from expectations._scorecard import required_columns, scorecard_views
from expectations._suite import Suite, SuiteParams, has_columns, not_null, typical_volume, unique_key

KEY = ("audit_date", "agent_id")


def build(columns: Sequence[str], params: SuiteParams) -> list[gxe.Expectation]:
    return [
        *published_row(columns),
        *not_null("agent_id"),
        unique_key(*KEY),
        has_columns(required_columns("agent", columns)),
        *typical_volume("agent_scorecard", params),
    ]


SUITE = Suite(name="agent_scorecard", key=KEY, build=build, views=scorecard_views("agent_scorecard", KEY))
