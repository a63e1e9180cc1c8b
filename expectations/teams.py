"""Suite for `teams`: one row per team, counts that are counts, first day no later than the last."""

from collections.abc import Sequence

import great_expectations.expectations as gxe

from catalogue import TABLES
from expectations._suite import Suite, SuiteParams, at_least, not_above, not_null, unique_key

TABLE = TABLES["teams"]


def build(columns: Sequence[str], params: SuiteParams) -> list[gxe.Expectation]:
    return [
        *not_null("team_id", "first_seen_on", "last_seen_on", "agents", "supervisors", "run_id"),
        unique_key(*TABLE.key),
        at_least("agents", 0),
        at_least("supervisors", 0),
        not_above("first_seen_on", "last_seen_on"),
    ]


SUITE = Suite(name="teams", key=TABLE.key, build=build)
