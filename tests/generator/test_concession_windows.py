"""The concession plants hold in every audit window, through the pipeline's own transforms.

The golden tests audit a few days; here every 28-day window that ends inside the generated period
is audited with `transforms.concessions` on canonical frames built from the generated rows (the
contract's de-duplication, no files). A window is fully covered when it starts on or after the
first export day. Regression: ordinary agents came out `low_concession_rate` in windows ending
2026-11-01..11-12 (coin-flip concessions drifted to half the peer rate), and an ordinary amount
was an `amount_outlier` on 2026-10-14 (ten uniform draws with a MAD of 2.7).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import polars as pl
import pytest
from generator_exports import BASE

from configs.policy import Policy, load_policy
from devtools.sample_data import Dataset, GeneratorConfig, build_dataset
from devtools.sample_data.generate import day_records, planted_ids
from transforms.concessions import concession_tables
from transforms.contacts import AuditWindow, build_contacts
from transforms.dedup import deduplicate
from transforms.schemas import ENTITIES

HIGH, LOW = "high_concession_rate", "low_concession_rate"
OUTLIER, BENEFICIARY = "amount_outlier", "repeat_beneficiary"


@dataclass(frozen=True)
class Canonical:
    tickets: pl.LazyFrame
    events: pl.LazyFrame
    calls: pl.LazyFrame
    contacts: pl.LazyFrame


def canonical(data: Dataset) -> Canonical:
    """The generated rows as the pipeline's canonical tables (every export day, de-duplicated)."""
    sources = {"tickets": data.ticket_versions, "ticket_events": data.events, "calls": data.calls}
    tables = {}
    for entity, coded in sources.items():
        days = coded.partition_by("day", as_dict=True, maintain_order=True)
        rows = pl.concat(
            day_records(data, entity, part).with_columns(
                export_date=pl.lit(data.day(index)),
                source_key=pl.lit(f"{entity}/{index:03d}"),
                source_row=pl.int_range(1, pl.len() + 1, dtype=pl.Int64),
            )
            for (index,), part in sorted(days.items())
        )
        tables[entity] = deduplicate(rows.lazy(), ENTITIES[entity]).canonical.collect().lazy()
    tickets, events, calls = tables["tickets"], tables["ticket_events"], tables["calls"]
    contacts = build_contacts(tickets, events, calls, "UTC").collect().lazy()
    return Canonical(tickets, events, calls, contacts)


@dataclass(frozen=True)
class Audited:
    """A generated centre, its plants.json content and `concession_flags` per window end."""

    config: GeneratorConfig
    plants: dict[str, Any]
    flags: dict[date, pl.DataFrame]

    def subjects(self, day: date, flag_type: str) -> list[str]:
        found = self.flags[day].filter(pl.col("flag_type") == flag_type)
        return sorted(found["subject_id"].to_list())

    def fully_covered(self, window_days: int) -> list[date]:
        """Window ends whose window starts on or after the first export day."""
        return [
            day
            for day in sorted(self.flags)
            if day - timedelta(days=window_days - 1) >= self.config.start_date
        ]


def audit_every_window(config: GeneratorConfig, policy: Policy) -> Audited:
    """`concession_flags` for the window ending on each generated day."""
    data = build_dataset(config, policy)
    tables = canonical(data)
    cutoff = datetime.combine(config.end_date + timedelta(days=1), time(0), tzinfo=UTC)
    flags = {}
    for offset in range(config.days):
        day = config.start_date + timedelta(days=offset)
        result = concession_tables(
            tables.contacts,
            tables.tickets,
            tables.events,
            tables.calls,
            AuditWindow(day, "UTC", cutoff),
            policy.concessions,
            policy.version,
        )
        flags[day] = result.tables["concession_flags"].collect()
    return Audited(config, planted_ids(data), flags)


POLICY = load_policy()
WINDOW_DAYS = POLICY.concessions.window_days
CENTRES = {
    "default": BASE,
    "seed-11": replace(BASE, seed=11),
    "seed-2026": replace(BASE, seed=2026),
    "eight-agents": replace(BASE, agents=8, teams=2, seed=5),
}


@pytest.fixture(scope="module", params=list(CENTRES))
def audited(request: pytest.FixtureRequest) -> Audited:
    return audit_every_window(CENTRES[request.param], POLICY)


def test_only_the_generous_agent_is_flagged_high_in_every_full_window(audited: Audited) -> None:
    days = audited.fully_covered(WINDOW_DAYS)
    assert len(days) == audited.config.days - WINDOW_DAYS + 1 == 15
    for day in days:
        assert audited.subjects(day, HIGH) == [audited.plants["high_concession_agent"]], day


def test_no_agent_is_flagged_low_in_any_window(audited: Audited) -> None:
    """Also the windows that start before the first export day (the golden days 11-01..11-04)."""
    for day in audited.flags:
        assert audited.subjects(day, LOW) == [], day


def test_the_generous_agent_stands_out_by_far_in_every_full_window(audited: Audited) -> None:
    """Margins, not just flags: O/E several times the peers', q far below bh_q."""
    for day in audited.fully_covered(WINDOW_DAYS):
        generous = audited.flags[day].filter(pl.col("flag_type") == HIGH).row(0, named=True)
        assert generous["observed"] / generous["expected"] >= 2.5, day
        assert generous["q_value"] < 1e-6, day


def test_only_the_planted_amount_is_an_outlier_in_any_window(audited: Audited) -> None:
    """Every window ending inside the period; the planted one is flagged on the day it is granted."""
    planted = sorted(o["concession_id"] for o in audited.plants["amount_outlier"])
    flagged = {day: audited.subjects(day, OUTLIER) for day in audited.flags}
    assert [day for day, ids in flagged.items() if ids] == [
        day for day, ids in flagged.items() if ids == planted
    ]
    assert sum(len(ids) for ids in flagged.values()) == len(planted) == 1


def test_only_the_planted_customer_is_a_repeat_beneficiary(audited: Audited) -> None:
    customer = audited.plants["repeat_beneficiary"]["customer_id"]
    found = {tuple(audited.subjects(day, BENEFICIARY)) for day in audited.flags}
    assert found == {(), (customer,)}
