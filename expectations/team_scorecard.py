"""Suite for `team_scorecard`: one row per (audit day, team), consistent rates."""

from collections.abc import Sequence

import great_expectations.expectations as gxe

from expectations._outputs import non_negative, published_row, rate_expectations
from expectations._suite import Suite, SuiteParams, typical_volume, unique_key
from expectations.agent_scorecard import COUNTS


def build(columns: Sequence[str], params: SuiteParams) -> list[gxe.Expectation]:
    # team_id may be null (contacts of agents without a team): one such row per day at most.
    return [
        *published_row(columns),
        unique_key("audit_date", "team_id"),
        *rate_expectations(columns),
        *non_negative(columns, COUNTS),
        *typical_volume("team_scorecard", params),
    ]


SUITE = Suite(name="team_scorecard", key=("audit_date", "team_id"), build=build)
