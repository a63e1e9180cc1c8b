"""Suite for the canonical `calls` frame."""

from collections.abc import Sequence

import great_expectations.expectations as gxe

from expectations._suite import Suite, SuiteParams, from_schema, known_values, typical_volume
from transforms.schemas import CALLS


def build(columns: Sequence[str], params: SuiteParams) -> list[gxe.Expectation]:
    return [
        *from_schema(CALLS),
        *typical_volume("calls", params),
        *known_values("category", params.known_categories),
        *known_values("currency", params.known_currencies),
    ]


SUITE = Suite(name="calls", key=("call_id",), build=build)
