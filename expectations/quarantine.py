"""Suite for `quarantine`: every rejected row or file names where it came from and why."""

from collections.abc import Sequence

import great_expectations.expectations as gxe

from expectations._outputs import published_row
from expectations._suite import Suite, SuiteParams, at_least, in_set, known_values, not_null, warning
from transforms.schemas import ENTITIES
from transforms.schemas import quarantine as reasons

KNOWN_REASONS = tuple(
    value for name, value in vars(reasons).items() if name.isupper() and isinstance(value, str)
)


def build(columns: Sequence[str], params: SuiteParams) -> list[gxe.Expectation]:
    return [
        *published_row(columns),
        *not_null("entity", "object_key", "reason"),
        in_set("entity", ENTITIES),
        at_least("row_number", 1),
        *known_values("reason", KNOWN_REASONS),
        # One reason per rejected row is expected; several are reported, not blocked.
        warning(
            gxe.ExpectCompoundColumnsToBeUnique,
            column_list=["entity", "object_key", "row_number"],
            ignore_row_if="any_value_is_missing",
        ),
    ]


SUITE = Suite(name="quarantine", key=("entity", "object_key", "row_number"), build=build)
