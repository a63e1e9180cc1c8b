"""Suite for `quarantine`: every rejected row or file names where it came from and why."""

from collections.abc import Sequence

import great_expectations.expectations as gxe

from catalogue import TABLES
from expectations._outputs import published_row
from expectations._suite import Suite, SuiteParams, at_least, in_set, known_values, not_null, warning

TABLE = TABLES["quarantine"]


def build(columns: Sequence[str], params: SuiteParams) -> list[gxe.Expectation]:
    return [
        *published_row(columns),
        *not_null("entity", "object_key", "reason"),
        in_set("entity", TABLE.column("entity").values),
        at_least("row_number", 1),
        *known_values("reason", TABLE.column("reason").values),
        # One reason per rejected row is expected; several are reported, not blocked.
        warning(
            gxe.ExpectCompoundColumnsToBeUnique,
            column_list=["entity", "object_key", "row_number"],
            ignore_row_if="any_value_is_missing",
        ),
    ]


SUITE = Suite(name="quarantine", key=("entity", "object_key", "row_number"), build=build)
