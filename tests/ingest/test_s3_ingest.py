"""Ingestion through the local S3 endpoint (a moto server process over HTTP) matches a folder."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest
from ingest_builders import call, csv_bytes, event, export_bytes, jsonl_bytes, ticket
from polars.testing import assert_frame_equal

from ingestion.ingest import ingest_all, ingest_entity
from storage import LocalStorage
from transforms.schemas import TICKETS
from transforms.schemas import quarantine as q

pytestmark = pytest.mark.integration

D1, D2 = date(2026, 3, 2), date(2026, 3, 3)

EXPORTS = {
    "tickets/export_date=2026-03-02/part-0.csv": csv_bytes(
        [ticket(), ticket(ticket_id="T2", status="bogus")]
    ),
    "tickets/export_date=2026-03-02/_SUCCESS": b"",
    "tickets/export_date=2026-03-03/part-0.jsonl.gz": export_bytes(
        [ticket(status="solved", updated_at="2026-03-03T09:00:00+01:00"), ticket(ticket_id="T3")], "jsonl.gz"
    ),
    "tickets/export_date=2026-03-03/part-1.csv.gz": b"corrupt",
    "tickets/export_date=2026-03-03/notes.txt": b"hello",
    "ticket_events/export_date=2026-03-02/e.jsonl": jsonl_bytes(
        [event(), event(event_id="E2", actor_role="bot")]
    ),
    "ticket_events/export_date=2026-03-03/e.jsonl": jsonl_bytes([event()]),
    "calls/export_date=2026-03-03/c.parquet": export_bytes(
        [call(), call(call_id="K2", hold_seconds="-1")], "parquet"
    ),
}


def test_each_test_gets_a_fresh_empty_bucket(s3_bucket) -> None:
    storage = s3_bucket.storage("landing")
    assert list(storage.list()) == []
    storage.write_bytes("tickets/export_date=2026-03-02/a.csv", b"x")
    assert [o.key for o in storage.list("tickets/")] == ["tickets/export_date=2026-03-02/a.csv"]


def test_the_same_exports_in_a_folder_and_a_bucket_give_identical_results(s3_bucket, tmp_path: Path) -> None:
    bucket = s3_bucket.storage("landing/exports")
    for key, data in EXPORTS.items():
        bucket.write_bytes(key, data)
        (tmp_path / key).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / key).write_bytes(data)

    from_s3 = ingest_all(bucket, D1, D2, run_id="r1")
    from_folder = ingest_all(LocalStorage(tmp_path), D1, D2, run_id="r1")

    for entity in ("tickets", "ticket_events", "calls"):
        assert_frame_equal(from_s3[entity].canonical.collect(), from_folder[entity].canonical.collect())
        assert_frame_equal(from_s3[entity].quarantine, from_folder[entity].quarantine)
        assert_frame_equal(from_s3[entity].files, from_folder[entity].files)  # S3 ETag = MD5 for one PUT
    assert from_s3["tickets"].canonical.collect().select("ticket_id", "status").rows() == [
        ("T1", "solved"),
        ("T3", "open"),
    ]
    assert sorted(from_s3["tickets"].quarantine["reason"].to_list()) == [
        q.UNREADABLE_FILE,
        q.UNSUPPORTED_FORMAT,
        q.BAD_ENUM,
    ]
    written = sorted(o.key for o in bucket.list("_quarantine/"))
    assert written == [
        "_quarantine/calls/export_date=2026-03-03/c.parquet.quarantined-rows.jsonl",
        "_quarantine/ticket_events/export_date=2026-03-02/e.jsonl.quarantined-rows.jsonl",
        "_quarantine/tickets/export_date=2026-03-02/part-0.csv.quarantined-rows.jsonl",
        "_quarantine/tickets/export_date=2026-03-03/notes.txt",
        "_quarantine/tickets/export_date=2026-03-03/part-1.csv.gz",
    ]


def test_an_unsafe_key_in_a_bucket_is_quarantined_and_not_read(s3_bucket) -> None:
    storage = s3_bucket.storage("landing")
    storage.write_bytes("tickets/export_date=2026-03-02/ok.csv", csv_bytes([ticket()]))
    unsafe = "tickets/export_date=2026-03-02/../../../escape.csv"
    storage.client.put_object(
        Bucket=s3_bucket.name, Key=f"landing/{unsafe}", Body=csv_bytes([ticket(ticket_id="X")])
    )

    result = ingest_entity(storage, TICKETS, D1, D1, run_id="r1")

    assert result.canonical.collect()["ticket_id"].to_list() == ["T1"]
    assert result.quarantine.select("object_key", "row_number", "reason").rows() == [
        (unsafe, None, q.UNREADABLE_FILE)
    ]
    assert result.files.filter(pl.col("object_key") == unsafe)["file_error"].to_list() == [q.UNREADABLE_FILE]
