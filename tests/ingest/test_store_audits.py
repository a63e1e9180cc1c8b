"""Audit days read from the canonical store give the same tables whether the store was built one
export day at a time (as the daily schedule builds it) or from scratch, and the same as reading
each day's export range straight from the landing (the pipeline before the store)."""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from configs.policy import Policy, load_policy
from devtools.sample_data import generate_exports
from flows.windows import data_cutoff, export_range
from ingestion.incremental import ingest_to_store
from ingestion.ingest import ingest_all
from storage import LocalStorage
from tests.flows.flow_fixtures import EXPORTS as FLOW_EXPORTS
from transforms.audit import CanonicalTables, collect_audit, run_audit
from transforms.contacts import AuditWindow
from transforms.schemas import ENTITIES
from warehouse.store import Store, audit_inputs

# One worker runs the module, so its module fixture is built once (not once per xdist worker).
pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("store-audits")]

EXPORTS = replace(FLOW_EXPORTS, seed=23)  # the flow tests' small centre, another draw
DAYS = (date(2026, 3, 5), date(2026, 3, 9), date(2026, 3, 13))  # a backfill day, final, default
TICKET_COLUMNS, CALL_COLUMNS = ENTITIES["tickets"].columns, ENTITIES["calls"].columns


def _sorted(frame: pl.DataFrame) -> pl.DataFrame:
    keys = [c for c, t in frame.schema.items() if not isinstance(t, pl.List)]
    return frame.sort(keys, nulls_last=True)


def _from_store(
    store: Store, day: date, policy: Policy, *, as_delivered: bool = True
) -> dict[str, pl.DataFrame]:
    """The day's tables from the store, as `read_day_inputs` reads it (`as_delivered=False`:
    every key in its current row, which a test shows is not the spec's day)."""
    days = export_range(day, policy)
    newest = store.ledger().filter(pl.col("status") == "ingested")["export_date"].max()
    assert isinstance(newest, date)
    delivered = (days.start, days.end) if as_delivered else None
    tables = audit_inputs(
        store, days.start - timedelta(days=1), days.end + timedelta(days=1), delivered=delivered
    )
    window = AuditWindow(day, "UTC", data_cutoff(min(newest, days.end), day, "UTC"))
    return collect_audit(run_audit(tables, window, policy))


def _from_landing(landing: Path, day: date, policy: Policy) -> dict[str, pl.DataFrame]:
    days = export_range(day, policy)
    ingested = ingest_all(LocalStorage(landing), days.start, days.end)
    newest = max(d for r in ingested.values() for d in r.files["export_date"].drop_nulls().to_list())
    window = AuditWindow(day, "UTC", data_cutoff(newest, day, "UTC"))
    inputs = CanonicalTables(*(ingested[e].canonical for e in ("tickets", "ticket_events", "calls")))
    return collect_audit(run_audit(inputs, window, policy))


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Store, Store]:
    root = tmp_path_factory.mktemp("store-audits")
    full = root / "landing"
    generate_exports(str(full), EXPORTS)
    scratch = Store(str(root / "scratch"))
    ingest_to_store(LocalStorage(full), scratch, run_id="scratch", quarantine_prefix="_q_scratch")
    # The daily schedule's store: each export day lands, then a run ingests it.
    daily_landing = root / "daily-landing"
    daily = Store(str(root / "daily"))
    days = sorted({p.name for p in full.glob("*/export_date=*")})
    for number, folder in enumerate(days):
        for entity in ("tickets", "ticket_events", "calls"):
            source = full / entity / folder
            if source.exists():
                shutil.copytree(source, daily_landing / entity / folder)
        ingest_to_store(
            LocalStorage(daily_landing), daily, run_id=f"day{number}", quarantine_prefix="_q_daily"
        )
    return full, scratch, daily


@pytest.mark.parametrize("day", DAYS, ids=str)
def test_audit_tables_are_the_same_from_a_daily_built_store_a_scratch_store_and_the_landing(
    stores: tuple[Path, Store, Store], day: date
) -> None:
    landing, scratch, daily = stores
    policy = load_policy()
    from_scratch = _from_store(scratch, day, policy)
    from_daily = _from_store(daily, day, policy)
    from_landing = _from_landing(landing, day, policy)
    assert from_scratch["agent_scorecard"].height > 0
    for name, frame in from_scratch.items():
        assert_frame_equal(_sorted(from_daily[name]), _sorted(frame)), name
        assert_frame_equal(_sorted(from_landing[name]), _sorted(frame)), name


def test_the_daily_built_ledger_counts_every_row_as_the_scratch_one(
    stores: tuple[Path, Store, Store],
) -> None:
    _, scratch, daily = stores
    counts = [
        "object_key",
        "rows_read",
        "rows_accepted",
        "rows_quarantined",
        "rows_duplicate",
        "rows_superseded",
    ]
    left = daily.ledger().select(counts).sort("object_key")
    right = scratch.ledger().select(counts).sort("object_key")
    assert_frame_equal(left, right)
    identity = left.select(
        pl.col("rows_read") == pl.col("rows_accepted") + pl.col("rows_quarantined") + pl.col("rows_duplicate")
    )
    assert identity.to_series().all()


def test_a_ticket_and_a_call_changed_after_the_range_are_read_as_the_range_had_them(
    stores: tuple[Path, Store, Store], tmp_path: Path
) -> None:
    """A CSAT score given, and a call revised, after a day's export range: re-auditing the day
    from a store that holds the later versions gives the tables of the range's exports alone,
    as the spec's day reads them (and not those of the current versions)."""
    full, _, _ = stores
    policy, day = load_policy(), DAYS[0]
    days = export_range(day, policy)
    before = _from_landing(full, day, policy)
    contacts = before["follow_up_audit"].filter(pl.col("contact_type") == "ticket")
    ticket_id = contacts["contact_id"][0]
    call_id = before["follow_up_audit"].filter(pl.col("contact_type") == "call")["contact_id"][0]
    landing = tmp_path / "landing"
    shutil.copytree(full, landing)
    late = days.end + timedelta(days=2)
    stamp = f"{late}T12:00:00+00:00"
    scratch = Store(str(tmp_path / "scratch"))
    ingest_to_store(LocalStorage(full), scratch, run_id="before", quarantine_prefix="_q")
    ticket = scratch.canonical("tickets").filter(pl.col("ticket_id") == ticket_id).collect()
    call = scratch.canonical("calls").filter(pl.col("call_id") == call_id).collect()
    assert ticket.height == call.height == 1
    rated = ticket.select(TICKET_COLUMNS).with_columns(
        pl.lit(stamp).alias("updated_at"), pl.lit("1").alias("csat_score"), pl.lit("urgent").alias("priority")
    )
    revised = call.select(CALL_COLUMNS).with_columns(
        pl.lit(stamp).alias("updated_at"), pl.lit("callback_promised").alias("outcome")
    )
    for entity, frame in (("tickets", rated), ("calls", revised)):
        folder = landing / entity / f"export_date={late}"
        folder.mkdir(parents=True, exist_ok=True)
        frame.select(pl.all().cast(pl.String)).write_csv(folder / "late-change.csv")
    ingest_to_store(LocalStorage(landing), scratch, run_id="late", quarantine_prefix="_q")
    as_delivered = _from_store(scratch, day, policy)
    for name, frame in _from_landing(landing, day, policy).items():
        assert_frame_equal(_sorted(as_delivered[name]), _sorted(frame)), name
    current = _from_store(scratch, day, policy, as_delivered=False)
    assert not current["follow_up_audit"].equals(as_delivered["follow_up_audit"])
