"""Suite for the canonical `tickets` frame (contract v1 after staging and dedup)."""

from collections.abc import Sequence

import great_expectations.expectations as gxe

from expectations._suite import Suite, SuiteParams, from_schema, known_values, not_null, typical_volume
from transforms.schemas import TICKETS


def build(columns: Sequence[str], params: SuiteParams) -> list[gxe.Expectation]:
    # Staging fills a missing priority with `normal`, so priority is never null here.
    return [
        *from_schema(TICKETS),
        *not_null("priority"),
        *typical_volume("tickets", params),
        *known_values("category", params.known_categories),
    ]


SUITE = Suite(name="tickets", key=("ticket_id",), build=build)
