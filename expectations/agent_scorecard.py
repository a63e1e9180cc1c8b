"""Suite for `agent_scorecard`: one row per (audit day, agent), consistent rates."""

from collections.abc import Sequence

import great_expectations.expectations as gxe

from expectations._outputs import non_negative, published_row, rate_expectations
from expectations._suite import Suite, SuiteParams, not_null, typical_volume, unique_key

COUNTS = ("contacts", "tickets_solved", "calls_answered", "policy_violations", "concession_flags")


def build(columns: Sequence[str], params: SuiteParams) -> list[gxe.Expectation]:
    return [
        *published_row(columns),
        *not_null("agent_id"),
        unique_key("audit_date", "agent_id"),
        *rate_expectations(columns),
        *non_negative(columns, COUNTS),
        *typical_volume("agent_scorecard", params),
    ]


SUITE = Suite(name="agent_scorecard", key=("audit_date", "agent_id"), build=build)
