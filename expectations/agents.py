"""Suite for `agents`: one row per person, a known role, seen on a first day no later than the last."""

from collections.abc import Sequence

import great_expectations.expectations as gxe

from catalogue import TABLES
from expectations._suite import Suite, SuiteParams, in_set, not_above, not_null, unique_key

TABLE = TABLES["agents"]


def build(columns: Sequence[str], params: SuiteParams) -> list[gxe.Expectation]:
    return [
        *not_null("agent_id", "role", "first_seen_on", "last_seen_on", "run_id"),
        unique_key(*TABLE.key),
        in_set("role", TABLE.column("role").values),
        not_above("first_seen_on", "last_seen_on"),
    ]


SUITE = Suite(name="agents", key=TABLE.key, build=build)
