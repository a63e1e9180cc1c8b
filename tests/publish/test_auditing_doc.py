"""Every Python block of docs/auditing.md runs against a warehouse the pipeline wrote."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import re
from pathlib import Path

import polars as pl
import pytest
import sample_frames as s

from catalogue import PUBLISHING_COLUMNS
from configs.settings import load_settings
from expectations.gate import ValidationFailed
from ingestion.incremental import ingest_to_store
from storage import LocalStorage
from warehouse.manifest import input_files_frame
from warehouse.publish import write_audit_publish_frames
from warehouse.store import Store

DOC = Path(__file__).parents[2] / "docs" / "auditing.md"


def doc_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL)


def outputs(*, broken: bool = False) -> dict[str, pl.DataFrame]:
    follow_up = s.follow_up_evidence()
    if broken:
        follow_up = follow_up.with_columns(status=pl.lit("done"))
    return {
        "follow_up_audit": follow_up,
        "escalation_audit": s.escalation_evidence(),
        "concession_audit": s.concession_evidence(),
        "concession_flags": s.concession_flags_evidence(),
        "agent_scorecard": s.agent_scorecard().drop(PUBLISHING_COLUMNS),
        "team_scorecard": s.team_scorecard().drop(PUBLISHING_COLUMNS),
        "queue_scorecard": s.queue_scorecard().drop(PUBLISHING_COLUMNS),
        "metric_observations": s.metric_observations(),
        "quarantine": s.quarantine().drop("run_id"),
    }


@pytest.fixture(scope="module")
def quickstart_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("auditor")
    settings = load_settings(
        warehouse_uri=str(root / ".quickstart" / "warehouse"),
        reports_uri=str(root / ".quickstart" / "reports"),
    )
    files = input_files_frame(
        [{"entity": "tickets", "object_key": "tickets/export_date=2026-11-20/a.csv", "etag": "e1", "size": 10,
          "rows_read": 4, "rows_accepted": 3, "rows_quarantined": 1, "rows_duplicate": 0}]
    )  # fmt: skip
    common = {"settings": settings, "policy": settings.policy(), "audit_date": s.DAY, "key": s.KEY}
    started = dt.datetime(2026, 11, 21, 6, tzinfo=dt.UTC)
    write_audit_publish_frames(s.inputs(), outputs(), files, run_id="r1", started_at=started, **common)
    with pytest.raises(ValidationFailed):
        write_audit_publish_frames(
            s.inputs(), outputs(broken=True), files, run_id="r2", started_at=started, **common
        )
    landing = root / "landing"
    (landing / "tickets" / "export_date=2026-11-20").mkdir(parents=True)
    exported = s.tickets().drop("export_date", "source_key", "source_row")
    exported.with_columns(pl.col(pl.Datetime).dt.to_string("%Y-%m-%dT%H:%M:%SZ")).write_csv(
        landing / "tickets" / "export_date=2026-11-20" / "a.csv"
    )
    ingest_to_store(LocalStorage(landing), Store(settings.canonical_store_uri()), run_id="r1")
    return root


def test_the_doc_has_blocks_for_manifest_docs_and_history():
    text = "\n".join(doc_blocks())
    assert len(doc_blocks()) >= 6
    for needle in ("run_manifest", "summary.json", "history()", "version=0", "duckdb.sql"):
        assert needle in text


def test_every_block_runs(quickstart_dir, monkeypatch):
    monkeypatch.chdir(quickstart_dir)
    namespaces = []
    for block in doc_blocks():
        namespace: dict = {}
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(block, str(DOC), "exec"), namespace)
        namespaces.append(namespace)
    merged = {k: v for ns in namespaces for k, v in ns.items()}
    assert merged["runs"]["status"].sort().to_list() == ["failed", "succeeded"]
    # The flat manifest views: every suite of both runs, the failed run's follow_up_audit failing.
    flat = merged["flat_validation"]
    assert (
        set(flat["run_id"]) == {"r1", "r2"} and flat.filter(pl.col("run_id") == "r1")["critical_passed"].all()
    )
    assert flat.filter((pl.col("run_id") == "r2") & (pl.col("suite") == "follow_up_audit"))[
        "critical_passed"
    ].to_list() == [False]
    assert merged["unbalanced"].height == 0
    assert merged["per_file"].fetchall()[0][:3] == ("r1", "tickets", "tickets/export_date=2026-11-20/a.csv")
    assert merged["history"]["run_id"].to_list() == ["r1"]  # the failed run wrote no version
    assert (merged["then"].height, merged["now"].height) == (2, 2)
    assert (
        merged["traced"]["object_key"].to_list()
        == ["tickets/export_date=2026-11-20/a.csv"] * merged["traced"].height
    )
    assert merged["traced"].height >= 1 and merged["unreconciled"].height == 0
    # Reading a day through its publish point: r1's rows, by every route the doc shows.
    assert set(merged["scorecard"]["run_id"]) == {"r1"} and merged["scorecard"].height > 0
    assert {r[1] for r in merged["pinned_rows"]} == {"r1"}
    assert len(merged["pinned_rows"]) == merged["scorecard"].height
    assert merged["helper_rows"].sort("agent_id").equals(merged["scorecard"].sort("agent_id"))
    # A1 on the day: T1 met, C1 missed, C3 pending -> 1 of 2.
    assert merged["recount"].select("agent_id", "follow_up_numerator", "follow_up_denominator").rows() == [
        ("A1", 1, 2)
    ]
