"""Suite for `team_scorecard`: one row per (audit day, team), every published column.

The rate and count rules run on the long views of expectations/_scorecard.py
(`team_scorecard_rates`, `team_scorecard_counts`).
"""

from collections.abc import Sequence

import great_expectations.expectations as gxe

from expectations._outputs import published_row
from expectations._scorecard import required_columns, scorecard_views
from expectations._suite import Suite, SuiteParams, has_columns, typical_volume, unique_key

KEY = ("audit_date", "team_id")


def build(columns: Sequence[str], params: SuiteParams) -> list[gxe.Expectation]:
    # team_id may be null (contacts of agents without a team): one such row per day at most.
    return [
        *published_row(columns),
        unique_key(*KEY),
        has_columns(required_columns("team", columns)),
        *typical_volume("team_scorecard", params),
    ]


SUITE = Suite(name="team_scorecard", key=KEY, build=build, views=scorecard_views("team_scorecard", KEY))
