"""One generated centre, written as contract v1 exports and as Zendesk + Amazon Connect exports
(devtools/sample_data/vendors.py), gives the same canonical store and the same audit tables
through the adapters, except where a vendor cannot carry a contract value
(docs/sample_data.md#vendor-exports).

The vendors' ids are theirs (Zendesk integers, Connect UUIDs): the contract side is renamed with
`vendor_id`, the bijection the writer uses, before comparing. Every other difference is listed
below with the rows it touches, and the vendor value is asserted, not skipped.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from configs.limits import InputRules
from configs.policy import Policy, load_policy
from configs.vendors import load_mapping
from devtools.sample_data import GeneratorConfig, generate_exports
from devtools.sample_data.vendors import (
    CSAT_BAD,
    CSAT_GOOD,
    CSAT_GOOD_MIN,
    MAPPING_KEY,
    generate_vendor_exports,
    vendor_id,
)
from flows.windows import data_cutoff, export_range
from ingestion.incremental import IngestReport, ingest_to_store
from storage import LocalStorage
from transforms.audit import collect_audit, run_audit
from transforms.contacts import AuditWindow
from warehouse.store import Store, audit_inputs

# The golden run is a session fixture: one worker builds it once and runs every test that reads it.
pytestmark = pytest.mark.xdist_group("golden-vendor")

# A small centre (the flow tests' size), bad rows off: they have no vendor equivalent.
CENTRE = GeneratorConfig(
    end_date=date(2026, 3, 16),
    days=16,
    agents=8,
    teams=2,
    tickets_per_agent_per_day=4.0,
    calls_per_agent_per_day=3.0,
    seed=29,
    bad_row_share=0.0,
)
# An early day (windows reach before the first export), the final day (newest export - 7) and
# the default day (pending follow-ups and escalations).
DAYS = (date(2026, 3, 5), date(2026, 3, 9), date(2026, 3, 13))
KEYS = {"tickets": "ticket_id", "ticket_events": "event_id", "calls": "call_id"}
LINEAGE = ("source_id", "source_row")  # which object and row: different objects by design
# Audit columns the vendors cannot carry. Legacy Zendesk CSAT is good/bad, read back as CSAT_GOOD
# and CSAT_BAD: the mean of the 1-5 score is not the contract's (csat_good, scores 4-5, is exact).
NOT_REPRESENTABLE = {"agent_scorecard": ("csat_score_mean",), "team_scorecard": ("csat_score_mean",)}
# ... and the CSAT score observations behind that mean (the rate csat_good is representable).
ROWS_NOT_REPRESENTABLE = {"metric_observations": pl.col("metric") != "csat_score"}
FLOAT_RTOL = 1e-12  # sums over rows in another order (tests/golden/test_golden_order.py)


@dataclass(frozen=True)
class Centre:
    contract: Store
    vendor: Store
    vendor_landing: Path
    reports: dict[str, IngestReport]
    policy: Policy


@pytest.fixture(scope="module")
def centre(tmp_path_factory: pytest.TempPathFactory) -> Centre:
    """Both formats generated and each ingested into a store of its own (~25 s)."""
    root = tmp_path_factory.mktemp("golden-vendor")
    policy = load_policy()
    generate_exports(str(root / "contract"), CENTRE, policy=policy)
    generate_vendor_exports(str(root / "vendor"), CENTRE, policy=policy)
    stores = {side: Store(str(root / f"{side}-store")) for side in ("contract", "vendor")}
    mapping = load_mapping(root / "vendor" / MAPPING_KEY)
    reports = {
        "contract": ingest_to_store(
            LocalStorage(str(root / "contract")), stores["contract"], run_id="contract"
        ),
        "vendor": ingest_to_store(
            LocalStorage(str(root / "vendor")),
            stores["vendor"],
            run_id="vendor",
            rules=InputRules(vendor=mapping),
        ),
    }
    return Centre(stores["contract"], stores["vendor"], root / "vendor", reports, policy)


def renamed(frame: pl.DataFrame) -> pl.DataFrame:
    """Every contract id in the frame as the vendor's id (other text unchanged)."""
    rename = pl.element().map_elements(vendor_id, return_dtype=pl.String)
    return frame.with_columns(
        [
            pl.col(c).map_elements(vendor_id, return_dtype=pl.String)
            for c, t in frame.schema.items()
            if t == pl.String
        ]
        + [pl.col(c).list.eval(rename) for c, t in frame.schema.items() if t == pl.List(pl.String)]
    )


def as_the_vendors_carry_it(entity: str, rows: pl.DataFrame) -> pl.DataFrame:
    """The contract's canonical rows as they come back from the vendor exports: every difference
    a vendor format imposes, on exactly the rows it touches."""
    if entity == "tickets":
        return rows.with_columns(
            # The incremental ticket export has no solve time (solves come from the events).
            solved_at=pl.lit(None, dtype=rows.schema["solved_at"]),
            # Legacy CSAT is good (4-5) or bad (1-3).
            csat_score=pl.when(pl.col("csat_score") >= CSAT_GOOD_MIN)
            .then(CSAT_GOOD)
            .when(pl.col("csat_score").is_not_null())
            .then(CSAT_BAD),
        )
    if entity == "ticket_events":
        kind = pl.col("event_type")
        return rows.with_columns(
            # Comment bodies are never copied (free text, never published).
            body=pl.lit(None, dtype=pl.String),
            # A tag change has no public/private flag.
            public=pl.when(~kind.is_in(["escalation_request", "follow_up"])).then("public"),
            # An escalation tag carries its level, not its reason.
            reason_code=pl.when(kind != "escalation").then("reason_code"),
        )
    return rows  # calls: every column round-trips


@pytest.mark.parametrize("entity", list(KEYS))
def test_the_vendor_exports_give_the_contract_rows(centre: Centre, entity: str) -> None:
    key = KEYS[entity]
    contract = centre.contract.canonical(entity).collect().drop(LINEAGE).sort(key)
    vendor = centre.vendor.canonical(entity).collect().drop(LINEAGE).sort(key)
    assert contract.height > 100
    expected = as_the_vendors_carry_it(entity, renamed(contract)).cast(vendor.schema)
    assert_frame_equal(vendor, expected, check_exact=True)


def test_every_vendor_record_is_mapped_and_nothing_is_quarantined(centre: Centre) -> None:
    for report in centre.reports.values():
        assert report.quarantine.is_empty()
    read = centre.reports["vendor"].objects_read
    counts = read.group_by("entity").agg(pl.col("rows_read").sum(), pl.col("rows_accepted").sum())
    contract = centre.reports["contract"].objects_read.group_by("entity").agg(pl.col("rows_read").sum())
    assert counts.sort("entity")["rows_read"].to_list() == contract.sort("entity")["rows_read"].to_list()
    assert (counts["rows_read"] == counts["rows_accepted"]).all()


def _audit(store: Store, day: date, policy: Policy) -> dict[str, pl.DataFrame]:
    """The audit of `day` from a store, with the cut-off the daily flow would use."""
    span = export_range(day, policy)
    newest = store.ledger().filter(pl.col("status") == "ingested")["export_date"].max()
    assert isinstance(newest, date)
    tables = audit_inputs(store, span.start - timedelta(days=1), span.end + timedelta(days=1))
    zone = policy.business_time_zone
    return collect_audit(
        run_audit(tables, AuditWindow(day, zone, data_cutoff(min(newest, span.end), day, zone)), policy)
    )


def _sorted(frame: pl.DataFrame) -> pl.DataFrame:
    keys = [name for name, dtype in frame.schema.items() if not (dtype.is_nested() or dtype.is_float())]
    floats = [name for name, dtype in frame.schema.items() if dtype.is_float()]  # last: ties only
    return frame.sort([*keys, *floats], nulls_last=True)


@pytest.mark.parametrize("day", DAYS, ids=str)
def test_the_audit_of_the_vendor_exports_is_the_contract_audit(centre: Centre, day: date) -> None:
    contract = _audit(centre.contract, day, centre.policy)
    vendor = _audit(centre.vendor, day, centre.policy)
    assert list(vendor) == list(contract)
    assert contract["agent_scorecard"].height == CENTRE.n_agents
    assert contract["follow_up_audit"].height > 10
    for name, table in contract.items():
        excluded = list(NOT_REPRESENTABLE.get(name, ()))
        kept = ROWS_NOT_REPRESENTABLE.get(name, pl.lit(True))
        assert_frame_equal(
            _sorted(vendor[name].drop(excluded).filter(kept)),
            _sorted(renamed(table).drop(excluded).filter(kept)),
            check_exact=False,
            rel_tol=FLOAT_RTOL,
            abs_tol=0,
        )


def test_the_landing_holds_the_vendor_shapes_the_adapters_accept(centre: Centre) -> None:
    """Pages per day, Firehose objects with and without gzip (never a `.gz` suffix) holding
    concatenated records, Contact Lens files keyed no later than their record, redacted twins."""
    landing = centre.vendor_landing
    ctr = sorted(p for p in (landing / "connect" / "ctr").rglob("*") if p.is_file())
    gzipped = [p for p in ctr if p.read_bytes()[:2] == b"\x1f\x8b"]
    assert 0 < len(gzipped) < len(ctr) and not any(p.suffix for p in ctr)
    text = b"".join(gzip.decompress(p.read_bytes()) if p in gzipped else p.read_bytes() for p in ctr)
    assert b"}{" in text and b"\n" not in text
    first_record: dict[str, str] = {}
    for record in json.loads(b"[" + text.replace(b"}{", b"},{") + b"]"):
        contact, at = record["ContactId"], record["LastUpdateTimestamp"]
        first_record[contact] = min(at, first_record.get(contact, at))
    lens = list((landing / "connect" / "Analysis" / "Voice").rglob("*.json"))
    twins = [p for p in lens if "Redacted" in p.parts]
    assert twins and len(lens) - len(twins) > 3 * len(twins)
    for path in lens:
        contact, _, analysed = path.stem.replace("_redacted", "").partition("_analysis_")
        assert analysed <= first_record[contact]
    days = {
        p.parent.relative_to(landing / "zendesk" / "tickets")
        for p in (landing / "zendesk" / "tickets").rglob("*.json")
    }
    assert len(days) == CENTRE.days
