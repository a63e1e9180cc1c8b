"""Suite for the canonical `ticket_events` frame."""

from collections.abc import Sequence

import great_expectations.expectations as gxe
import polars as pl

from expectations._suite import (
    Suite,
    SuiteParams,
    conditional_required_check,
    from_schema,
    is_true,
    known_values,
    typical_volume,
)
from transforms.schemas import TICKET_EVENTS


def prepare(frame: pl.LazyFrame) -> pl.LazyFrame:
    return frame.with_columns(conditional_required_check(TICKET_EVENTS))


def build(columns: Sequence[str], params: SuiteParams) -> list[gxe.Expectation]:
    return [
        *from_schema(TICKET_EVENTS),
        is_true("check_conditional_required"),
        *typical_volume("ticket_events", params),
        *known_values("currency", params.known_currencies),
    ]


SUITE = Suite(name="ticket_events", key=("event_id",), build=build, prepare=prepare)
