"""The flow's entry point: ingestion results in; no key, nothing written."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import polars as pl
import pytest
import sample_frames as s
from deltalake import DeltaTable

from configs.settings import load_settings
from transforms.schemas.quarantine import QUARANTINE_SCHEMA
from warehouse import secrets
from warehouse.delta import read_table
from warehouse.publication import read_published
from warehouse.publish import write_audit_publish, write_audit_publish_frames
from warehouse.secrets import PSEUDONYM_KEY_ENV, MissingPseudonymKey


def metrics() -> dict[str, pl.DataFrame]:
    return s.metric_outputs()


def ingested(entity: str, frame: pl.DataFrame, quarantined: list[dict]) -> SimpleNamespace:
    files = pl.DataFrame(
        {"entity": [entity], "object_key": [f"{entity}/export_date=2026-11-20/a.csv"], "etag": ["e"],
         "size": [10], "export_date": [s.DAY], "rows_read": [frame.height + len(quarantined)],
         "rows_accepted": [frame.height], "rows_quarantined": [len(quarantined)], "rows_duplicate": [0],
         "rows_superseded": [0], "schema_drift": [["extra_col"]], "file_error": [None]},
        schema_overrides={"file_error": pl.String},
    )  # fmt: skip
    return SimpleNamespace(
        canonical=frame.lazy(), quarantine=pl.DataFrame(quarantined, schema=QUARANTINE_SCHEMA), files=files
    )


def test_ingestion_results_are_published_with_their_quarantine(tmp_path):
    settings = load_settings(warehouse_uri=str(tmp_path / "wh"), reports_uri=str(tmp_path / "rep"))
    bad = {"object_key": "tickets/export_date=2026-11-20/a.csv", "reason": "missing_required_field",
           "detail": "customer_id: required", "row_number": 4, "entity": "tickets"}  # fmt: skip
    result = write_audit_publish(
        ingested={
            "tickets": ingested("tickets", s.tickets(), [bad]),
            "ticket_events": ingested("ticket_events", s.ticket_events(), []),
            "calls": ingested("calls", s.calls(), []),
        },
        metrics=metrics(),
        audit_date=s.DAY,
        run_id="r1",
        settings=settings,
        policy=settings.policy(),
        key=s.KEY,
    )
    assert result.critical_passed and result.data_docs_url.endswith("run_id=r1/index.html")
    quarantine = read_table(settings.warehouse_uri, "quarantine")
    assert quarantine.select("entity", "row_number", "reason", "audit_date", "run_id").rows() == [
        ("tickets", 4, "missing_required_field", s.DAY, "r1")
    ]
    manifest = read_table(settings.warehouse_uri, "run_manifest")
    (row,) = manifest.filter(pl.col("status") == "succeeded").to_dicts()
    assert [(i["entity"], i["rows_read"], i["size_bytes"], i["schema_drift"]) for i in row["inputs"]] == [
        ("calls", 3, 10, ["extra_col"]),
        ("ticket_events", 4, 10, ["extra_col"]),
        ("tickets", 4, 10, ["extra_col"]),
    ]


def test_without_a_key_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.delenv(PSEUDONYM_KEY_ENV, raising=False)
    monkeypatch.setattr(secrets, "_from_prefect_block", lambda name: None)  # no Prefect API in this test
    settings = load_settings(warehouse_uri=str(tmp_path / "wh"), reports_uri=str(tmp_path / "rep"))
    with pytest.raises(MissingPseudonymKey, match="refusing to publish"):
        write_audit_publish_frames(
            s.inputs(),
            {**metrics(), "quarantine": s.quarantine()},
            pl.DataFrame(),
            settings=settings,
            policy=settings.policy(),
            audit_date=s.DAY,
            run_id="r1",
            started_at=dt.datetime(2026, 11, 21, tzinfo=dt.UTC),
        )
    assert list(tmp_path.iterdir()) == []


def test_an_interrupted_publish_is_recorded_and_reraised(tmp_path, monkeypatch):
    import warehouse.delta as publish

    real = publish.publish_table

    def flaky(name, frame, **kwargs):
        if name == "follow_up_audit":
            raise OSError("connection reset while writing follow_up_audit")
        return real(name, frame, **kwargs)

    monkeypatch.setattr(publish, "publish_table", flaky)
    settings = load_settings(warehouse_uri=str(tmp_path / "wh"), reports_uri=str(tmp_path / "rep"))
    with pytest.raises(OSError, match="connection reset"):
        write_audit_publish_frames(
            s.inputs(),
            {**metrics(), "quarantine": s.quarantine()},
            pl.DataFrame(),
            settings=settings,
            policy=settings.policy(),
            audit_date=s.DAY,
            run_id="r1",
            key=s.KEY,
        )
    manifest = read_table(settings.warehouse_uri, "run_manifest")
    assert sorted(manifest["status"]) == ["failed", "publishing"]  # the failure closes its intent
    (row,) = manifest.filter(pl.col("status") == "failed").to_dicts()
    assert "connection reset" in row["failure_reason"]
    assert row["is_critical_passed"] is True  # validation passed; storage failed
    assert [(t["table"], t["version"]) for t in row["tables"]] == [
        ("agent_scorecard", 0),
        ("queue_scorecard", 0),
        ("team_scorecard", 0),
    ]
    # The three tables it did commit were put back (the day had never been published: emptied),
    # in a commit that says so; nothing of the day is visible through its publish point.
    for table in ("agent_scorecard", "team_scorecard", "queue_scorecard"):
        assert read_table(settings.warehouse_uri, table, audit_date=s.DAY).height == 0
        assert read_published(settings.warehouse_uri, table, audit_date=s.DAY).height == 0
        last = DeltaTable(f"{settings.warehouse_uri}/{table}").history(1)[0]
        assert (last["action"], last["repair_run"], last["restored_version"]) == ("repair", "r1", "None")
