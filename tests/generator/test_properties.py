"""Invariants of generated data for any small centre (hypothesis)."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devtools.sample_data import GeneratorConfig, build_dataset
from devtools.sample_data.records import call_records, event_records, ticket_records

configs = st.builds(
    GeneratorConfig,
    end_date=st.dates(min_value=date(2025, 1, 1), max_value=date(2027, 12, 31)),
    days=st.integers(1, 6),
    agents=st.integers(8, 14),
    teams=st.integers(1, 4),
    tickets_per_agent_per_day=st.floats(0, 15),
    calls_per_agent_per_day=st.floats(0, 10),
    seed=st.integers(0, 2**32 - 1),
)
SETTINGS = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(configs)
def test_generated_rows_are_valid_and_inside_the_export_period(config: GeneratorConfig) -> None:
    data = build_dataset(config)
    start = pl.lit(config.start_date).cast(pl.Datetime("us", "UTC"))
    cutoff = pl.lit(config.end_date + timedelta(days=1)).cast(pl.Datetime("us", "UTC"))
    tickets = ticket_records(data.ticket_versions, data.tickets, data.pop)
    events = event_records(data.events, data.tickets, data.concessions, data.pop)
    calls = call_records(data.calls, data.concessions, data.pop)

    assert tickets.filter((pl.col("updated_at") < start) | (pl.col("updated_at") >= cutoff)).is_empty()
    assert tickets.filter(pl.col("updated_at") < pl.col("created_at")).is_empty()
    assert tickets.filter(
        pl.col("status").is_in(["solved", "closed"]) & pl.col("solved_at").is_null()
    ).is_empty()
    assert events.filter((pl.col("occurred_at") < start) | (pl.col("occurred_at") >= cutoff)).is_empty()
    assert events["event_id"].is_unique().all()
    assert events.filter(pl.col("event_type").is_null() | pl.col("actor_role").is_null()).is_empty()
    assert calls.filter(pl.col("ended_at") < pl.col("initiated_at")).is_empty()
    assert calls.filter(pl.col("answered_at") < pl.col("initiated_at")).is_empty()
    assert calls.filter((pl.col("outcome") == "abandoned") & pl.col("agent_id").is_not_null()).is_empty()
    assert calls.filter(pl.col("answered_at").is_null() & pl.col("talk_seconds").is_not_null()).is_empty()
    # References resolve: every event's ticket is exported, every transfer's previous leg too.
    assert events.join(tickets, on="ticket_id", how="anti").is_empty()
    transfers = calls.filter(pl.col("previous_call_id").is_not_null())
    assert transfers.join(calls, left_on="previous_call_id", right_on="call_id", how="anti").is_empty()


@SETTINGS
@given(configs)
def test_versions_increase_and_concessions_stay_under_the_customer_cap(config: GeneratorConfig) -> None:
    data = build_dataset(config)
    tickets = ticket_records(data.ticket_versions, data.tickets, data.pop)
    calls = call_records(data.calls, data.concessions, data.pop)
    for frame, key in ((tickets, "ticket_id"), (calls, "call_id")):
        steps = frame.sort(key, "updated_at").with_columns(step=pl.col("updated_at").diff().over(key))
        assert steps.filter(pl.col("step") <= timedelta(0)).is_empty()
    per_customer = (
        data.concessions.join(
            pl.concat(
                [
                    data.tickets.select(
                        pl.lit("ticket").alias("contact_type"), pl.col("ticket").alias("index"), "customer"
                    ),
                    data.calls.select(
                        pl.lit("call").alias("contact_type"), pl.col("leg").alias("index"), "customer"
                    ),
                ]
            ).unique(),
            on=["contact_type", "index"],
        )
        .group_by("customer")
        .len()
    )
    assert per_customer.filter((pl.col("customer") != 0) & (pl.col("len") > 2)).is_empty()
