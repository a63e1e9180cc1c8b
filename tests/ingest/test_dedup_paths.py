"""transforms/dedup.py fast paths: no repeated key, key-sorted input, DataFrame input, and the
per-file report built from staged counts plus the non-kept outcomes only."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from ingest_builders import MemoryStorage, csv_bytes, event, ticket
from test_dedup import delivery, staged

from ingestion.ingest import ingest_entity
from transforms.dedup import KEPT, deduplicate
from transforms.schemas import TICKET_EVENTS, TICKETS
from transforms.schemas import quarantine as q

D1, D2 = date(2026, 3, 2), date(2026, 3, 3)


@pytest.mark.parametrize("ids", [["E3", "E1", "E2"], ["E1", "E2", "E3"]])
def test_no_repeated_key_keeps_every_row_sorted_by_key(ids: list[str]) -> None:
    rows = [event(event_id=i) for i in ids]
    frame = staged(TICKET_EVENTS, delivery(TICKET_EVENTS, D1, "a.csv", rows))
    canonical, outcomes, conflicts = pl.collect_all(deduplicate(frame, TICKET_EVENTS))
    assert canonical["event_id"].to_list() == ["E1", "E2", "E3"]
    assert canonical["source_row"].to_list() == [ids.index(i) + 1 for i in ["E1", "E2", "E3"]]
    assert sorted(outcomes.select("source_row", "dedup_outcome").rows()) == [(1, KEPT), (2, KEPT), (3, KEPT)]
    assert conflicts.height == 0
    assert conflicts.columns == [*q.QUARANTINE_SCHEMA.names(), "source_row"]


def test_a_data_frame_and_its_lazy_frame_give_the_same_result() -> None:
    rows = [ticket(ticket_id="T2"), ticket(ticket_id="T1"), ticket(ticket_id="T2", status="solved")]
    frame = staged(TICKETS, delivery(TICKETS, D1, "a.csv", rows))
    eager = pl.collect_all(deduplicate(frame, TICKETS))
    lazy = pl.collect_all(deduplicate(frame.lazy(), TICKETS))
    for a, b in zip(eager, lazy, strict=True):
        assert a.equals(b)
    assert eager[0].select("ticket_id", "status", "source_row").rows() == [
        ("T1", "open", 2),
        ("T2", "solved", 3),
    ]


def test_file_report_counts_every_outcome_per_file() -> None:
    # a.csv: T1 v1 (superseded by b.csv's later version), T2 (identical to b.csv's: the later
    # file ranks first, so this copy is the duplicate), T3 (superseded: b.csv ranks first).
    # b.csv: T1 v2 kept, T2 kept, T3 twice with different content and the same rank but the row
    # number: row 4 is kept, row 3 is a conflict (quarantined).
    later = "2026-03-02T11:00:00Z"
    a = [ticket(ticket_id="T1"), ticket(ticket_id="T2"), ticket(ticket_id="T3")]
    b = [
        ticket(ticket_id="T1", updated_at=later),
        ticket(ticket_id="T2"),
        ticket(ticket_id="T3", category="other"),
        ticket(ticket_id="T3", category="third"),
    ]
    storage = MemoryStorage(
        {
            "tickets/export_date=2026-03-02/a.csv": csv_bytes(a),
            "tickets/export_date=2026-03-02/b.csv": csv_bytes(b),
        }
    )
    result = ingest_entity(storage, TICKETS, D1, D2, run_id="r")
    counts = result.files.select(
        "object_key", "rows_read", "rows_accepted", "rows_quarantined", "rows_duplicate", "rows_superseded"
    ).rows()
    assert counts == [
        ("tickets/export_date=2026-03-02/a.csv", 3, 2, 0, 1, 2),
        ("tickets/export_date=2026-03-02/b.csv", 4, 3, 1, 0, 0),
    ]
    assert result.quarantine.select("object_key", "row_number", "reason").rows() == [
        ("tickets/export_date=2026-03-02/b.csv", 3, q.CONFLICTING_DUPLICATE)
    ]
    assert result.canonical.collect().select("ticket_id", "source_row").rows() == [
        ("T1", 1),
        ("T2", 2),
        ("T3", 4),
    ]
